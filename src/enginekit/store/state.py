"""The store's own bookkeeping under `external_models/.enginekit/`: one owner for its layout.

Records, staging directories, their source markers, locks, the trash and quarantined downloads
(fresh ones the engine could not load) all live on the same volume as the models (so renames into
place are atomic) but in a hidden directory that is never a model. The downloader writes these
paths and the store reads and prunes them; both ask here.
"""

from __future__ import annotations

import uuid
from pathlib import Path

__all__ = ["STATE_DIR", "StateDir"]

STATE_DIR = ".enginekit"


class StateDir:
    """Where each piece of state of one `external_models/` directory lives."""

    def __init__(self, external_dir: Path) -> None:
        self.root = external_dir / STATE_DIR

    @property
    def staging_root(self) -> Path:
        return self.root / "staging"

    @property
    def trash_root(self) -> Path:
        return self.root / "trash"

    @property
    def locks_root(self) -> Path:
        return self.root / "locks"

    @property
    def quarantine_root(self) -> Path:
        return self.root / "quarantine"

    def record_path(self, name: str) -> Path:
        """The download record of model `name` (see records.py)."""
        return self.root / f"{name}.json"

    def staging_dir(self, name: str) -> Path:
        """Where the files of `name` are assembled before the one rename that makes it live."""
        return self.staging_root / name

    def source_marker(self, name: str) -> Path:
        """Which source the staging directory of `name` belongs to. Beside it, not inside, so
        it never goes live; hidden, so it cannot collide with a model name."""
        return self.staging_root / f".{name}.source"

    def lock_path(self, name: str) -> Path:
        return self.locks_root / f"{name}.lock"

    def quarantine_path(self, name: str) -> Path:
        """Where a fresh download of `name` that the engine could not load is kept for a look
        (the latest one per name; prune removes it after the grace period)."""
        return self.quarantine_root / name

    def trash_path(self, name: str) -> Path:
        """A fresh place to move `name` to before deleting it (unique per removal)."""
        return self.trash_root / f"{name}.{uuid.uuid4().hex}"
