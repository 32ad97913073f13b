"""Talking to an engine's Wyoming listener with the wyoming package's own client, the engine
served as run() serves it: one runtime behind HTTP (a real uvicorn) and Wyoming (a real TCP
listener in uvicorn's event loop)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from support.engines import Served, free_port, live_server, make_server
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncClient
from wyoming.event import Event, Eventable, async_read_event

from enginekit.engine import Engine, EngineContext
from enginekit.settings import ServerSettings

# A hang fails the test instead of stalling the suite; it is no statement about speed.
READ_TIMEOUT_S = 120.0
ANSWERS = frozenset(
    {"audio-stop", "transcript-stop", "info", "error", "synthesize-stopped", "pong"}
)


@dataclass
class WyomingEngine:
    served: Served
    url: str
    uri: str
    port: int

    def health(self) -> dict[str, Any]:
        reply = httpx.get(f"{self.url}/health", timeout=10)
        assert reply.status_code == 200, reply.text
        return reply.json()  # type: ignore[no-any-return]


@contextmanager
def wyoming_engine(
    engine_class: Callable[[EngineContext], Engine], base: Path, **server: Any
) -> Iterator[WyomingEngine]:
    port = free_port()
    uri = f"tcp://127.0.0.1:{port}"
    served = make_server(
        engine_class, base, server_settings=ServerSettings(wyoming_uri=uri, **server)
    )
    with live_server(served) as url:
        yield WyomingEngine(served, url, uri, port)


def event_of(item: Event | Eventable) -> Event:
    return item if isinstance(item, Event) else item.event()


async def read_until(client: AsyncClient, until: Iterable[str] = ANSWERS) -> list[Event]:
    """Events up to and including the first of a type in `until` (or until the server closes)."""
    stop, received = set(until), []
    while (event := await client.read_event()) is not None:
        received.append(event)
        if event.type in stop:
            break
    return received


async def exchange(
    uri: str, items: Iterable[Event | Eventable], until: Iterable[str] = ANSWERS
) -> list[Event]:
    async with AsyncClient.from_uri(uri, read_timeout=READ_TIMEOUT_S) as client:
        for item in items:
            await client.write_event(event_of(item))
        return await read_until(client, until)


def talk(
    uri: str, items: Iterable[Event | Eventable], until: Iterable[str] = ANSWERS
) -> list[Event]:
    """One connection: send `items`, return what came back up to the first of `until`."""
    return asyncio.run(exchange(uri, list(items), until))


async def raw_exchange(port: int, data: bytes) -> list[Event]:
    """Bytes straight onto the socket (for what the client would never send); every event
    the server sends until it closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    received = []
    while (event := await asyncio.wait_for(async_read_event(reader), READ_TIMEOUT_S)) is not None:
        received.append(event)
    writer.close()
    return received


def types(events: Iterable[Event]) -> list[str]:
    return [e.type for e in events]


def pcm_of(events: Iterable[Event]) -> bytes:
    return b"".join(e.payload or b"" for e in events if e.type == "audio-chunk")


def audio_runs(events: Iterable[Event]) -> list[tuple[AudioStart, bytes]]:
    """Each audio-start ... audio-stop run: its format and its PCM."""
    runs: list[tuple[AudioStart, bytes]] = []
    for event in events:
        if AudioStart.is_type(event.type):
            runs.append((AudioStart.from_event(event), b""))
        elif AudioChunk.is_type(event.type):
            start, pcm = runs[-1]
            runs[-1] = (start, pcm + (event.payload or b""))
    return runs


def stream(
    samples: np.ndarray, rate: int, width: int = 2, channels: int = 1, per_chunk: int = 1024
) -> list[Eventable]:
    """Mono float samples as an audio-start, chunks and audio-stop in the given format (every
    channel the same signal)."""
    pcm = encode_pcm(samples, width, channels)
    step = per_chunk * width * channels
    chunks = [
        AudioChunk(rate, width, channels, pcm[i : i + step]) for i in range(0, len(pcm), step)
    ]
    return [AudioStart(rate, width, channels), *chunks, AudioStop()]


def encode_pcm(samples: np.ndarray, width: int, channels: int) -> bytes:
    """-1..1 floats as little-endian PCM: 8-bit unsigned, 16/24/32-bit signed, interleaved."""
    scale = 2.0 ** (8 * width - 1)
    ints = np.clip(np.round(samples * scale), -scale, scale - 1).astype(np.int64)
    frames = np.repeat(ints, channels)
    if width == 1:
        return (frames + 128).astype(np.uint8).tobytes()
    if width == 3:
        raw = frames.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3]
        return raw.tobytes()
    return frames.astype(f"<i{width}").tobytes()


def tone(seconds: float, rate: int, frequency: float = 440.0, level: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def pcm16_samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, "<i2").astype(np.float32) / 32768.0
