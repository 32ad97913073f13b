"""engines/tts/piper with the real en_US-joe-medium voice (issue 4, engine-api.md §3, §4, §10):
the bake of the default voice, /load, /generate and its parameters, /info and /models."""

from __future__ import annotations

import filecmp
import importlib.metadata
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from support.engines import ENGINES, engine_module, make_server

from enginekit.audio import decode_audio

from .helpers import PIPER_VOICE, LiveEngine, copy_engine_code, generate_body, wav_info

Piper = engine_module("tts/piper").Piper

MAX_TEXT = 5000  # constraints.max_text_length in engines/tts/piper/engine.yaml
DETERMINISTIC = {"noise_scale": 0.0, "noise_w": 0.0}
CATALOG_LOCALES = ("en_US", "en_GB", "de_", "fr_", "es_", "it_")


def too_long(length: int) -> str:
    return (
        f"Text too long ({length} chars). Piper TTS max is {MAX_TEXT} chars. "
        "Use text segmentation to split into smaller chunks."
    )


def voice_rate(voice_files: list[Path]) -> int:
    config = json.loads(voice_files[1].read_text(encoding="utf-8"))
    return int(config["audio"]["sample_rate"])


@pytest.fixture
def idle_piper(piper_base: Path) -> Iterator[TestClient]:
    """A second piper instance on the same directory with nothing loaded."""
    with TestClient(make_server(Piper, piper_base).app) as client:
        yield client


# -- the baked default voice ----------------------------------------------------------------


