"""The official client pointed at a live engine, and decoding what it returns."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import openai
from numpy.typing import NDArray
from support.engines import Served as Server

from enginekit.audio import decode_audio

SDK_TIMEOUT = 120.0
GATE_TIMEOUT = 30.0  # a safety net for a broken door; never reached when streaming works
FOX = "The quick brown fox jumps over the lazy dog."
LONG_TEXT = " ".join(
    f"Sentence number {n} tells the listener one more small thing about the weather today."
    for n in range(1, 13)
)  # twelve sentences


@dataclass
class Served:
    server: Server
    url: str
    client: openai.OpenAI


def sdk(url: str, api_key: str = "unused") -> openai.OpenAI:
    """No retries: a refusal must surface as the exception the SDK maps it to."""
    return openai.OpenAI(base_url=f"{url}/v1", api_key=api_key, max_retries=0, timeout=SDK_TIMEOUT)


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """A safety net only: the condition is what the test checks."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.01)


def decoded(data: bytes) -> tuple[NDArray[np.float32], int]:
    return decode_audio(data)


def seconds(data: bytes) -> float:
    samples, rate = decode_audio(data)
    return len(samples) / rate


def pcm_samples(data: bytes) -> NDArray[np.float32]:
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32767


def sse_events(body: bytes) -> list[dict[str, Any]]:
    """`data:` payloads of a server-sent event stream, in order."""
    events = []
    for block in body.decode().split("\n\n"):
        data = [line[5:].strip() for line in block.splitlines() if line.startswith("data:")]
        if data:
            events.append(json.loads("\n".join(data)))
    return events


def sse_audio(events: list[dict[str, Any]]) -> bytes:
    return b"".join(
        base64.b64decode(e["audio"]) for e in events if e["type"] == "speech.audio.delta"
    )
