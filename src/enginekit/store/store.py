"""ModelStore: the Model Management Standard as one object.

The server reads only `models/`. Entries of `external_models/` are linked into `models/` unless a
model of that name is already there (baked-in wins). On-demand downloads land in
`external_models/` and are linked last, so `models/` never shows anything half-made.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from filelock import FileLock, Timeout

from ..errors import (
    BakedInModelError,
    DownloadError,
    ModelNotFound,
    StoreNotWritable,
    UserModelError,
)
from ..layout import EngineLayout
from ..settings import StoreSettings
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
from .state import StateDir

if TYPE_CHECKING:
    import httpx

    from .download import Downloader
    from .records import ModelRecord
    from .sources import ModelSource
    from .verification import VerifyReport

__all__ = ["LinkAction", "ModelEntry", "ModelStore", "PruneAction", "Pulled", "Removed"]

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


@dataclass(frozen=True)
class Pulled:
    """What pull did: `downloaded` only when this call transferred the files."""

    name: str
    path: Path
    downloaded: bool


@dataclass(frozen=True)
class Removed:
    """What remove did: the link it took out of models/, and the files it deleted or, for a
    model the user placed in external_models/ themselves, kept."""

    name: str
    unlinked: bool
    deleted: Path | None
    kept: Path | None


class ModelStore:
    """Discover, link, resolve, ensure, remove, prune and verify the models of one engine."""

    def __init__(
        self,
        layout: EngineLayout,
        settings: StoreSettings,
        client: httpx.Client | None = None,
    ) -> None:
        self.layout = layout
        self.settings = settings
        self.state = StateDir(layout.external_models_dir)
        self._client = client
        self._downloader: Downloader | None = None
        self._downloader_made = threading.Lock()  # one Downloader, with its in-flight table
        # Set from the shutdown signal handler: made here, so setting it imports nothing and
        # takes no lock of ours, and it is there before any downloader is.
        self._cancel = threading.Event()
        self._linker: Linker | None = None
        self._fresh: set[str] = set()  # downloaded by ensure, not yet given to an engine

    @property
    def models_dir(self) -> Path:
        return self.layout.models_dir

    @property
    def external_dir(self) -> Path:
        return self.layout.external_models_dir

    @property
    def downloader(self) -> Downloader:
        """Made on first use: listing, linking and serving what is there never import the HTTP
        stack (httpx is about a third of `enginekit models list`'s start-up)."""
        with self._downloader_made:
            if self._downloader is None:
                from .download import Downloader  # noqa: PLC0415 (see above)

                self._downloader = Downloader(
                    self.external_dir, self.state, self.settings, self._client, self._cancel
                )
            return self._downloader

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
        self._cancel.set()

    def record(self, name: str) -> ModelRecord | None:
        """What was recorded when `name` was downloaded, or None (baked-in, mounted)."""
        from .records import read_record  # noqa: PLC0415 - pydantic: not for a listing

        return read_record(self.state.record_path(validate_model_name(name)))

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
                self.models_dir.mkdir(parents=True, exist_ok=True)  # a first write creates it
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
        return self._ensure(name, source, progress)[0]

    def _ensure(
        self, name: str, source: ModelSource | None, progress: ProgressCallback | None
    ) -> tuple[Path, bool]:
        """ensure, and whether this call downloaded the model."""
        path = self.path_of(name)
        downloaded = False
        if not path.exists():
            if not os.path.lexists(self.external_dir / name):
                if source is None:
                    raise ModelNotFound(name, self.names())
                downloaded = self.downloader.download(name, source, progress)
            self._link_one(name)
        if downloaded:
            self._fresh.add(name)
        else:
            self._fresh.discard(name)
        return path, downloaded

    def pull(
        self,
        name: str,
        source: ModelSource,
        progress: ProgressCallback | None = None,
        force: bool = False,
    ) -> Pulled:
        """`models pull`: ensure, or with `force` download a downloaded model again (the old
        copy stays until the new one is complete). Baked-in models and the user's own files
        are never replaced."""
        path = self.path_of(name)
        if not force:
            return Pulled(name, *self._ensure(name, source, progress))
        if os.path.lexists(path) and link_target(path) is None:
            raise BakedInModelError(
                f"Model {name} is baked into {self.models_dir}; a download cannot replace it"
            )
        if os.path.lexists(self.external_dir / name) and not self._downloaded(name):
            raise UserModelError(
                f"{self.external_dir / name} was not downloaded by enginekit, so it is yours: "
                f"remove it (models rm {name} --delete-files) before pulling it again"
            )
        downloaded = self.downloader.download(name, source, progress, replace=True)
        if downloaded and os.path.lexists(path) and not path.is_symlink():
            remove_link(path)  # a mirror holds links to the replaced files: build it again
        self._link_one(name)
        return Pulled(name, path, downloaded)

    def discard_fresh(self, name: str, reason: str) -> None:
        """Called when the engine failed to load `name`: a model ensure just downloaded is
        taken out of models/ into quarantine, so the next load fetches it again instead of
        reusing bad bytes; raises DownloadError saying so. Anything else is left alone."""
        if name not in self._fresh:
            return
        self._fresh.discard(name)
        quarantine = self.state.quarantine_path(name)
        with writable(f"Cannot quarantine {name}: {self.external_dir} is not writable"):
            quarantine.parent.mkdir(parents=True, exist_ok=True)
            if os.path.lexists(quarantine):
                delete_path(self._move_to_trash(quarantine))
            os.replace(self.external_dir / name, quarantine)
        remove_link(self.path_of(name))
        self.state.record_path(name).unlink(missing_ok=True)
        shown = self._shown(quarantine)
        logger.error("Quarantined %s in %s: the engine could not load it (%s)", name, shown, reason)
        raise DownloadError(
            f"Model {name} was downloaded but the engine cannot load it ({reason}); it was "
            f"moved out of models/ to {shown} and the next load downloads it again"
        )

    def _shown(self, path: Path) -> str:
        """A path as errors show it: relative to the engine directory when inside it."""
        try:
            return str(path.relative_to(self.layout.base_path))
        except ValueError:
            return str(path)

    def _downloaded(self, name: str) -> bool:
        """Whether external_models/<name> came from a download (it has a record)."""
        return self.state.record_path(name).is_file()

    # -- removing ------------------------------------------------------------------------

    def remove(self, name: str, delete_files: bool = False) -> Removed:
        """Take a model out of models/. A downloaded model's files are deleted too; files the
        user placed in external_models/ are kept unless `delete_files`. Baked-in models are
        refused.

        Files are first renamed into a hidden trash directory (so a read-only mount fails
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
        present = os.path.lexists(external)
        if not linked and not present:
            raise ModelNotFound(name, self.names())
        delete = present and (delete_files or self._downloaded(name))
        trash = self._move_to_trash(external) if delete else None
        if linked:
            remove_link(path)
        if trash is not None:
            delete_path(trash)
        self.state.record_path(name).unlink(missing_ok=True)
        self._fresh.discard(name)
        kept = external if present and not delete else None
        if kept is not None:
            logger.info("Unlinked model %s; kept the user's files in %s", name, kept)
        else:
            logger.info("Removed model %s", name)
        return Removed(name, linked, external if delete else None, kept)

    def _move_to_trash(self, external: Path) -> Path:
        trash = self.state.trash_path(external.name)
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
        candidates = [
            (p, "abandoned mirror")
            for p in _children(self.models_dir)
            if p.name.startswith(".") and p.name.endswith(TEMP_SUFFIX)
        ]
        candidates += [
            (p, "abandoned download")
            for p in _children(self.state.staging_root)
            if not p.name.startswith(".")  # source markers go with their directory
        ]
        candidates += [(p, "unfinished removal") for p in _children(self.state.trash_root)]
        candidates += [(p, "quarantined download") for p in _children(self.state.quarantine_root)]
        pruned = []
        for path, reason in candidates:
            if _mtime(path) <= cutoff and self._delete_if_idle(path):
                if reason == "abandoned download":
                    self.state.source_marker(path.name).unlink(missing_ok=True)
                pruned.append(PruneAction(path, reason))
        return pruned + self._prune_locks(cutoff)

    def _prune_locks(self, cutoff: float) -> list[PruneAction]:
        """Lock files of pulls that left no model (failed, interrupted, removed since). Each
        is unlinked while held, so no download holds it meanwhile; one that opened it before
        the unlink finds it gone once it gets the lock, and takes a new one."""
        pruned = []
        for lock_path in _children(self.state.locks_root):
            name = lock_path.name.removesuffix(".lock")
            if os.path.lexists(self.external_dir / name) or _mtime(lock_path) > cutoff:
                continue
            try:
                with FileLock(str(lock_path), timeout=0):
                    lock_path.unlink(missing_ok=True)
            except Timeout:
                continue
            pruned.append(PruneAction(lock_path, "unused lock"))
        return pruned

    def _delete_if_idle(self, path: Path) -> bool:
        """A staging directory whose lock someone holds is a download in progress, not litter;
        the lock is held while deleting so no download can start on it meanwhile."""
        lock_path = self.state.lock_path(path.name)
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
        from .verification import verify_model  # noqa: PLC0415 - as in record()

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
