"""debug-stt over Wyoming: describe, audio in any rate/width/channels, empty audio, the
streaming transcript events, and refusals as error events."""

from __future__ import annotations

import numpy as np
import pytest
from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming_helpers import WyomingEngine, stream, talk, tone, types

HEARD = "Debug transcription text"
DONE = {"transcript-stop", "error"}


def transcript_of(events: list[Event]) -> str:
    (transcript,) = [e for e in events if e.type == "transcript"]
    return str(transcript.data["text"])


def test_describe_lists_the_models_of_one_asr_program(debug_stt: WyomingEngine) -> None:
    (event,) = talk(debug_stt.uri, [Describe()])
    info = Info.from_event(event)
    assert not info.tts
    (program,) = info.asr
    assert program.name == "debug-stt" and program.supports_transcript_streaming
    assert [(m.name, m.installed) for m in program.models] == [("default", True)]


def test_the_transcript_comes_with_the_streaming_events_in_protocol_order(
    debug_stt: WyomingEngine,
) -> None:
    events = talk(debug_stt.uri, [Transcribe(language="en"), *stream(tone(1, 16000), 16000)], DONE)
    assert types(events) == [
        "transcript-start",
        "transcript-chunk",
        "transcript",
        "transcript-stop",
    ]
    assert events[1].data["text"] == HEARD
    assert events[2].data == {"text": HEARD, "language": "en"}


@pytest.mark.parametrize(
    ("rate", "width", "channels"),
    [(16000, 2, 1), (8000, 1, 1), (44100, 2, 2), (48000, 3, 2), (22050, 4, 1), (11025, 2, 6)],
)
def test_any_rate_width_and_channel_count_is_heard_and_silence_is_not(
    debug_stt: WyomingEngine, rate: int, width: int, channels: int
) -> None:
    loud = talk(debug_stt.uri, stream(tone(0.5, rate), rate, width, channels), DONE)
    quiet = talk(
        debug_stt.uri, stream(np.zeros(rate // 2, np.float32), rate, width, channels), DONE
    )
    assert (transcript_of(loud), transcript_of(quiet)) == (HEARD, "")


def test_empty_audio_gets_an_empty_transcript_without_loading_anything(
    debug_stt: WyomingEngine,
) -> None:
    events = talk(debug_stt.uri, [Transcribe(), AudioStart(16000, 2, 1), AudioStop()], DONE)
    assert types(events) == ["transcript-start", "transcript", "transcript-stop"]
    assert transcript_of(events) == ""
    assert not debug_stt.health()["engineModelLoaded"]


def test_a_model_name_in_transcribe_loads_it_and_an_unknown_one_is_an_error(
    debug_stt: WyomingEngine,
) -> None:
    audio = stream(tone(0.5, 16000), 16000)
    assert transcript_of(talk(debug_stt.uri, [Transcribe(name="default"), *audio], DONE)) == HEARD
    assert debug_stt.health()["currentEngineModel"] == "default"
    events = talk(debug_stt.uri, [Transcribe(name="large"), *audio], DONE)
    assert events[-1].data == {
        "text": "Unknown model: large. Available: default",
        "code": "model-not-found",
    }
    assert debug_stt.health()["currentEngineModel"] == "default"


@pytest.mark.parametrize(
    ("start", "message"),
    [
        (AudioStart(16000, 5, 1), "Unsupported audio in audio-start: rate 16000, width 5"),
        (AudioStart(0, 2, 1), "Unsupported audio in audio-start: rate 0, width 2"),
        (AudioStart(16000, 2, 0), "Unsupported channel count 0"),
        (Event("audio-start", {"rate": "16k", "width": 2, "channels": 1}), "audio-start needs"),
    ],
    ids=["width", "rate", "channels", "type"],
)
def test_a_refused_stream_is_one_error_and_the_next_stream_is_heard(
    debug_stt: WyomingEngine, start: AudioStart | Event, message: str
) -> None:
    refused = [start, AudioChunk(16000, 2, 1, bytes(3200)), AudioStop()]
    events = talk(debug_stt.uri, [*refused, *stream(tone(0.5, 16000), 16000)], {"transcript-stop"})
    assert types(events)[0] == "error" and events[0].data["text"].startswith(message)
    assert types(events).count("error") == 1
    assert transcript_of(events) == HEARD


def test_a_chunk_of_partial_frames_refuses_the_stream(debug_stt: WyomingEngine) -> None:
    events = talk(
        debug_stt.uri,
        [AudioStart(16000, 2, 2), AudioChunk(16000, 2, 2, bytes(6)), AudioStop()],
        DONE,
    )
    assert types(events) == ["error"]
    assert events[0].data["text"].startswith("audio-chunk of 6 bytes is not whole frames of 4")


def test_audio_without_audio_start_is_one_error(debug_stt: WyomingEngine) -> None:
    chunk = AudioChunk(16000, 2, 1, bytes(320))
    events = talk(
        debug_stt.uri,
        [chunk, chunk, AudioStop(), *stream(tone(0.5, 16000), 16000)],
        {"transcript-stop"},
    )
    assert [e.data["text"] for e in events if e.type == "error"] == [
        "audio-chunk without audio-start"
    ]
    assert transcript_of(events) == HEARD
