"""ModelStore: the Model Management Standard as one object.

The server reads only `models/`. Entries of `external_models/` are linked into `models/` unless a
model of that name is already there (baked-in wins). On-demand downloads land in
`external_models/` and are linked last, so `models/` never shows anything half-made.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx
from filelock import FileLock, Timeout

from ..errors import BakedInModelError, ModelNotFound, StoreNotWritable
from ..layout import EngineLayout
from ..settings import StoreSettings
from .download import Downloader
from .integrity import delete_path, writable
from .linking import (
    SIDECAR_SUFFIX,
    TEMP_SUFFIX,
    Linker,
    choose_linker,
    link_target,
    link_text,
    remove_link,
    sidecar_of,
)
from .names import is_visible_name, validate_model_name
from .progress import ProgressCallback
from .records import ModelRecord, read_record
from .sources import ModelSource
from .verification import VerifyReport, verify_model

__all__ = ["LinkAction", "ModelEntry", "ModelStore", "PruneAction"]

logger = logging.getLogger(__name__)

Kind = Literal["baked-in", "external", "dangling"]


@dataclass(frozen=True)
class ModelEntry:
    """One entry of models/ as a user sees it."""

    name: str
    kind: Kind
    path: Path
    size_bytes: int
    target: Path | None


@dataclass(frozen=True)
class LinkAction:
    """What link_external did for one entry of external_models/."""

    name: str
    action: Literal["linked", "replaced-dangling", "kept-baked-in", "already-linked", "failed"]
    target: Path


@dataclass(frozen=True)
class PruneAction:
    path: Path
    reason: str


class ModelStore:
    """Discover, link, resolve, ensure, remove, prune and verify the models of one engine."""

    def __init__(
        self,
        layout: EngineLayout,
        settings: StoreSettings | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.layout = layout
        self.settings = settings or StoreSettings.from_env()
        self.downloader = Downloader(layout.external_models_dir, self.settings, client)
        self._linker: Linker | None = None

    @property
    def models_dir(self) -> Path:
        return self.layout.models_dir

    @property
    def external_dir(self) -> Path:
        return self.layout.external_models_dir

    @property
    def linker(self) -> Linker:
        if self._linker is None:
            self._linker = choose_linker(self.settings.link_mode, self.models_dir)
        return self._linker

    def path_of(self, name: str) -> Path:
        """The only way a name becomes a path under models/."""
        return self.models_dir / validate_model_name(name)

    # -- reading -------------------------------------------------------------------------

    def discover(self, with_sizes: bool = True) -> list[ModelEntry]:
        """Every visible entry of models/, sorted by name."""
        if not self.models_dir.is_dir():
            return []
        with os.scandir(self.models_dir) as scan:
            entries = list(scan)
        # One listing answers "is it a link?" for both mechanisms: symlinks by their entry,
        # mirrors by their hidden sidecar in the same directory.
        sidecars = {e.name for e in entries if e.name.endswith(SIDECAR_SUFFIX)}
        listed = sorted((e for e in entries if is_visible_name(e.name)), key=lambda e: e.name)
        return [self._entry(e, sidecars, with_sizes) for e in listed]

    def names(self) -> list[str]:
        """Names of the models that can be served now (dangling links excluded)."""
        return [e.name for e in self.discover(with_sizes=False) if e.kind != "dangling"]

    def cancel_downloads(self) -> None:
        """Stop running downloads between chunks (shutdown); their partials stay for resume."""
        self.downloader.cancel.set()

    def has(self, name: str) -> bool:
        """Whether `name` is servable without a download (in models/ or external_models/)."""
        return self.path_of(name).exists() or os.path.lexists(self.external_dir / name)

    def record(self, name: str) -> ModelRecord | None:
        """What was recorded when `name` was downloaded, or None (baked-in, mounted)."""
        return read_record(self.downloader.record_path(validate_model_name(name)))

    def resolve(self, name: str) -> Path:
        path = self.path_of(name)
        if not path.exists():
            raise ModelNotFound(name, self.names())
        return path

    def _entry(self, entry: os.DirEntry[str], sidecars: set[str], with_sizes: bool) -> ModelEntry:
        path = Path(entry.path)
        linked = entry.is_symlink() or sidecar_of(path).name in sidecars
        target = link_target(path) if linked else None
        if target is None:
            kind: Kind = "baked-in"
        else:
            kind = "external" if target.exists() else "dangling"
        size = _size_of(path) if with_sizes and kind != "dangling" else 0
        return ModelEntry(entry.name, kind, path, size, target)

    # -- linking -------------------------------------------------------------------------

    def link_external(self) -> list[LinkAction]:
        """The entrypoint rule, in Python: link every visible external entry unless taken.

        Like the entrypoint, an entry that cannot be linked (models/ not writable) is reported
        and skipped: the engine still starts with the models it has.
        """
        actions = []
        for name in self.external_names():
            try:
                actions.append(self._link_one(name))
            except StoreNotWritable as exc:
                logger.warning("%s", exc.detail)
                actions.append(LinkAction(name, "failed", self.external_dir / name))
        return actions

    def external_names(self) -> list[str]:
        """Visible entries of external_models/ that exist (a dangling mounted link does not)."""
        if not self.external_dir.is_dir():
            logger.debug("No %s; nothing to link", self.external_dir)
            return []
        with os.scandir(self.external_dir) as entries:
            names = sorted(e.name for e in entries if is_visible_name(e.name))
        live = [name for name in names if (self.external_dir / name).exists()]
        for name in sorted(set(names) - set(live)):
            logger.warning("Skipping dangling external entry %s", name)
        return live

    def _link_one(self, name: str) -> LinkAction:
        link_path = self.models_dir / name
        target = self.external_dir / name
        if os.path.lexists(link_path):
            current = link_target(link_path)
            if current is None:
                logger.info("Kept baked-in model %s (external copy ignored)", name)
                return LinkAction(name, "kept-baked-in", target)
            if link_path.exists():
                return LinkAction(name, "already-linked", current)
            remove_link(link_path)
            if not self._make_link(name):
                return LinkAction(name, "already-linked", target)
            logger.info("Replaced dangling link %s -> %s", name, target)
            return LinkAction(name, "replaced-dangling", target)
        if not self._make_link(name):
            return LinkAction(name, "already-linked", target)
        logger.info("Linked external model %s", name)
        return LinkAction(name, "linked", target)

    def _make_link(self, name: str) -> bool:
        """Create models/<name>; False when a concurrent caller (thread or process) made the
        same link first."""
        link_path = self.models_dir / name
        try:
            with writable(f"Cannot link {name}: {self.models_dir} is not writable"):
                self.linker.link(link_path, link_text(self.models_dir, self.external_dir, name))
        except OSError:  # EEXIST for links, ENOTEMPTY when a mirror directory won the race
            if link_path.exists() and link_target(link_path) == self.external_dir / name:
                return False
            raise
        return True

    # -- fetching ------------------------------------------------------------------------

    def ensure(
        self,
        name: str,
        source: ModelSource | None = None,
        progress: ProgressCallback | None = None,
    ) -> Path:
        """The on-demand rule: use models/<name>, else link external_models/<name>, else
        download it into external_models/ and link it."""
        path = self.path_of(name)
        if path.exists():
            return path
        if not os.path.lexists(self.external_dir / name):
            if source is None:
                raise ModelNotFound(name, self.names())
            self.downloader.download(name, source, progress)
        self._link_one(name)
        return path

    # -- removing ------------------------------------------------------------------------

    def remove(self, name: str) -> Path:
        """Delete an external or downloaded model and its link; baked-in models are refused.

        The target is first renamed into a hidden trash directory (so a read-only mount fails
        before anything changed and a crash never leaves half a model visible), then deleted.
        """
        path = self.path_of(name)
        external = self.external_dir / name
        linked = os.path.lexists(path)
        if linked and link_target(path) is None:
            raise BakedInModelError(
                f"Model {name} is baked into {self.models_dir} and cannot be removed; "
                "rebuild the image without it instead"
            )
        if not linked and not os.path.lexists(external):
            raise ModelNotFound(name, self.names())
        trash = self._move_to_trash(external) if os.path.lexists(external) else None
        if linked:
            remove_link(path)
        if trash is not None:
            delete_path(trash)
        self.downloader.record_path(name).unlink(missing_ok=True)
        logger.info("Removed model %s", name)
        return external

    def _move_to_trash(self, external: Path) -> Path:
        trash = self.downloader.state_dir / "trash" / f"{external.name}.{uuid.uuid4().hex}"
        with writable(f"Cannot remove {external.name}: {self.external_dir} is not writable"):
            trash.parent.mkdir(parents=True, exist_ok=True)
            os.replace(external, trash)
        return trash

    def prune(self, grace_s: float | None = None) -> list[PruneAction]:
        """Remove dangling links and abandoned temporary files older than the grace period."""
        grace = self.settings.prune_grace_s if grace_s is None else grace_s
        actions = [
            PruneAction(e.path, "dangling link")
            for e in self.discover(with_sizes=False)
            if e.kind == "dangling"
        ]
        for action in actions:
            remove_link(action.path)
        actions += self._prune_temporaries(grace)
        return actions

    def _prune_temporaries(self, grace_s: float) -> list[PruneAction]:
        cutoff = time.time() - grace_s
        state = self.downloader.state_dir
        candidates = [
            (p, "abandoned mirror")
            for p in _children(self.models_dir)
            if p.name.startswith(".") and p.name.endswith(TEMP_SUFFIX)
        ]
        candidates += [
            (p, "abandoned download")
            for p in _children(state / "staging")
            if not p.name.startswith(".")  # source markers go with their directory
        ]
        candidates += [(p, "unfinished removal") for p in _children(state / "trash")]
        pruned = []
        for path, reason in candidates:
            if _mtime(path) <= cutoff and self._delete_if_idle(path):
                if reason == "abandoned download":
                    self.downloader.source_marker(path.name).unlink(missing_ok=True)
                pruned.append(PruneAction(path, reason))
        return pruned

    def _delete_if_idle(self, path: Path) -> bool:
        """A staging directory whose lock someone holds is a download in progress, not litter;
        the lock is held while deleting so no download can start on it meanwhile."""
        lock_path = self.downloader.lock_path(path.name)
        if not lock_path.exists():
            delete_path(path)
            return True
        try:
            with FileLock(str(lock_path), timeout=0):
                delete_path(path)
        except Timeout:
            return False
        return True

    # -- verifying -----------------------------------------------------------------------

    def verify(self, name: str, source: ModelSource | None = None) -> VerifyReport:
        """Re-hash a model's files against its download record (or the source's declarations)."""
        path = self.resolve(name)
        return verify_model(name, path, self.record(name), source, self.settings)


def _children(directory: Path) -> list[Path]:
    try:
        return list(directory.iterdir())
    except OSError:
        return []


def _mtime(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except OSError:
        return 0.0


def _size_of(path: Path | str) -> int:
    """Bytes of a file, or of every file below a directory (links inside are not followed)."""
    try:
        if not os.path.isdir(path):
            return os.stat(path).st_size
        with os.scandir(path) as scan:
            return sum(
                _size_of(e.path) if e.is_dir(follow_symlinks=False)
                else e.stat(follow_symlinks=False).st_size
                for e in scan
            )  # fmt: skip
    except OSError:
        return 0
