"""Hashing and durable, atomic writes: the primitives every model file goes through."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import queue
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import StoreNotWritable

__all__ = [
    "CHUNK_SIZE",
    "READ_ONLY_ERRNOS",
    "BackgroundHash",
    "atomic_write_json",
    "delete_path",
    "fsync_directory",
    "sha256_of",
    "writable",
]

READ_ONLY_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})

CHUNK_SIZE = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


class BackgroundHash:
    """sha256 fed on its own thread: hashlib releases the GIL on large buffers, so hashing
    overlaps receiving and writing instead of adding to them. Use as a context manager."""

    _QUEUE_CHUNKS = 64  # bounds memory to 64 chunks in flight

    def __init__(self, digest: Any | None = None) -> None:
        self._digest = digest if digest is not None else hashlib.sha256()
        self._chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=self._QUEUE_CHUNKS)
        self._thread = threading.Thread(target=self._run, name="sha256", daemon=True)

    def __enter__(self) -> BackgroundHash:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._finish()

    def update(self, chunk: bytes) -> None:
        self._chunks.put(chunk)

    def hexdigest(self) -> str:
        self._finish()
        return str(self._digest.hexdigest())

    def _run(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            self._digest.update(chunk)

    def _finish(self) -> None:
        if self._thread.is_alive():
            self._chunks.put(None)
            self._thread.join()


def fsync_directory(directory: Path) -> None:
    """Make a rename inside `directory` durable; a no-op where directories cannot be opened."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_json(path: Path, data: Any) -> None:
    """Readers see the old file or the new one, never half of either."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    fsync_directory(path.parent)


@contextlib.contextmanager
def writable(what: str) -> Iterator[None]:
    """Report a read-only filesystem (a `:ro` mount, missing permissions) as StoreNotWritable
    with `what` failed and why; any other OSError passes through unchanged."""
    try:
        yield
    except OSError as exc:
        if exc.errno in READ_ONLY_ERRNOS:
            raise StoreNotWritable(f"{what} ({exc.strerror})") from exc
        raise


def delete_path(path: Path) -> None:
    """Remove a file, a link (never its target) or a whole directory; absent is fine."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
