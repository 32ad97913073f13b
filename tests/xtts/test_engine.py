"""engines/tts/xtts served by a real subprocess on its own interpreter, with tiny random-weight
models loaded through coqui-tts's real loader (issue 11): the contract's TTS behaviours, voice
cloning from samples/ and its cache, hotswap, and /health while generating."""

from __future__ import annotations

from pathlib import Path

import httpx
from support.engine_process import health_during
from support.engines import free_port

from .conftest import copy_engine
from .helpers import (
    OUTPUT_RATE,
    EngineProcess,
    generate,
    start_engine,
    upload,
    voice_wav,
    wav_rate_and_frames,
)

HELLO = "Hello there."


def cloned(engine: EngineProcess, sample: str) -> int:
    """How often the engine computed a voice from `sample` (its log line per cloning)."""
    return sum(
        1
        for line in engine.output().splitlines()
        if "Cloned a voice from" in line and sample in line
    )


def test_info_and_models_describe_a_cloning_streaming_engine(client: httpx.Client) -> None:
    info = client.get("/info").json()
    assert info["name"] == "xtts"
    assert info["capabilities"]["supports_speaker_cloning"] is True
    assert info["capabilities"]["supports_streaming"] is True
    assert "CPML" in info["upstream"]["license"]
    sources = {m["name"]: m["source"] for m in client.get("/models").json()["models"]}
    assert sources == {
        "tiny-a": "baked-in",
        "tiny-b": "baked-in",
        "v2.0.2": "downloadable",
        "v2.0.3": "downloadable",
    }


def test_health_reports_cpu_and_the_coqui_version(client: httpx.Client) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ready"
    assert health["currentEngineModel"] == "tiny-a"
    assert health["device"] == "cpu"
    assert health["packageVersion"] == "0.28.0"


def test_generate_clones_a_voice_from_an_uploaded_sample(client: httpx.Client) -> None:
    upload(client, "narrator", voice_wav())
    reply = generate(client, HELLO, "narrator.wav")
    assert reply.status_code == 200, reply.text
    rate, channels, frames = wav_rate_and_frames(reply.content)
    assert (rate, channels) == (OUTPUT_RATE, 1)
    assert frames > OUTPUT_RATE // 10


def test_two_samples_make_one_voice(client: httpx.Client) -> None:
    upload(client, "low", voice_wav(frequency=110.0))
    upload(client, "high", voice_wav(frequency=240.0))
    reply = generate(client, HELLO, ["low.wav", "high.wav"])
    assert reply.status_code == 200, reply.text
    assert wav_rate_and_frames(reply.content)[0] == OUTPUT_RATE


def test_latents_are_cached_until_the_sample_changes_on_disk(
    xtts: EngineProcess, client: httpx.Client
) -> None:
    upload(client, "cached", voice_wav(frequency=150.0))
    assert generate(client, HELLO, "cached.wav").status_code == 200
    assert generate(client, "Again.", "cached.wav").status_code == 200
    assert cloned(xtts, "cached.wav") == 1
    sample = xtts.base / "samples" / "cached.wav"
    sample.write_bytes(voice_wav(seconds=1.5, frequency=300.0))  # edited in place, not uploaded
    assert generate(client, HELLO, "cached.wav").status_code == 200
    assert cloned(xtts, "cached.wav") == 2


def test_a_corrupt_sample_is_a_clear_400_and_the_engine_stays_ready(
    xtts: EngineProcess, client: httpx.Client
) -> None:
    (xtts.base / "samples" / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio at all")
    reply = generate(client, HELLO, "broken.wav")
    assert reply.status_code == 400
    assert reply.json()["detail"].startswith("Speaker sample broken.wav cannot be read as audio")
    assert client.get("/health").json()["status"] == "ready"
    upload(client, "fine", voice_wav())
    assert generate(client, HELLO, "fine.wav").status_code == 200


def test_a_too_short_sample_is_refused(client: httpx.Client) -> None:
    upload(client, "blip", voice_wav(seconds=0.1))
    reply = generate(client, HELLO, "blip.wav")
    assert reply.status_code == 400
    assert "too short" in reply.json()["detail"]


def test_cloning_engine_requires_a_sample(client: httpx.Client) -> None:
    reply = generate(client, HELLO, "")
    assert reply.status_code == 400
    assert reply.json()["detail"].startswith("XTTS v2 requires speaker samples for voice cloning")


def test_languages_come_from_the_model_config(client: httpx.Client) -> None:
    upload(client, "speaker", voice_wav())
    reply = generate(client, "Bonjour.", "speaker.wav", language="fr")
    assert reply.status_code == 400
    assert reply.json()["detail"] == "Language 'fr' is not spoken by this model; it speaks en, de"
    assert generate(client, "Guten Tag.", "speaker.wav", language="de-DE").status_code == 200


def test_parameters_are_range_checked_and_used(client: httpx.Client) -> None:
    upload(client, "speaker", voice_wav())
    reply = generate(client, HELLO, "speaker.wav", temperature=5.0)
    assert reply.status_code == 400
    assert reply.json()["detail"] == "Invalid parameter temperature: 5.0 is outside 0.01..1.0"
    assert generate(client, HELLO, "speaker.wav", top_k="ten").status_code == 400
    fast = generate(client, HELLO, "speaker.wav", speed=2.0, temperature=0.2, top_k=5)
    assert fast.status_code == 200, fast.text


def test_hotswap_between_two_tiny_models(xtts: EngineProcess, client: httpx.Client) -> None:
    upload(client, "speaker", voice_wav())
    reply = client.post("/load", json={"engineModelName": "tiny-b"})
    assert reply.status_code == 200, reply.text
    assert client.get("/health").json()["currentEngineModel"] == "tiny-b"
    assert generate(client, "Bonjour.", "speaker.wav", language="fr").status_code == 200
    assert generate(client, "Guten Tag.", "speaker.wav", language="de").status_code == 400
    assert client.post("/load", json={"engineModelName": "tiny-a"}).status_code == 200
    assert generate(client, "Guten Tag.", "speaker.wav", language="de").status_code == 200


def test_health_answers_while_a_long_text_is_generated(client: httpx.Client) -> None:
    upload(client, "speaker", voice_wav())
    text = " ".join(f"Sentence number {n} is here." for n in range(8))
    reply, seen = health_during(client, lambda: generate(client, text, "speaker.wav"))
    assert reply.status_code == 200, reply.text
    assert "processing" in seen  # /health answered during generation, not after it


def test_a_fresh_engine_refuses_generation_until_loaded_and_shuts_down_cleanly(
    xtts_python: Path, tiny_models: Path, tmp_path: Path
) -> None:
    base = copy_engine(tmp_path, tiny_models)
    with start_engine(xtts_python, base, free_port()) as engine:
        upload(engine.client, "speaker", voice_wav())
        assert engine.client.get("/health").json()["engineModelLoaded"] is False
        refused = generate(engine.client, HELLO, "speaker.wav")
        assert (refused.status_code, refused.json()["detail"]) == (400, "Model not loaded")
        assert engine.client.post("/load", json={"engineModelName": "tiny-b"}).status_code == 200
        assert engine.client.post("/shutdown").status_code == 200
        assert engine.process.wait(timeout=60) == 0
    assert "Traceback" not in engine.output()
