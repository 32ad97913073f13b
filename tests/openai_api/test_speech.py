"""POST /v1/audio/speech through the official client, against debug-tts and piper: every format
decoded back, speed, streaming, SSE and a client that goes away."""

from __future__ import annotations

import io
import threading
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import openai
import pytest
import yaml
from engines.helpers import LiveEngine
from support.engines import copy_engine, engine_module, live_server, make_server

from enginekit.engine import AudioChunk, EngineContext, SynthesisRequest

from .helpers import (
    FOX,
    GATE_TIMEOUT,
    LONG_TEXT,
    Served,
    decoded,
    pcm_samples,
    sdk,
    seconds,
    sse_audio,
    sse_events,
    wait_for,
)

DebugTTS = engine_module("tts/debug-tts").DebugTTS

FORMATS = ["mp3", "opus", "aac", "flac", "wav", "pcm"]
LOSSLESS = {"flac", "wav", "pcm"}
THREE_SENTENCES = "The first sentence is here. The second one follows it. The third ends it."
CODEC_PADDING_S = 0.15  # mp3/aac/opus add encoder delay and padding at the ends


def speak(client: openai.OpenAI, text: str = FOX, **options: Any) -> bytes:
    options.setdefault("model", "tts-1")
    options.setdefault("voice", "alloy")
    return client.audio.speech.create(input=text, **options).content


def origin_wav(url: str, text: str, **parameters: Any) -> tuple[np.ndarray, int]:
    body = {"text": text, "language": "en", "ttsSpeakerWav": "", "parameters": parameters}
    reply = httpx.post(f"{url}/generate", json=body, timeout=60)
    assert reply.status_code == 200, reply.text
    with wave.open(io.BytesIO(reply.content), "rb") as audio:
        frames = audio.readframes(audio.getnframes())
        return np.frombuffer(frames, "<i2").astype(np.float32) / 32767, audio.getframerate()


# -- formats -----------------------------------------------------------------------------------


@pytest.mark.parametrize("audio_format", FORMATS)
def test_every_format_decodes_back_to_the_audio_the_engine_made(
    debug_tts: Served, audio_format: str
) -> None:
    data = speak(debug_tts.client, response_format=audio_format)
    reference, rate = origin_wav(debug_tts.url, FOX)  # debug-tts is deterministic
    if audio_format == "pcm":
        samples = pcm_samples(data)
        assert np.array_equal(samples, reference)
        return
    samples, decoded_rate = decoded(data)
    duration, expected = len(samples) / decoded_rate, len(reference) / rate
    if audio_format in LOSSLESS:
        assert decoded_rate == rate
        assert np.allclose(samples, reference, atol=1e-3)
    else:
        assert abs(duration - expected) < CODEC_PADDING_S
        level = float(np.sqrt(np.mean(samples**2)))
        assert level == pytest.approx(float(np.sqrt(np.mean(reference**2))), rel=0.2)


@pytest.mark.parametrize("audio_format", FORMATS)
def test_piper_speaks_every_format(
    piper_sdk: openai.OpenAI, piper: LiveEngine, audio_format: str
) -> None:
    reply = piper_sdk.audio.speech.with_raw_response.create(
        model="en_US-joe-medium", voice="alloy", input=FOX, response_format=audio_format
    )
    data = reply.content
    if audio_format == "pcm":
        rate = int(reply.headers["x-sample-rate"])
        assert rate == 22050
        samples = pcm_samples(data)
    else:
        samples, rate = decoded(data)
    assert 1.5 < len(samples) / rate < 6.0  # the fox sentence, spoken
    assert float(np.sqrt(np.mean(samples**2))) > 0.01


def test_pcm_is_16_bit_mono_at_the_rate_in_its_header(debug_tts: Served) -> None:
    reply = debug_tts.client.audio.speech.with_raw_response.create(
        model="tts-1", voice="alloy", input=FOX, response_format="pcm"
    )
    assert reply.headers["content-type"] == "audio/pcm"
    assert reply.headers["x-sample-rate"] == "22050"
    _, rate = origin_wav(debug_tts.url, FOX)
    assert len(reply.content) / 2 / rate == pytest.approx(seconds_of_origin(debug_tts.url))


def seconds_of_origin(url: str) -> float:
    samples, rate = origin_wav(url, FOX)
    return len(samples) / rate


def test_mp3_is_the_default_format(debug_tts: Served) -> None:
    reply = debug_tts.client.audio.speech.with_raw_response.create(
        model="tts-1", voice="alloy", input=FOX
    )
    assert reply.headers["content-type"] == "audio/mpeg"
    assert seconds(reply.content) > 1.0


# -- speed -------------------------------------------------------------------------------------


def test_speed_is_the_engines_speed_parameter(debug_tts: Served) -> None:
    normal = seconds(speak(debug_tts.client, response_format="wav"))
    fast = seconds(speak(debug_tts.client, response_format="wav", speed=2.0))
    assert fast / normal == pytest.approx(0.5, abs=0.02)


def test_piper_speaks_faster_at_speed_two(piper_sdk: openai.OpenAI) -> None:
    normal = seconds(speak(piper_sdk, response_format="wav"))
    fast = seconds(speak(piper_sdk, response_format="wav", speed=2.0))
    assert fast / normal < 0.75


def test_a_speed_outside_the_engines_range_is_refused_naming_speed(debug_tts: Served) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        speak(debug_tts.client, speed=3.0)  # OpenAI allows 4.0, debug-tts 2.0
    assert refused.value.param == "speed"
    assert "2.0" in refused.value.message


def test_a_speed_outside_openais_range_is_refused_naming_speed(debug_tts: Served) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        speak(debug_tts.client, speed=5.0)
    assert refused.value.param == "speed"


