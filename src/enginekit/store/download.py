"""Downloading a whole model into `external_models/<name>/`, atomically, verified and locked.

Files are fetched into a staging directory `external_models/.enginekit/staging/<name>/` (same
filesystem as the destination), each checked against its declared size and sha256, the record is
written, and then the directory is renamed into place in one step. The inter-process lock only saves
bandwidth (N processes download once); the rename is what makes a half model impossible to see.
Every file's data, every staged directory and the record are synced before that rename, and
`external_models/` after it, so a model reported downloaded survives a power cut whole.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path

import httpx
from filelock import FileLock, Timeout

from ..errors import (
    ChecksumMismatch,
    DownloadError,
    LockTimeout,
    OfflineError,
)
from ..settings import StoreSettings
from .integrity import delete_path, fsync_directory, sha256_of, writable
from .progress import ProgressCallback, ProgressEvent
from .records import FileRecord, ModelRecord, write_record
from .sources import FileTask, ModelSource
from .state import StateDir
from .transfer import ByteCallback, Fetched, FileTransfer, part_path

__all__ = ["Downloader"]

logger = logging.getLogger(__name__)

_LOCK_NOTICE_AFTER_S = 1.0
PROGRESS_BYTES = 1 << 20
PROGRESS_SECONDS = 0.1


class Downloader:
    """Downloads models into one external_models/ directory; one instance per store."""

    def __init__(
        self,
        external_dir: Path,
        state: StateDir,
        settings: StoreSettings,
        client: httpx.Client | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.external_dir = external_dir
        self.state = state
        self.settings = settings
        self._client = client
        self.cancel = cancel if cancel is not None else threading.Event()
        self._inflight: dict[str, Future[bool]] = {}
        self._inflight_guard = threading.Lock()

    def download(
        self,
        name: str,
        source: ModelSource,
        progress: ProgressCallback | None = None,
        replace: bool = False,
    ) -> bool:
        """Make `external_models/<name>` exist (`replace`: with freshly downloaded files even
        if it does). True only for the caller that transferred it: concurrent callers in this
        process share one run, other processes wait for the lock and find it there."""
        with self._inflight_guard:
            shared = self._inflight.get(name)
            if shared is None:
                owner: Future[bool] = Future()
                self._inflight[name] = owner
        if shared is not None:
            logger.info("Waiting for the download of %s already running in this process", name)
            shared.result()
            return False
        try:
            owner.set_result(self._download_locked(name, source, progress, replace))
        except BaseException as exc:
            owner.set_exception(exc)
        finally:
            with self._inflight_guard:
                del self._inflight[name]
        return owner.result()

    def _download_locked(
        self, name: str, source: ModelSource, progress: ProgressCallback | None, replace: bool
    ) -> bool:
        final = self.external_dir / name
        tasks = source.tasks(self.settings)
        if self.settings.offline and any(task.remote for task in tasks):
            raise OfflineError(
                f"Cannot download {name}: offline mode (ENGINEKIT_OFFLINE=1) forbids network "
                "fetches; local models keep working"
            )
        self._prepare_state_dir(name)
        with self._model_lock(name):
            if os.path.lexists(final) and not replace:
                logger.info("%s appeared while waiting for the lock; not downloading", name)
                return False
            staging = self.state.staging_dir(name)
            _claim_staging(staging, self.state.source_marker(name), source.url)
            self._fetch_all(name, source, tasks, progress)
            _keep_only(staging, {task.relpath for task in tasks})
            _sync_directories(staging)
            old = self._set_aside(final)
            os.replace(staging, final)
            self.state.source_marker(name).unlink(missing_ok=True)
            fsync_directory(self.external_dir)
            if old is not None:
                delete_path(old)
        logger.info("Downloaded %s into %s", name, final)
        return True

    def _set_aside(self, final: Path) -> Path | None:
        """A copy being replaced moves to the trash only once the new one is complete, so a
        failed re-download keeps it; a crash in between leaves it to prune."""
        if not os.path.lexists(final):
            return None
        trash = self.state.trash_path(final.name)
        trash.parent.mkdir(parents=True, exist_ok=True)
        os.replace(final, trash)
        return trash

    def _not_writable(self, name: str) -> str:
        return (
            f"Cannot download {name}: {self.external_dir} is not writable. Mount it read-write, "
            "or place the model there yourself"
        )

    def _prepare_state_dir(self, name: str) -> None:
        with writable(self._not_writable(name)):
            self.state.lock_path(name).parent.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def _model_lock(self, name: str) -> Iterator[None]:
        lock = FileLock(str(self.state.lock_path(name)))
        # The lock file may exist on a volume that is now mounted read-only.
        with writable(self._not_writable(name)):
            self._acquire(lock, name)
        try:
            yield
        finally:
            lock.release()

    def _acquire(self, lock: FileLock, name: str) -> None:
        try:
            lock.acquire(timeout=_LOCK_NOTICE_AFTER_S)
        except Timeout:
            logger.warning("Another process is downloading %s; waiting for it to finish", name)
            try:
                lock.acquire(timeout=self.settings.lock_timeout_s)
            except Timeout:
                raise LockTimeout(
                    f"Gave up waiting {self.settings.lock_timeout_s:g}s for the lock on {name} "
                    f"({self.state.lock_path(name)})"
                ) from None

    def _fetch_all(
        self,
        name: str,
        source: ModelSource,
        tasks: list[FileTask],
        progress: ProgressCallback | None,
    ) -> None:
        staging = self.state.staging_dir(name)
        tracker = _Tracker(name, progress, tasks)
        records: list[FileRecord] = []
        with self._http_client() as client:
            transfer = FileTransfer(client, self.settings, self.cancel)
            for task in tasks:
                destination = staging / task.relpath
                destination.parent.mkdir(parents=True, exist_ok=True)
                digest = _complete_digest(destination, task) or _fetch_verified(
                    transfer, task, destination, tracker.for_file(task.relpath)
                )
                size = destination.stat().st_size
                records.append(
                    FileRecord(path=task.relpath, size=size, sha256=digest, url=task.url)
                )
                tracker.finished += size
        record = ModelRecord(name=name, source=source.url, files=records)
        write_record(self.state.record_path(name), record)

    @contextmanager
    def _http_client(self) -> Iterator[httpx.Client]:
        if self._client is not None:
            yield self._client
            return
        timeout = httpx.Timeout(
            self.settings.read_timeout_s, connect=self.settings.connect_timeout_s
        )
        from .bulk_http import BulkTransport  # noqa: PLC0415 - urllib3 only when downloading

        transport = BulkTransport()
        with httpx.Client(follow_redirects=True, timeout=timeout, transport=transport) as client:
            yield client


class _Tracker:
    """Turns per-file byte counts into whole-model progress events."""

    def __init__(self, model: str, callback: ProgressCallback | None, tasks: list[FileTask]):
        self.model = model
        self.callback = callback
        sizes = [task.size for task in tasks]
        self.total = None if None in sizes else sum(s for s in sizes if s is not None)
        self.single_file = len(tasks) == 1
        self.finished = 0

    def for_file(self, relpath: str) -> ByteCallback:
        before = self.finished
        reported, reported_at = -PROGRESS_BYTES, 0.0

        def report(done: int, file_total: int | None) -> None:
            nonlocal reported, reported_at
            if self.callback is None:
                return
            now = time.monotonic()
            recent = done - reported < PROGRESS_BYTES and now - reported_at < PROGRESS_SECONDS
            if recent and done != file_total:
                return  # an event per MiB or per 0.1 s is plenty, and keeps a 1 GiB pull fast
            reported, reported_at = done, now
            total = self.total
            if total is None and self.single_file:
                total = file_total
            self.callback(
                ProgressEvent(
                    self.model, "downloading", relpath, done, file_total, before + done, total
                )
            )

        return report


def _digest_note(destination: Path) -> Path:
    """Beside a finished staged file: the sha256 its bytes had as they arrived. Hidden, so it
    cannot be a model file, and `_keep_only` drops it before the model goes live."""
    return destination.with_name(f".{destination.name}.sha256")


def _complete_digest(destination: Path, task: FileTask) -> str | None:
    """A file finished by an earlier, interrupted run of the same source: reuse it only if it
    still has the declared size and the declared sha256, else the sha256 it arrived with."""
    if not destination.is_file():
        return None
    note = _digest_note(destination)
    try:
        expected = task.sha256 or note.read_text(encoding="ascii").strip()
    except (OSError, ValueError):
        expected = None
    size_ok = task.size is None or destination.stat().st_size == task.size
    if expected and size_ok and sha256_of(destination) == expected:
        return expected
    logger.info("Fetching %s again: the staged copy no longer checks out", task.relpath)
    destination.unlink()
    note.unlink(missing_ok=True)
    return None


def _claim_staging(staging: Path, marker: Path, source_url: str) -> None:
    """Staging left by another source's attempt must not leak into this model: start over.

    The source is noted beside the staging directory (model names are never hidden, so the
    hidden marker cannot collide), not inside it, so it never goes live with the model.
    """
    if staging.is_dir() and (not marker.is_file() or marker.read_text("utf-8") != source_url):
        shutil.rmtree(staging)
    staging.mkdir(parents=True, exist_ok=True)
    marker.write_text(source_url, encoding="utf-8")


def _keep_only(staging: Path, relpaths: set[str]) -> None:
    """Only the files of this model go live: no stray partials, no empty folders."""
    for path in sorted(staging.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and not path.is_symlink():
            if not any(path.iterdir()):
                path.rmdir()
        elif path.relative_to(staging).as_posix() not in relpaths:
            path.unlink()


def _fetch_verified(
    transfer: FileTransfer,
    task: FileTask,
    destination: Path,
    report: ByteCallback,
) -> str:
    """Fetch and check against what the source declares, else what a hub announced."""
    fetched = transfer.fetch(task, destination, report)
    expected_size, expected_sha256 = _expectations(task, fetched)
    digest = fetched.sha256
    part = part_path(destination)
    size = part.stat().st_size
    if expected_size is not None and size != expected_size:
        part.unlink()
        raise DownloadError(
            f"Size mismatch for {task.relpath}: expected {expected_size} bytes, got {size}"
        )
    if expected_sha256 and digest != expected_sha256:
        part.unlink()
        raise ChecksumMismatch(task.relpath, expected_sha256, digest)
    os.replace(part, destination)
    _digest_note(destination).write_text(digest, encoding="ascii")
    return digest


def _expectations(task: FileTask, fetched: Fetched) -> tuple[int | None, str | None]:
    size = task.size if task.size is not None else fetched.announced_size
    return size, task.sha256 or fetched.announced_sha256


def _sync_directories(staging: Path) -> None:
    """Make every rename and creation inside the staged tree durable before it goes live."""
    for directory in [staging, *(p for p in staging.rglob("*") if p.is_dir())]:
        fsync_directory(directory)
