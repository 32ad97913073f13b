"""debug-tts as a real subprocess, `python server.py --wyoming tcp://127.0.0.1:PORT`: both doors
on one runtime, and SIGTERM or /shutdown closing both with exit code 0."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from support.engines import copy_engine, free_port, wait_until_up
from wyoming.client import AsyncClient
from wyoming.info import Describe
from wyoming.tts import Synthesize
from wyoming_helpers import READ_TIMEOUT_S, talk, types

ENV = {"ENGINE_HOME": "", "ENGINE_API_TOKEN": "", "ENGINE_API_TOKEN_FILE": "", "PORT": "",
       "HOST": "", "LOG_LEVEL": "INFO"}  # fmt: skip


@contextmanager
def spawn(engine: Path, *args: str, **env: str) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, str(engine / "server.py"), *args],
        cwd=engine,
        env={**os.environ, **ENV, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    returncode = process.wait(timeout=30)
    assert process.stdout is not None
    return returncode, process.stdout.read()


def refuses(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def engine(tmp_path: Path) -> Path:
    return copy_engine("tts/debug-tts", tmp_path)


async def idle_client_is_closed(uri: str, stop: asyncio.Future[None]) -> bool:
    """Connect, let the test stop the engine, and see the server close this connection."""
    async with AsyncClient.from_uri(uri, read_timeout=READ_TIMEOUT_S) as client:
        await client.write_event(Describe().event())
        assert (await client.read_event()) is not None
        stop.set_result(None)
        return await client.read_event() is None


@pytest.mark.parametrize("how", ["SIGTERM", "shutdown"])
def test_both_doors_serve_one_runtime_and_stop_together_with_exit_code_0(
    engine: Path, how: str
) -> None:
    http_port, wyoming_port = free_port(), free_port()
    uri = f"tcp://127.0.0.1:{wyoming_port}"
    with spawn(engine, "--port", str(http_port), "--wyoming", uri) as process:
        url = f"http://127.0.0.1:{http_port}"
        wait_until_up(url, process=process)
        assert types(talk(uri, [Synthesize("Hello there.")]))[-1] == "audio-stop"
        assert httpx.get(f"{url}/health", timeout=10).json()["currentEngineModel"] == "default"

        async def stop_while_connected() -> bool:
            stopped: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            closed = asyncio.create_task(idle_client_is_closed(uri, stopped))
            await stopped
            if how == "SIGTERM":
                process.send_signal(signal.SIGTERM)
            else:
                await asyncio.to_thread(httpx.post, f"{url}/shutdown", timeout=10)
            return await closed

        assert asyncio.run(stop_while_connected())
        returncode, output = finish(process)
    assert returncode == 0, output
    assert "Traceback" not in output, output
    assert f"listening on {uri} (Wyoming)" in output
    assert refuses(wyoming_port) and refuses(http_port)


def test_engine_wyoming_uri_in_the_environment_starts_the_listener(engine: Path) -> None:
    http_port, wyoming_port = free_port(), free_port()
    uri = f"tcp://127.0.0.1:{wyoming_port}"
    with spawn(engine, "--port", str(http_port), ENGINE_WYOMING_URI=uri) as process:
        wait_until_up(f"http://127.0.0.1:{http_port}", process=process)
        assert types(talk(uri, [Describe()])) == ["info"]
        process.send_signal(signal.SIGTERM)
        assert finish(process)[0] == 0


@pytest.mark.parametrize("uri", ["tcp://127.0.0.1", "stdio://", "http://127.0.0.1:10200"])
def test_an_unusable_wyoming_uri_exits_2_with_one_line(engine: Path, uri: str) -> None:
    with spawn(engine, "--port", str(free_port()), "--wyoming", uri) as process:
        returncode, output = finish(process)
    assert returncode == 2
    assert output.strip() == (
        f"error: Invalid --wyoming {uri!r}: expected tcp://HOST:PORT or unix://PATH"
    )


def test_a_wyoming_port_in_use_stops_the_engine_with_a_nonzero_exit(engine: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        uri = f"tcp://127.0.0.1:{port}"
        with spawn(engine, "--port", str(free_port()), "--wyoming", uri) as process:
            returncode, output = finish(process)
    assert returncode != 0  # uvicorn's code for a failed start-up
    assert f"Cannot listen for Wyoming on {uri}" in output
