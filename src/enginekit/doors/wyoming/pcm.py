"""Raw PCM as Wyoming carries it, both ways: any rate, width and channel count in (converted to
what the engine hears), 16-bit mono out (what every Wyoming client plays)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import av
import numpy as np
from numpy.typing import NDArray

from ...audio import to_pcm16
from ...errors import InvalidInput

__all__ = ["OUTPUT_WIDTH", "PcmFormat", "PcmStream", "pcm16_pieces"]

OUTPUT_WIDTH = 2
SAMPLES_PER_CHUNK = 1024  # what wyoming-piper sends, so players buffer as they are used to
MAX_RATE = 384_000
MAX_CHANNELS = 32
_FULL_SCALE = {1: 2.0**7, 2: 2.0**15, 3: 2.0**23, 4: 2.0**31}


@dataclass(frozen=True)
class PcmFormat:
    """An audio-start's or audio-chunk's rate (Hz), width (bytes) and channels."""

    rate: int
    width: int
    channels: int

    @classmethod
    def of(cls, data: dict[str, Any], event_type: str) -> PcmFormat:
        """The format an event declares, or InvalidInput naming what is allowed."""
        rate, width, channels = (
            _integer(data, k, event_type) for k in ("rate", "width", "channels")
        )
        if not 1 <= rate <= MAX_RATE or width not in _FULL_SCALE:
            raise InvalidInput(
                f"Unsupported audio in {event_type}: rate {rate}, width {width}; "
                f"expected a rate of 1..{MAX_RATE} Hz and a width of 1, 2, 3 or 4 bytes"
            )
        if not 1 <= channels <= MAX_CHANNELS:
            raise InvalidInput(f"Unsupported channel count {channels}: 1..{MAX_CHANNELS}")
        return cls(rate, width, channels)

    @property
    def frame_bytes(self) -> int:
        return self.width * self.channels


def _integer(data: dict[str, Any], key: str, event_type: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(f"{event_type} needs integer rate, width and channels; {key}: {value!r}")
    return value


class PcmStream:
    """One incoming audio stream as mono float32 at one rate (`rate`, else the first chunk's).

    Width and channels are plain numpy arithmetic; the rate goes through one PyAV resampler per
    run of equal formats, so chunk boundaries leave no seams.
    """

    def __init__(self, rate: int | None) -> None:
        self._rate = rate
        self._format: PcmFormat | None = None
        self._resampler: Any = None
        self._pieces: list[NDArray[np.float32]] = []
        self.bytes_received = 0

    def add(self, audio: bytes, fmt: PcmFormat) -> None:
        if len(audio) % fmt.frame_bytes:
            raise InvalidInput(
                f"audio-chunk of {len(audio)} bytes is not whole frames of "
                f"{fmt.frame_bytes} bytes (width {fmt.width} x {fmt.channels} channels)"
            )
        self.bytes_received += len(audio)
        if fmt != self._format:
            self._flush()
            self._format = fmt
            self._rate = self._rate or fmt.rate
            if fmt.rate != self._rate:
                self._resampler = av.AudioResampler(format="flt", layout="mono", rate=self._rate)
        mono = _mono_float(audio, fmt)
        if self._resampler is None:
            self._pieces.append(mono)
            return
        frame = av.AudioFrame.from_ndarray(mono.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = fmt.rate
        self._pieces += [out.to_ndarray().reshape(-1) for out in self._resampler.resample(frame)]

    @property
    def seconds(self) -> float:
        return sum(len(p) for p in self._pieces) / self._rate if self._rate else 0.0

    def finish(self) -> tuple[NDArray[np.float32], int]:
        """All samples so far and their rate (16000 when no chunk ever came)."""
        self._flush()
        samples = np.concatenate(self._pieces) if self._pieces else np.zeros(0, np.float32)
        return samples.astype(np.float32, copy=False), self._rate or 16000

    def _flush(self) -> None:
        if self._resampler is not None:
            self._pieces += [out.to_ndarray().reshape(-1) for out in self._resampler.resample(None)]
            self._resampler = None


def _mono_float(audio: bytes, fmt: PcmFormat) -> NDArray[np.float32]:
    """Little-endian integer PCM (8-bit unsigned, 16/24/32-bit signed) to mono -1..1."""
    if fmt.width == 1:
        values = np.frombuffer(audio, np.uint8).astype(np.float32) - 128.0
    elif fmt.width == 3:
        triplets = np.frombuffer(audio, np.uint8).reshape(-1, 3)
        padded = np.zeros((len(triplets), 4), np.uint8)
        padded[:, 1:] = triplets  # the low byte empty: a 32-bit integer 256 times the sample
        values = (padded.view("<i4").reshape(-1) >> 8).astype(np.float32)
    else:
        values = np.frombuffer(audio, f"<i{fmt.width}").astype(np.float32)
    frames = values.reshape(-1, fmt.channels) / _FULL_SCALE[fmt.width]
    mono: NDArray[np.float32] = frames.mean(axis=1, dtype=np.float32)
    return mono


def pcm16_pieces(samples: NDArray[np.float32]) -> list[bytes]:
    """An engine chunk as 16-bit PCM payloads of at most SAMPLES_PER_CHUNK samples."""
    pcm = to_pcm16(samples)
    step = SAMPLES_PER_CHUNK * OUTPUT_WIDTH
    return [pcm[start : start + step] for start in range(0, len(pcm), step)]
