"""The incremental encoder and the subtitle renderers on their own."""

from __future__ import annotations

import numpy as np
import pytest

from enginekit.audio import decode_audio
from enginekit.doors.encoding import AUDIO_FORMATS, open_encoder
from enginekit.doors.openai.transcripts import srt, timestamp, vtt
from enginekit.engine import TranscriptSegment

RATE = 22050


def tone(seconds: float) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


@pytest.mark.parametrize("audio_format", AUDIO_FORMATS)
def test_bytes_come_out_before_the_encoder_is_finished(audio_format: str) -> None:
    encoder = open_encoder(audio_format, RATE)  # type: ignore[arg-type]
    pieces = [encoder.encode(tone(1.0)) for _ in range(3)]
    assert any(pieces[:2])  # a stream has audio before its end
    data = b"".join(pieces) + encoder.finish()
    if audio_format == "pcm":
        assert len(data) == 2 * 3 * RATE
        return
    samples, rate = decode_audio(data)
    assert len(samples) / rate == pytest.approx(3.0, abs=0.1)


def test_opus_is_encoded_at_a_rate_opus_has() -> None:
    assert open_encoder("opus", RATE).output_rate == 24000
    assert open_encoder("mp3", RATE).output_rate == RATE


def test_timestamps_use_the_subtitle_formats_separators_past_an_hour() -> None:
    assert timestamp(3723.4567, ",") == "01:02:03,457"
    assert timestamp(0.0, ".") == "00:00:00.000"


def test_srt_numbers_cues_and_vtt_does_not() -> None:
    segments = [
        TranscriptSegment(start=0.0, end=1.5, text=" Hello."),
        TranscriptSegment(start=1.5, end=2.0, text=" "),  # nothing to show: no cue
        TranscriptSegment(start=61.25, end=62.0, text="World."),
    ]
    assert srt(segments) == (
        "1\n00:00:00,000 --> 00:00:01,500\nHello.\n\n2\n00:01:01,250 --> 00:01:02,000\nWorld.\n\n"
    )
    assert vtt(segments) == (
        "WEBVTT\n\n"
        "00:00:00.000 --> 00:00:01.500\nHello.\n\n00:01:01.250 --> 00:01:02.000\nWorld.\n\n"
    )
