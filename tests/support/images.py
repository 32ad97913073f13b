"""Engine images in tests: the Docker client (a skip, or a failure under
ENGINEKIT_REQUIRE_DOCKER=1, when Docker or the local base image is missing), building a torch
engine's image, and waiting for the baked-in model an image loads at start."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from .engines import REPO
from .wheels import TORCH, find_links

__all__ = ["BASE_IMAGE", "docker_client", "torch_engine_image", "wait_for_model"]

logger = logging.getLogger(__name__)

BASE_IMAGE = os.environ.get("ENGINEKIT_BASE_IMAGE", "enginekit/base:py3.11")


def _unavailable(reason: str) -> None:
    if os.environ.get("ENGINEKIT_REQUIRE_DOCKER") == "1":
        pytest.fail(f"ENGINEKIT_REQUIRE_DOCKER=1 but {reason}")
    pytest.skip(reason)


def docker_client() -> Any:
    docker = pytest.importorskip("docker")
    try:
        client = docker.from_env()
        client.ping()
        client.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        _unavailable(f"{BASE_IMAGE} is missing: run tools/build-base-image.sh")
    except Exception as exc:
        _unavailable(f"no Docker daemon: {exc}")
    return client


@contextmanager
def torch_engine_image(
    client: Any, engine: str, tag: str, scratch: Path, **buildargs: str
) -> Iterator[str]:
    """engines/tts/ENGINE's image as `tag`, on the local base image, against the CPU torch
    wheel served from a loopback find-links server in `scratch`; removed on exit."""
    started = time.monotonic()
    with find_links(scratch, TORCH) as links:
        client.images.build(
            path=str(REPO),
            dockerfile=f"engines/tts/{engine}/Dockerfile",
            tag=tag,
            buildargs={"BASE_IMAGE": BASE_IMAGE, "PIP_FIND_LINKS": links, **buildargs},
            network_mode="host",
            rm=True,
            forcerm=True,
        )
    size = client.images.get(tag).attrs["Size"]
    logger.warning("%s is %.0f MB, built in %.0f s", tag, size / 1e6, time.monotonic() - started)
    try:
        yield tag
    finally:
        client.images.remove(tag, force=True)


def wait_for_model(http: httpx.Client, timeout: float = 180) -> str | None:
    """The model /health reports once one is loaded (or loading failed), else None."""
    deadline = time.monotonic() + timeout
    health: dict[str, Any] = {}
    while time.monotonic() < deadline:
        health = http.get("/health").json()
        if health["engineModelLoaded"] or health["status"] == "error":
            break
        time.sleep(0.5)
    return health.get("currentEngineModel")
