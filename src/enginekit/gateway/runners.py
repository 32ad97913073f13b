"""How the gateway starts and stops one engine: a subprocess in the engine's environment, a
container of its image, or nothing at all for an engine that already runs somewhere (remote).

Either local runner gives the engine the same model directory (`<data_dir>/<engine>`) as its
external_models/, so what one runner downloaded the other finds.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any, Protocol

from ..checkout import EngineDir

__all__ = ["LOG_LINES", "DockerRunner", "Runner", "SubprocessRunner", "engine_environment"]

logger = logging.getLogger(__name__)

LOG_LINES = 500
STOP_GRACE_S = 15.0
#: Variables a started engine must not inherit: it listens on loopback only, the gateway is the
#: one that checks tokens, and its directories come from the gateway.
_NOT_INHERITED = (
    "ENGINE_API_TOKEN",
    "ENGINE_API_TOKEN_FILE",
    "ENGINE_HOME",
    "ENGINE_EXTERNAL_MODELS",
    "PORT",
    "HOST",
)


class Runner(Protocol):
    """One way of running an engine process."""

    kind: str

    def start(self, port: int) -> None: ...

    def alive(self) -> bool: ...

    def stop(self) -> None: ...

    def identity(self) -> dict[str, Any]: ...

    def logs(self) -> list[str]: ...


def engine_environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
    return {**env, "ENGINE_EXTERNAL_MODELS": str(data_dir), "PYTHONUNBUFFERED": "1"}


class _LogTail:
    """The last lines an engine printed, filled by a reader thread."""

    def __init__(self) -> None:
        self._lines: collections.deque[str] = collections.deque(maxlen=LOG_LINES)

    def follow(self, stream: IO[str] | Iterable[str]) -> None:
        def read() -> None:
            for line in stream:
                self._lines.append(line.rstrip("\n"))

        threading.Thread(target=read, daemon=True).start()

    def add(self, line: str) -> None:
        self._lines.append(line)

    def lines(self) -> list[str]:
        return list(self._lines)


def _die_with_parent() -> Callable[[], None] | None:
    """Linux: what makes the engine get SIGTERM when the gateway dies, even by SIGKILL (no
    orphans). libc is loaded here, before the fork: the child only calls prctl, where loading
    a library could wait forever on a loader lock another thread held at the fork."""
    if sys.platform != "linux":
        return None
    try:
        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class SubprocessRunner:
    """`python server.py --port P --host 127.0.0.1` in the engine's own environment when it has
    one (`<engine>/.venv`), else in the gateway's interpreter."""

    kind = "subprocess"

    def __init__(self, engine: EngineDir, data_dir: Path) -> None:
        self.engine = engine
        self.data_dir = data_dir
        self._process: subprocess.Popen[str] | None = None
        self._tail = _LogTail()

    def python(self) -> str:
        venv = self.engine.venv_python
        return str(venv) if venv.exists() else sys.executable

    def start(self, port: int) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [self.python(), str(self.engine.server), "--port", str(port),
                   "--host", "127.0.0.1"]  # fmt: skip
        self._tail.add(f"[gateway] {' '.join(command)}")
        self._process = subprocess.Popen(
            command,
            cwd=self.engine.path,
            env=engine_environment(self.data_dir),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            # One prctl call in the child; no lock is taken between fork and exec.
            preexec_fn=_die_with_parent(),  # noqa: PLW1509
        )
        assert self._process.stdout is not None
        self._tail.follow(self._process.stdout)

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop in %.0f s; killing it", self.engine.name, STOP_GRACE_S)
            process.kill()
            process.wait()

    def identity(self) -> dict[str, Any]:
        return {"pid": self._process.pid if self.alive() and self._process else None}

    def logs(self) -> list[str]:
        return self._tail.lines()


class DockerRunner:
    """A container of the engine's image on the host network, listening on loopback only,
    `<data_dir>/<engine>` mounted at /app/external_models, a GPU requested when wanted and
    available."""

    kind = "docker"

    def __init__(self, engine: EngineDir, data_dir: Path, image: str, gpu: str) -> None:
        self.engine = engine
        self.data_dir = data_dir
        self.image = image
        self.gpu = gpu
        self._container: Any = None
        self._tail = _LogTail()

    def _client(self) -> Any:
        import docker  # noqa: PLC0415 - the check extra; only the docker runner needs it

        return docker.from_env()

    def wants_gpu(self, client: Any) -> bool:
        if self.gpu == "no":
            return False
        if self.gpu == "yes":
            return True
        needs = self.engine.manifest.requires_gpu
        runtimes = client.info().get("Runtimes", {})
        return bool(needs and "nvidia" in runtimes)

    def launch(self, port: int, host: str = "127.0.0.1", env: dict[str, str] | None = None) -> Any:
        """The container, detached: the image's entrypoint links the mounted models, then the
        server binds `host` on the host network."""
        import docker  # noqa: PLC0415 - the check extra; only the docker runner needs it

        client = self._client()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        requests = (
            [docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])]
            if self.wants_gpu(client)
            else []
        )
        return client.containers.run(
            self.image,
            command=["sh", "-c", f"exec python server.py --port $PORT --host {host}"],
            detach=True,
            network_mode="host",
            # The host's user with group 0, so files it writes in the data dir are the user's.
            user=f"{os.getuid()}:0",
            environment={"PORT": str(port), **(env or {})},
            volumes={str(self.data_dir): {"bind": "/app/external_models", "mode": "rw"}},
            device_requests=requests,
            labels={"enginekit.engine": self.engine.name},
        )

    def start(self, port: int) -> None:
        self._tail.add(f"[gateway] docker run {self.image} (port {port})")
        self._container = self.launch(port)
        chunks = self._container.logs(stream=True, follow=True)
        self._tail.follow(
            line for chunk in chunks for line in chunk.decode("utf-8", "replace").splitlines()
        )

    def alive(self) -> bool:
        if self._container is None:
            return False
        try:
            self._container.reload()
        except Exception:  # removed behind our back
            return False
        return bool(self._container.status in ("created", "running"))

    def stop(self) -> None:
        container, self._container = self._container, None
        if container is None:
            return
        with contextlib.suppress(Exception):
            container.stop(timeout=int(STOP_GRACE_S))
        with contextlib.suppress(Exception):
            container.remove(force=True)

    def identity(self) -> dict[str, Any]:
        return {"container": self._container.short_id if self._container else None}

    def logs(self) -> list[str]:
        return self._tail.lines()
