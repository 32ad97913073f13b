"""Engines with environments of their own (`enginekit engines install NAME`), run as real
subprocesses on that interpreter: finding it (a skip, or a failure under ENGINEKIT_REQUIRE_<NAME>=1
as CI sets), starting the server from another working directory, the contract's requests they
are tested with (sample upload, /generate), watching /health during a long request, and a
voice-like sample."""

from __future__ import annotations

import io
import os
import subprocess
import threading
import time
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from enginekit.audio import encode_wav
from enginekit.environments import environment_of

from .engines import wait_until_up

CLIENT_TIMEOUT = httpx.Timeout(180.0)
START_TIMEOUT = 120.0  # torch and the engine's library import in seconds; a busy machine is slower


def engine_python(name: str) -> Path:
    """The engine's interpreter, or a skip naming the command that installs it."""
    status = environment_of(name).status()
    if status != "installed":
        reason = f"the {name} environment is {status}: run `enginekit engines install {name}`"
        flag = f"ENGINEKIT_REQUIRE_{name.upper().replace('-', '_')}"
        if os.environ.get(flag) == "1":
            pytest.fail(f"{flag}=1 but {reason}")
        pytest.skip(reason)
    return environment_of(name).python


@dataclass
class EngineProcess:
    url: str
    client: httpx.Client
    process: subprocess.Popen[str]
    base: Path
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextmanager
def start_engine(python: Path, base: Path, port: int, **env: str) -> Iterator[EngineProcess]:
    """`<engine venv>/bin/python server.py --port N` from the directory above `base`; its output
    goes to a log file the tests read. Killed on exit if still running."""
    log = base.parent / f"engine-{port}.log"
    environment = {**os.environ, "LOG_LEVEL": "INFO", "ENGINE_DEVICE": "cpu", "ENGINE_HOME": "",
                   "ENGINE_API_TOKEN": "", "ENGINE_API_TOKEN_FILE": "", "PORT": "", "HOST": "",
                   **env}  # fmt: skip
    with log.open("w", encoding="utf-8") as sink:
        process = subprocess.Popen(
            [str(python), str(base / "server.py"), "--port", str(port)],
            cwd=base.parent, env=environment, stdout=sink, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until_up(url, timeout=START_TIMEOUT, process=process)
        except (RuntimeError, TimeoutError) as exc:
            raise AssertionError(f"{exc}\n{log.read_text(encoding='utf-8')}") from exc
        with httpx.Client(base_url=url, timeout=CLIENT_TIMEOUT) as client:
            yield EngineProcess(url, client, process, base, log)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def upload(client: httpx.Client, sample_id: str, data: bytes) -> None:
    reply = client.post(f"/samples/upload/{sample_id}", content=data)
    assert reply.status_code == 200, reply.text


def generate(
    client: httpx.Client, text: str, speakers: str | list[str], language: str = "en", **p: Any
) -> httpx.Response:
    body = {"text": text, "language": language, "ttsSpeakerWav": speakers, "parameters": p}
    return client.post("/generate", json=body)


def wav_rate_and_frames(data: bytes) -> tuple[int, int, int]:
    with wave.open(io.BytesIO(data), "rb") as audio:
        return audio.getframerate(), audio.getnchannels(), audio.getnframes()


def health_during(
    poller: httpx.Client, request: Callable[[], httpx.Response]
) -> tuple[httpx.Response, set[str]]:
    """`request` in a thread while `poller` asks /health: its reply, and the statuses /health
    reported meanwhile. "processing" among them means /health answered while the job ran (one
    that waited for the job would only ever say what came after it)."""
    replies: list[httpx.Response] = []
    worker = threading.Thread(target=lambda: replies.append(request()))
    worker.start()
    seen: set[str] = set()
    while worker.is_alive():
        seen.add(poller.get("/health", timeout=60).json()["status"])
        time.sleep(0.05)
    worker.join()
    return replies[0], seen


def voice_wav(seconds: float = 2.0, frequency: float = 180.0, rate: int = 22050) -> bytes:
    """A voiced-like sample: a tone with harmonics and a little noise (any audio clones)."""
    t = np.arange(round(seconds * rate)) / rate
    rng = np.random.default_rng(int(frequency))
    signal = sum(np.sin(2 * np.pi * frequency * k * t) / k for k in (1, 2, 3))
    return encode_wav(0.3 * signal / 1.8 + 0.01 * rng.standard_normal(len(t)), rate)
