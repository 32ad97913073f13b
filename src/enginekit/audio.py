"""Audio in and out as numpy arrays, shared by engines and doors so none of them hand-rolls RIFF
headers: WAV through the standard library, every other container and codec through PyAV."""

from __future__ import annotations

import io
import wave

import av
import numpy as np
from numpy.typing import NDArray

from .errors import InvalidInput

__all__ = ["decode_audio", "encode_wav", "to_pcm16", "wav_duration"]


def to_pcm16(samples: NDArray[np.floating] | NDArray[np.int16]) -> bytes:
    """16-bit little-endian PCM; float input is taken as -1..1 and clipped."""
    if samples.dtype != np.int16:
        samples = (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)
    return samples.astype("<i2").tobytes()


def encode_wav(samples: NDArray[np.floating] | NDArray[np.int16], sample_rate: int) -> bytes:
    """Mono 16-bit PCM WAV."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(to_pcm16(samples))
    return buffer.getvalue()


def decode_audio(data: bytes, sample_rate: int | None = None) -> tuple[NDArray[np.float32], int]:
    """Any file PyAV reads to mono float32 in -1..1, at `sample_rate` (None: as recorded).

    InvalidInput when nothing decodable is in it, so a bad upload is a 400, never a 500.
    """
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise InvalidInput("Cannot decode audio: the file holds no audio stream")
            stream = container.streams.audio[0]
            rate = sample_rate or stream.codec_context.sample_rate or stream.rate
            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
            pieces = [
                out.to_ndarray().reshape(-1)
                for frame in container.decode(stream)
                for out in resampler.resample(frame)
            ]
            pieces += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    except av.FFmpegError as exc:  # its str() carries an errno and a '<none>' file name
        raise InvalidInput(f"Cannot decode audio: {exc.strerror or 'unreadable data'}") from exc
    except (ValueError, OSError) as exc:
        raise InvalidInput(f"Cannot decode audio: {exc}") from exc
    samples = np.concatenate(pieces).astype(np.float32) if pieces else np.zeros(0, np.float32)
    return samples, int(rate)


def wav_duration(data: bytes) -> float | None:
    """Seconds of audio by the header alone, or None when `wave` cannot read the header."""
    try:
        with wave.open(io.BytesIO(data), "rb") as audio:
            rate = audio.getframerate()
            return audio.getnframes() / rate if rate else None
    except (wave.Error, EOFError):
        return None
