"""The vibevoice image (scenario 3): built here against the CPU torch wheel served from a loopback
find-links server, with models/ empty. The tiny model, mounted read-only at /app/external_models,
is listed and loaded through the entrypoint's symlink and speaks a dialogue; a catalog model's
download is refused clearly on the read-only mount; `docker stop` ends the server with exit 0.

Needs Docker and the local base image, as tests/docker does (ENGINEKIT_REQUIRE_DOCKER=1 turns a
skip into a failure). The image is tagged enginekit/vibevoice:test and removed afterwards.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.containers import host_dir, wait_for_health
from support.engine_process import voice_wav
from support.engines import free_port
from support.images import docker_client, torch_engine_image

from .helpers import OUTPUT_RATE, generate, wav_rate_and_frames

pytestmark = pytest.mark.docker

TAG = "enginekit/vibevoice:test"


@pytest.fixture(scope="module")
def client() -> Any:
    return docker_client()


@pytest.fixture(scope="module")
def image(client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with torch_engine_image(client, "vibevoice", TAG, tmp_path_factory.mktemp("find-links")) as tag:
        yield tag


@pytest.fixture
def containers(client: Any) -> Iterator[list[Any]]:
    started: list[Any] = []
    yield started
    for container in started:
        container.remove(force=True)


def test_s3_read_only_mounted_model_speaks_and_a_download_there_is_refused(
    client: Any, image: str, containers: list[Any], tiny_models: Path, tmp_path: Path
) -> None:
    external = tmp_path / "external"
    shutil.copytree(tiny_models / "tiny-a", external / "mounted")
    samples = host_dir(tmp_path / "samples")
    (samples / "alice.wav").write_bytes(voice_wav(frequency=220.0))
    (samples / "bob.wav").write_bytes(voice_wav(frequency=110.0))
    host_dir(samples)
    volumes = {
        str(external): {"bind": "/app/external_models", "mode": "ro"},
        str(samples): {"bind": "/app/samples", "mode": "ro"},
    }
    port = free_port()
    engine = client.containers.run(
        image, detach=True, network_mode="host", volumes=volumes,
        environment={"PORT": str(port), "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    containers.append(engine)
    url = f"http://127.0.0.1:{port}"
    wait_for_health(engine, url, timeout=180)
    linked = engine.exec_run(["readlink", "/app/models/mounted"]).output.decode().strip()
    assert linked == "../external_models/mounted"
    with httpx.Client(base_url=url, timeout=300) as http:
        listed = {m["name"]: m["source"] for m in http.get("/models").json()["models"]}
        assert listed == {"mounted": "external", "1.5B": "downloadable", "7B": "downloadable"}
        assert http.get("/health").json()["engineModelLoaded"] is False  # nothing baked in
        assert http.post("/load", json={"engineModelName": "mounted"}).status_code == 200
        text = "Speaker 1: Hello from a container.\nSpeaker 2: Hello back."
        reply = generate(http, text, ["alice.wav", "bob.wav"])
        assert reply.status_code == 200, reply.text
        assert wav_rate_and_frames(reply.content)[:2] == (OUTPUT_RATE, 1)
        refused = http.post("/load", json={"engineModelName": "1.5B"})
        assert refused.status_code == 507
        assert refused.json()["detail"].startswith(
            "Cannot download 1.5B: external_models is not writable. Mount it read-write"
        )
    engine.stop(timeout=30)
    assert engine.wait(timeout=60)["StatusCode"] == 0, engine.logs().decode()
