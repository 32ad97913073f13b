"""Incoming PCM conversion: every width and channel count gives the same mono signal, and
resampling keeps the signal (a tone stays the same tone)."""

from __future__ import annotations

import numpy as np
import pytest
from wyoming_helpers import encode_pcm, tone

from enginekit.doors.wyoming.pcm import PcmFormat, PcmStream
from enginekit.errors import InvalidInput


def convert(
    samples: np.ndarray, fmt: PcmFormat, target: int | None, per_chunk: int = 777
) -> np.ndarray:
    pcm = encode_pcm(samples, fmt.width, fmt.channels)
    step = per_chunk * fmt.frame_bytes
    audio = PcmStream(target)
    for start in range(0, len(pcm), step):
        audio.add(pcm[start : start + step], fmt)
    converted, rate = audio.finish()
    assert rate == (target or fmt.rate)
    return converted


@pytest.mark.parametrize("width", [1, 2, 3, 4])
@pytest.mark.parametrize("channels", [1, 2, 5])
def test_every_width_and_channel_count_is_the_same_mono_signal(width: int, channels: int) -> None:
    signal = tone(0.25, 16000, level=0.8)
    converted = convert(signal, PcmFormat(16000, width, channels), None)
    assert np.max(np.abs(converted - signal)) <= 2.0 ** (1 - 8 * width) + 1e-6


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_resampling_keeps_the_tone_across_chunk_boundaries(rate: int) -> None:
    converted = convert(tone(1.0, rate), PcmFormat(rate, 2, 1), 16000)
    expected = tone(1.0, 16000)
    assert abs(len(converted) - len(expected)) <= 32
    middle = slice(800, 15200)  # away from the resampler's start-up and tail
    error = converted[middle] - expected[middle][: len(converted[middle])]
    assert np.sqrt(np.mean(error**2)) < 0.01


def test_a_format_change_mid_stream_is_converted_to_the_first_rate() -> None:
    audio = PcmStream(None)
    audio.add(encode_pcm(tone(0.5, 16000), 2, 1), PcmFormat(16000, 2, 1))
    audio.add(encode_pcm(tone(0.5, 48000), 4, 2), PcmFormat(48000, 4, 2))
    samples, rate = audio.finish()
    assert rate == 16000
    assert abs(len(samples) - 16000) <= 32


def test_no_audio_is_an_empty_array() -> None:
    samples, rate = PcmStream(16000).finish()
    assert (len(samples), rate, samples.dtype) == (0, 16000, np.float32)


def test_partial_frames_are_refused() -> None:
    with pytest.raises(InvalidInput, match="not whole frames"):
        PcmStream(None).add(bytes(5), PcmFormat(16000, 2, 1))
