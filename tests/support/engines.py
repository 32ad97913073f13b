"""Running the repository's engines in tests: a private copy of the engine directory, an instance
of its server class, a real uvicorn on a free loopback port, or a real subprocess."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import uvicorn

from enginekit.layout import EngineLayout
from enginekit.server import BaseEngineServer
from enginekit.settings import ServerSettings, StoreSettings

REPO = Path(__file__).resolve().parents[2]
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


def copy_engine(relative: str, destination: Path) -> Path:
    """A private copy of an engine directory, so tests never write into the repository."""
    target = destination / relative.rsplit("/", 1)[-1]
    shutil.copytree(ENGINES / relative, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def make_server(
    server_class: type[BaseEngineServer],
    base: Path,
    store_settings: StoreSettings | None = None,
    server_settings: ServerSettings | None = None,
    **kwargs: Any,
) -> BaseEngineServer:
    return server_class(
        layout=EngineLayout.at(base),
        store_settings=store_settings or StoreSettings(),
        server_settings=server_settings or ServerSettings(),
        **kwargs,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_server(server: BaseEngineServer) -> Iterator[str]:
    """Serve `server` with a real uvicorn in a thread; yields the base URL."""
    port = free_port()
    config = uvicorn.Config(server.app, host="127.0.0.1", port=port, log_level="error")
    uv = uvicorn.Server(config)
    server.request_exit = lambda: setattr(uv, "should_exit", True)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url)
    try:
        yield url
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


def wait_until_up(
    url: str, timeout: float = 20.0, process: subprocess.Popen[Any] | None = None
) -> None:
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
