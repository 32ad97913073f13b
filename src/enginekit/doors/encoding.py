"""Engine audio to the formats clients ask for (wav, mp3, opus, aac, flac, pcm), incrementally:
each chunk's bytes leave as soon as the codec has them, so a response streams while the engine is
still speaking. PyAV does every codec and container; nothing here writes a header by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, cast, get_args

import av
import numpy as np
from numpy.typing import NDArray

from ..audio import to_pcm16

__all__ = ["AUDIO_FORMATS", "MEDIA_TYPES", "AudioEncoder", "AudioFormat", "open_encoder"]

AudioFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]
AUDIO_FORMATS: tuple[AudioFormat, ...] = get_args(AudioFormat)

MEDIA_TYPES: dict[AudioFormat, str] = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}


@dataclass(frozen=True)
class _Codec:
    container: str
    codec: str
    options: dict[str, str] = field(default_factory=dict)


# flush_packets: every muxed packet reaches the sink at once instead of after 32 KiB of output.
# Ogg pages close after 20 ms instead of 1 s, so opus streams as finely as the others.
_CODECS: dict[AudioFormat, _Codec] = {
    "mp3": _Codec("mp3", "libmp3lame"),
    "opus": _Codec("ogg", "libopus", {"page_duration": "20000"}),
    "aac": _Codec("adts", "aac"),
    "flac": _Codec("flac", "flac"),
    "wav": _Codec("wav", "pcm_s16le"),
}


class AudioEncoder:
    """`encode(samples)` returns the bytes ready so far; `finish()` the rest. Raw 16-bit PCM
    needs no codec; every other format goes through PyAV."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.output_rate = sample_rate

    def encode(self, samples: NDArray[np.float32]) -> bytes:
        return to_pcm16(samples)

    def finish(self) -> bytes:
        return b""


class _Sink:
    """Write-only on purpose: a muxer that cannot seek never rewrites a header that has
    already gone out (WAV then says "size unknown", which every decoder accepts)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


class _PyAVEncoder(AudioEncoder):
    def __init__(self, spec: _Codec, sample_rate: int) -> None:
        super().__init__(sample_rate)
        self._sink = _Sink()
        self._container = av.open(
            self._sink, mode="w", format=spec.container,
            options={"flush_packets": "1", **spec.options},
        )  # fmt: skip
        self.output_rate = _supported_rate(spec.codec, sample_rate)
        # PyAV converts each frame to the codec's sample format, rate and frame size.
        self._stream = cast(
            av.AudioStream,
            self._container.add_stream(spec.codec, rate=self.output_rate, layout="mono"),
        )

    def encode(self, samples: NDArray[np.float32]) -> bytes:
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1),
            format="flt",
            layout="mono",
        )
        frame.sample_rate = self.sample_rate
        self._mux(frame)
        return self._sink.take()

    def finish(self) -> bytes:
        self._mux(None)
        self._container.close()
        return self._sink.take()

    def _mux(self, frame: av.AudioFrame | None) -> None:
        for packet in self._stream.encode(frame):
            self._container.mux(packet)


def _supported_rate(codec: str, rate: int) -> int:
    """The engine's rate where the codec takes it, else the next higher one it does (opus has
    no 22050 Hz: 24000)."""
    rates = av.Codec(codec, "w").audio_rates
    if not rates or rate in rates:
        return rate
    return min((r for r in rates if r >= rate), default=max(rates))


def open_encoder(audio_format: AudioFormat, sample_rate: int) -> AudioEncoder:
    """An encoder for mono float32 chunks at `sample_rate` (pcm: 16-bit little-endian)."""
    spec = _CODECS.get(audio_format)
    return AudioEncoder(sample_rate) if spec is None else _PyAVEncoder(spec, sample_rate)
