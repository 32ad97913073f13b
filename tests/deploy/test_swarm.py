"""deploy/compose.yaml in a real single-node swarm: two piper replicas on one shared volume load
the same catalog voice at the same moment from a loopback mirror, which sees one transfer per
file; both serve it; a killed replica is restarted by the swarm and loads the voice from the
volume with no transfer and no request; the gateway spreads requests over both replicas, found
by resolving the service name (endpoint_mode dnsrr), passing on the token the engines ask for.
Everything the stack made is removed."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import docker
import httpx
import pytest
import yaml
from support.containers import JOE
from support.engines import REPO, free_port
from support.fileserver import FileServer

from deploy.relay import Relay

pytestmark = pytest.mark.docker

VOICE = "en_US-lessac-medium"
PREFIX = f"rhasspy/piper-voices/resolve/v1.0.0/en/en_US/lessac/medium/{VOICE}"
FILES = {f"/{PREFIX}.onnx": JOE / "en_US-joe-medium.onnx",
         f"/{PREFIX}.onnx.json": JOE / "en_US-joe-medium.onnx.json"}  # fmt: skip
#: Slow enough that the second replica asks while the first is still downloading (about 10 s
#: for the voice, so the replicas' start-ups may be seconds apart on a busy machine).
MIRROR_BYTES_PER_S = 6_000_000
T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 240.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = probe()
        except (httpx.HTTPError, KeyError, ValueError):
            value = None
        if value:
            return value
        time.sleep(1.0)
    raise AssertionError(f"timed out waiting for {what}")


class Stack:
    """A deployed stack and what it is made of, found by Docker's stack labels."""

    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name

    def replicas(self) -> list[Any]:
        label = f"com.docker.swarm.service.name={self.name}_piper"
        return list(
            self.client.containers.list(
                filters={"label": label, "status": "running"}, ignore_removed=True
            )
        )

    def get(self, container: Any, path: str) -> tuple[int, str]:
        """A tokenless GET from inside the replica: its status and body (0 when it could not
        be asked: stopped or removed since it was listed, or not listening yet)."""
        script = ("import urllib.request, urllib.error\ntry:\n"
                  f"    r = urllib.request.urlopen('http://127.0.0.1:8766{path}', timeout=5)\n"
                  "except urllib.error.HTTPError as e:\n    r = e\n"
                  "print(r.status); print(r.read().decode())")  # fmt: skip
        try:
            result = container.exec_run(["python", "-c", script])
        except docker.errors.APIError:
            return 0, ""
        if result.exit_code != 0:
            return 0, ""
        status, _, body = result.output.decode().partition("\n")
        return int(status), body

    def health(self, container: Any) -> dict[str, Any]:
        status, body = self.get(container, "/health")
        return dict(json.loads(body)) if status == 200 else {}

    def serving(self) -> list[Any] | None:
        """The two replicas once both have the voice loaded."""
        running = self.replicas()
        loaded = [c for c in running if self.health(c).get("currentEngineModel") == VOICE]
        return loaded if len(loaded) == 2 else None

    def address(self, container: Any) -> str:
        container.reload()
        return str(container.attrs["NetworkSettings"]["Networks"][f"{self.name}_engines"]
                   ["IPAddress"])  # fmt: skip

    def remove(self) -> None:
        subprocess.run(["docker", "stack", "rm", self.name], check=False, capture_output=True)
        label = f"com.docker.stack.namespace={self.name}"
        wait_for("the stack's containers to go",
                 lambda: not self.client.containers.list(all=True, filters={"label": label},
                                                         ignore_removed=True),
                 timeout=120)  # fmt: skip
        for volume in self.client.volumes.list(filters={"label": label}):
            volume.remove(force=True)
        wait_for(
            "the stack's networks to go",
            lambda: not self.client.networks.list(filters={"label": label}),
            timeout=60,
        )


