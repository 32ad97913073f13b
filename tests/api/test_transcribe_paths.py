"""POST /transcribe reads `audioPath` only inside samples/: the framework's own rule, proven with
a small STT engine of this file (no faster-whisper), through the real app and status machine."""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from support.engines import make_server

from enginekit.engine import STTEngine, Transcript, TranscriptionRequest


class SampleCountSTT(STTEngine):
    """Hears how many samples it got, which tells which file the runtime read."""

    input_sample_rate = None

    def load(self, name: str) -> None:
        assert (self.models_dir / name).is_dir()

    def transcribe(self, request: TranscriptionRequest) -> Transcript:
        return Transcript(text=f"{len(request.audio)} samples", language="en", duration=0.0)


def silence(frames: int, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\0\0" * frames)
    return buffer.getvalue()


@pytest.fixture
def base(tmp_path: Path) -> Path:
    engine = tmp_path / "engine"
    (engine / "models" / "tiny").mkdir(parents=True)
    (engine / "samples").mkdir()
    (engine / "samples" / "inside.wav").write_bytes(silence(800))
    (tmp_path / "outside.wav").write_bytes(silence(1600))
    (engine / "outside.wav").write_bytes(silence(2400))
    return engine


@pytest.fixture
def client(base: Path) -> Iterator[TestClient]:
    with TestClient(make_server(SampleCountSTT, base).app) as client:
        reply = client.post("/load", json={"engine_model_name": "tiny"})
        assert reply.status_code == 200, reply.text
        yield client


def test_a_path_inside_samples_is_transcribed(client: TestClient, base: Path) -> None:
    for path in ("inside.wav", str(base / "samples" / "inside.wav")):
        reply = client.post("/transcribe", json={"audioPath": path})
        assert (reply.status_code, reply.json()["text"]) == (200, "800 samples"), path


def test_paths_escaping_samples_are_refused_without_reading_them(
    client: TestClient, base: Path
) -> None:
    samples = base / "samples"
    (samples / "passwd.wav").symlink_to("/etc/passwd")
    (samples / "up").symlink_to(base.parent)
    escapes = [
        "/etc/passwd",
        "../x",
        "../outside.wav",
        str(base / "outside.wav"),
        str(base.parent / "outside.wav"),
        str(samples / ".." / "outside.wav"),
        "passwd.wav",
        "up/outside.wav",
    ]
    for path in escapes:
        reply = client.post("/transcribe", json={"audioPath": path})
        assert reply.status_code == 400, (path, reply.text)
        assert "must be inside" in reply.json()["detail"], path  # refused, not read and judged
    assert client.get("/health").json()["status"] == "ready"
