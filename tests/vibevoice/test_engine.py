"""engines/tts/vibevoice served by a real subprocess on its own interpreter, with tiny
random-weight models loaded through vibevoice's real loaders from external_models/ (issue 13):
cloning, dialogue with one sample per speaker, parameters, hotswap, a failed load leaving no
model, and /health while generating."""

from __future__ import annotations

import os

import httpx
from support.engine_process import EngineProcess, health_during, voice_wav

from .conftest import FRAME, FRAMES
from .helpers import OUTPUT_RATE, generate, upload, wav_rate_and_frames

DIALOGUE = "Speaker 1: Hello there, how are you?\nSpeaker 2: Very well, thank you."


def test_info_and_models_describe_a_multi_speaker_engine_with_nothing_baked_in(
    client: httpx.Client,
) -> None:
    info = client.get("/info").json()
    assert info["name"] == "vibevoice"
    assert info["capabilities"]["supports_speaker_cloning"] is True
    assert info["capabilities"]["supports_streaming"] is True
    sources = {m["name"]: m["source"] for m in client.get("/models").json()["models"]}
    assert sources == {
        "tiny-a": "external",
        "tiny-b": "external",
        "1.5B": "downloadable",
        "7B": "downloadable",
    }


def test_health_reports_cpu_and_the_vibevoice_version(client: httpx.Client) -> None:
    health = client.get("/health").json()
    assert (health["status"], health["currentEngineModel"]) == ("ready", "tiny-a")
    assert health["device"] == "cpu"
    assert health["packageVersion"] == "0.0.1"


def test_plain_text_speaks_with_the_first_sample(client: httpx.Client) -> None:
    upload(client, "narrator", voice_wav())
    reply = generate(client, "Hello there.\nA second line of the same turn.", "narrator.wav")
    assert reply.status_code == 200, reply.text
    assert wav_rate_and_frames(reply.content) == (OUTPUT_RATE, 1, FRAMES["tiny-a"] * FRAME)
    extra = generate(client, "Hello there.", ["narrator.wav", "no-such-speaker-needed.wav"])
    assert extra.status_code == 404  # every named sample must exist, even an unused one
    upload(client, "second", voice_wav(frequency=240.0))
    assert generate(client, "Hello there.", ["narrator.wav", "second.wav"]).status_code == 200


def test_a_dialogue_takes_one_sample_per_speaker_in_order(client: httpx.Client) -> None:
    upload(client, "alice", voice_wav(frequency=220.0))
    upload(client, "bob", voice_wav(frequency=110.0, seconds=1.5))
    reply = generate(client, DIALOGUE, ["alice.wav", "bob.wav"])
    assert reply.status_code == 200, reply.text
    assert wav_rate_and_frames(reply.content)[:2] == (OUTPUT_RATE, 1)


def test_speaker_and_sample_counts_must_match(client: httpx.Client) -> None:
    upload(client, "alice", voice_wav(frequency=220.0))
    reply = generate(client, DIALOGUE, "alice.wav")
    assert reply.status_code == 400
    assert reply.json()["detail"] == (
        "The text has 2 speakers (Speaker 1, Speaker 2) but ttsSpeakerWav names 1 sample: "
        "give one sample per speaker, in the order of their numbers"
    )
    three = generate(client, DIALOGUE, ["alice.wav", "alice.wav", "alice.wav"])
    assert three.status_code == 400
    assert client.get("/health").json()["status"] == "ready"


def test_vibevoice_requires_a_sample(client: httpx.Client) -> None:
    reply = generate(client, "Hello.", "")
    assert reply.status_code == 400
    assert reply.json()["detail"].startswith("VibeVoice requires speaker samples")


