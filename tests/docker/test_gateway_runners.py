"""The gateway's two local runners share one model directory: what the subprocess runner
downloaded, the docker runner serves from its mounted volume, with no second transfer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from gateway.helpers import gateway_app, make_checkout, write_config
from support.engines import serve_app
from support.fileserver import FileServer

MODEL = json.dumps({"sample_rate": 8000, "char_duration": 0.02, "base_frequency": 330.0})


@pytest.fixture
def checkout(tmp_path: Path, file_server: FileServer) -> Path:
    root = make_checkout(tmp_path / "checkout", {"debug-tts": "tts/debug-tts"})
    manifest_path = root / "engines" / "tts" / "debug-tts" / "engine.yaml"
    manifest = yaml.safe_load(manifest_path.read_text())
    url = file_server.add("/voices/bright/model.json", MODEL.encode())
    manifest["models"].append({"name": "bright", "display_name": "Bright", "source": {"url": url}})
    manifest_path.write_text(yaml.safe_dump(manifest))
    return root


def test_a_model_downloaded_by_the_subprocess_runner_serves_in_the_container(
    checkout: Path, tmp_path: Path, file_server: FileServer, engine_image: Any
) -> None:
    data = tmp_path / "data"
    subprocess_config = write_config(tmp_path / "a.yaml", data, {"debug-tts": {}})
    with serve_app(gateway_app(subprocess_config, checkout)) as url:
        loaded = httpx.post(f"{url}/engines/debug-tts/load", json={"engineModelName": "bright"},
                            timeout=60)  # fmt: skip
        assert loaded.status_code == 200, loaded.text
    assert (data / "debug-tts" / "bright" / "model.json").read_text() == MODEL
    transfers = len(file_server.requests("/voices/bright/model.json"))

    image = engine_image("debug-tts")
    docker_config = write_config(tmp_path / "b.yaml", data,
                                 {"debug-tts": {"runner": "docker", "image": image}})  # fmt: skip
    with serve_app(gateway_app(docker_config, checkout)) as url:
        listed = httpx.get(f"{url}/engines/debug-tts/models", timeout=120).json()["models"]
        assert {m["name"]: m["source"] for m in listed}["bright"] == "external"
        assert httpx.get(f"{url}/engines").json()["engines"][0]["runner"] == "docker"
        loaded = httpx.post(f"{url}/engines/debug-tts/load", json={"engineModelName": "bright"},
                            timeout=60)  # fmt: skip
        assert loaded.status_code == 200, loaded.text
        audio = httpx.post(f"{url}/engines/debug-tts/generate", timeout=60,
                           json={"text": "Hi.", "language": "en", "ttsSpeakerWav": ""})  # fmt: skip
        assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
    assert len(file_server.requests("/voices/bright/model.json")) == transfers  # no new transfer
