"""The xtts image (scenario 2): built here against the CPU torch wheel served from a loopback
find-links server, with the tiny model baked in; a mounted second model, cloning from a mounted
samples/, and `docker stop` ending the server with exit code 0.

Needs Docker and the local base image, as tests/docker does (ENGINEKIT_REQUIRE_DOCKER=1 turns a
skip into a failure). The image is tagged enginekit/xtts:test and removed afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.containers import host_dir, wait_for_health
from support.engines import free_port
from support.images import docker_client, torch_engine_image, wait_for_model

from .helpers import OUTPUT_RATE, generate, voice_wav, wav_rate_and_frames

pytestmark = pytest.mark.docker

TAG = "enginekit/xtts:test"


@pytest.fixture(scope="module")
def client() -> Any:
    return docker_client()


@pytest.fixture(scope="module")
def image(client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    scratch = tmp_path_factory.mktemp("find-links")
    with torch_engine_image(client, "xtts", TAG, scratch, BAKE_MODEL="tiny") as tag:
        yield tag


@pytest.fixture
def containers(client: Any) -> Iterator[list[Any]]:
    started: list[Any] = []
    yield started
    for container in started:
        container.remove(force=True)


def test_s2_mounted_model_and_mounted_samples_clone_a_voice_and_stop_cleanly(
    client: Any, image: str, containers: list[Any], tmp_path: Path
) -> None:
    external, samples = host_dir(tmp_path / "external"), host_dir(tmp_path / "samples")
    (samples / "narrator.wav").write_bytes(voice_wav())
    host_dir(samples)
    volumes = {
        str(external): {"bind": "/app/external_models", "mode": "rw"},
        str(samples): {"bind": "/app/samples", "mode": "ro"},
    }
    build = client.containers.run(
        image, ["python", "tiny_model.py", "/app/external_models/mounted", "--seed", "7"],
        volumes=volumes, remove=True, stderr=True,
    )  # fmt: skip
    assert b"tiny XTTS model" in build
    port = free_port()
    engine = client.containers.run(
        image, detach=True, network_mode="host", environment={"PORT": str(port)}, volumes=volumes
    )
    containers.append(engine)
    url = f"http://127.0.0.1:{port}"
    wait_for_health(engine, url, timeout=180)
    with httpx.Client(base_url=url, timeout=300) as http:
        assert wait_for_model(http) == "tiny"  # the baked-in model is loaded at start
        listed = {m["name"]: m["source"] for m in http.get("/models").json()["models"]}
        assert listed["tiny"] == "baked-in"
        assert listed["mounted"] == "external"
        assert listed["v2.0.3"] == "downloadable"
        assert http.post("/load", json={"engineModelName": "mounted"}).status_code == 200
        reply = generate(http, "Hello from a container.", "narrator.wav")
        assert reply.status_code == 200, reply.text
        assert wav_rate_and_frames(reply.content)[:2] == (OUTPUT_RATE, 1)
    engine.stop(timeout=30)
    assert engine.wait(timeout=60)["StatusCode"] == 0, engine.logs().decode()
