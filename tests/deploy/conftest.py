"""Real Docker for the deployment tests: images built from the repository as tests/docker builds
them (the same tags and build cache, removed when the session ends), a single-node swarm made
and left by the test that needs it, and the orchestrator tools (kubectl, the docker CLI)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from support.engines import REPO

docker = pytest.importorskip("docker")

BASE_IMAGE = os.environ.get("ENGINEKIT_BASE_IMAGE", "enginekit/base:py3.11")
DOCKERFILES = {
    "gateway": "deploy/gateway.Dockerfile",
    "piper": "engines/tts/piper/Dockerfile",
}


def unavailable(reason: str, required_by: str = "ENGINEKIT_REQUIRE_DOCKER") -> None:
    if os.environ.get(required_by) == "1":
        pytest.fail(f"{required_by}=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        unavailable("no kubectl (Debian: kubernetes-client)", "ENGINEKIT_REQUIRE_KUBECTL")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def docker_cli() -> str:
    path = shutil.which("docker")
    if path is None:
        unavailable("the docker CLI is not installed")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def docker_client() -> Any:
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:
        unavailable(f"no Docker daemon: {exc}")
    return client


@pytest.fixture(scope="session")
def image(docker_client: Any) -> Iterator[Callable[[str], str]]:
    """Build (once) and return the tag of `gateway` or an engine's image, FROM the local base
    image that tools/build-base-image.sh makes; removed when the session ends."""
    try:
        docker_client.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        unavailable(f"{BASE_IMAGE} is missing (tools/build-base-image.sh builds it)")
    built: dict[str, str] = {}

    def build(name: str) -> str:
        if name not in built:
            tag = f"enginekit/{name}:test"
            docker_client.images.build(
                path=str(REPO), dockerfile=DOCKERFILES[name], tag=tag, rm=True, forcerm=True,
                buildargs={"BASE_IMAGE": BASE_IMAGE}, network_mode="host",
            )  # fmt: skip
            built[name] = tag
        return built[name]

    yield build
    for tag in built.values():
        with contextlib.suppress(docker.errors.APIError):
            docker_client.images.remove(tag, force=True)


@pytest.fixture
def swarm(docker_client: Any) -> Iterator[None]:
    """A single-node swarm on loopback for one test; left again (with the network Docker made
    for it) afterwards, even when the test fails. A swarm that was already there is used and
    kept."""
    if docker_client.info()["Swarm"]["LocalNodeState"] == "active":
        yield
        return
    had_bridge = bool(docker_client.networks.list(names=["docker_gwbridge"]))
    subprocess.run(
        ["docker", "swarm", "init", "--advertise-addr", "127.0.0.1",
         "--listen-addr", "127.0.0.1:2377"],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        yield
    finally:
        subprocess.run(["docker", "swarm", "leave", "--force"], check=False, capture_output=True)
        if not had_bridge:
            for network in docker_client.networks.list(names=["docker_gwbridge"]):
                with contextlib.suppress(docker.errors.APIError):
                    network.remove()