@pytest.fixture
def mirror(file_server: FileServer, docker_client: Any) -> Iterator[tuple[FileServer, str]]:
    """The voice in the Hub's layout, reachable from overlay containers at the host's docker0
    address (the file server itself listens on loopback only)."""
    for path, source in FILES.items():
        file_server.add(path, source.read_bytes())
        file_server.behaviour(path).bytes_per_second = MIRROR_BYTES_PER_S
    subnet = docker_client.networks.get("bridge").attrs["IPAM"]["Config"][0]["Subnet"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:  # the route's own address
        probe.connect((str(ipaddress.ip_network(subnet)[2]), 9))
        host = probe.getsockname()[0]
    relay = Relay(host, int(file_server.url.rsplit(":", 1)[1]))
    try:
        yield file_server, relay.url
    finally:
        relay.close()


def write_override(path: Path, images: dict[str, str]) -> Path:
    override = {
        "services": {
            "gateway": {"image": images["gateway"]},
            "piper": {
                "image": images["piper"],
                "environment": {"ENGINE_LOAD_MODEL": VOICE},
                "deploy": {"replicas": 2, "restart_policy": {"condition": "any", "delay": "1s"}},
            },
            "whisper": {"deploy": {"replicas": 0}},
        }
    }
    path.write_text(yaml.safe_dump(override))
    return path


def speak(gateway: str, token: str) -> None:
    reply = httpx.post(f"{gateway}/v1/audio/speech", timeout=60,
                       headers={"Authorization": f"Bearer {token}"},
                       json={"model": VOICE, "input": "Hello.", "voice": "alloy",
                             "response_format": "wav"})  # fmt: skip
    assert reply.status_code == 200, reply.text
    assert reply.content[:4] == b"RIFF"


def backends(gateway: str, token: str) -> dict[str, dict[str, Any]]:
    reply = httpx.get(f"{gateway}/engines", headers={"Authorization": f"Bearer {token}"})
    piper = next(e for e in reply.json()["engines"] if e["name"] == "piper")
    return {b["url"]: b for b in piper["backends"]}


def healthy(gateway: str, token: str) -> set[str]:
    return {url for url, b in backends(gateway, token).items() if b["healthy"]}


def spread_over(gateway: str, token: str, addresses: set[str]) -> None:
    """Requests through the gateway reach every replica once it has seen them all (a replica
    slow to answer one health check while it speaks may miss a turn, not all of them)."""
    urls = {f"http://{a}:8766" for a in addresses}
    wait_for("the gateway to see both replicas", lambda: healthy(gateway, token) == urls)
    before = {u: b["requests"] for u, b in backends(gateway, token).items()}
    for _ in range(6):
        speak(gateway, token)
    after = {u: b["requests"] for u, b in backends(gateway, token).items()}
    assert all(after[u] - before[u] >= 1 for u in urls), (before, after)
    assert sum(after[u] - before[u] for u in urls) >= 6, (before, after)


def test_replicas_on_one_volume_fetch_once_restart_without_fetching_and_share_the_load(
    swarm: None, image: Callable[[str], str], docker_client: Any,
    mirror: tuple[FileServer, str], tmp_path: Path,
) -> None:  # fmt: skip
    images = {"gateway": image("gateway"), "piper": image("piper")}
    server, mirror_url = mirror
    token = uuid.uuid4().hex
    (tmp_path / "token").write_text(token)
    port = free_port()
    environment = {**os.environ, "ENGINEKIT_PORT": str(port), "HF_ENDPOINT": mirror_url,
                   "ENGINEKIT_TOKEN_FILE": str(tmp_path / "token")}  # fmt: skip
    stack = Stack(docker_client, f"ektest{uuid.uuid4().hex[:8]}")
    gateway = f"http://127.0.0.1:{port}"
    try:
        subprocess.run(
            ["docker", "stack", "deploy", "--resolve-image", "never",
             "-c", str(REPO / "deploy/compose.yaml"),
             "-c", str(write_override(tmp_path / "override.yaml", images)), stack.name],
            check=True, capture_output=True, env=environment,
        )  # fmt: skip

        first = wait_for("both replicas to serve the voice", stack.serving)
        for path, source in FILES.items():  # one transfer per file, for two replicas
            assert [r.status for r in server.requests(path)] == [200], path
            assert server.body_bytes_sent(path) == source.stat().st_size
        logs = "".join(c.logs().decode(errors="replace") for c in first)
        assert f"Another process is downloading {VOICE}" in logs  # they did ask at once

        assert all(stack.get(c, "/info")[0] == 401 for c in first)  # the engines ask too
        wait_for("the gateway", lambda: httpx.get(f"{gateway}/health").status_code == 200)
        spread_over(gateway, token, {stack.address(c) for c in first})

        killed = first[0]
        killed.kill()
        again = wait_for("the swarm to replace the killed replica",
                         lambda: (s := stack.serving()) and killed.id not in {c.id for c in s}
                         and s)  # fmt: skip
        assert len(server.requests()) == len(FILES)  # found on the volume: nothing fetched
        spread_over(gateway, token, {stack.address(c) for c in again})
    finally:
        stack.remove()
