"""Nothing a client does stops the listener, HTTP or another client: bad events are error
events, a broken byte stream closes only its own connection, a client that vanishes ends its
job, concurrent connections are independent, and a Wyoming job is a job /health shows."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import DebugSTT, DebugTTS
from wyoming.audio import AudioChunk, AudioStart
from wyoming.client import AsyncClient
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.tts import Synthesize
from wyoming_helpers import (
    READ_TIMEOUT_S,
    WyomingEngine,
    exchange,
    pcm_of,
    raw_exchange,
    stream,
    talk,
    tone,
    types,
    wyoming_engine,
)

from enginekit.engine import AudioChunk as EngineChunk
from enginekit.engine import SynthesisRequest

GATE_TIMEOUT_S = 30.0
CAP = 4096


def still_serving(engine: WyomingEngine) -> None:
    assert engine.health()["status"] in {"ready", "error"}
    assert types(talk(engine.uri, [Describe()])) == ["info"]


def wait_for_health(engine: WyomingEngine, **expected: object) -> dict[str, object]:
    """/health once it shows `expected` (a job ends on its worker after the client went)."""
    deadline = time.monotonic() + GATE_TIMEOUT_S
    while time.monotonic() < deadline:
        health = engine.health()
        if all(health.get(k) == v for k, v in expected.items()):
            return health
        time.sleep(0.02)
    raise AssertionError(f"/health never showed {expected}: {engine.health()}")


class GatedTTS(DebugTTS):
    """debug-tts that stops before its second sentence until the test opens the gate."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.reached = threading.Event()
        self.gate = threading.Event()

    def synthesize(self, request: SynthesisRequest) -> Iterator[EngineChunk]:
        for index, chunk in enumerate(super().synthesize(request)):
            if index == 1:
                self.reached.set()
                assert self.gate.wait(GATE_TIMEOUT_S), "the test never opened the gate"
            yield chunk


@pytest.fixture
def gated(tts_base: Path) -> Iterator[WyomingEngine]:
    with wyoming_engine(GatedTTS, tts_base) as engine:
        yield engine
        engine.served.engine.gate.set()


@pytest.fixture
def capped_stt(stt_base: Path) -> Iterator[WyomingEngine]:
    with wyoming_engine(DebugSTT, stt_base, max_upload_bytes=CAP) as engine:
        yield engine


def test_an_unknown_event_is_an_error_naming_the_supported_ones_and_the_connection_goes_on(
    debug_tts: WyomingEngine,
) -> None:
    events = talk(debug_tts.uri, [Event("detect"), Describe()], until={"info"})
    assert types(events) == ["error", "info"]
    assert events[0].data["code"] == "unknown-event"
    assert events[0].data["text"] == (
        "Unknown event 'detect'; supported: describe, ping, select-program, synthesize, "
        "synthesize-chunk, synthesize-start, synthesize-stop"
    )


def test_ping_is_answered_with_pong(debug_tts: WyomingEngine) -> None:
    (pong,) = talk(debug_tts.uri, [Event("ping", {"text": "hi"})])
    assert (pong.type, pong.data) == ("pong", {"text": "hi"})


@pytest.mark.parametrize(
    "header",
    [
        b"not json\n",
        b'{"data": {}}\n',
        b"[1, 2]\n",
        b'{"type": 5}\n',
        b'{"type": "describe", "data": [1]}\n',
        b'{"type": "describe", "data_length": "many"}\n',
        b'{"type": "describe", "data_length": 4}\n[1,2',
        b"{" + b" " * 70000 + b"}\n",
    ],
    ids=["text", "no-type", "list", "type-number", "data-list", "length-text", "data-list-body",
         "huge-line"],
)  # fmt: skip
def test_a_malformed_header_is_an_error_then_only_that_connection_closes(
    debug_tts: WyomingEngine, header: bytes
) -> None:
    events = asyncio.run(raw_exchange(debug_tts.port, header))
    assert [(e.type, e.data.get("code")) for e in events] == [("error", "malformed-event")]
    still_serving(debug_tts)


@pytest.mark.parametrize("length", ["data_length", "payload_length"])
def test_an_oversize_event_is_refused_before_its_bytes_are_read(
    capped_stt: WyomingEngine, length: str
) -> None:
    header = json.dumps({"type": "audio-chunk", length: 10**12}).encode() + b"\n"
    events = asyncio.run(raw_exchange(capped_stt.port, header))
    assert [e.data for e in events] == [
        {"text": f"Upload too large: the limit is {CAP} bytes", "code": "payload-too-large"}
    ]
    still_serving(capped_stt)