def test_a_corrupt_or_too_short_sample_is_a_clear_400(
    vibevoice: EngineProcess, client: httpx.Client
) -> None:
    (vibevoice.base / "samples" / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio")
    reply = generate(client, "Hello.", "broken.wav")
    assert reply.status_code == 400
    assert reply.json()["detail"].startswith("Speaker sample broken.wav cannot be read as audio")
    upload(client, "blip", voice_wav(seconds=0.1))
    short = generate(client, "Hello.", "blip.wav")
    assert (short.status_code, "too short" in short.json()["detail"]) == (400, True)


def test_cfg_scale_and_ddpm_steps_are_range_checked_and_used(client: httpx.Client) -> None:
    upload(client, "speaker", voice_wav())
    reply = generate(client, "Hello.", "speaker.wav", cfg_scale=9.0)
    assert reply.status_code == 400
    assert reply.json()["detail"] == "Invalid parameter cfg_scale: 9.0 is outside 1.0..3.0"
    assert generate(client, "Hello.", "speaker.wav", ddpm_steps=0).status_code == 400
    assert generate(client, "Hello.", "speaker.wav", ddpm_steps="many").status_code == 400
    tuned = generate(client, "Hello.", "speaker.wav", cfg_scale=2.0, ddpm_steps=3)
    assert tuned.status_code == 200, tuned.text


def test_a_language_vibevoice_does_not_speak_is_refused(client: httpx.Client) -> None:
    upload(client, "speaker", voice_wav())
    reply = generate(client, "Bonjour.", "speaker.wav", language="fr")
    assert reply.status_code == 400
    assert reply.json()["detail"] == "Language 'fr' is not spoken by VibeVoice; it speaks en, zh"
    assert generate(client, "你好。", "speaker.wav", language="zh-CN").status_code == 200


def test_hotswap_between_two_tiny_models(client: httpx.Client) -> None:
    upload(client, "speaker", voice_wav())
    reply = client.post("/load", json={"engineModelName": "tiny-b"})
    assert reply.status_code == 200, reply.text
    assert client.get("/health").json()["currentEngineModel"] == "tiny-b"
    longer = generate(client, "Hello there, a longer turn for the second model.", "speaker.wav")
    assert wav_rate_and_frames(longer.content)[2] == FRAMES["tiny-b"] * FRAME
    assert client.post("/load", json={"engineModelName": "tiny-a"}).status_code == 200
    shorter = generate(client, "Hello there, a longer turn for the second model.", "speaker.wav")
    assert wav_rate_and_frames(shorter.content)[2] == FRAMES["tiny-a"] * FRAME


def test_a_model_without_its_tokenizer_is_refused_and_leaves_no_model_loaded(
    vibevoice: EngineProcess, client: httpx.Client
) -> None:
    complete = vibevoice.base / "external_models" / "tiny-a"
    partial = vibevoice.base / "external_models" / "no-tokenizer"
    partial.mkdir(exist_ok=True)
    for name in os.listdir(complete):
        if name != "tokenizer" and not (partial / name).exists():
            os.link(complete / name, partial / name)
    reply = client.post("/load", json={"engineModelName": "no-tokenizer"})
    assert reply.status_code == 400
    assert "has no tokenizer/tokenizer_config.json" in reply.json()["detail"]
    health = client.get("/health").json()
    assert (health["status"], health["engineModelLoaded"]) == ("ready", False)  # tiny-a unloaded
    upload(client, "speaker", voice_wav())
    refused = generate(client, "Hello.", "speaker.wav")
    assert (refused.status_code, refused.json()["detail"]) == (400, "Model not loaded")


def test_health_answers_while_a_dialogue_is_generated(client: httpx.Client) -> None:
    assert client.post("/load", json={"engineModelName": "tiny-b"}).status_code == 200
    upload(client, "alice", voice_wav(frequency=220.0))
    upload(client, "bob", voice_wav(frequency=110.0))
    reply, seen = health_during(
        client, lambda: generate(client, DIALOGUE, ["alice.wav", "bob.wav"])
    )
    assert reply.status_code == 200, reply.text
    assert "processing" in seen  # /health answered during generation, not after it
