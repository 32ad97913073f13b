"""`stream=true` on /v1/audio/transcriptions: each segment goes out as the engine recognises
it, a client that leaves stops the job, and the streamed text is the transcript's text."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from support.engines import copy_engine, engine_module, live_server, make_server

from enginekit.engine import EngineContext, TranscriptionRequest, TranscriptSegment

from .helpers import FOX, GATE_TIMEOUT, Served, sdk, wait_for

DebugSTT = engine_module("stt/debug-stt").DebugSTT

SPOKEN = ("First words come here.", "Then some more follow.", "And this is the end.")


class GatedSTT(DebugSTT):  # type: ignore[misc,valid-type]
    """debug-stt that recognises SPOKEN (or `count` numbered segments) one segment at a time,
    holding each after the first until the test opens the gate, and records what it did: the
    order of events, not a clock, shows streaming and stopping."""

    def __init__(self, context: EngineContext) -> None:
        super().__init__(context)
        self.gate = threading.Event()
        self.events: list[str] = []
        self.closed = threading.Event()
        self.texts = SPOKEN
        self.fail_at: int | None = None

    def transcribe_segments(self, request: TranscriptionRequest) -> Iterator[TranscriptSegment]:
        try:
            for index, text in enumerate(self.texts):
                if index:
                    self.gate.wait(GATE_TIMEOUT)
                if index == self.fail_at:
                    raise RuntimeError("the decoder broke")
                self.events.append(f"segment {index}")
                yield TranscriptSegment(start=float(index), end=index + 1.0, text=text)
            self.events.append("end")
        finally:
            self.closed.set()


@pytest.fixture
def gated(tmp_path: Path) -> Iterator[Served]:
    server = make_server(GatedSTT, copy_engine("stt/debug-stt", tmp_path))
    with live_server(server) as url:
        yield Served(server, url, sdk(url))


@pytest.fixture(scope="module")
def fox_wav(piper_sdk: openai.OpenAI) -> bytes:
    return piper_sdk.audio.speech.create(
        model="tts-1", voice="alloy", input=FOX, response_format="wav"
    ).content


def test_the_first_text_arrives_before_the_transcription_ends(
    gated: Served, fox_wav: bytes
) -> None:
    engine = gated.server.engine
    stream = gated.client.audio.transcriptions.create(
        model="whisper-1", file=("fox.wav", fox_wav), stream=True
    )
    events = iter(stream)
    first = next(events)
    seen_at_first_text = list(engine.events)
    engine.gate.set()
    rest = list(events)
    assert (first.type, first.delta) == ("transcript.text.delta", SPOKEN[0])  # type: ignore[union-attr]
    assert "end" not in seen_at_first_text
    assert [e.type for e in rest] == ["transcript.text.delta"] * 2 + ["transcript.text.done"]
    assert rest[-1].text == " ".join(SPOKEN)  # type: ignore[union-attr]
    assert engine.events[-1] == "end"
    assert gated.server.runtime.state.status == "ready"


def test_a_client_that_leaves_mid_transcript_stops_the_job(gated: Served, fox_wav: bytes) -> None:
    engine, state = gated.server.engine, gated.server.runtime.state
    engine.texts = tuple(f"Segment number {n}." for n in range(20))
    with gated.client.audio.transcriptions.create(
        model="whisper-1", file=("fox.wav", fox_wav), stream=True
    ) as stream:
        assert next(iter(stream)).type == "transcript.text.delta"
    wait_for(lambda: state.active_jobs == 0)  # the server saw the client go
    engine.gate.set()
    assert engine.closed.wait(GATE_TIMEOUT)
    assert "end" not in engine.events
    assert len(engine.events) <= 2  # stopped at the segment after the one it was holding
    assert state.status == "ready"


def test_an_engine_failure_mid_stream_is_an_error_event_the_sdk_raises(
    gated: Served, fox_wav: bytes
) -> None:
    engine, state = gated.server.engine, gated.server.runtime.state
    engine.fail_at = 1
    engine.gate.set()
    stream = gated.client.audio.transcriptions.create(
        model="whisper-1", file=("fox.wav", fox_wav), stream=True
    )
    events = iter(stream)
    assert next(events).type == "transcript.text.delta"
    with pytest.raises(openai.APIError) as failed:
        next(events)
    assert "the decoder broke" in failed.value.message
    assert state.status == "error"  # as the same failure without streaming leaves it


def test_an_engine_without_its_own_segments_streams_its_transcript(
    debug_stt: Served, fox_wav: bytes
) -> None:
    events = list(
        debug_stt.client.audio.transcriptions.create(
            model="whisper-1", file=("fox.wav", fox_wav), stream=True
        )
    )
    assert [e.type for e in events] == ["transcript.text.delta", "transcript.text.done"]
    assert events[0].delta == events[1].text == "Debug transcription text"  # type: ignore[union-attr]


def test_whisper_streams_the_text_it_answers_without_streaming(
    whisper_sdk: openai.OpenAI, fox_wav: bytes
) -> None:
    whole = whisper_sdk.audio.transcriptions.create(model="whisper-1", file=("fox.wav", fox_wav))
    events = list(
        whisper_sdk.audio.transcriptions.create(
            model="whisper-1", file=("fox.wav", fox_wav), stream=True
        )
    )
    assert events[-1].type == "transcript.text.done"
    assert events[-1].text == whole.text  # type: ignore[union-attr]
    deltas = [e.delta for e in events[:-1]]  # type: ignore[union-attr]
    assert deltas and "".join(deltas) == whole.text
