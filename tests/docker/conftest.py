"""Real Docker for the standard's scenarios: images built once per session from the repository
root, containers on the host network (so everything, the test file server included, is reached on
loopback), always removed afterwards."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from support.containers import Engine, wait_for_health
from support.engines import REPO, free_port

docker = pytest.importorskip("docker")

BASE_IMAGE = os.environ.get("ENGINEKIT_BASE_IMAGE", "enginekit/base:py3.11")
ENGINES = {
    "debug-tts": "engines/tts/debug-tts",
    "debug-stt": "engines/stt/debug-stt",
    "piper": "engines/tts/piper",
    "whisper": "engines/stt/whisper",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/docker/" in str(item.fspath):
            item.add_marker(pytest.mark.docker)


def _unavailable(reason: str) -> None:
    if os.environ.get("ENGINEKIT_REQUIRE_DOCKER") == "1":
        pytest.fail(f"ENGINEKIT_REQUIRE_DOCKER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_client() -> Any:
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:
        _unavailable(f"no Docker daemon: {exc}")
    return client


@pytest.fixture(scope="session")
def base_image(docker_client: Any) -> str:
    """The local python:3.11-slim equivalent, built from Debian packages when missing."""
    try:
        docker_client.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        if os.geteuid() != 0 or shutil.which("debootstrap") is None:
            _unavailable(
                f"{BASE_IMAGE} is missing and cannot be built (needs root and debootstrap)"
            )
        subprocess.run(["bash", str(REPO / "tools/build-base-image.sh"), BASE_IMAGE], check=True)
    return BASE_IMAGE


@pytest.fixture(scope="session")
def engine_image(docker_client: Any, base_image: str) -> Iterator[Callable[[str], str]]:
    """Build (once) and return the tag of an engine's image; the images are removed when the
    session ends (their layers stay in Docker's build cache, so the next build is quick)."""
    built: dict[str, str] = {}

    def build(name: str) -> str:
        if name not in built:
            tag = f"enginekit/{name}:test"
            docker_client.images.build(
                path=str(REPO),
                dockerfile=f"{ENGINES[name]}/Dockerfile",
                tag=tag,
                buildargs={"BASE_IMAGE": base_image},
                network_mode="host",
                rm=True,
                forcerm=True,
            )
            built[name] = tag
        return built[name]

    yield build
    for tag in built.values():
        with contextlib.suppress(docker.errors.APIError):
            docker_client.images.remove(tag, force=True)


@pytest.fixture
def run_engine(docker_client: Any, volume: Any) -> Iterator[Callable[..., Any]]:
    """Start containers (host network, a free PORT); all are removed at the end of the test."""
    started: list[Any] = []

    @contextmanager
    def run(
        image: str,
        *,
        environment: dict[str, str] | None = None,
        volumes: dict[str, dict[str, str]] | None = None,
        wait: bool = True,
    ) -> Iterator[Engine]:
        port = free_port()
        container = docker_client.containers.run(
            image,
            detach=True,
            network_mode="host",
            environment={"PORT": str(port), **(environment or {})},
            volumes=volumes or {},
        )
        started.append(container)
        engine = Engine(container, f"http://127.0.0.1:{port}")
        if wait:
            wait_for_health(container, engine.url)
        yield engine

    yield run
    for container in started:
        container.remove(force=True)


@pytest.fixture
def volume(docker_client: Any) -> Iterator[Callable[[], str]]:
    """Fresh named volumes, removed after the containers of the test (run_engine needs it)."""
    created: list[Any] = []

    def make() -> str:
        vol = docker_client.volumes.create()
        created.append(vol)
        return str(vol.name)

    yield make
    for vol in created:
        vol.remove(force=True)
