"""engines/stt/whisper with the real tiny.en model (issue 4, engine-api.md §3, §5, §10):
the mounted model, /analyze with and without expected text, audio without speech, the duration
limit, the additive /transcribe and its audioPath confinement, and the catalog in /models."""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from fastapi.testclient import TestClient
from support.engines import engine_module, make_server

from enginekit.audio import encode_wav
from enginekit.doors.contract.quality import quality_status
from enginekit.engine.scoring import normalise

from .helpers import (
    FOX,
    WHISPER_MODEL,
    LiveEngine,
    b64,
    copy_engine_code,
    field_values,
    link_files,
    silence,
    tone,
    wav_info,
    white_noise,
)

Whisper = engine_module("stt/whisper").Whisper

CATALOG = (
    "tiny",
    "tiny.en",
    "base",
    "base.en",
    "small",
    "small.en",
    "medium",
    "medium.en",
    "large-v3",
    "distil-large-v3",
)
FIELDS = ["transcription", "confidence", "language", "duration"]
NO_AUDIO = "Either audio_base64 or audio_path must be provided"
SHORT_LIMIT = 5  # seconds, written into a copied engine.yaml


def analyze(engine: LiveEngine, audio: bytes, **fields: Any) -> dict[str, Any]:
    reply = engine.client.post("/analyze", json={"audioBase64": b64(audio), **fields})
    assert reply.status_code == 200, reply.text
    result: dict[str, Any] = reply.json()
    assert result["qualityStatus"] == quality_status(result["qualityScore"])
    assert 0 <= result["qualityScore"] <= 100
    return result


def transcribe(engine: LiveEngine, **fields: Any) -> dict[str, Any]:
    reply = engine.client.post("/transcribe", json=fields)
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def deviations(result: dict[str, Any]) -> list[dict[str, Any]]:
    return result["details"]["infoBlocks"].get("textDeviations", [])


@pytest.fixture
def idle_whisper(whisper_base: Path) -> Iterator[TestClient]:
    """A second whisper instance on the same directory with nothing loaded."""
    with TestClient(make_server(Whisper, whisper_base).app) as client:
        yield client


