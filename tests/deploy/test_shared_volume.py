"""Plain Docker: two containers on one named volume pull the same catalog model at the same
moment (`enginekit models pull NAME`, the pre-pull Job's command) and the mirror sees one
transfer per file; both report the model ready and verified."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from support.fileserver import FileServer

from deploy.test_swarm import FILES, MIRROR_BYTES_PER_S, VOICE

pytestmark = pytest.mark.docker


@pytest.fixture
def volume(docker_client: Any) -> Iterator[str]:
    created = docker_client.volumes.create()
    yield str(created.name)
    created.remove(force=True)


def test_two_containers_pulling_one_model_at_once_transfer_it_once(
    image: Any, docker_client: Any, file_server: FileServer, volume: str
) -> None:
    for path, source in FILES.items():
        file_server.add(path, source.read_bytes())
        file_server.behaviour(path).bytes_per_second = MIRROR_BYTES_PER_S
    environment = {"HF_ENDPOINT": file_server.url, "LOG_LEVEL": "WARNING"}
    mounts = {volume: {"bind": "/app/external_models", "mode": "rw"}}
    command = ["enginekit", "models", "pull", VOICE, "--json"]
    containers = [
        docker_client.containers.run(
            image("piper"),
            command,
            detach=True,
            network_mode="host",
            environment=environment,
            volumes=mounts,
        )
        for _ in range(2)
    ]
    try:
        codes = [c.wait(timeout=240)["StatusCode"] for c in containers]
        outputs = [c.logs(stdout=True, stderr=False).decode() for c in containers]
        assert codes == [0, 0], [c.logs().decode() for c in containers]
    finally:
        for container in containers:
            container.remove(force=True)

    for path, source in FILES.items():
        assert [r.status for r in file_server.requests(path)] == [200], path
        assert file_server.body_bytes_sent(path) == source.stat().st_size
    reports = [json.loads(out) for out in outputs]
    assert sorted(r["downloaded"] for r in reports) == [False, True]
    assert all(f["status"] == "ok" for r in reports for f in r["files"])
