"""Moving the bytes of one file into a `.part` file: HTTP with resume and retries, or a local copy.

Resume uses `Range` guarded by `If-Range` (the strong ETag, else Last-Modified), so a file that
changed upstream comes back whole (200) instead of being spliced onto stale bytes. The part's
validator lives beside it in `<file>.part.json`, so another process can resume it. The digest is
taken from the part as written (its prefix read back through the handle that appends), never
from what the offset says should be there.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

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

__all__ = ["ByteCallback", "Fetched", "FileTransfer", "FreeSpace", "free_bytes", "part_path"]

logger = logging.getLogger(__name__)

ByteCallback = Callable[[int, int | None], None]
"""Called with (bytes of this file done, its total or None)."""

FreeSpace = Callable[[Path], int]
"""Bytes a new file in a directory may still take."""


def free_bytes(directory: Path) -> int:
    """The free space a FileTransfer checks by default: what the filesystem grants this user."""
    return shutil.disk_usage(directory).free


class _Retryable(Exception):
    """A failure worth another attempt (connection trouble, 5xx, a short body)."""


class _Restart(_Retryable):
    """The partial was discarded (a 206 for another range, a part not the size resumed from):
    the next request starts from byte 0. The first restart of a file costs no retry."""


@dataclass(frozen=True)
class _Resume:
    offset: int
    validator: str | None


@dataclass(frozen=True)
class Fetched:
    """A whole part: the sha256 of its bytes, and what a Hugging Face hub announced the file to
    be (None where it did not say, or for sources that are no hub)."""

    sha256: str
    announced_sha256: str | None = None
    announced_size: int | None = None


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
        free_space: FreeSpace = free_bytes,
    ) -> None:
        self._client = client
        self._settings = settings
        self._cancel = cancel or threading.Event()
        self._sleep = sleep
        self._free_space = free_space

    def fetch(self, task: FileTask, destination: Path, on_bytes: ByteCallback) -> Fetched:
        part = part_path(destination)
        if task.local is not None:
            return Fetched(self._copy_local(task.local, part, self._checked(on_bytes)))
        assert task.url is not None
        if task.size is not None:  # before any request: a full disk never costs a transfer
            have = part.stat().st_size if part.is_file() else 0
            self._check_space(part.parent, task.size - have)
        failures, restarted = 0, False
        while True:
            try:
                fetched = self._attempt(task, part, self._checked(on_bytes))
            except _Restart as exc:
                if not restarted:
                    restarted = True
                    logger.info("Restarting %s from byte 0: %s", task.url, exc)
                    continue
                failure: Exception = exc
            except (_Retryable, httpx.TransportError) as exc:
                failure = _worth_retrying(task.url, exc)
            else:
                if fetched is not None:
                    return fetched
                continue  # a short 206 (the server's choice, not a failure): ask for the rest
            failures += 1
            if failures > self._settings.retries:
                raise DownloadError(
                    f"Download of {task.url} failed after {failures} attempt(s): {failure}"
                ) from failure
            delay = self._settings.backoff_s * 2 ** (failures - 1)
            logger.warning(
                "Download of %s failed (%s); retrying in %.1fs", task.url, failure, delay
            )
            self._sleep(delay)

    def _attempt(self, task: FileTask, part: Path, on_bytes: ByteCallback) -> Fetched | None:
        """One request: the digest once the part is whole, None after a short 206."""
        assert task.url is not None
        resume = _resume_point(part, task.url)
        headers = dict(task.headers)
        if resume.offset:
            headers["Range"] = f"bytes={resume.offset}-"
            headers["If-Range"] = resume.validator or ""
        with self._client.stream("GET", task.url, headers=headers) as response:
            offset, end = self._accepted_range(response, resume.offset, part)
            _refuse_web_page(response, task.relpath)
            total = _total_size(response)
            needed = (total - offset) if total is not None else task.size
            self._check_space(part.parent, needed)
            _save_state(part, task.url, response, total)
            handle, prefix = _open_at(part, offset)
            with BackgroundHash(prefix) as digest, handle:
                done = offset
                # No chunk size: bytes are written as they arrive, so a cut leaves them all.
                for chunk in response.iter_bytes():
                    _write(handle, chunk, part, needed or done + len(chunk))
                    digest.update(chunk)
                    done += len(chunk)
                    on_bytes(done, total)
                handle.flush()
                os.fsync(handle.fileno())
        end = total if end is None else end
        if end is not None and done > end:
            _discard(part)
            raise _Retryable(f"received {done - offset} bytes for a range of {end - offset}")
        if end is not None and done < end:
            raise _Retryable(f"received {done} of {end} bytes")
        if total is not None and done < total:
            return None
        _state_path(part).unlink(missing_ok=True)
        if not task.hub:
            return Fetched(digest.hexdigest())
        return Fetched(digest.hexdigest(), *_announced_by_hub(response))

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

    def _check_space(self, directory: Path, needed: int | None) -> None:
        if not needed:
            return
        free = self._free_space(directory)
        if needed > free:
            raise InsufficientSpace(needed, free, str(directory))

    def _copy_local(self, source: Path, part: Path, on_bytes: ByteCallback) -> str:
        if not source.is_file():
            raise DownloadError(f"Local source file not found: {source}")
        total = source.stat().st_size
        self._check_space(part.parent, total)
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

    @staticmethod
    def _accepted_range(
        response: httpx.Response, offset: int, part: Path
    ) -> tuple[int, int | None]:
        """Where this response's body starts in the file and where it says it ends (exclusive;
        None when only the total tells); resets the part when it does not start at `offset`."""
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
        if status == 206:
            start, end = _content_range(response)
            if start == offset and end is not None:
                return offset, end
            _discard(part)
            if offset:
                raise _Restart(f"the server answered {start}-{end} for a resume at {offset}")
            raise _Retryable("the server answered a range to a request without Range")
        if offset:
            logger.info("Server sent the whole file for %s; restarting from byte 0", response.url)
        return 0, None


_SHA256 = re.compile(r"[0-9a-f]{64}")
_WEB_PAGE_SUFFIXES = (".html", ".htm")


def _worth_retrying(url: str, exc: Exception) -> Exception:
    """`exc` back when another attempt can succeed; a DownloadError raised when it cannot."""
    if isinstance(exc, httpx.TransportError) and not _transient(exc):
        raise DownloadError(_final_transport_failure(url, exc)) from exc
    return exc


def _transient(exc: httpx.TransportError) -> bool:
    """Whether another attempt can succeed: timeouts, cut connections and a DNS outage can; a
    name that does not exist, a refused connection, a bad certificate or URL cannot."""
    if isinstance(exc, httpx.TimeoutException | httpx.ReadError | httpx.WriteError):
        return True
    if isinstance(exc, httpx.RemoteProtocolError | httpx.CloseError):
        return True  # the server closed the connection mid-answer
    if not isinstance(exc, httpx.ConnectError):
        return False  # a bad URL or proxy, a protocol error of our own
    cause = _os_cause(exc)
    if isinstance(cause, socket.gaierror):
        return cause.errno == socket.EAI_AGAIN  # "temporary failure in name resolution"
    return not isinstance(cause, ConnectionRefusedError | ssl.SSLCertVerificationError)


def _os_cause(exc: BaseException) -> BaseException | None:
    """The OS-level error httpx and httpcore wrapped (each re-raises `from` the one below)."""
    seen = exc.__cause__ or exc.__context__
    while seen is not None and not isinstance(seen, OSError):
        seen = seen.__cause__ or seen.__context__
    return seen


def _final_transport_failure(url: str, exc: httpx.TransportError) -> str:
    """One sentence for a failure no retry fixes, saying what to check."""
    host = urlsplit(url).netloc or url
    cause = _os_cause(exc)
    if isinstance(cause, socket.gaierror):
        why = f"the host name {urlsplit(url).hostname!r} does not resolve ({cause.strerror})"
    elif isinstance(cause, ConnectionRefusedError):
        why = f"{host} refused the connection (nothing listens there)"
    else:
        why = str(exc) or type(exc).__name__
    return f"Download of {url} failed: {why}; check the source URL (and HF_ENDPOINT for hf://)"


def _refuse_web_page(response: httpx.Response, relpath: str) -> None:
    """A model file never arrives as an HTML page: that is a mirror's or a portal's error or
    login page answered with 200, and its bytes must not become the model."""
    media = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media == "text/html" and not relpath.lower().endswith(_WEB_PAGE_SUFFIXES):
        raise DownloadError(
            f"{response.url} answered a web page (text/html) instead of the file {relpath}: "
            "the file is missing there or the server is not a file server; nothing was kept"
        )


def _announced_by_hub(response: httpx.Response) -> tuple[str | None, int | None]:
    """The sha256 and size a Hugging Face hub states for the file, read as huggingface_hub
    reads them: from the hub's own answer (its relative redirects followed, not the CDN's),
    `X-Linked-Etag`/`X-Linked-Size` for an LFS file, else `ETag` and the answer's length. An
    ETag counts as a sha256 only when it is one (a plain git file's ETag is its blob id)."""
    answer = _hub_answer(response)
    etag = answer.headers.get("x-linked-etag") or answer.headers.get("etag") or ""
    digest = etag.removeprefix("W/").strip('"')
    linked_size = answer.headers.get("x-linked-size", "").strip()
    if linked_size:
        size = int(linked_size) if linked_size.isdigit() else None
    else:
        size = None if answer.is_redirect else _total_size(answer)
    return (digest if _SHA256.fullmatch(digest) else None), size


def _hub_answer(response: httpx.Response) -> httpx.Response:
    """The first answer of the redirect chain that is not a same-host (relative) redirect."""
    for hop in (*response.history, response):
        location = hop.headers.get("location", "")
        if not (hop.is_redirect and not urlsplit(location).netloc):
            return hop
    return response


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


def _content_range(response: httpx.Response) -> tuple[int | None, int | None]:
    """(first byte, end exclusive) of `Content-Range: bytes first-last/total`; None, None if
    it does not parse."""
    value = response.headers.get("content-range", "")
    try:
        first, last = value.split(" ", 1)[1].split("/", 1)[0].split("-", 1)
        start, end = int(first), int(last) + 1
    except (IndexError, ValueError):
        return None, None
    return (start, end) if end > start else (None, None)


def _total_size(response: httpx.Response) -> int | None:
    if response.status_code == 206:
        total = response.headers.get("content-range", "").rpartition("/")[2]
        return int(total) if total.isdigit() else None
    length = response.headers.get("content-length")
    return int(length) if length and length.isdigit() else None


def _open_at(part: Path, offset: int) -> tuple[BinaryIO, hashlib._Hash]:
    """The part opened for writing at `offset`, with the sha256 of the bytes before it read
    back through the same handle. A part that is not exactly `offset` bytes long is discarded:
    what gets hashed is always what is on disk."""
    if not offset:
        return _open_part(part, "wb"), hashlib.sha256()
    handle = _open_part(part, "r+b")
    digest = hashlib.sha256()
    remaining = offset
    while remaining and (chunk := handle.read(min(CHUNK_SIZE, remaining))):
        digest.update(chunk)
        remaining -= len(chunk)
    if remaining or handle.read(1):  # shorter or longer than the resume asked for
        handle.close()
        _discard(part)
        raise _Restart(f"the partial file is not the {offset} bytes the resume asked from")
    return handle, digest


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
            free = free_bytes(part.parent)
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
        return InsufficientSpace(0, free_bytes(directory), str(directory))
    return exc
