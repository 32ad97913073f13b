"""POST /v1/audio/transcriptions and /translations through the official client, against whisper
(tiny.en) and debug-stt: every response format, SSE, what the request fields reach the engine as,
and the TTS -> STT round trip through the SDK alone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import jiwer
import openai
import pytest
from support.engines import copy_engine, engine_module, live_server, make_server

from enginekit.engine import EngineContext, Transcript, TranscriptionRequest
from enginekit.settings import ServerSettings

from .helpers import FOX, Served, sdk

DebugSTT = engine_module("stt/debug-stt").DebugSTT

SRT_TIME = r"\d{2}:\d{2}:\d{2},\d{3}"
VTT_TIME = r"\d{2}:\d{2}:\d{2}\.\d{3}"
THREE = "The sun was warm. The river ran fast past the old mill. Children laughed in the park."


@pytest.fixture(scope="module")
def fox_mp3(piper_sdk: openai.OpenAI) -> bytes:
    return piper_sdk.audio.speech.create(model="tts-1", voice="alloy", input=FOX).content


@pytest.fixture(scope="module")
def three_wav(piper_sdk: openai.OpenAI) -> bytes:
    return piper_sdk.audio.speech.create(
        model="tts-1", voice="alloy", input=THREE, response_format="wav"
    ).content


def word_error_rate(expected: str, heard: str) -> float:
    def norm(text: str) -> str:
        return re.sub(r"[^a-z ]", "", text.lower())

    return float(jiwer.wer(norm(expected), norm(heard)))


def test_speech_from_piper_is_transcribed_by_whisper_through_the_sdk(
    whisper_sdk: openai.OpenAI, fox_mp3: bytes
) -> None:
    result = whisper_sdk.audio.transcriptions.create(model="whisper-1", file=("fox.mp3", fox_mp3))
    assert word_error_rate(FOX, result.text) <= 0.2


def test_text_is_the_plain_transcript(whisper_sdk: openai.OpenAI, fox_mp3: bytes) -> None:
    text = whisper_sdk.audio.transcriptions.create(
        model="tiny.en", file=("fox.mp3", fox_mp3), response_format="text"
    )
    assert isinstance(text, str) and text.endswith("\n")
    assert word_error_rate(FOX, text) <= 0.2


def test_verbose_json_has_segments_and_words_with_timestamps(
    whisper_sdk: openai.OpenAI, three_wav: bytes
) -> None:
    result = whisper_sdk.audio.transcriptions.create(
        model="whisper-1", file=("three.wav", three_wav), response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
    )  # fmt: skip
    assert result.task == "transcribe" and result.language == "en"
    assert result.duration > 3
    assert result.segments and result.words
    assert [s.id for s in result.segments] == list(range(len(result.segments)))
    starts = [w.start for w in result.words]
    assert starts == sorted(starts) and result.words[-1].end <= result.duration + 0.5
    assert all(s.start < s.end and s.tokens for s in result.segments)
    assert word_error_rate(THREE, " ".join(w.word for w in result.words)) <= 0.25


def test_verbose_json_without_word_granularity_has_no_words(
    whisper_sdk: openai.OpenAI, fox_mp3: bytes
) -> None:
    result = whisper_sdk.audio.transcriptions.create(
        model="whisper-1", file=("fox.mp3", fox_mp3), response_format="verbose_json"
    )
    assert result.segments and result.words is None


def verbose_segments(client: openai.OpenAI, audio: bytes) -> list[tuple[float, float, str]]:
    result = client.audio.transcriptions.create(
        model="whisper-1", file=("a.wav", audio), response_format="verbose_json"
    )
    return [(s.start, s.end, s.text.strip()) for s in result.segments or []]


def test_srt_cues_are_numbered_from_one_with_comma_milliseconds(
    whisper_sdk: openai.OpenAI, three_wav: bytes
) -> None:
    body = whisper_sdk.audio.transcriptions.create(
        model="whisper-1", file=("three.wav", three_wav), response_format="srt"
    )
    cues = body.strip().split("\n\n")
    segments = verbose_segments(whisper_sdk, three_wav)
    assert len(cues) == len(segments) >= 1
    for number, (cue, (start, _, text)) in enumerate(zip(cues, segments, strict=True), 1):
        index, times, spoken = cue.split("\n", 2)
        assert index == str(number)
        assert re.fullmatch(f"{SRT_TIME} --> {SRT_TIME}", times)
        assert times.startswith(f"00:00:{int(start):02d},{round(start * 1000) % 1000:03d}")
        assert spoken == text


def test_vtt_starts_with_its_header_and_uses_dot_milliseconds(
    whisper_sdk: openai.OpenAI, three_wav: bytes
) -> None:
    body = whisper_sdk.audio.transcriptions.create(
        model="whisper-1", file=("three.wav", three_wav), response_format="vtt"
    )
    header, *cues = body.strip().split("\n\n")
    assert header == "WEBVTT"
    segments = verbose_segments(whisper_sdk, three_wav)
    assert len(cues) == len(segments)
    for cue, (_, _, text) in zip(cues, segments, strict=True):
        times, spoken = cue.split("\n", 1)
        assert re.fullmatch(f"{VTT_TIME} --> {VTT_TIME}", times)
        assert spoken == text


def test_stream_sends_text_deltas_then_the_whole_text(
    whisper_sdk: openai.OpenAI, three_wav: bytes
) -> None:
    events = list(
        whisper_sdk.audio.transcriptions.create(
            model="whisper-1", file=("three.wav", three_wav), stream=True
        )
    )
    assert events[-1].type == "transcript.text.done"
    deltas = [e.delta for e in events[:-1] if e.type == "transcript.text.delta"]
    assert deltas and "".join(deltas) == events[-1].text  # type: ignore[union-attr]


def test_an_english_only_model_refuses_translations(
    whisper_sdk: openai.OpenAI, fox_mp3: bytes
) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        whisper_sdk.audio.translations.create(model="whisper-1", file=("fox.mp3", fox_mp3))
    assert "multilingual" in refused.value.message


def test_an_english_only_model_refuses_another_language(
    whisper_sdk: openai.OpenAI, fox_mp3: bytes
) -> None:
    with pytest.raises(openai.BadRequestError):
        whisper_sdk.audio.transcriptions.create(
            model="whisper-1", file=("fox.mp3", fox_mp3), language="de"
        )


def test_undecodable_audio_is_a_bad_request(debug_stt: Served) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        debug_stt.client.audio.transcriptions.create(
            model="whisper-1", file=("noise.mp3", b"this is not audio at all" * 10)
        )
    assert "Cannot decode audio" in refused.value.message
    assert debug_stt.server.runtime.state.status == "ready"


def test_an_unknown_response_format_names_the_field(debug_stt: Served, fox_mp3: bytes) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        debug_stt.client.audio.transcriptions.create(
            model="whisper-1",
            file=("fox.mp3", fox_mp3),
            response_format="docx",  # type: ignore[arg-type]
        )
    assert refused.value.param == "response_format"


@pytest.mark.parametrize("response_format", ["json", "text", "srt", "vtt", "verbose_json"])
def test_debug_stt_answers_every_format(
    debug_stt: Served, fox_mp3: bytes, response_format: str
) -> None:
    result = debug_stt.client.audio.transcriptions.create(
        model="whisper-1",
        file=("fox.mp3", fox_mp3),
        response_format=response_format,  # type: ignore[arg-type]
    )
    text = result if isinstance(result, str) else result.text
    assert "Debug transcription text" in text


def test_an_upload_over_the_limit_is_413(tmp_path: Path, fox_mp3: bytes) -> None:
    limit = len(fox_mp3) - 1
    server = make_server(
        DebugSTT, copy_engine("stt/debug-stt", tmp_path),
        server_settings=ServerSettings(max_upload_bytes=limit),
    )  # fmt: skip
    with live_server(server) as url:
        with pytest.raises(openai.APIStatusError) as refused:
            sdk(url).audio.transcriptions.create(model="whisper-1", file=("a.mp3", fox_mp3))
        assert refused.value.status_code == 413
        assert str(limit) in refused.value.message
        assert server.runtime.state.model_loaded is False  # refused before anything else


class RecordingSTT(DebugSTT):  # type: ignore[misc,valid-type]
    """debug-stt that keeps the requests it got and can translate."""

    def __init__(self, context: EngineContext) -> None:
        super().__init__(context)
        self.requests: list[TranscriptionRequest] = []

    def can_translate(self) -> bool:
        return True

    def transcribe(self, request: TranscriptionRequest) -> Transcript:
        self.requests.append(request)
        return super().transcribe(request)  # type: ignore[no-any-return]


@pytest.fixture
def recording(tmp_path: Path) -> Iterator[Served]:
    server = make_server(RecordingSTT, copy_engine("stt/debug-stt", tmp_path))
    with live_server(server) as url:
        yield Served(server, url, sdk(url))


def test_prompt_temperature_language_and_word_timestamps_reach_the_engine(
    recording: Served, fox_mp3: bytes
) -> None:
    recording.client.audio.transcriptions.create(
        model="default", file=("fox.mp3", fox_mp3), prompt="Foxes and dogs.", temperature=0.3,
        language="en", response_format="verbose_json", timestamp_granularities=["word"],
    )  # fmt: skip
    request = recording.server.engine.requests[-1]
    assert (request.prompt, request.temperature, request.language) == ("Foxes and dogs.", 0.3, "en")
    assert request.word_timestamps is True and request.task == "transcribe"
    assert request.duration > 1.5  # the mp3 decoded whole


def test_a_translation_on_a_model_that_can_translate_asks_the_engine_to(
    recording: Served, fox_mp3: bytes
) -> None:
    result = recording.client.audio.translations.create(
        model="whisper-1", file=("fox.mp3", fox_mp3), response_format="verbose_json"
    )
    assert result.text == "Debug transcription text"
    request = recording.server.engine.requests[-1]
    assert request.task == "translate" and request.language is None
