"""Moving the bytes of one file into a `.part` file: HTTP with resume and retries, or a local copy.

Resume uses `Range` guarded by `If-Range` (the strong ETag, else Last-Modified), so a file that
changed upstream comes back whole (200) instead of being spliced onto stale bytes. The part's
validator lives beside it in `<file>.part.json`, so another process can resume it.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import httpx

from ..errors import (
    DownloadCancelled,
    DownloadError,
    InsufficientSpace,
    SourceMissing,
    StoreNotWritable,
)
from ..settings import StoreSettings
from .integrity import CHUNK_SIZE, READ_ONLY_ERRNOS, BackgroundHash, atomic_write_json
from .sources import FileTask

__all__ = ["ByteCallback", "FileTransfer", "part_path"]

logger = logging.getLogger(__name__)

ByteCallback = Callable[[int, int | None], None]
"""Called with (bytes of this file done, its total or None)."""


class _Retryable(Exception):
    """A failure worth another attempt (connection trouble, 5xx, a short body)."""


@dataclass(frozen=True)
class _Resume:
    offset: int
    validator: str | None


def part_path(destination: Path) -> Path:
    return destination.with_name(f"{destination.name}.part")


def _state_path(part: Path) -> Path:
    return part.with_name(f"{part.name}.json")


class FileTransfer:
    """Fetches one FileTask into `<destination>.part` and returns the sha256 of its bytes."""

    def __init__(
        self,
        client: httpx.Client,
        settings: StoreSettings,
        cancel: threading.Event | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._settings = settings
        self._cancel = cancel or threading.Event()
        self._sleep = sleep

    def fetch(self, task: FileTask, destination: Path, on_bytes: ByteCallback) -> str:
        if task.local is not None:
            return _copy_local(task.local, part_path(destination), self._checked(on_bytes))
        assert task.url is not None
        if task.size is not None:  # before any request: a full disk never costs a transfer
            part = part_path(destination)
            have = part.stat().st_size if part.is_file() else 0
            _check_space(part.parent, task.size - have)
        attempts = self._settings.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return self._attempt(task, part_path(destination), self._checked(on_bytes))
            except (_Retryable, httpx.TransportError) as exc:
                if attempt == attempts:
                    raise DownloadError(
                        f"Download of {task.url} failed after {attempts} attempt(s): {exc}"
                    ) from exc
                delay = self._settings.backoff_s * 2 ** (attempt - 1)
                logger.warning(
                    "Download of %s failed (%s); retrying in %.1fs", task.url, exc, delay
                )
                self._sleep(delay)
        raise AssertionError("unreachable")

    def _attempt(self, task: FileTask, part: Path, on_bytes: ByteCallback) -> str:
        assert task.url is not None
        resume = _resume_point(part, task.url)
        headers = dict(task.headers)
        if resume.offset:
            headers["Range"] = f"bytes={resume.offset}-"
            headers["If-Range"] = resume.validator or ""
        with self._client.stream("GET", task.url, headers=headers) as response:
            offset = self._accepted_offset(response, resume.offset, part)
            total = _total_size(response, offset)
            _save_state(part, task.url, response, total)
            needed = (total - offset) if total is not None else task.size
            _check_space(part.parent, needed)
            digest = BackgroundHash(_hash_prefix(part, offset))
            with digest, _open_part(part, "ab" if offset else "wb") as handle:
                done = offset
                # No chunk size: bytes are written as they arrive, so a cut leaves them all.
                for chunk in response.iter_bytes():
                    _write(handle, chunk, part, needed or done + len(chunk))
                    digest.update(chunk)
                    done += len(chunk)
                    on_bytes(done, total)
                handle.flush()
                os.fsync(handle.fileno())
        if total is not None and done != total:
            raise _Retryable(f"received {done} of {total} bytes")
        _state_path(part).unlink(missing_ok=True)
        return digest.hexdigest()

    def _checked(self, on_bytes: ByteCallback) -> ByteCallback:
        """Report progress, and stop between chunks once the engine is shutting down."""

        def report(done: int, total: int | None) -> None:
            if self._cancel.is_set():
                raise DownloadCancelled(
                    "Download interrupted because the engine is shutting down; the partial "
                    "download is kept and resumes on the next request"
                )
            on_bytes(done, total)

        return report

    @staticmethod
    def _accepted_offset(response: httpx.Response, offset: int, part: Path) -> int:
        """Where this response's body starts in the file; resets the part when not at `offset`."""
        status = response.status_code
        if status == 416 and offset:
            _discard(part)
            raise _Retryable("the partial file no longer matches upstream; starting again")
        if status >= 500 or status in (408, 429):  # server trouble, timeouts, rate limits
            raise _Retryable(f"HTTP {status} from {response.url}")
        if status in (404, 410):
            raise SourceMissing(f"HTTP {status} for {response.url}: the file is not there")
        if status >= 400:
            raise DownloadError(f"HTTP {status} for {response.url}: the server refused the file")
        if status == 206 and _content_range_start(response) == offset:
            return offset
        if status == 206:
            _discard(part)
            raise _Retryable("the server answered a different range; starting again")
        if offset:
            logger.info("Server sent the whole file for %s; restarting from byte 0", response.url)
        return 0


