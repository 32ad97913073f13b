"""debug-tts over Wyoming: describe, synthesize, streaming input, voices through the hotswap
path, and refusals as error events."""

from __future__ import annotations

import io
import wave

import httpx
import pytest
from wyoming.audio import AudioStart
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)
from wyoming_helpers import WyomingEngine, audio_runs, talk, types

TEXT = "Hello world. How are you? Fine"


def generate_pcm(engine: WyomingEngine, text: str) -> tuple[int, bytes]:
    """The same text through HTTP /generate: (rate, 16-bit PCM)."""
    body = {"text": text, "language": "en", "tts_speaker_wav": ""}
    reply = httpx.post(f"{engine.url}/generate", json=body, timeout=30)
    assert reply.status_code == 200, reply.text
    with wave.open(io.BytesIO(reply.content), "rb") as audio:
        return audio.getframerate(), audio.readframes(audio.getnframes())


def error_of(events: list[Event]) -> Event:
    assert events and events[-1].type == "error", types(events)
    return events[-1]


def test_describe_lists_the_models_as_voices_of_one_streaming_tts_program(
    debug_tts: WyomingEngine,
) -> None:
    (event,) = talk(debug_tts.uri, [Describe()])
    info = Info.from_event(event)
    assert not info.asr
    (program,) = info.tts
    assert program.name == "debug-tts"
    assert program.supports_synthesize_streaming
    assert program.attribution.name == "Audiobook Maker"
    (voice,) = program.voices
    assert (voice.name, voice.installed) == ("default", True)
    assert voice.languages == ["en", "de", "fr", "es", "it"]
    assert voice.speakers is None


def test_synthesize_sends_the_same_pcm_as_generate_in_16_bit_mono(
    debug_tts: WyomingEngine,
) -> None:
    events = talk(debug_tts.uri, [Synthesize(TEXT)])
    assert types(events)[0] == "audio-start" and types(events)[-1] == "audio-stop"
    ((start, pcm),) = audio_runs(events)
    rate, expected = generate_pcm(debug_tts, TEXT)
    assert (start.rate, start.width, start.channels) == (rate, 2, 1)
    assert pcm == expected


def test_audio_streams_in_small_chunks_as_the_engine_yields_them(
    debug_tts: WyomingEngine,
) -> None:
    events = talk(debug_tts.uri, [Synthesize(TEXT)])
    chunks = [e for e in events if e.type == "audio-chunk"]
    assert len(chunks) > 3  # three sentences, each cut into chunks of at most 1024 samples
    assert all(len(c.payload or b"") <= 2048 for c in chunks)
    assert all(c.data["rate"] == 22050 and c.data["width"] == 2 for c in chunks)


def test_streamed_text_is_spoken_sentence_by_sentence_then_synthesize_stopped(
    debug_tts: WyomingEngine,
) -> None:
    events = talk(
        debug_tts.uri,
        [
            SynthesizeStart(voice=SynthesizeVoice(name="default")),
            SynthesizeChunk("Hello wor"),
            SynthesizeChunk("ld. How are"),
            SynthesizeChunk(" you? Fi"),
            SynthesizeChunk("ne"),
            Synthesize(TEXT),  # the copy a streaming client sends for older servers: ignored
            SynthesizeStop(),
        ],
        until={"synthesize-stopped"},
    )
    assert types(events)[-1] == "synthesize-stopped"
    runs = audio_runs(events)
    assert [pcm for _, pcm in runs] == [
        generate_pcm(debug_tts, sentence)[1]
        for sentence in ("Hello world.", "How are you?", "Fine")
    ]


def test_a_stream_without_text_ends_with_synthesize_stopped_and_no_audio(
    debug_tts: WyomingEngine,
) -> None:
    events = talk(
        debug_tts.uri,
        [SynthesizeStart(), SynthesizeChunk(" ... "), SynthesizeStop()],
        until={"synthesize-stopped"},
    )
    assert types(events) == ["synthesize-stopped"]


