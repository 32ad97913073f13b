"""POST /analyze (engine-api.md §5, §10.3, §10.5) against debug-stt and thin subclasses of it.

The subclasses are real engines (they run through the same routes, worker and status machine):
one reports what reached `analyze` so request parsing is visible in the response, one holds
its load open so the "loading" readiness branch can be observed.
"""

from __future__ import annotations

import base64
import io
import threading
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from support.engines import copy_engine, engine_module, live_server, make_server

from enginekit.engine import (
    AnalysisDetails,
    AnalysisRequest,
    AnalysisResult,
    InfoBlockItem,
    QualityField,
)

DebugSTT = engine_module("stt/debug-stt").DebugSTT

LOADING = "Model loading in progress. Retry after loading completes."
NO_AUDIO = "Either audio_base64 or audio_path must be provided"
DEFAULT_THRESHOLDS = {
    "max_silence_duration_warning": 2500,
    "max_silence_duration_critical": 3750,
    "speech_ratio_ideal_min": 75.0,
    "speech_ratio_ideal_max": 90.0,
    "speech_ratio_warning_min": 65.0,
    "speech_ratio_warning_max": 93.0,
    "max_clipping_peak": 0.0,
    "min_average_volume": -40.0,
}


# -- audio ----------------------------------------------------------------------------------


