"""The standard's four usage scenarios, in real containers."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.containers import (
    TINY_EN,
    WHISPER_FILES,
    copy_voice,
    generate,
    host_dir,
    load,
    models,
    serve_tiny_en,
    tone_wav,
)
from support.fileserver import FileServer

# -- scenario 1: baked-in -----------------------------------------------------------------------


def test_s1_debug_tts_serves_its_baked_in_model(engine_image: Any, run_engine: Any) -> None:
    with run_engine(engine_image("debug-tts")) as engine:
        assert models(engine.url) == {"default": "baked-in"}
        assert load(engine.url, "default").json()["status"] == "loaded"
        audio = generate(engine.url)
        assert audio.status_code == 200
        assert audio.content[:4] == b"RIFF"


def test_s1_piper_serves_the_baked_in_voice(engine_image: Any, run_engine: Any) -> None:
    with run_engine(engine_image("piper")) as engine:
        assert models(engine.url)["en_US-joe-medium"] == "baked-in"
        assert load(engine.url, "en_US-joe-medium").status_code == 200
        audio = generate(engine.url)
        assert audio.status_code == 200
        assert len(audio.content) > 20_000


@pytest.mark.parametrize("name", ["debug-tts", "piper"])
def test_an_image_with_a_baked_default_serves_it_without_a_load(
    engine_image: Any, run_engine: Any, name: str
) -> None:
    """ENGINE_LOAD_MODEL=default in the image: /generate works with no /load first."""
    with run_engine(engine_image(name)) as engine:
        deadline = time.monotonic() + 60
        while not httpx.get(f"{engine.url}/health").json()["engineModelLoaded"]:
            assert time.monotonic() < deadline, "the default model never loaded"
            time.sleep(0.2)
        audio = generate(engine.url)
        assert audio.status_code == 200 and audio.content[:4] == b"RIFF"


# -- scenario 2: baked-in default plus external -------------------------------------------------


def test_s2_mounted_voice_is_linked_and_baked_in_wins(
    engine_image: Any, run_engine: Any, tmp_path: Path
) -> None:
    external = tmp_path / "voices"
    external.mkdir()
    copy_voice(external, "en_US-joe2-medium")
    shadow = copy_voice(external, "en_US-joe-medium")
    (shadow / "marker-from-volume").write_text("external copy")
    host_dir(external)
    volumes = {str(external): {"bind": "/app/external_models", "mode": "rw"}}

    with run_engine(engine_image("piper"), volumes=volumes) as engine:
        listed = models(engine.url)
        assert listed["en_US-joe-medium"] == "baked-in"
        assert listed["en_US-joe2-medium"] == "external"
        link = engine.exec("readlink", "/app/models/en_US-joe2-medium").strip()
        assert link == "../external_models/en_US-joe2-medium"
        assert engine.exec("sh", "-c", "test -L /app/models/en_US-joe-medium && echo link") == ""
        assert "marker-from-volume" not in engine.exec("ls", "/app/models/en_US-joe-medium")
        assert load(engine.url, "en_US-joe2-medium").status_code == 200
        assert generate(engine.url).status_code == 200
        assert "Kept baked-in: en_US-joe-medium" in engine.logs()


# -- scenario 3: external only ------------------------------------------------------------------


def test_s3_whisper_serves_a_mounted_model(
    engine_image: Any, run_engine: Any, tmp_path: Path
) -> None:
    external = tmp_path / "whisper-models"
    shutil.copytree(TINY_EN, external / "tiny.en")
    host_dir(external)
    volumes = {str(external): {"bind": "/app/external_models", "mode": "ro"}}

    with run_engine(engine_image("whisper"), volumes=volumes) as engine:
        assert models(engine.url)["tiny.en"] == "external"
        assert load(engine.url, "tiny.en").status_code == 200
        reply = httpx.post(f"{engine.url}/analyze", json={"audio_base64": tone_wav()}, timeout=120)
        assert reply.status_code == 200
        assert reply.json()["engineName"] == "whisper"


# -- scenario 4: on-demand download persisted in a volume ---------------------------------------


def test_s4_download_lands_in_the_volume_and_survives_a_new_container(
    engine_image: Any, run_engine: Any, volume: Any, file_server: FileServer
) -> None:
    serve_tiny_en(file_server)
    store = volume()
    volumes = {store: {"bind": "/app/external_models", "mode": "rw"}}
    environment = {"HF_ENDPOINT": file_server.url}
    image = engine_image("whisper")

    with run_engine(image, volumes=volumes, environment=environment) as first:
        assert models(first.url)["tiny.en"] == "downloadable"
        assert load(first.url, "tiny.en").status_code == 200
        assert models(first.url)["tiny.en"] == "external"
        assert "tiny.en" in first.exec("ls", "/app/external_models")
    downloads = len(file_server.requests())
    assert downloads == len(WHISPER_FILES)

    with run_engine(image, volumes=volumes, environment=environment) as second:
        assert models(second.url)["tiny.en"] == "external"
        assert load(second.url, "tiny.en").status_code == 200
    assert len(file_server.requests()) == downloads, "the second container downloaded again"
