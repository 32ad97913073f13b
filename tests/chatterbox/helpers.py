"""Starting the chatterbox engine (inside a network namespace with only loopback where the
machine allows it), speaker samples, and reading its replies and its memory."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from support.engine_process import generate, upload, wav_rate_and_frames

from enginekit.audio import encode_wav

__all__ = [
    "CLIENT_TIMEOUT",
    "OUTPUT_RATE",
    "TINY_FRAMES",
    "ChatterboxProcess",
    "generate",
    "network_namespaces",
    "start_engine",
    "upload",
    "voice_wav",
    "wav_rate_and_frames",
]

CLIENT_TIMEOUT = httpx.Timeout(600.0)  # a 2-core machine shared by other tests is slow
OUTPUT_RATE = 24000
TINY_FRAMES = 1920  # the tiny models speak two speech tokens
STOP_TIMEOUT = 30.0
START_TIMEOUT = 180.0
BRIDGE = Path(__file__).with_name("netns_bridge.py")


@dataclass
class ChatterboxProcess:
    client: httpx.Client
    process: subprocess.Popen[str]
    base: Path
    log: Path
    isolated: bool
    transport_kwargs: dict[str, Any]

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def new_client(self) -> httpx.Client:
        return httpx.Client(timeout=CLIENT_TIMEOUT, **self.transport_kwargs)

    def engine_pid(self) -> int:
        if not self.isolated:
            return self.process.pid
        found = re.search(r"^engine pid (\d+)$", self.output(), re.MULTILINE)
        assert found, self.output()
        return int(found[1])

    def memory_mb(self) -> tuple[int, int]:
        """The engine's resident memory now and at its peak (VmRSS, VmHWM), in MB."""
        status = Path(f"/proc/{self.engine_pid()}/status").read_text(encoding="utf-8")
        fields = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.MULTILINE))
        return int(fields["VmRSS"]) // 1024, int(fields["VmHWM"]) // 1024


@cache
def network_namespaces() -> bool:
    """Whether `unshare --net` works here (root, or unprivileged user namespaces)."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = ["unshare", "--net", "--", "ip", "link", "set", "lo", "up"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


@contextmanager
def start_engine(
    python: Path, base: Path, port: int, isolated: bool = False, **env: str
) -> Iterator[ChatterboxProcess]:
    """`<engine venv>/bin/python server.py --port N` from another working directory, its output
    in a log file. `isolated`: in a network namespace with only loopback, reached through a
    Unix socket (netns_bridge.py)."""
    log = base.parent / f"engine-{port}.log"
    environment = {**os.environ, "LOG_LEVEL": "INFO", "ENGINE_DEVICE": "cpu", "ENGINE_HOME": "",
                   "ENGINE_API_TOKEN": "", "ENGINE_API_TOKEN_FILE": "", "PORT": "", "HOST": "",
                   **env}  # fmt: skip
    command = [str(python), str(base / "server.py"), "--port", str(port)]
    transport: dict[str, Any] = {"base_url": f"http://127.0.0.1:{port}"}
    if isolated:
        socket_path = base.parent / f"engine-{port}.sock"
        bridge = [str(python), str(BRIDGE), str(socket_path), str(port), "--"]
        command = ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "-",
                   *bridge, *command]  # fmt: skip
        uds = httpx.HTTPTransport(uds=str(socket_path))  # Host stays loopback: the guard
        transport = {**transport, "transport": uds}
    with log.open("w", encoding="utf-8") as sink:
        process = subprocess.Popen(
            command, cwd=base.parent, env=environment, stdout=sink, stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
    try:
        with httpx.Client(timeout=CLIENT_TIMEOUT, **transport) as client:
            _wait_until_up(client, process, log)
            yield ChatterboxProcess(client, process, base, log, isolated, transport)
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM first: the isolated engine is the bridge's child, and only a bridge that is
    asked (not killed) stops it; SIGKILL left it running after the tests."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait(timeout=30)


def _wait_until_up(client: httpx.Client, process: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"engine exited with {process.returncode}\n{log.read_text()}")
        try:
            if client.get("/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"no /health within {START_TIMEOUT}s\n{log.read_text()}")


def voice_wav(seconds: float = 1.0, frequency: float = 180.0, rate: int = 22050) -> bytes:
    """A voiced-like sample: a tone with harmonics and a little noise (any audio clones). Short:
    S3Gen's cost grows with the reference's length."""
    t = np.arange(round(seconds * rate)) / rate
    rng = np.random.default_rng(int(frequency))
    signal = sum(np.sin(2 * np.pi * frequency * k * t) / k for k in (1, 2, 3))
    return encode_wav(0.3 * signal / 1.8 + 0.01 * rng.standard_normal(len(t)), rate)