def test_audio_beyond_the_upload_limit_is_one_error_and_the_next_stream_is_heard(
    capped_stt: WyomingEngine,
) -> None:
    too_long = stream(tone(1.0, 16000), 16000)
    short = stream(tone(0.1, 16000), 16000)
    events = talk(capped_stt.uri, [*too_long, *short], until={"transcript-stop"})
    assert [e.data.get("code") for e in events if e.type == "error"] == ["payload-too-large"]
    assert [e.data["text"] for e in events if e.type == "transcript"] == [
        "Debug transcription text"
    ]


def test_a_client_that_vanishes_mid_event_leaves_the_listener_serving(
    debug_stt: WyomingEngine,
) -> None:
    async def vanish() -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", debug_stt.port)
        start = AudioStart(16000, 2, 1).event()
        writer.write(json.dumps({"type": start.type, "data": start.data}).encode() + b"\n")
        writer.write(b'{"type": "audio-chunk", "data": {"rate": 16000, "width": 2, '
                     b'"channels": 1}, "payload_length": 32000}\n' + bytes(100))  # fmt: skip
        await writer.drain()
        writer.close()

    asyncio.run(vanish())
    still_serving(debug_stt)
    heard = talk(debug_stt.uri, stream(tone(0.5, 16000), 16000), until={"transcript-stop"})
    assert types(heard)[-1] == "transcript-stop"


def test_a_client_that_vanishes_mid_synthesis_ends_its_job_and_the_engine_speaks_on(
    gated: WyomingEngine,
) -> None:
    engine = gated.served.engine

    async def listen_then_vanish() -> None:
        async with AsyncClient.from_uri(gated.uri, read_timeout=READ_TIMEOUT_S) as client:
            await client.write_event(Synthesize("One. Two. Three. Four. Five.").event())
            assert (await client.read_event()).type == "audio-start"  # type: ignore[union-attr]

    asyncio.run(listen_then_vanish())
    assert engine.reached.wait(GATE_TIMEOUT_S)
    engine.gate.set()
    wait_for_health(gated, status="ready")
    assert types(talk(gated.uri, [Synthesize("Again.")]))[-1] == "audio-stop"
    assert gated.health()["error"] is None


def test_a_wyoming_synthesis_is_a_job_that_health_shows(gated: WyomingEngine) -> None:
    engine = gated.served.engine
    with ThreadPoolExecutor(1) as pool:
        reply = pool.submit(talk, gated.uri, [Synthesize("One. Two.")])
        assert engine.reached.wait(GATE_TIMEOUT_S)
        during = gated.health()
        engine.gate.set()
        events = reply.result(timeout=READ_TIMEOUT_S)
    assert (during["status"], during["currentEngineModel"]) == ("processing", "default")
    assert types(events)[-1] == "audio-stop"
    assert gated.health()["status"] == "ready"


def test_concurrent_clients_each_get_their_own_complete_answer(debug_tts: WyomingEngine) -> None:
    texts = [f"Client {n} says hello. And goodbye." for n in range(4)]

    async def all_at_once() -> list[list[Event]]:
        garbage = raw_exchange(debug_tts.port, b"garbage\n")
        ends = {"audio-stop", "error"}
        replies = [exchange(debug_tts.uri, [Synthesize(t)], ends) for t in texts]
        *answers, refused = await asyncio.gather(*replies, garbage)
        assert types(refused) == ["error"]
        return answers

    answers = asyncio.run(all_at_once())
    for text, events in zip(texts, answers, strict=True):
        alone = talk(debug_tts.uri, [Synthesize(text)])
        assert types(events)[-1] == "audio-stop", events[-1].data
        assert pcm_of(events) == pcm_of(alone)


def test_http_keeps_answering_while_a_wyoming_client_misbehaves(debug_tts: WyomingEngine) -> None:
    async def misbehave() -> list[Event]:
        return await raw_exchange(debug_tts.port, b'{"type": "describe"}\n' + b"\xff" * 64 + b"\n")

    talk(debug_tts.uri, [Synthesize("Load the default voice.")])
    events = asyncio.run(misbehave())
    assert types(events) == ["info", "error"]
    reply = httpx.post(
        f"{debug_tts.url}/generate",
        json={"text": "Hi.", "language": "en", "tts_speaker_wav": ""},
        timeout=30,
    )
    assert reply.status_code == 200


def test_an_stt_chunk_sent_to_a_tts_engine_is_an_unknown_event(debug_tts: WyomingEngine) -> None:
    events = talk(debug_tts.uri, [AudioChunk(16000, 2, 1, bytes(10))])
    assert events[0].data["code"] == "unknown-event"
