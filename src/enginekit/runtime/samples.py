"""Speaker samples in samples/: name rules, containment, and uploads that are never half-visible."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import uuid
import wave
from collections.abc import AsyncIterator
from pathlib import Path

from ..audio import decode_audio
from ..errors import InvalidInput, NotFound, PayloadTooLarge

__all__ = [
    "check_inside",
    "check_sample_id",
    "check_speaker_file",
    "check_wav_file",
    "sample_path",
    "store_upload",
]

# Python's \w is exactly str.isalnum() plus "_", so this is the reference's rule (Unicode-aware).
_ALLOWED = re.compile(r"[\w.-]+")
#: Longer names cannot be files (NAME_MAX is 255 bytes, ".wav" included): refused as malformed.
MAX_NAME_BYTES = 200
MAX_SAMPLE_RATE = 768_000
MAX_CHANNELS = 32
SHOWN_NAME_CHARS = 80


def _well_formed(name: str) -> bool:
    return bool(_ALLOWED.fullmatch(name)) and len(name.encode()) <= MAX_NAME_BYTES


def _shown(name: str) -> str:
    return name if len(name) <= SHOWN_NAME_CHARS else name[:SHOWN_NAME_CHARS] + "..."


def _contained(path: Path, samples_dir: Path) -> bool:
    try:
        return path.resolve().is_relative_to(samples_dir.resolve())
    except (OSError, RuntimeError):  # a symlink loop (RuntimeError before Python 3.13)
        return False


def check_inside(samples_dir: Path, path: str) -> None:
    """A client-given path must resolve inside samples/ (no reading arbitrary server files)."""
    if not _contained(Path(path), samples_dir):
        raise InvalidInput(f"Audio path must be inside samples/: {_shown(path)}")


def sample_path(samples_dir: Path, sample_id: str) -> Path:
    """samples/<id>.wav for a valid id, or InvalidInput with the contract's detail."""
    if not _well_formed(sample_id):
        raise InvalidInput(f"Invalid sample ID format: {_shown(sample_id)}")
    path = samples_dir / f"{sample_id}.wav"
    if not _contained(path, samples_dir):
        raise InvalidInput("Invalid sample path")
    return path


def check_sample_id(samples_dir: Path, sample_id: str) -> bool:
    """Whether a valid sample exists (raises InvalidInput for invalid ids)."""
    return sample_path(samples_dir, sample_id).exists()


def check_speaker_file(samples_dir: Path, entry: str) -> None:
    """A /generate speaker entry: a file name with extension, inside samples/, existing."""
    if not _well_formed(entry):
        raise InvalidInput(f"Invalid speaker filename format: {_shown(entry)}")
    path = samples_dir / entry
    if not _contained(path, samples_dir):
        raise InvalidInput("Invalid speaker path")
    if not path.exists():
        raise NotFound(f"Speaker sample not found: {entry}")


async def store_upload(
    destination: Path, chunks: AsyncIterator[bytes], limit: int, declared: int | None
) -> int:
    """Stream to a hidden temporary file, check size and WAV header, then rename into place.

    os.replace swaps the directory entry, so a symlink at the destination is replaced, never
    followed: nothing is ever written outside samples/.
    """
    if declared is not None and declared > limit:
        raise PayloadTooLarge(limit)
    temporary = destination.with_name(f".upload-{uuid.uuid4().hex}.tmp")
    try:
        size = await _receive(temporary, chunks, limit)
        if size == 0:
            raise InvalidInput("Empty request body")
        await asyncio.to_thread(check_wav_file, temporary)
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
                raise PayloadTooLarge(limit)
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    return size


def check_wav_file(path: Path) -> None:
    """The whole file, before it goes live: a sane header (rate, width, channels), frames, and
    as many bytes of audio as the header announces. Encodings `wave` cannot read (32-bit
    float, WAVE_FORMAT_EXTENSIBLE before Python 3.12) must decode to audio with PyAV."""
    try:
        with wave.open(str(path), "rb") as audio:
            frames, rate = audio.getnframes(), audio.getframerate()
            width, channels = audio.getsampwidth(), audio.getnchannels()
            if not 0 < rate <= MAX_SAMPLE_RATE:
                raise InvalidInput(f"Invalid WAV file: sample rate {rate} Hz")
            if not 0 < channels <= MAX_CHANNELS:
                raise InvalidInput(f"Invalid WAV file: {channels} channels")
            if frames == 0:
                raise InvalidInput("Invalid WAV file: it holds no audio frames")
            held = len(audio.readframes(frames)) // (width * channels)
    except wave.Error as exc:
        if not str(exc).startswith("unknown format"):
            raise InvalidInput(f"Invalid WAV file: {exc}") from exc
        samples, _ = decode_audio(path.read_bytes())
        if not len(samples):
            raise InvalidInput("Invalid WAV file: it holds no audio frames") from None
        return
    except EOFError as exc:
        raise InvalidInput(f"Invalid WAV file: {exc or 'truncated header'}") from exc
    if held < frames:
        raise InvalidInput(
            f"Invalid WAV file: truncated: the header announces {frames} frames, "
            f"the file holds {held}"
        )