@pytest.fixture(scope="module")
def short_whisper(
    tmp_path_factory: pytest.TempPathFactory, whisper_files: list[Path]
) -> Iterator[TestClient]:
    """whisper whose copied engine.yaml allows only SHORT_LIMIT seconds of audio."""
    base = copy_engine_code("stt/whisper", tmp_path_factory.mktemp("short"))
    manifest = yaml.safe_load((base / "engine.yaml").read_text(encoding="utf-8"))
    manifest["constraints"]["max_audio_duration"] = SHORT_LIMIT
    (base / "engine.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False), "utf-8")
    link_files(whisper_files, base / "external_models" / WHISPER_MODEL)
    with TestClient(make_server(Whisper, base).app) as client:
        assert client.post("/load", json={"engineModelName": WHISPER_MODEL}).status_code == 200
        yield client


# -- the mounted model, /models, /load, /info -----------------------------------------------


def test_mounted_model_is_linked_at_start_and_listed_as_external(
    whisper: LiveEngine, whisper_base: Path, whisper_files: list[Path]
) -> None:
    link = whisper_base / "models" / WHISPER_MODEL
    assert link.is_symlink()
    assert os.readlink(link) == f"../external_models/{WHISPER_MODEL}"
    models = {m["name"]: m for m in whisper.client.get("/models").json()["models"]}
    mounted = models[WHISPER_MODEL]
    assert mounted["source"] == "external"
    assert mounted["sizeBytes"] == sum(f.stat().st_size for f in whisper_files)
    assert mounted["languages"] == ["en"]


def test_models_shows_the_catalog_with_sources(whisper: LiveEngine) -> None:
    reply = whisper.client.get("/models").json()
    models = {m["name"]: m for m in reply["models"]}
    assert set(CATALOG) <= set(models)
    assert reply["defaultModel"] == WHISPER_MODEL
    assert {n: models[n]["source"] for n in CATALOG} == {
        n: "external" if n == WHISPER_MODEL else "downloadable" for n in CATALOG
    }
    assert models["large-v3"]["displayName"] == "Whisper large-v3"
    assert models["distil-large-v3"]["languages"] == ["en"]
    assert "de" in models["base"]["languages"]
    for name in CATALOG:
        size = {f["key"]: f["value"] for f in models[name]["fields"]}["size_mb"]
        assert size > 0, name


def test_load_tiny_en(whisper: LiveEngine) -> None:
    assert whisper.load_reply == {
        "status": "loaded",
        "engineModelName": WHISPER_MODEL,
        "error": None,
    }
    health = whisper.client.get("/health").json()
    assert (health["engineModelLoaded"], health["currentEngineModel"]) == (True, WHISPER_MODEL)
    assert health["packageVersion"] == importlib.metadata.version("faster-whisper")


def test_info(whisper: LiveEngine) -> None:
    info = whisper.client.get("/info").json()
    assert (info["name"], info["displayName"], info["engineType"]) == (
        "whisper",
        "Whisper STT",
        "stt",
    )
    assert info["constraints"]["max_audio_duration"] >= 600
    assert info["capabilities"]["supports_word_level"] is True
    metadata = {m["name"]: m["metadata"] for m in info["models"]}
    assert metadata["tiny.en"]["huggingface_id"] == "Systran/faster-whisper-tiny.en"


def test_unknown_model_is_400_and_nothing_is_stuck(idle_whisper: TestClient) -> None:
    reply = idle_whisper.post("/load", json={"engineModelName": "huge"})
    assert reply.status_code == 400
    detail = reply.json()["detail"]
    assert detail.startswith("Unknown model: huge. Available: ")
    assert all(name in detail for name in CATALOG)
    assert idle_whisper.get("/health").json()["status"] == "ready"


def test_processing_needs_a_loaded_model(idle_whisper: TestClient, fox_wav: bytes) -> None:
    for path in ("/analyze", "/transcribe"):
        reply = idle_whisper.post(path, json={"audioBase64": b64(fox_wav)})
        assert (reply.status_code, reply.json()) == (400, {"detail": "Model not loaded"})


# -- /analyze -------------------------------------------------------------------------------


def test_analyze_with_the_expected_text_scores_high(whisper: LiveEngine, fox_wav: bytes) -> None:
    result = analyze(whisper, fox_wav, expectedText=FOX)
    assert (result["engineType"], result["engineName"]) == ("stt", "whisper")
    assert result["details"]["topLabel"] == "whisperTranscription"
    assert [f["key"] for f in result["details"]["fields"]] == [*FIELDS, "wordErrorRate"]
    types = {f["key"]: f["type"] for f in result["details"]["fields"]}
    assert types == {
        "transcription": "text",
        "confidence": "percent",
        "language": "string",
        "duration": "seconds",
        "wordErrorRate": "percent",
    }
    values = field_values(result)
    assert normalise(values["transcription"]) == normalise(FOX)
    assert values["wordErrorRate"] == 0.0
    assert values["language"] == "en"
    assert abs(values["duration"] - wav_info(fox_wav).seconds) < 0.05
    assert 0 < values["confidence"] <= 100
    assert result["qualityScore"] >= 85
    assert result["qualityStatus"] == "perfect"
    assert deviations(result) == []


def test_analyze_with_the_wrong_expected_text_lists_deviations(
    whisper: LiveEngine, fox_wav: bytes
) -> None:
    """Spoken: "the quick brown fox jumps over the lazy dog". Expected instead: "quick" left out
    (an extra word), "leaps" for "jumps" (a mismatch) and "and the cat" added (missing words)."""
    right = analyze(whisper, fox_wav, expectedText=FOX)
    wrong = analyze(
        whisper, fox_wav, expectedText="The brown fox leaps over the lazy dog and the cat."
    )
    items = deviations(wrong)
    kinds = {item["text"] for item in items}
    assert kinds == {"wordMismatch", "missingWord", "extraWord"}, items
    by_kind = {kind: [i for i in items if i["text"] == kind] for kind in kinds}
    mismatch = by_kind["wordMismatch"][0]
    assert mismatch["severity"] == "warning"
    assert (mismatch["details"]["expected"], mismatch["details"]["detected"]) == ("leaps", "jumps")
    assert [i["details"]["expected"] for i in by_kind["missingWord"]] == ["and", "the", "cat"]
    assert [i["details"]["detected"] for i in by_kind["extraWord"]] == ["quick"]
    assert all(i["severity"] == "error" for i in by_kind["missingWord"] + by_kind["extraWord"])
    assert field_values(wrong)["wordErrorRate"] > 0
    assert wrong["qualityScore"] < right["qualityScore"]
    assert wrong["qualityStatus"] == quality_status(wrong["qualityScore"]) == "defect"


def test_pronunciation_rules_apply_to_the_expected_text(
    whisper: LiveEngine, fox_wav: bytes
) -> None:
    expected = "The quick brown fox jumps over the lazy hound."

    def compared(rules: list[dict[str, Any]]) -> list[tuple[str, str]]:
        result = analyze(whisper, fox_wav, expected_text=expected, pronunciation_rules=rules)
        return [(i["details"]["expected"], i["details"]["detected"]) for i in deviations(result)]

    plain = {"pattern": "hound", "replacement": "dog"}
    assert compared([plain]) == []
    assert compared([{"pattern": r"\bh\w+d\b", "replacement": "dog", "isRegex": True}]) == []
    assert compared([{**plain, "is_active": False}]) == [("hound", "dog")]


def test_analyze_without_expected_text_scores_the_mean_word_probability(
    whisper: LiveEngine, fox_wav: bytes
) -> None:
    result = analyze(whisper, fox_wav)
    values = field_values(result)
    assert list(values) == FIELDS
    assert "textDeviations" not in result["details"]["infoBlocks"]
    words = transcribe(whisper, audioBase64=b64(fox_wav), language="en", wordTimestamps=True)[
        "words"
    ]
    mean = 100 * sum(w["probability"] for w in words) / len(words)
    assert result["qualityScore"] == values["confidence"] == round(mean)


@pytest.mark.parametrize(
    "make", [silence, tone, white_noise], ids=["silence", "440-hz-tone", "white-noise"]
)
def test_audio_without_speech_is_200_with_no_transcription_and_a_low_score(
    whisper: LiveEngine, make: Callable[[float], bytes]
) -> None:
    audio = make(4.0)
    result = analyze(whisper, audio)
    values = field_values(result)
    assert len(values["transcription"].split()) <= 1, values["transcription"]
    assert result["qualityScore"] < 50
    assert result["qualityStatus"] == "defect"
    checked = analyze(whisper, audio, expectedText="Hello world.")
    assert checked["qualityScore"] < 50
    text = transcribe(whisper, audioBase64=b64(audio))["text"]
    assert len(text.split()) <= 1, text


def test_analyze_refuses_another_language_on_an_english_only_model(
    whisper: LiveEngine, fox_wav: bytes
) -> None:
    reply = whisper.client.post("/analyze", json={"audioBase64": b64(fox_wav), "language": "de"})
    assert reply.status_code == 400
    assert "English-only" in reply.json()["detail"]
    assert analyze(whisper, fox_wav, language="en-US", expectedText=FOX)["qualityScore"] >= 85


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({}, NO_AUDIO),
        ({"audioBase64": ""}, NO_AUDIO),
        ({"audioBase64": "!!!!"}, "Audio data is empty"),
        ({"audioBase64": b64(b"This is not a WAV file")}, "Audio data too small to be valid WAV"),
        ({"audioBase64": b64(b"ID3\x04" + bytes(200))}, "Invalid audio format: expected WAV file"),
        (
            {"audioBase64": b64(b"RIFF\x00\x00\x00\x00AVI " + bytes(64))},
            "Invalid audio format: expected WAV file",
        ),
    ],
)
def test_non_wav_input_is_400_per_contract(
    whisper: LiveEngine, body: dict[str, Any], detail: str
) -> None:
    for path in ("/analyze", "/transcribe"):
        reply = whisper.client.post(path, json=body)
        assert (reply.status_code, reply.json()) == (400, {"detail": detail}), path
    assert whisper.client.get("/health").json()["status"] == "ready"


