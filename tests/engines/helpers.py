"""Audio, file and request helpers shared by the real-engine tests."""

from __future__ import annotations

import base64
import io
import os
import shutil
import wave
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from support.engines import ENGINES, Served

from enginekit.audio import encode_wav

PIPER_VOICE = "en_US-joe-medium"
WHISPER_MODEL = "tiny.en"
LOADING = "Model loading in progress. Retry after loading completes."
FOX = "The quick brown fox jumps over the lazy dog."


@dataclass
class LiveEngine:
    """An engine served by a real uvicorn, its model loaded once per session."""

    server: Served
    url: str
    client: httpx.Client
    load_reply: dict[str, Any]


@dataclass(frozen=True)
class WavInfo:
    channels: int
    sample_width: int
    rate: int
    frames: int

    @property
    def seconds(self) -> float:
        return self.frames / self.rate


def copy_engine_code(relative: str, destination: Path) -> Path:
    """A private copy of an engine without its run-time directories (models, samples): the
    tests place models themselves, by linking, so nothing large is copied."""
    target = destination / relative.rsplit("/", 1)[-1]
    ignore = shutil.ignore_patterns("__pycache__", "models", "external_models", "samples", ".venv*")
    shutil.copytree(ENGINES / relative, target, ignore=ignore)
    return target


def link_files(files: Iterable[Path], directory: Path) -> Path:
    """Hard links (symlinks across filesystems) of model files into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    for source in files:
        try:
            os.link(source, directory / source.name)
        except OSError:
            (directory / source.name).symlink_to(source)
    return directory


def wav_info(data: bytes) -> WavInfo:
    with wave.open(io.BytesIO(data), "rb") as audio:
        return WavInfo(
            audio.getnchannels(), audio.getsampwidth(), audio.getframerate(), audio.getnframes()
        )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def silence(seconds: float, rate: int = 16000) -> bytes:
    return encode_wav(np.zeros(round(seconds * rate), dtype=np.int16), rate)


def tone(seconds: float, frequency: float = 440.0, rate: int = 16000) -> bytes:
    t = np.arange(round(seconds * rate)) / rate
    return encode_wav(0.5 * np.sin(2 * np.pi * frequency * t), rate)


def white_noise(seconds: float, rate: int = 16000) -> bytes:
    rng = np.random.default_rng(1234)
    return encode_wav(rng.uniform(-0.5, 0.5, round(seconds * rate)), rate)


def field_values(analysis: dict[str, Any]) -> dict[str, Any]:
    """The /analyze `details.fields` as {key: value}."""
    return {f["key"]: f["value"] for f in analysis["details"]["fields"]}


def generate_body(text: str, language: str = "en", **parameters: Any) -> dict[str, Any]:
    return {"text": text, "language": language, "ttsSpeakerWav": "", "parameters": parameters}