def wav_bytes(samples: np.ndarray, rate: int, channels: int = 1) -> bytes:
    """16-bit PCM written with the standard library, independent of enginekit.audio."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def tone(seconds: float = 1.0, rate: int = 16000, frequency: float = 440.0) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return wav_bytes(0.5 * np.sin(2 * np.pi * frequency * t), rate)


def silence(seconds: float = 1.0, rate: int = 8000) -> bytes:
    return wav_bytes(np.zeros(int(seconds * rate)), rate)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def fields_of(body: dict[str, Any]) -> dict[str, Any]:
    return {f["key"]: f["value"] for f in body["details"]["fields"]}


# -- engines --------------------------------------------------------------------------------


CRASH = "the engine crashed"


class EchoSTT(DebugSTT):  # type: ignore[misc,valid-type]
    """debug-stt whose result reports its inputs; the score is `expected_text` when numeric,
    and `expected_text` "crash" makes it fail."""

    def analyze(self, request: AnalysisRequest) -> AnalysisResult:
        expected_text = request.expected_text
        if expected_text == "crash":
            raise RuntimeError(CRASH)
        score = int(expected_text) if expected_text and expected_text.isdigit() else 50
        rules = [r.model_dump(by_alias=False) for r in request.pronunciation_rules]
        limits = request.thresholds.model_dump(by_alias=False)
        echo = [
            InfoBlockItem(text="thresholds", severity="info", details=limits),
            InfoBlockItem(text="rules", severity="info", details={"rules": rules}),
            InfoBlockItem(text="nothing", severity="warning"),
        ]  # fmt: skip
        fields = [
            QualityField(key="samples", value=len(request.audio), type="number"),
            QualityField(key="sampleRate", value=request.sample_rate, type="number"),
            QualityField(key="language", value=request.language, type="string"),
            QualityField(key="expected", value=expected_text, type="text"),
        ]
        details = AnalysisDetails(fields=fields, info_blocks={"echo": echo})
        return AnalysisResult(quality_score=score, details=details)


class GatedLoadSTT(DebugSTT):  # type: ignore[misc,valid-type]
    """debug-stt whose load waits for `gate`, so a load can be held open."""

    gate: threading.Event

    def load(self, name: str) -> None:
        assert self.gate.wait(timeout=30), "test never opened the gate"
        super().load(name)


@contextmanager
def stt_client(engine_class: type, tmp_path: Path, load: bool = True) -> Iterator[TestClient]:
    served = make_server(engine_class, copy_engine("stt/debug-stt", tmp_path))
    with TestClient(served.app) as client:
        if load:
            reply = client.post("/load", json={"engine_model_name": "default"})
            assert reply.status_code == 200, reply.text
        yield client


@pytest.fixture
def stt(tmp_path: Path) -> Iterator[TestClient]:
    """debug-stt with its default model loaded."""
    with stt_client(DebugSTT, tmp_path) as client:
        yield client


@pytest.fixture
def echo(tmp_path: Path) -> Iterator[TestClient]:
    with stt_client(EchoSTT, tmp_path) as client:
        yield client


def health(client: TestClient) -> dict[str, Any]:
    return client.get("/health").json()


def assert_refused(reply: httpx.Response, status: int, detail: str) -> None:
    assert (reply.status_code, reply.json()) == (status, {"detail": detail})
    assert reply.headers["content-type"] == "application/json"


# -- readiness ------------------------------------------------------------------------------


def test_analyze_without_a_loaded_model_is_400_before_any_input_check(tmp_path: Path) -> None:
    with stt_client(DebugSTT, tmp_path, load=False) as client:
        assert_refused(
            client.post("/analyze", json={"audioBase64": b64(tone())}), 400, "Model not loaded"
        )
        assert_refused(client.post("/analyze", json={}), 400, "Model not loaded")
        assert_refused(
            client.post("/analyze", json={"audioBase64": "not base64 at all="}),
            400,
            "Model not loaded",
        )
        assert health(client)["status"] == "ready"


def test_analyze_during_a_load_is_503_and_leaves_status_loading(tmp_path: Path) -> None:
    served = make_server(GatedLoadSTT, copy_engine("stt/debug-stt", tmp_path))
    served.engine.gate = threading.Event()
    with live_server(served) as url, httpx.Client(base_url=url, timeout=30) as http:
        replies: list[httpx.Response] = []
        loader = threading.Thread(
            target=lambda: replies.append(http.post("/load", json={"engineModelName": "default"}))
        )
        loader.start()
        try:
            deadline = time.monotonic() + 20
            while http.get("/health").json()["status"] != "loading":
                assert time.monotonic() < deadline, "the load never showed as loading"
                time.sleep(0.01)
            assert_refused(http.post("/analyze", json={"audioBase64": b64(tone())}), 503, LOADING)
            assert_refused(http.post("/analyze", json={}), 503, LOADING)
            assert http.get("/health").json()["status"] == "loading"  # §10.3
        finally:
            served.engine.gate.set()
            loader.join(timeout=30)
        assert replies[0].status_code == 200
        assert http.get("/health").json()["status"] == "ready"
        assert http.post("/analyze", json={"audioBase64": b64(tone())}).status_code == 200


# -- getting the audio bytes ----------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [{}, {"audioBase64": ""}, {"audio_base64": ""}, {"audioBase64": None, "audioPath": ""}],
    ids=["nothing", "empty-camel", "empty-snake", "null-and-empty-path"],
)
def test_analyze_without_audio_names_both_inputs(stt: TestClient, body: dict[str, Any]) -> None:
    assert_refused(stt.post("/analyze", json=body), 400, NO_AUDIO)
    assert health(stt)["status"] == "ready"


@pytest.mark.parametrize(
    ("sent", "detail"),
    [
        ("UklGRg", "Invalid base64 audio: Incorrect padding"),
        ("UklGRg\u00e4==", "Invalid base64 audio: only ASCII characters are allowed"),
    ],
    ids=["bad-padding", "non-ascii"],
)
def test_undecodable_base64_is_a_400_that_changes_nothing(
    stt: TestClient, sent: str, detail: str
) -> None:
    """Request data never becomes a 500 (the reference answered bad padding with one)."""
    reply = stt.post("/analyze", json={"audioBase64": sent})
    assert_refused(reply, 400, detail)
    state = health(stt)
    assert (state["status"], state["error"]) == ("ready", None)


def test_base64_characters_outside_the_alphabet_are_dropped(stt: TestClient) -> None:
    clean = b64(tone())
    noisy = "!\n".join(clean[i : i + 60] for i in range(0, len(clean), 60)) + "\n#"
    reference = stt.post("/analyze", json={"audioBase64": clean})
    reply = stt.post("/analyze", json={"audioBase64": noisy})
    assert reply.status_code == 200, reply.text
    assert reply.json() == reference.json()


def test_base64_of_only_foreign_characters_is_empty_audio(stt: TestClient) -> None:
    assert_refused(stt.post("/analyze", json={"audioBase64": "!!!!"}), 400, "Audio data is empty")


def test_audio_shorter_than_a_wav_header_is_too_small(stt: TestClient) -> None:
    data = b"This is not a WAV file"
    assert len(data) == 22
    reply = stt.post("/analyze", json={"audioBase64": b64(data)})
    assert_refused(reply, 400, "Audio data too small to be valid WAV")
    assert_refused(
        stt.post("/analyze", json={"audioBase64": b64(b"RIFF" + bytes(4) + b"WAVE" + bytes(31))}),
        400,
        "Audio data too small to be valid WAV",
    )


@pytest.mark.parametrize(
    "data",
    [
        b"RIFX" + bytes(4) + b"WAVE" + bytes(32),
        b"RIFF" + bytes(4) + b"AVI " + bytes(32),
        b"ID3\x04" + bytes(60),
        b"x" * 44,
    ],
    ids=["not-riff", "not-wave", "mp3", "text"],
)
def test_non_wav_bytes_are_an_invalid_audio_format(stt: TestClient, data: bytes) -> None:
    reply = stt.post("/analyze", json={"audioBase64": b64(data)})
    assert_refused(reply, 400, "Invalid audio format: expected WAV file")


def test_a_wav_without_frames_reaches_the_engine_as_no_samples(echo: TestClient) -> None:
    reply = echo.post("/analyze", json={"audioBase64": b64(tone(0.0, rate=22050))})
    assert reply.status_code == 200, reply.text
    assert fields_of(reply.json())["samples"] == 0


def test_markers_without_decodable_audio_are_a_clear_400(echo: TestClient) -> None:
    """The contract checks only RIFF/WAVE; engines get decoded samples, so bytes that pass the
    markers but hold no audio are refused before the engine, naming the problem."""
    data = b"RIFF????WAVE" + bytes(32)
    reply = echo.post("/analyze", json={"audioBase64": b64(data)})
    assert reply.status_code == 400, reply.text
    assert reply.json()["detail"].startswith("Cannot decode audio: ")
    assert "Errno" not in reply.json()["detail"]
    assert health(echo)["status"] == "ready"


def test_audio_path_that_does_not_exist_is_404_naming_it(stt: TestClient, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "take-1.wav"
    reply = stt.post("/analyze", json={"audioPath": str(missing)})
    assert_refused(reply, 404, f"Audio file not found: {missing}")
    assert health(stt)["status"] == "ready"


def test_missing_audio_path_is_named_exactly_as_sent(stt: TestClient, tmp_path: Path) -> None:
    for sent in (f"{tmp_path}//nowhere/./take.wav", f"{tmp_path}/gone/", "./relative/take.wav"):
        reply = stt.post("/analyze", json={"audio_path": sent})
        assert_refused(reply, 404, f"Audio file not found: {sent}")


def test_audio_path_is_read_from_the_server_filesystem(stt: TestClient, tmp_path: Path) -> None:
    path = tmp_path / "take.wav"
    path.write_bytes(tone(0.5, rate=22050))
    reply = stt.post("/analyze", json={"audio_path": str(path)})
    assert reply.status_code == 200, reply.text
    assert fields_of(reply.json())["quality.stt.duration"] == 0.5
    assert fields_of(reply.json())["quality.stt.sampleRate"] == 22050


def test_audio_path_to_an_empty_file_is_empty_audio(stt: TestClient, tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    assert_refused(stt.post("/analyze", json={"audioPath": str(path)}), 400, "Audio data is empty")


def test_audio_path_to_a_directory_is_a_400_that_changes_nothing(
    stt: TestClient, tmp_path: Path
) -> None:
    reply = stt.post("/analyze", json={"audioPath": str(tmp_path)})
    assert_refused(reply, 400, f"Audio path is not a regular file: {tmp_path}")
    assert health(stt)["status"] == "ready"


def test_base64_wins_over_audio_path(stt: TestClient, tmp_path: Path) -> None:
    path = tmp_path / "other.wav"
    path.write_bytes(tone(2.0))
    reply = stt.post("/analyze", json={"audioBase64": b64(tone(1.0)), "audioPath": str(path)})
    assert fields_of(reply.json())["quality.stt.duration"] == 1.0
    refused = stt.post("/analyze", json={"audioBase64": "!!!!", "audioPath": str(path)})
    assert_refused(refused, 400, "Audio data is empty")


# -- request fields -------------------------------------------------------------------------


def test_snake_case_request_fields_reach_the_engine(echo: TestClient) -> None:
    body = {
        "audio_base64": b64(tone()),
        "language": "de",
        "expected_text": "77",
        "quality_thresholds": {"max_silence_duration_warning": 1000, "min_average_volume": -30},
        "pronunciation_rules": [
            {"pattern": "Dr\\.", "replacement": "Doktor", "is_regex": True, "is_active": False},
            {"pattern": "z", "replacement": "s"},
        ],
    }
    reply = echo.post("/analyze", json=body)
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert fields_of(result)["language"] == "de"
    assert fields_of(result)["expected"] == "77"
    assert result["qualityScore"] == 77
    thresholds, rules, _ = result["details"]["infoBlocks"]["echo"]
    assert thresholds["details"] == {
        **DEFAULT_THRESHOLDS,
        "max_silence_duration_warning": 1000,
        "min_average_volume": -30.0,
    }
    assert rules["details"] == {
        "rules": [
            {"pattern": "Dr\\.", "replacement": "Doktor", "is_regex": True, "is_active": False},
            {"pattern": "z", "replacement": "s", "is_regex": False, "is_active": True},
        ]
    }


def test_camel_case_request_fields_reach_the_engine(echo: TestClient) -> None:
    body = {
        "audioBase64": b64(tone()),
        "expectedText": "90",
        "qualityThresholds": {"speechRatioIdealMin": 60, "maxClippingPeak": 0.99},
        "pronunciationRules": [{"pattern": "a", "replacement": "b", "isRegex": True}],
    }
    result = echo.post("/analyze", json=body).json()
    assert fields_of(result)["language"] == "en"  # the default
    thresholds, rules, _ = result["details"]["infoBlocks"]["echo"]
    assert thresholds["details"] == {
        **DEFAULT_THRESHOLDS,
        "speech_ratio_ideal_min": 60.0,
        "max_clipping_peak": 0.99,
    }
    assert rules["details"]["rules"] == [
        {"pattern": "a", "replacement": "b", "is_regex": True, "is_active": True}
    ]


def test_camel_case_wins_when_both_spellings_are_sent(echo: TestClient) -> None:
    body = {
        "audioBase64": b64(tone()),
        "audio_base64": "!!!!",
        "expectedText": "88",
        "expected_text": "11",
        "qualityThresholds": {"maxSilenceDurationWarning": 111},
        "quality_thresholds": {"max_silence_duration_warning": 222},
    }
    result = echo.post("/analyze", json=body).json()
    assert fields_of(result)["expected"] == "88"
    assert (
        result["details"]["infoBlocks"]["echo"][0]["details"]["max_silence_duration_warning"] == 111
    )


def test_omitted_thresholds_and_rules_take_their_defaults(echo: TestClient) -> None:
    result = echo.post("/analyze", json={"audioBase64": b64(tone())}).json()
    thresholds, rules, _ = result["details"]["infoBlocks"]["echo"]
    assert thresholds["details"] == DEFAULT_THRESHOLDS
    assert rules["details"] == {"rules": []}
    assert fields_of(result)["expected"] is None


def test_null_quality_thresholds_is_a_422(stt: TestClient) -> None:
    # loc names the key as the client spelled it (pydantic reports the key it found)
    for key in ("qualityThresholds", "quality_thresholds"):
        reply = stt.post("/analyze", json={"audioBase64": b64(tone()), key: None})
        assert reply.status_code == 422
        (error,) = reply.json()["detail"]
        assert error["input"] is None
        assert error["loc"] == ["body", key]


def test_null_language_is_a_422_and_empty_language_is_accepted(stt: TestClient) -> None:
    refused = stt.post("/analyze", json={"audioBase64": b64(tone()), "language": None})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "language"]
    accepted = stt.post("/analyze", json={"audioBase64": b64(tone()), "language": ""})
    assert accepted.status_code == 200
    assert fields_of(accepted.json())["quality.stt.language"] == ""


def test_malformed_pronunciation_rules_are_a_422_in_either_spelling(stt: TestClient) -> None:
    audio = b64(tone())
    missing = stt.post(
        "/analyze", json={"audioBase64": audio, "pronunciation_rules": [{"pattern": "a"}]}
    )
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "pronunciation_rules", 0, "replacement"]
    wrong = stt.post(
        "/analyze",
        json={
            "audioBase64": audio,
            "pronunciation_rules": [{"pattern": "a", "replacement": "b", "is_regex": "maybe"}],
        },
    )
    assert wrong.status_code == 422
    assert wrong.json()["detail"][0]["loc"] == ["body", "pronunciation_rules", 0, "is_regex"]
    camel = stt.post(
        "/analyze",
        json={
            "audioBase64": audio,
            "pronunciationRules": [{"pattern": "a", "replacement": "b", "isRegex": "maybe"}],
        },
    )
    assert camel.json()["detail"][0]["loc"] == ["body", "pronunciationRules", 0, "isRegex"]


# -- the response ---------------------------------------------------------------------------


def test_a_one_second_440_hz_tone_scores_100(stt: TestClient) -> None:
    reply = stt.post("/analyze", json={"audio_base64": b64(tone(1.0, rate=16000))})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert list(body) == ["engineType", "engineName", "qualityScore", "qualityStatus", "details"]
    assert (body["engineType"], body["engineName"]) == ("stt", "debug-stt")
    assert body["qualityScore"] == 100
    assert type(body["qualityScore"]) is int
    assert body["qualityStatus"] == "perfect"
    details = body["details"]
    assert list(details) == ["topLabel", "fields", "infoBlocks"]
    assert details["topLabel"] == "quality.stt.analysis"
    for field in details["fields"]:
        assert list(field) == ["key", "value", "type"]
        assert field["type"] in {"percent", "number", "seconds", "string", "text"}
    values = fields_of(body)
    assert values["quality.stt.transcription"] == "Debug transcription text"
    assert values["quality.stt.confidence"] == 100
    assert values["quality.stt.duration"] == 1.0
    assert values["quality.stt.language"] == "en"
    assert values["quality.stt.sampleRate"] == 16000
    types = {f["key"]: f["type"] for f in details["fields"]}
    assert types["quality.stt.transcription"] == "text"
    assert types["quality.stt.confidence"] == "percent"
    assert types["quality.stt.duration"] == "seconds"
    assert types["quality.stt.language"] == "string"
    (verdict,) = details["infoBlocks"]["match"]
    assert list(verdict) == ["text", "severity", "details"]
    assert (verdict["text"], verdict["severity"]) == ("quality.stt.perfectMatch", "info")
    assert verdict["details"]["similarity"] == 100


def test_expected_text_is_the_transcription_and_language_is_echoed(stt: TestClient) -> None:
    body = {"audioBase64": b64(tone()), "expected_text": "Hallo Welt", "language": "de"}
    values = fields_of(stt.post("/analyze", json=body).json())
    assert values["quality.stt.transcription"] == "Hallo Welt"
    assert values["quality.stt.language"] == "de"


def test_a_silent_wav_scores_0_and_is_a_defect(stt: TestClient) -> None:
    body = stt.post("/analyze", json={"audioBase64": b64(silence(2.0, rate=8000))}).json()
    assert (body["qualityScore"], body["qualityStatus"]) == (0, "defect")
    values = fields_of(body)
    assert values["quality.stt.confidence"] == 0
    assert values["quality.stt.duration"] == 2.0
    assert values["quality.stt.sampleRate"] == 8000
    (verdict,) = body["details"]["infoBlocks"]["match"]
    assert verdict["severity"] == "error"


def test_stereo_audio_is_analysed_like_mono(stt: TestClient) -> None:
    rate = 11025
    t = np.arange(rate) / rate
    left_right = np.repeat(0.5 * np.sin(2 * np.pi * 300 * t), 2)
    body = stt.post("/analyze", json={"audioBase64": b64(wav_bytes(left_right, rate, 2))}).json()
    assert body["qualityScore"] == 100
    assert fields_of(body)["quality.stt.duration"] == 1.0


def test_the_same_input_gives_the_same_analysis(stt: TestClient) -> None:
    body = {"audioBase64": b64(tone(0.73, rate=12000, frequency=523.0)), "language": "fr"}
    first = stt.post("/analyze", json=body)
    second = stt.post("/analyze", json=body)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content


@pytest.mark.parametrize(
    ("score", "status"),
    [
        (100, "perfect"),
        (85, "perfect"),
        (84, "warning"),
        (70, "warning"),
        (69, "defect"),
        (0, "defect"),
    ],
)
def test_quality_status_is_computed_from_the_score(
    echo: TestClient, score: int, status: str
) -> None:
    body = echo.post(
        "/analyze", json={"audioBase64": b64(tone()), "expectedText": str(score)}
    ).json()
    assert (body["qualityScore"], body["qualityStatus"]) == (score, status)


def test_response_emits_nulls_and_keeps_detail_keys_verbatim(echo: TestClient) -> None:
    body = echo.post("/analyze", json={"audioBase64": b64(tone())}).json()
    assert body["details"]["topLabel"] == "quality.analysis"  # the engine's default
    assert {"key": "expected", "value": None, "type": "text"} in body["details"]["fields"]
    nothing = body["details"]["infoBlocks"]["echo"][2]
    assert nothing == {"text": "nothing", "severity": "warning", "details": None}
    thresholds = body["details"]["infoBlocks"]["echo"][0]["details"]
    assert "max_silence_duration_warning" in thresholds  # not camelCased


# -- the status machine around /analyze ------------------------------------------------------


def test_a_successful_analyze_after_an_error_clears_it(echo: TestClient) -> None:
    crashed = echo.post("/analyze", json={"audioBase64": b64(tone()), "expectedText": "crash"})
    assert_refused(crashed, 500, CRASH)
    assert (health(echo)["status"], health(echo)["error"]) == ("error", CRASH)
    assert echo.post("/analyze", json={"audioBase64": b64(tone())}).status_code == 200
    state = health(echo)
    assert (state["status"], state["error"]) == ("ready", None)


def test_a_refused_analyze_after_an_error_sets_ready_and_keeps_the_message(
    echo: TestClient,
) -> None:
    echo.post("/analyze", json={"audioBase64": b64(tone()), "expectedText": "crash"})
    assert_refused(echo.post("/analyze", json={}), 400, NO_AUDIO)
    state = health(echo)
    assert (state["status"], state["error"]) == ("ready", CRASH)


def test_a_header_only_wav_does_not_crash_debug_stt(stt: TestClient) -> None:
    reply = stt.post("/analyze", json={"audioBase64": b64(b"RIFF????WAVE" + bytes(32))})
    assert reply.status_code < 500, reply.text
    assert health(stt)["status"] == "ready"
    assert stt.post("/analyze", json={"audioBase64": b64(tone())}).status_code == 200
