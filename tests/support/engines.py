"""Running the repository's engines in tests: a private copy of the engine directory, an instance
of its server class, a real uvicorn on a free loopback port, or a real subprocess."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from enginekit.doors import create_app
from enginekit.engine import Engine, EngineContext
from enginekit.layout import EngineLayout
from enginekit.runtime import Runtime
from enginekit.settings import ServerSettings, Settings, StoreSettings

REPO = Path(__file__).resolve().parents[2]
TEST_HOSTS = ("testserver", "127.0.0.1", "localhost", "::1")
ENGINES = REPO / "engines"


def engine_module(relative: str) -> ModuleType:
    """Import engines/<relative>/server.py (directories have dashes, so not as a package)."""
    path = ENGINES / relative / "server.py"
    name = "engine_" + relative.replace("/", "_").replace("-", "_")
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def engine_layout(base: Path) -> EngineLayout:
    """An engine directory as a checkout or an image has it: models/ and samples/ exist."""
    layout = EngineLayout.at(base)
    layout.create_directories()
    return layout


def copy_engine(relative: str, destination: Path) -> Path:
    """A private copy of an engine directory, so tests never write into the repository."""
    target = destination / relative.rsplit("/", 1)[-1]
    shutil.copytree(
        ENGINES / relative, target, ignore=shutil.ignore_patterns("__pycache__", ".venv*")
    )
    return target


class Served:
    """An engine's runtime and its app, as run() would assemble them."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.exit_requested = threading.Event()
        self.app: FastAPI = create_app(runtime, self.exit_requested.set)

    @property
    def engine(self) -> Any:
        return self.runtime.engine


def make_server(
    engine_class: Callable[[EngineContext], Engine],
    base: Path,
    store_settings: StoreSettings | None = None,
    server_settings: ServerSettings | None = None,
    manifest_path: Path | None = None,
) -> Served:
    server = server_settings or ServerSettings()
    if not server.allowed_hosts:  # TestClient's Host, beside the loopback names
        server = dataclasses.replace(server, allowed_hosts=TEST_HOSTS)
    settings = Settings(server=server, store=store_settings or StoreSettings())
    return Served(Runtime(engine_class, EngineLayout.at(base), settings, manifest_path))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_app(app: Any, stop: threading.Event | None = None) -> Iterator[str]:
    """Any ASGI app on a real uvicorn in a thread, on a free loopback port; yields the base
    URL. Setting `stop` (or leaving the block) ends the server. The socket is bound here and
    handed to uvicorn, so no other process can take the port in between."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    # asyncio sets it only on sockets it made; without it a keep-alive answer waits ~40 ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    port = int(sock.getsockname()[1])
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    if stop is not None:
        threading.Thread(
            target=lambda: (stop.wait(), setattr(uv, "should_exit", True)), daemon=True
        ).start()
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url)
        yield url
    finally:
        uv.should_exit = True
        thread.join(timeout=60)
        sock.close()


@contextmanager
def live_server(server: Served) -> Iterator[str]:
    """Serve `server` with a real uvicorn in a thread (/shutdown ends it); yields the base URL."""
    with serve_app(server.app, server.exit_requested) as url:
        yield url


def wait_until_up(
    url: str, timeout: float = 60.0, process: subprocess.Popen[Any] | None = None
) -> None:
    """Until /health answers 200 (a process that exits first fails at once); the deadline is
    for a machine busy with other work, not a measure of start-up time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"engine exited with {process.returncode} before answering")
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer /health within {timeout}s")


@contextmanager
def engine_process(
    script: Path, cwd: Path, env: dict[str, str] | None = None, port: int | None = None
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`python <script> --port N` as a real subprocess; yields (url, process)."""
    port = port or free_port()
    environment = {**os.environ, **(env or {})}
    process = subprocess.Popen(
        [sys.executable, str(script), "--port", str(port)],
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process=process)
        yield url, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