def test_an_engine_without_a_speed_parameter_refuses_other_speeds(tmp_path: Path) -> None:
    base = copy_engine("tts/debug-tts", tmp_path)
    manifest = yaml.safe_load((base / "engine.yaml").read_text())
    del manifest["parameters"]["speed"]
    (base / "engine.yaml").write_text(yaml.safe_dump(manifest))
    with live_server(make_server(DebugTTS, base)) as url:
        client = sdk(url)
        with pytest.raises(openai.BadRequestError) as refused:
            speak(client, speed=1.5)
        assert refused.value.param == "speed"
        assert "no speed parameter" in refused.value.message
        assert seconds(speak(client, speed=1.0, response_format="wav")) > 1.0


# -- streaming ---------------------------------------------------------------------------------


class GatedTTS(DebugTTS):  # type: ignore[misc,valid-type]
    """debug-tts that holds every sentence after the first until the test opens the gate and
    records what it did: the order of events, not a clock, shows streaming and stopping."""

    def __init__(self, context: EngineContext) -> None:
        super().__init__(context)
        self.gate = threading.Event()
        self.events: list[str] = []
        self.closed = threading.Event()
        self.fail_at: int | None = None

    def synthesize(self, request: SynthesisRequest) -> Iterator[AudioChunk]:
        try:
            for index, chunk in enumerate(super().synthesize(request)):
                if index:
                    self.gate.wait(GATE_TIMEOUT)
                if index == self.fail_at:
                    raise RuntimeError("the vocoder broke")
                self.events.append(f"chunk {index}")
                yield chunk
            self.events.append("end")
        finally:
            self.closed.set()


@pytest.fixture
def gated(tmp_path: Path) -> Iterator[Served]:
    server = make_server(GatedTTS, copy_engine("tts/debug-tts", tmp_path))
    with live_server(server) as url:
        yield Served(server, url, sdk(url))


@pytest.mark.parametrize("audio_format", FORMATS)
def test_the_first_audio_arrives_before_the_synthesis_ends(
    gated: Served, audio_format: str
) -> None:
    engine = gated.server.engine
    with gated.client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input=THREE_SENTENCES, response_format=audio_format
    ) as response:
        pieces = response.iter_bytes()
        first = next(pieces)
        seen_at_first_bytes = list(engine.events)
        engine.gate.set()
        data = first + b"".join(pieces)
    assert first
    assert "end" not in seen_at_first_bytes
    assert engine.events[-1] == "end"
    if audio_format == "pcm":
        assert len(data) % 2 == 0
    else:
        assert seconds(data) > 3.0  # all three sentences are in the stream


def test_piper_sends_the_first_audio_of_a_long_text_while_still_synthesizing(
    piper_sdk: openai.OpenAI, piper: LiveEngine
) -> None:
    state = piper.server.runtime.state
    with piper_sdk.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input=LONG_TEXT, response_format="pcm"
    ) as response:
        pieces = response.iter_bytes()
        first = next(pieces)
        jobs_at_first_bytes = state.active_jobs
        data = first + b"".join(pieces)
    assert jobs_at_first_bytes == 1  # the synthesis had not ended when audio arrived
    assert state.active_jobs == 0
    assert len(data) / 2 / 22050 > 30  # twelve sentences


def test_a_client_that_disconnects_stops_the_job(gated: Served) -> None:
    engine, state = gated.server.engine, gated.server.runtime.state
    text = " ".join(f"Sentence {n} is here." for n in range(20))
    with gated.client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input=text, response_format="pcm"
    ) as response:
        assert next(response.iter_bytes())
    wait_for(lambda: state.active_jobs == 0)  # the server saw the client go
    engine.gate.set()
    assert engine.closed.wait(GATE_TIMEOUT)
    assert "end" not in engine.events
    assert len(engine.events) <= 2  # stopped at the chunk after the one it was holding
    assert state.status == "ready"
    assert seconds(speak(gated.client, response_format="wav")) > 1.0  # and it serves again


def test_sse_streams_base64_deltas_then_done(debug_tts: Served) -> None:
    body = speak(debug_tts.client, THREE_SENTENCES, response_format="wav", stream_format="sse")
    events = sse_events(body)
    assert [e["type"] for e in events[-1:]] == ["speech.audio.done"]
    deltas = [e for e in events if e["type"] == "speech.audio.delta"]
    assert len(deltas) >= 3  # one per sentence at least
    reference, rate = origin_wav(debug_tts.url, THREE_SENTENCES)
    samples, decoded_rate = decoded(sse_audio(events))
    assert decoded_rate == rate
    assert np.allclose(samples, reference, atol=1e-3)


def test_an_engine_failure_mid_sse_ends_the_stream_with_an_error_event(gated: Served) -> None:
    gated.server.engine.fail_at = 1
    gated.server.engine.gate.set()
    body = speak(gated.client, THREE_SENTENCES, response_format="pcm", stream_format="sse")
    events = sse_events(body)
    assert [e["type"] for e in events] == ["speech.audio.delta", "error"]
    assert events[-1]["error"]["type"] == "server_error"
    assert "the vocoder broke" in events[-1]["error"]["message"]
    assert gated.server.runtime.state.status == "error"


def test_sse_response_is_an_event_stream(debug_tts: Served) -> None:
    reply = debug_tts.client.audio.speech.with_raw_response.create(
        model="tts-1", voice="alloy", input=FOX, stream_format="sse"
    )
    assert reply.headers["content-type"].startswith("text/event-stream")
    assert seconds(sse_audio(sse_events(reply.content))) > 1.0  # mp3 by default
