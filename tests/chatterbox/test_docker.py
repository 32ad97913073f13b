"""The chatterbox image (scenario 1, the model baked in): built here against the CPU torch wheel
served from a loopback find-links server, with the tiny multilingual model baked in; it loads
the model at start, speaks the built-in voice and a voice cloned from a mounted samples/, and
`docker stop` ends it with exit code 0.

Needs Docker and the local base image (ENGINEKIT_REQUIRE_DOCKER=1 turns a skip into a failure).
The image is tagged enginekit/chatterbox:test and removed afterwards.
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

from .helpers import OUTPUT_RATE, TINY_FRAMES, generate, voice_wav, wav_rate_and_frames

pytestmark = pytest.mark.docker

TAG = "enginekit/chatterbox:test"


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    client = docker_client()
    scratch = tmp_path_factory.mktemp("find-links")
    with torch_engine_image(client, "chatterbox", TAG, scratch, BAKE_MODEL="tiny") as tag:
        yield client, tag


def test_s1_the_baked_model_serves_at_start_clones_a_mounted_sample_and_stops_cleanly(
    image: tuple[Any, str], tmp_path: Path
) -> None:
    client, tag = image
    samples = host_dir(tmp_path / "samples")
    (samples / "narrator.wav").write_bytes(voice_wav())
    host_dir(samples)
    port = free_port()
    engine = client.containers.run(
        tag, detach=True, network_mode="host", environment={"PORT": str(port)},
        volumes={str(samples): {"bind": "/app/samples", "mode": "ro"}},
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_health(engine, url, timeout=240)
        with httpx.Client(base_url=url, timeout=600) as http:
            assert wait_for_model(http, timeout=300) == "tiny"  # loaded at start
            listed = {m["name"]: m["source"] for m in http.get("/models").json()["models"]}
            assert listed == {"tiny": "baked-in", "multilingual": "downloadable",
                              "english": "downloadable"}  # fmt: skip
            for speakers in ([""], "narrator.wav"):
                reply = generate(http, "Hallo aus dem Container.", speakers, language="de")
                assert reply.status_code == 200, reply.text
                assert wav_rate_and_frames(reply.content) == (OUTPUT_RATE, 1, TINY_FRAMES)
        engine.stop(timeout=60)
        assert engine.wait(timeout=120)["StatusCode"] == 0, engine.logs().decode()
    finally:
        engine.remove(force=True)