def test_a_chunk_outside_a_stream_is_an_error_and_the_connection_goes_on(
    debug_tts: WyomingEngine,
) -> None:
    events = talk(
        debug_tts.uri,
        [SynthesizeChunk("Hello."), Synthesize("Hi.")],
        until={"audio-stop"},
    )
    assert events[0].type == "error"
    assert events[0].data == {
        "text": "synthesize-chunk without synthesize-start",
        "code": "invalid-input",
    }
    assert types(events)[-1] == "audio-stop"


def test_a_voice_name_loads_that_model_through_the_hotswap_path(
    debug_tts: WyomingEngine,
) -> None:
    extra = debug_tts.served.runtime.layout.models_dir / "slow"
    extra.mkdir()
    (extra / "model.json").write_text(
        '{"base_frequency": 110.0, "sample_rate": 16000, "char_duration": 0.1}', encoding="utf-8"
    )
    assert not debug_tts.health()["engineModelLoaded"]
    events = talk(debug_tts.uri, [Synthesize("Hi.", voice=SynthesizeVoice(name="slow"))])
    ((start, pcm),) = audio_runs(events)
    assert start.rate == 16000 and len(pcm) == 2 * 3 * 1600
    assert debug_tts.health()["currentEngineModel"] == "slow"
    talk(debug_tts.uri, [Synthesize("Hi.", voice=SynthesizeVoice(name="default"))])
    assert debug_tts.health()["currentEngineModel"] == "default"


def test_no_voice_speaks_with_the_default_model_when_nothing_is_loaded(
    debug_tts: WyomingEngine,
) -> None:
    events = talk(debug_tts.uri, [Synthesize("Hi.")])
    assert AudioStart.from_event(events[0]).rate == 22050
    assert debug_tts.health()["currentEngineModel"] == "default"


def test_a_voice_by_language_picks_a_model_that_speaks_it(debug_tts: WyomingEngine) -> None:
    voice = SynthesizeVoice(language="de_DE")
    assert types(talk(debug_tts.uri, [Synthesize("Hallo.", voice=voice)]))[-1] == "audio-stop"
    error = error_of(talk(debug_tts.uri, [Synthesize("Hi.", voice=SynthesizeVoice(language="ja"))]))
    assert error.data["text"] == "No model for language 'ja'; languages: de, en, es, fr, it"


@pytest.mark.parametrize(
    ("request_event", "code", "text"),
    [
        (Synthesize("   "), "invalid-input", "Text cannot be empty"),
        (Synthesize("x" * 10001), "invalid-input", "Text too long (10001 chars)"),
        (
            Synthesize("Hi.", voice=SynthesizeVoice(name="nope")),
            "model-not-found",
            "Unknown model: nope. Available: default",
        ),
        (
            Synthesize("Hi.", voice=SynthesizeVoice(name="../etc")),
            "invalid-model-name",
            "",
        ),
        (
            Synthesize("Hi.", voice=SynthesizeVoice(name="default", speaker="2")),
            "invalid-input",
            "Speaker '2' is not one of this engine's speakers",
        ),
        (Event("synthesize", {"text": 5}), "invalid-input", "synthesize needs a string 'text'"),
        (
            Event("synthesize", {"text": "Hi.", "voice": "default"}),
            "invalid-input",
            "synthesize: 'voice' must be an object",
        ),
    ],
    ids=["blank", "too-long", "unknown-voice", "bad-name", "speaker", "text-type",
         "voice-type"],
)  # fmt: skip
def test_a_refused_synthesis_is_an_error_event_and_changes_nothing(
    debug_tts: WyomingEngine, request_event: Synthesize | Event, code: str, text: str
) -> None:
    talk(debug_tts.uri, [Synthesize("Hi.")])
    before = debug_tts.health()
    events = talk(debug_tts.uri, [request_event, Synthesize("Hi.")], until={"audio-stop"})
    assert events[0].type == "error", types(events)
    assert events[0].data["code"] == code
    assert events[0].data["text"].startswith(text)
    assert types(events)[-1] == "audio-stop"  # the same connection still speaks
    after = debug_tts.health()
    assert (after["status"], after["currentEngineModel"]) == ("ready", before["currentEngineModel"])