def tree_state(root: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime_ns) of root and everything below it, hidden entries included."""
    state = {".": (root.stat().st_ino, root.stat().st_mtime_ns)}
    for path in root.rglob("*"):
        info = path.lstat()
        state[str(path.relative_to(root))] = (info.st_ino, info.st_mtime_ns)
    return state


def test_bake_places_the_voice_in_models_with_nothing_hidden_left(
    piper_baked: tuple[Path, Path], voice_files: list[Path]
) -> None:
    base, baked = piper_baked
    models = base / "models"
    assert baked == models / PIPER_VOICE
    assert os.listdir(models) == [PIPER_VOICE]  # no hidden staging directory left behind
    assert baked.is_dir() and not baked.is_symlink()
    assert sorted(os.listdir(baked)) == sorted(f.name for f in voice_files)
    for source in voice_files:
        assert filecmp.cmp(source, baked / source.name, shallow=False), source.name
    assert baked.stat().st_mode & 0o755 == 0o755  # readable by a non-root container user


def test_second_bake_is_a_no_op(
    piper_baked: tuple[Path, Path], bake: Callable[[Path], Path]
) -> None:
    base, baked = piper_baked
    before = tree_state(base / "models")
    assert bake(base / "models") == baked
    assert tree_state(base / "models") == before


def test_bake_script_on_a_baked_directory_changes_nothing(piper_baked: tuple[Path, Path]) -> None:
    base, baked = piper_baked
    before = tree_state(base / "models")
    script = ENGINES / "tts/piper/bake_default_voice.py"
    done = subprocess.run(
        [sys.executable, str(script), "--models-dir", str(base / "models")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"{PIPER_VOICE} ready at {baked}" in done.stderr
    assert tree_state(base / "models") == before


def test_concurrent_bakes_both_succeed_and_leave_one_complete_voice(
    tmp_path: Path, bake: Callable[[Path], Path], voice_files: list[Path]
) -> None:
    """`make run` in two terminals (or two build steps) at once: both get the voice."""
    models = tmp_path / "models"
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        try:
            bake(models)
        except BaseException as exc:  # reported below, with the other thread's result
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert os.listdir(models) == [PIPER_VOICE]
    assert sorted(os.listdir(models / PIPER_VOICE)) == sorted(f.name for f in voice_files)


def test_an_interrupted_bake_shows_no_half_voice(tmp_path: Path) -> None:
    """What a killed bake leaves (its hidden staging directory with half a file) is invisible:
    the voice is still only downloadable and the staging name cannot be loaded."""
    base = copy_engine_code("tts/piper", tmp_path)
    staging = base / "models" / f".{PIPER_VOICE}.x1y2.enginekit-tmp"
    staging.mkdir(parents=True)
    (staging / f"{PIPER_VOICE}.onnx").write_bytes(b"\x08\x01half a model")
    with TestClient(make_server(Piper, base).app) as client:
        models = {m["name"]: m for m in client.get("/models").json()["models"]}
        assert models[PIPER_VOICE]["source"] == "downloadable"
        assert not any(name.startswith(".") for name in models)
        reply = client.post("/load", json={"engineModelName": staging.name})
        assert reply.status_code == 400
        assert client.get("/health").json()["status"] == "ready"


# -- /load, /health, /info, /models ---------------------------------------------------------


def test_load_default_voice(piper: LiveEngine) -> None:
    assert piper.client.get("/models").json()["defaultModel"] == PIPER_VOICE
    assert piper.load_reply == {"status": "loaded", "engineModelName": PIPER_VOICE, "error": None}
    health = piper.client.get("/health").json()
    assert health["engineModelLoaded"] is True
    assert health["currentEngineModel"] == PIPER_VOICE
    assert health["packageVersion"] == importlib.metadata.version("piper-tts")


def test_info_lists_the_default_voices_language_first_and_no_cloning(piper: LiveEngine) -> None:
    info = piper.client.get("/info").json()
    assert not [key for key in info if "_" in key]
    assert (info["name"], info["displayName"], info["engineType"]) == ("piper", "Piper TTS", "tts")
    assert info["supportedLanguages"][0] == "en"
    assert set(info["supportedLanguages"]) >= {"en", "de", "fr", "es", "it"}
    assert info["capabilities"]["supports_speaker_cloning"] is False
    assert info["constraints"] == {"max_text_length": MAX_TEXT}
    assert info["defaultModel"] == PIPER_VOICE
    parameters = info["parameters"]
    assert set(parameters) == {"speed", "noise_scale", "noise_w", "speaker_id", "sentence_silence"}
    assert parameters["speaker_id"]["type"] == "int"
    assert {parameters[p]["type"] for p in parameters if p != "speaker_id"} == {"float"}
    assert parameters["speed"]["default"] == 1.0
    listed = {m["name"]: m["metadata"] for m in info["models"]}
    assert listed[PIPER_VOICE]["languages"] == ["en"]


def test_models_lists_the_baked_voice_and_the_downloadable_catalog(piper: LiveEngine) -> None:
    reply = piper.client.get("/models").json()
    models = {m["name"]: m for m in reply["models"]}
    baked = models[PIPER_VOICE]
    assert baked["source"] == "baked-in"
    assert baked["displayName"] == "Joe (US English)"
    assert baked["languages"] == ["en"]
    assert baked["sizeBytes"] > 60_000_000
    downloadable = sorted(n for n, m in models.items() if m["source"] == "downloadable")
    assert len(downloadable) >= 12, downloadable
    for locale in CATALOG_LOCALES:
        assert any(name.startswith(locale) for name in downloadable), locale
    for name in downloadable:
        assert models[name]["languages"] == [name[:2]], name
        assert models[name]["sizeBytes"] is None
    assert set(models) == {PIPER_VOICE, *downloadable}


# -- /generate ------------------------------------------------------------------------------


def test_generate_returns_16_bit_mono_wav_at_the_voice_rate(
    piper: LiveEngine, voice_files: list[Path]
) -> None:
    reply = piper.client.post("/generate", json=generate_body("Hello there, how are you today?"))
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "audio/wav"
    assert int(reply.headers["content-length"]) == len(reply.content) >= 100
    info = wav_info(reply.content)
    assert (info.channels, info.sample_width, info.rate) == (1, 2, voice_rate(voice_files))
    assert info.rate == 22050
    assert info.seconds > 1.0
    samples, _ = decode_audio(reply.content)
    assert float(np.sqrt(np.mean(samples**2))) > 0.01  # speech, not silence


def test_speed_two_is_much_shorter_than_speed_half(synthesize: Callable[..., bytes]) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    fast = wav_info(synthesize(text, speed=2.0, **DETERMINISTIC)).frames
    slow = wav_info(synthesize(text, speed=0.5, **DETERMINISTIC)).frames
    assert fast * 2 < slow, (fast, slow)


def test_sentence_silence_lengthens_multi_sentence_output_only_between_sentences(
    synthesize: Callable[..., bytes],
) -> None:
    rate = 22050
    three = "One. Two. Three."
    short = wav_info(synthesize(three, sentence_silence=0.0, **DETERMINISTIC)).frames
    long = wav_info(synthesize(three, sentence_silence=1.0, **DETERMINISTIC)).frames
    assert abs((long - short) - 2 * rate) < rate // 10, (short, long)  # two gaps of 1 s
    one = "One two three."
    plain = wav_info(synthesize(one, sentence_silence=0.0, **DETERMINISTIC)).frames
    assert wav_info(synthesize(one, sentence_silence=1.0, **DETERMINISTIC)).frames == plain


@pytest.mark.parametrize(
    "parameters",
    [
        {"noise_scale": 0.0},
        {"noise_scale": 1.2},
        {"noise_w": 0.0},
        {"noise_w": 1.3},
        {"noise_scale": 0.3, "noise_w": 0.3, "speed": 1.25, "speaker_id": 0},
    ],
)
def test_noise_parameters_are_accepted(piper: LiveEngine, parameters: dict[str, Any]) -> None:
    reply = piper.client.post("/generate", json=generate_body("Good morning.", **parameters))
    assert reply.status_code == 200, reply.text
    assert wav_info(reply.content).frames > 0


def test_noise_parameters_reach_the_voice(piper: LiveEngine) -> None:
    """Without noise the voice is deterministic; with noise two renderings differ."""
    text = "Noise makes every rendering a little different."

    def render(**parameters: float) -> bytes:
        reply = piper.client.post("/generate", json=generate_body(text, **parameters))
        assert reply.status_code == 200, reply.text
        return reply.content

    assert render(**DETERMINISTIC) == render(**DETERMINISTIC)
    assert render(noise_scale=1.0, noise_w=1.0) != render(noise_scale=1.0, noise_w=1.0)


def test_speaker_id_beyond_a_single_speaker_voice_is_refused(piper: LiveEngine) -> None:
    reply = piper.client.post("/generate", json=generate_body("Hello.", speaker_id=1))
    assert reply.status_code == 400
    detail = reply.json()["detail"]
    assert "speaker_id" in detail and "1 speaker" in detail, detail
    assert piper.client.get("/health").json()["status"] == "ready"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("speed", "fast"),
        ("speed", True),
        ("speed", None),
        ("noise_scale", "0.5"),
        ("noise_w", [0.5]),
        ("speaker_id", 1.5),
        ("speaker_id", "0"),
        ("sentence_silence", {"seconds": 1}),
    ],
)
def test_wrong_parameter_types_are_400_naming_the_parameter(
    piper: LiveEngine, name: str, value: Any
) -> None:
    reply = piper.client.post("/generate", json=generate_body("Hello.", **{name: value}))
    assert reply.status_code == 400, reply.text
    detail = reply.json()["detail"]
    assert detail.startswith(f"Invalid parameter {name}:"), detail


@pytest.mark.parametrize(("name", "value"), [("speed", 0.0), ("speed", 10), ("speaker_id", -1)])
def test_parameters_outside_their_range_are_400_naming_the_range(
    piper: LiveEngine, name: str, value: float
) -> None:
    reply = piper.client.post("/generate", json=generate_body("Hello.", **{name: value}))
    assert reply.status_code == 400, reply.text
    detail = reply.json()["detail"]
    assert detail.startswith(f"Invalid parameter {name}:") and "outside" in detail, detail


def test_parameters_that_are_not_an_object_are_422(piper: LiveEngine) -> None:
    body = {"text": "Hello.", "language": "en", "ttsSpeakerWav": "", "parameters": [1]}
    reply = piper.client.post("/generate", json=body)
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["type"] == "dict_type"


@pytest.mark.parametrize("language", ["de", "fr-FR", "it_IT"])
def test_a_language_the_voice_cannot_speak_is_400_naming_what_it_speaks(
    piper: LiveEngine, language: str
) -> None:
    reply = piper.client.post("/generate", json=generate_body("Hallo.", language=language))
    assert reply.status_code == 400
    detail = reply.json()["detail"]
    assert repr(language) in detail and "speaks en" in detail, detail
    assert piper.client.get("/health").json()["status"] == "ready"


@pytest.mark.parametrize("language", ["en", "en-US", "en_us", "EN", "en-GB"])
def test_english_spellings_are_accepted(piper: LiveEngine, language: str) -> None:
    reply = piper.client.post("/generate", json=generate_body("Yes.", language=language))
    assert reply.status_code == 200, reply.text


# -- the common TTS contract (§4.1 validation order, §4.2, §4.3) ----------------------------


def test_readiness_comes_first(idle_piper: TestClient) -> None:
    body = {"text": " ", "language": "", "ttsSpeakerWav": "../x", "parameters": {"speed": "x"}}
    reply = idle_piper.post("/generate", json=body)
    assert (reply.status_code, reply.json()) == (400, {"detail": "Model not loaded"})


def test_unknown_model_is_400_listing_the_servable_ones(idle_piper: TestClient) -> None:
    reply = idle_piper.post("/load", json={"engineModelName": "en_US-nobody-medium"})
    assert reply.status_code == 400
    detail = reply.json()["detail"]
    assert detail.startswith("Unknown model: en_US-nobody-medium. Available: ")
    assert PIPER_VOICE in detail and "de_DE-thorsten-medium" in detail
    health = idle_piper.get("/health").json()
    assert (health["status"], health["engineModelLoaded"]) == ("ready", False)


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        # blank text before blank language, too long, speakers and parameters
        (
            {"text": "  ", "language": " ", "ttsSpeakerWav": "../x", "parameters": {"speed": 0}},
            400,
            "Text cannot be empty",
        ),
        # blank language before the length check
        ({"text": "x" * (MAX_TEXT + 1), "language": "\t"}, 400, "Language cannot be empty"),
        # the length check before speakers and parameters
        (
            {"text": "x" * (MAX_TEXT + 1), "ttsSpeakerWav": "../x", "parameters": {"speed": 0}},
            400,
            too_long(MAX_TEXT + 1),
        ),
        # speakers before parameters
        (
            {"ttsSpeakerWav": "../x.wav", "parameters": {"speed": "x"}},
            400,
            "Invalid speaker filename format: ../x.wav",
        ),
        ({"ttsSpeakerWav": ".."}, 400, "Invalid speaker path"),
        ({"ttsSpeakerWav": "absent.wav"}, 404, "Speaker sample not found: absent.wav"),
        ({"ttsSpeakerWav": ["", " ", "absent.wav"]}, 404, "Speaker sample not found: absent.wav"),
        # parameters before the engine's own checks (the language)
        (
            {"language": "de", "parameters": {"speed": "x"}},
            400,
            "Invalid parameter speed: expected float, got 'x'",
        ),
    ],
)
def test_validation_order_and_details(
    piper: LiveEngine, body: dict[str, Any], status: int, detail: str
) -> None:
    request = {"text": "Hello.", "language": "en", "ttsSpeakerWav": "", **body}
    reply = piper.client.post("/generate", json=request)
    assert (reply.status_code, reply.json()) == (status, {"detail": detail})
    assert reply.headers["content-type"] == "application/json"
    health = piper.client.get("/health").json()
    assert (health["status"], health["currentEngineModel"]) == ("ready", PIPER_VOICE)


def test_exactly_max_text_length_passes_the_length_check(piper: LiveEngine) -> None:
    """5000 characters reach the engine: its language refusal proves it (without spending
    minutes on synthesising them)."""
    reply = piper.client.post("/generate", json=generate_body("x" * MAX_TEXT, language="de"))
    assert reply.status_code == 400
    assert reply.json()["detail"].startswith("Language 'de' is not spoken by this voice")


@pytest.mark.parametrize("speakers", ["", [], [""], "  "])
def test_no_speaker_sample_is_needed(piper: LiveEngine, speakers: str | list[str]) -> None:
    body = {"text": "Hi.", "language": "en", "ttsSpeakerWav": speakers}
    assert piper.client.post("/generate", json=body).status_code == 200


def test_speaker_wav_is_required_but_snake_case_works(piper: LiveEngine) -> None:
    missing = piper.client.post("/generate", json={"text": "Hi.", "language": "en"})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "ttsSpeakerWav"]
    null = piper.client.post(
        "/generate", json={"text": "Hi.", "language": "en", "ttsSpeakerWav": None}
    )
    assert null.status_code == 422
    snake = piper.client.post(
        "/generate", json={"text": "Hi.", "language": "en", "tts_speaker_wav": ""}
    )
    assert snake.status_code == 200


def test_uploaded_samples_are_checked_but_not_used(
    piper: LiveEngine, synthesize: Callable[..., bytes]
) -> None:
    sample = synthesize("This is my voice.")
    upload = piper.client.post(
        "/samples/upload/joe-sample",
        content=sample,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert (upload.status_code, upload.json()) == (200, {"status": "ok", "sampleId": "joe-sample"})
    check = piper.client.post("/samples/check", json={"sample_ids": ["joe-sample", "other"]})
    assert check.json() == {"missing": ["other"]}
    text = "Cloning is not supported."
    plain = piper.client.post("/generate", json=generate_body(text, **DETERMINISTIC))
    body = {**generate_body(text, **DETERMINISTIC), "ttsSpeakerWav": ["joe-sample.wav"]}
    with_sample = piper.client.post("/generate", json=body)
    assert with_sample.status_code == 200
    assert with_sample.content == plain.content  # supports_speaker_cloning: false


def test_a_successful_generate_clears_an_earlier_error(piper: LiveEngine) -> None:
    refused = piper.client.post("/generate", json=generate_body("Hi.", speaker_id=5))
    assert refused.status_code == 400
    assert piper.client.post("/generate", json=generate_body("Hi.")).status_code == 200
    health = piper.client.get("/health").json()
    assert (health["status"], health["error"]) == ("ready", None)