def test_a_wav_header_without_decodable_audio_is_400_not_500(whisper: LiveEngine) -> None:
    header_only = b"RIFF\x00\x00\x00\x00WAVE" + bytes(40)
    reply = whisper.client.post("/analyze", json={"audioBase64": b64(header_only)})
    assert reply.status_code == 400
    assert reply.json()["detail"].startswith("Cannot decode audio")


def test_bad_base64_padding_is_a_400_and_the_engine_stays_ready(
    whisper: LiveEngine, fox_wav: bytes
) -> None:
    reply = whisper.client.post("/analyze", json={"audioBase64": "abc"})
    detail = "Invalid base64 audio: Incorrect padding"
    assert (reply.status_code, reply.json()) == (400, {"detail": detail})
    health = whisper.client.get("/health").json()
    assert (health["status"], health["error"]) == ("ready", None)
    analyze(whisper, fox_wav)


# -- the duration limit ---------------------------------------------------------------------


def test_audio_longer_than_max_audio_duration_is_400(short_whisper: TestClient) -> None:
    too_long = silence(SHORT_LIMIT + 1.0)
    detail = (
        f"Audio too long ({SHORT_LIMIT + 1:.1f} s). Whisper STT max is {SHORT_LIMIT} s. "
        "Split the audio into shorter parts."
    )
    for path in ("/analyze", "/transcribe"):
        reply = short_whisper.post(path, json={"audioBase64": b64(too_long)})
        assert (reply.status_code, reply.json()) == (400, {"detail": detail}), path
    exactly = short_whisper.post("/analyze", json={"audioBase64": b64(silence(SHORT_LIMIT))})
    assert exactly.status_code == 200, exactly.text


def test_ten_minutes_are_accepted_with_the_shipped_limit(
    whisper: LiveEngine, whisper_base: Path
) -> None:
    """Written into samples/ and sent by path (no 25 MB JSON body); silence, so it is fast."""
    path = whisper_base / "samples" / "ten-minutes.wav"
    rate = 8000
    path.write_bytes(encode_wav(np.zeros(600 * rate, dtype=np.int16), rate))
    result = transcribe(whisper, audioPath=str(path))
    assert result["duration"] == 600.0
    assert result["text"] == ""


