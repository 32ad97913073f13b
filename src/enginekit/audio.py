"""WAV in and out as numpy arrays, shared by engines so none of them hand-rolls RIFF headers."""

from __future__ import annotations

import io
import wave

import numpy as np

from .errors import BadRequest

__all__ = ["decode_wav", "encode_wav", "wav_duration"]

_DTYPES = {1: np.uint8, 2: np.int16, 4: np.int32}


def encode_wav(samples: np.ndarray, sample_rate: int) -> bytes:
    """Mono 16-bit PCM; float input is taken as -1..1 and clipped."""
    if samples.dtype != np.int16:
        samples = (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(samples.astype("<i2").tobytes())
    return buffer.getvalue()


def decode_wav(data: bytes) -> tuple[np.ndarray, int]:
    """PCM WAV bytes to mono float32 in -1..1 and the sample rate; BadRequest if unreadable."""
    try:
        with wave.open(io.BytesIO(data), "rb") as audio:
            width, channels = audio.getsampwidth(), audio.getnchannels()
            rate = audio.getframerate()
            frames = audio.readframes(audio.getnframes())
    except (wave.Error, EOFError) as exc:
        raise BadRequest(f"Invalid WAV data: {exc}") from exc
    if width not in _DTYPES:
        raise BadRequest(f"Unsupported WAV sample width: {width * 8} bit")
    raw = np.frombuffer(
        frames[: len(frames) - len(frames) % (width * channels)],
        dtype=np.dtype(_DTYPES[width]).newbyteorder("<"),
    )
    if width == 1:
        samples = (raw.astype(np.float32) - 128.0) / 128.0
    else:
        samples = raw.astype(np.float32) / float(2 ** (8 * width - 1))
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return samples, rate


def wav_duration(data: bytes) -> float | None:
    """Seconds of audio by the header alone, or None when `wave` cannot read the header."""
    try:
        with wave.open(io.BytesIO(data), "rb") as audio:
            rate = audio.getframerate()
            return audio.getnframes() / rate if rate else None
    except (wave.Error, EOFError):
        return None
