"""engines/tts/chatterbox served by a real subprocess on its own interpreter, with tiny
random-weight models loaded through chatterbox-tts's real loaders (issue 12): the contract's TTS
behaviours, the built-in voice, cloning and its cache, hotswap between the multilingual and the
English model, /health while generating, and no network needed at any point."""

from __future__ import annotations

import logging

import httpx
from support.engine_process import health_during

from .conftest import unavailable
from .helpers import (
    OUTPUT_RATE,
    TINY_FRAMES,
    ChatterboxProcess,
    generate,
    upload,
    voice_wav,
    wav_rate_and_frames,
)

HELLO = "Hello there."
BUILTIN = [""]  # a list of blank names passes the contract's cloning check: no sample
logger = logging.getLogger(__name__)


def cloned(engine: ChatterboxProcess, sample: str) -> int:
    """How often the engine computed a voice from `sample` (its log line per cloning)."""
    return sum(
        1
        for line in engine.output().splitlines()
        if "Cloned a voice from" in line and sample in line
    )


def assert_speech(reply: httpx.Response) -> None:
    assert reply.status_code == 200, reply.text
    assert wav_rate_and_frames(reply.content) == (OUTPUT_RATE, 1, TINY_FRAMES)


def test_info_models_and_health_describe_a_cloning_engine(client: httpx.Client) -> None:
    info = client.get("/info").json()
    assert info["name"] == "chatterbox"
    assert info["capabilities"]["supports_speaker_cloning"] is True
    assert info["upstream"]["license"] == "MIT"
    sources = {m["name"]: m["source"] for m in client.get("/models").json()["models"]}
    assert sources == {
        "tiny": "baked-in",
        "tiny-en": "baked-in",
        "english": "downloadable",
        "multilingual": "downloadable",
    }
    health = client.get("/health").json()
    assert (health["status"], health["currentEngineModel"]) == ("ready", "tiny")
    assert (health["device"], health["packageVersion"]) == ("cpu", "0.1.6")


def test_the_engine_loads_and_speaks_with_the_network_unreachable(
    chatterbox: ChatterboxProcess, client: httpx.Client
) -> None:
    if not chatterbox.isolated:
        unavailable("no network namespace here (`unshare --net` needs root or user namespaces)")
    assert "network unreachable: connecting to 192.0.2.1:443 failed at once" in (
        chatterbox.output()
    )
    upload(client, "offline", voice_wav())
    assert_speech(generate(client, HELLO, "offline.wav"))
    output = chatterbox.output()
    assert "Could not load Cangjie mapping" not in output  # read from the model directory
    assert "Traceback" not in output


def test_a_request_naming_no_sample_speaks_the_builtin_voice_while_health_answers(
    client: httpx.Client, chatterbox: ChatterboxProcess
) -> None:
    with chatterbox.new_client() as poller:
        reply, seen = health_during(poller, lambda: generate(client, HELLO, BUILTIN))
    assert_speech(reply)
    assert "processing" in seen  # /health answered during generation, not after it


def test_a_cloned_voice_is_cached_until_its_sample_changes_on_disk(
    chatterbox: ChatterboxProcess, client: httpx.Client
) -> None:
    upload(client, "cached", voice_wav(frequency=150.0))
    assert_speech(generate(client, HELLO, "cached.wav"))
    chinese = generate(
        client, "你好。", "cached.wav", language="zh-CN", exaggeration=1.2, cfg_weight=0.0,
        temperature=0.5,
    )  # fmt: skip
    assert_speech(chinese)
    assert cloned(chatterbox, "cached.wav") == 1
    sample = chatterbox.base / "samples" / "cached.wav"
    sample.write_bytes(voice_wav(seconds=0.8, frequency=300.0))  # edited in place, not uploaded
    assert_speech(generate(client, HELLO, "cached.wav"))
    assert cloned(chatterbox, "cached.wav") == 2


def test_unreadable_and_too_short_samples_are_clear_400s(
    chatterbox: ChatterboxProcess, client: httpx.Client
) -> None:
    (chatterbox.base / "samples" / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    reply = generate(client, HELLO, "broken.wav")
    assert reply.status_code == 400
    assert reply.json()["detail"].startswith("Speaker sample broken.wav cannot be read as audio")
    upload(client, "blip", voice_wav(seconds=0.1))
    reply = generate(client, HELLO, "blip.wav")
    assert reply.status_code == 400
    assert "too short" in reply.json()["detail"]
    assert client.get("/health").json()["status"] == "ready"


def test_languages_and_parameters_are_checked_before_generating(client: httpx.Client) -> None:
    reply = generate(client, HELLO, BUILTIN, language="xx")
    assert reply.status_code == 400
    assert reply.json()["detail"].startswith("Language 'xx' is not spoken by this model; it speaks")
    reply = generate(client, HELLO, BUILTIN, temperature=9.0)
    assert reply.status_code == 400
    assert reply.json()["detail"] == "Invalid parameter temperature: 9.0 is outside 0.05..5.0"
    assert generate(client, HELLO, BUILTIN, exaggeration="lots").status_code == 400
    assert generate(client, HELLO, "").status_code == 400  # a cloning engine needs the key set


def test_hotswap_to_the_english_model_and_back_frees_the_first(
    chatterbox: ChatterboxProcess, client: httpx.Client
) -> None:
    loaded_rss, _ = chatterbox.memory_mb()
    assert client.post("/load", json={"engineModelName": "tiny-en"}).status_code == 200
    assert client.get("/health").json()["currentEngineModel"] == "tiny-en"
    assert_speech(generate(client, HELLO, BUILTIN))
    reply = generate(client, "Guten Tag.", BUILTIN, language="de")
    assert reply.status_code == 400
    assert reply.json()["detail"] == "Language 'de' is not spoken by this model; it speaks en"
    assert client.post("/load", json={"engineModelName": "tiny"}).status_code == 200
    swapped_rss, peak = chatterbox.memory_mb()
    logger.warning("engine RSS: %d MB loaded, %d MB after two swaps, %d MB peak",
                   loaded_rss, swapped_rss, peak)  # fmt: skip
    assert swapped_rss < loaded_rss + 1500  # the unloaded models' 3+ GB each went back


def test_a_directory_without_chatterbox_weights_is_a_clear_400(
    chatterbox: ChatterboxProcess, client: httpx.Client
) -> None:
    (chatterbox.base / "models" / "empty").mkdir(exist_ok=True)
    reply = client.post("/load", json={"engineModelName": "empty"})
    assert reply.status_code == 400
    assert "neither t3_mtl23ls_v2.safetensors nor t3_cfg.safetensors" in reply.json()["detail"]