def test_the_shipped_limit_is_enforced_before_decoding(
    whisper: LiveEngine, whisper_base: Path
) -> None:
    limit = whisper.server.runtime.manifest.constraints.max_audio_duration
    rate = 1000  # a low rate keeps an hour-long file small; only the header is read
    path = whisper_base / "samples" / "over-the-limit.wav"
    path.write_bytes(encode_wav(np.zeros((limit + 1) * rate, dtype=np.int16), rate))
    reply = whisper.client.post("/transcribe", json={"audioPath": str(path)})
    assert reply.status_code == 400
    assert reply.json()["detail"].startswith(f"Audio too long ({limit + 1:.1f} s).")


# -- /transcribe ----------------------------------------------------------------------------


def test_transcribe_base64_with_word_timestamps(whisper: LiveEngine, fox_wav: bytes) -> None:
    result = transcribe(whisper, audioBase64=b64(fox_wav), language="en", wordTimestamps=True)
    assert set(result) == {"text", "language", "duration", "segments", "words"}
    assert normalise(result["text"]) == normalise(FOX)
    assert result["language"] == "en"
    assert abs(result["duration"] - wav_info(fox_wav).seconds) < 0.05
    assert result["segments"], result
    for segment in result["segments"]:
        assert set(segment) == {"start", "end", "text"}
        assert 0 <= segment["start"] < segment["end"] <= result["duration"] + 0.1
    assert " ".join(s["text"] for s in result["segments"]) == result["text"]
    words = result["words"]
    assert [normalise(w["word"]) for w in words] == normalise(FOX).split()
    for word in words:
        assert set(word) == {"word", "start", "end", "probability"}
        assert 0 <= word["start"] <= word["end"] <= result["duration"] + 0.1
        assert 0 < word["probability"] <= 1
    starts = [w["start"] for w in words]
    assert starts == sorted(starts)


def test_transcribe_without_word_timestamps_has_no_words(
    whisper: LiveEngine, fox_wav: bytes
) -> None:
    result = transcribe(whisper, audio_base64=b64(fox_wav))
    assert normalise(result["text"]) == normalise(FOX)
    assert result["words"] == []
    assert result["segments"]


def test_transcribe_refuses_another_language_on_an_english_only_model(
    whisper: LiveEngine, fox_wav: bytes
) -> None:
    for language in ("de", "fr-FR"):
        reply = whisper.client.post(
            "/transcribe", json={"audioBase64": b64(fox_wav), "language": language}
        )
        assert reply.status_code == 400
        assert "English-only" in reply.json()["detail"]


def test_audio_path_inside_samples_works(
    whisper: LiveEngine, whisper_base: Path, fox_wav: bytes
) -> None:
    path = whisper_base / "samples" / "fox.wav"
    path.write_bytes(fox_wav)
    assert normalise(transcribe(whisper, audioPath=str(path))["text"]) == normalise(FOX)
    nested = whisper_base / "samples" / "chapter-1" / "fox.wav"
    nested.parent.mkdir(exist_ok=True)
    nested.write_bytes(fox_wav)
    assert normalise(transcribe(whisper, audio_path=str(nested))["text"]) == normalise(FOX)


def test_audio_path_missing_inside_samples_is_404(whisper: LiveEngine, whisper_base: Path) -> None:
    path = str(whisper_base / "samples" / "absent.wav")
    reply = whisper.client.post("/transcribe", json={"audioPath": path})
    # named relative to the engine directory: no reply tells where the engine lives
    detail = "Audio file not found: samples/absent.wav"
    assert (reply.status_code, reply.json()) == (404, {"detail": detail})


def test_audio_path_outside_samples_is_400(whisper: LiveEngine, whisper_base: Path) -> None:
    samples = whisper_base / "samples"
    escape = samples / "escape.wav"
    if not escape.is_symlink():
        escape.symlink_to("/etc/passwd")
    outside_wav = whisper_base / "outside.wav"
    outside_wav.write_bytes(silence(1.0))
    (samples / "linked-out").mkdir(exist_ok=True)
    linked_dir = samples / "linked-out" / "up"
    if not linked_dir.is_symlink():
        linked_dir.symlink_to(whisper_base)
    for path in (
        "/etc/passwd",
        "../x",
        "../x.wav",
        str(samples / ".." / "engine.yaml"),
        str(samples / ".." / "outside.wav"),
        str(escape),
        str(linked_dir / "outside.wav"),
        str(outside_wav),
    ):
        reply = whisper.client.post("/transcribe", json={"audioPath": path})
        assert reply.status_code == 400, (path, reply.text)
        assert "must be inside" in reply.json()["detail"], path