def _resume_point(part: Path, url: str) -> _Resume:
    """Resume only when we know which upstream version the partial bytes belong to."""
    if not part.is_file():
        return _Resume(0, None)
    try:
        state = json.loads(_state_path(part).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = {}
    validator = state.get("validator")
    if state.get("url") != url or not validator:
        _discard(part)
        return _Resume(0, None)
    return _Resume(part.stat().st_size, validator)


def _save_state(part: Path, url: str, response: httpx.Response, total: int | None) -> None:
    etag = response.headers.get("etag")
    strong_etag = etag if etag and not etag.startswith("W/") else None
    validator = strong_etag or response.headers.get("last-modified")
    state = {"url": url, "validator": validator, "total": total}
    try:
        atomic_write_json(_state_path(part), state)
    except OSError as exc:
        raise _os_error(exc, part.parent) from exc


def _content_range_start(response: httpx.Response) -> int | None:
    value = response.headers.get("content-range", "")
    try:
        return int(value.split(" ", 1)[1].split("-", 1)[0])
    except (IndexError, ValueError):
        return None


def _total_size(response: httpx.Response, offset: int) -> int | None:
    if response.status_code == 206:
        total = response.headers.get("content-range", "").rpartition("/")[2]
        return int(total) if total.isdigit() else None
    length = response.headers.get("content-length")
    return int(length) if length and length.isdigit() else None


def _hash_prefix(part: Path, offset: int) -> hashlib._Hash:
    digest = hashlib.sha256()
    if offset:
        with part.open("rb") as handle:
            remaining = offset
            while remaining and (chunk := handle.read(min(CHUNK_SIZE, remaining))):
                digest.update(chunk)
                remaining -= len(chunk)
    return digest


def _copy_local(source: Path, part: Path, on_bytes: ByteCallback) -> str:
    if not source.is_file():
        raise DownloadError(f"Local source file not found: {source}")
    total = source.stat().st_size
    _check_space(part.parent, total)
    digest = BackgroundHash()
    done = 0
    with digest, source.open("rb") as reader, _open_part(part, "wb") as writer:
        while chunk := reader.read(CHUNK_SIZE):
            _write(writer, chunk, part, total)
            digest.update(chunk)
            done += len(chunk)
            on_bytes(done, total)
        writer.flush()
        os.fsync(writer.fileno())
    return digest.hexdigest()


def _check_space(directory: Path, needed: int | None) -> None:
    if not needed:
        return
    free = shutil.disk_usage(directory).free
    if needed > free:
        raise InsufficientSpace(needed, free, str(directory))


def _open_part(part: Path, mode: str) -> BinaryIO:
    try:
        return part.open(mode)  # type: ignore[return-value]
    except OSError as exc:
        raise _os_error(exc, part.parent) from exc


def _write(handle: BinaryIO, chunk: bytes, part: Path, needed: int) -> None:
    """Write a chunk; a disk that fills up mid-way loses the part, not the user's other files."""
    try:
        handle.write(chunk)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            free = shutil.disk_usage(part.parent).free
            handle.close()
            _discard(part)
            raise InsufficientSpace(needed, free, str(part.parent)) from exc
        raise _os_error(exc, part.parent) from exc


def _discard(part: Path) -> None:
    part.unlink(missing_ok=True)
    _state_path(part).unlink(missing_ok=True)


def _os_error(exc: OSError, directory: Path) -> Exception:
    """Translate the OS errors a user can act on; leave the rest as they are."""
    if exc.errno in READ_ONLY_ERRNOS:
        return StoreNotWritable(f"Cannot write to {directory}: {exc.strerror} (read-only mount?)")
    if exc.errno == errno.ENOSPC:
        return InsufficientSpace(0, shutil.disk_usage(directory).free, str(directory))
    return exc
