"""Speaker samples in samples/: name rules, containment, and uploads that are never half-visible."""

from __future__ import annotations

import contextlib
import os
import re
import uuid
import wave
from collections.abc import AsyncIterator
from pathlib import Path

from ..errors import BadRequest

__all__ = [
    "UploadTooLarge",
    "check_inside",
    "check_sample_id",
    "check_speaker_file",
    "sample_path",
    "store_upload",
]

# Python's \w is exactly str.isalnum() plus "_", so this is the reference's rule (Unicode-aware).
_ALLOWED = re.compile(r"[\w.-]+")


class UploadTooLarge(BadRequest):
    def __init__(self, limit: int) -> None:
        super().__init__(f"Upload too large: the limit is {limit} bytes", status_code=413)


def _contained(path: Path, samples_dir: Path) -> bool:
    try:
        return path.resolve().is_relative_to(samples_dir.resolve())
    except (OSError, RuntimeError):  # a symlink loop (RuntimeError before Python 3.13)
        return False


def check_inside(samples_dir: Path, path: str) -> None:
    """A client-given path must resolve inside samples/ (no reading arbitrary server files)."""
    if not _contained(Path(path), samples_dir):
        raise BadRequest(f"Audio path must be inside {samples_dir}: {path}")


def sample_path(samples_dir: Path, sample_id: str) -> Path:
    """samples/<id>.wav for a valid id, or BadRequest with the contract's detail."""
    if not _ALLOWED.fullmatch(sample_id):
        raise BadRequest(f"Invalid sample ID format: {sample_id}")
    path = samples_dir / f"{sample_id}.wav"
    if not _contained(path, samples_dir):
        raise BadRequest("Invalid sample path")
    return path


def check_sample_id(samples_dir: Path, sample_id: str) -> bool:
    """Whether a valid sample exists (raises BadRequest for invalid ids)."""
    return sample_path(samples_dir, sample_id).exists()


def check_speaker_file(samples_dir: Path, entry: str) -> None:
    """A /generate speaker entry: a file name with extension, inside samples/, existing."""
    if not _ALLOWED.fullmatch(entry):
        raise BadRequest(f"Invalid speaker filename format: {entry}")
    path = samples_dir / entry
    if not _contained(path, samples_dir):
        raise BadRequest("Invalid speaker path")
    if not path.exists():
        raise BadRequest(f"Speaker sample not found: {entry}", status_code=404)


async def store_upload(
    destination: Path, chunks: AsyncIterator[bytes], limit: int, declared: int | None
) -> int:
    """Stream to a hidden temporary file, check size and WAV header, then rename into place.

    os.replace swaps the directory entry, so a symlink at the destination is replaced, never
    followed: nothing is ever written outside samples/.
    """
    if declared is not None and declared > limit:
        raise UploadTooLarge(limit)
    temporary = destination.with_name(f".upload-{uuid.uuid4().hex}.tmp")
    try:
        size = await _receive(temporary, chunks, limit)
        if size == 0:
            raise BadRequest("Empty request body")
        _check_wav(temporary)
        os.replace(temporary, destination)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return size


async def _receive(temporary: Path, chunks: AsyncIterator[bytes], limit: int) -> int:
    size = 0
    with temporary.open("wb") as handle:
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise UploadTooLarge(limit)
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    return size


def _check_wav(path: Path) -> None:
    """The `wave` module reads the header; encodings it cannot decode (32-bit float,
    WAVE_FORMAT_EXTENSIBLE before Python 3.12) are still WAV files and pass."""
    try:
        with wave.open(str(path), "rb") as audio:
            if audio.getnframes() == 0:
                raise BadRequest("Invalid WAV file: it holds no audio frames")
    except wave.Error as exc:
        if not str(exc).startswith("unknown format"):
            raise BadRequest(f"Invalid WAV file: {exc}") from exc
    except EOFError as exc:
        raise BadRequest(f"Invalid WAV file: {exc or 'truncated header'}") from exc
