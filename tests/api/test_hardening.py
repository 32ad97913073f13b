"""Issue 16's defects, each reproduced: nothing a request sends (huge bodies, FIFOs, devices,
malformed names, hostile browsers, corrupt samples) can freeze, crash or misuse an engine."""

from __future__ import annotations

import io
import json
import os
import struct
import threading
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import yaml
from fastapi.testclient import TestClient
from support.engines import Served, copy_engine, engine_module, live_server, make_server
from support.fileserver import FileServer

from enginekit.engine import AudioChunk, EngineContext, SynthesisRequest
from enginekit.settings import ServerSettings, StoreSettings

DebugTTS = engine_module("tts/debug-tts").DebugTTS
DebugSTT = engine_module("stt/debug-stt").DebugSTT
GENERATE = {"text": "Hello there.", "language": "en", "ttsSpeakerWav": ""}


def wav(seconds: float = 0.5, rate: int = 16000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((0.4 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def health(client: TestClient | str) -> dict[str, Any]:
    if isinstance(client, str):
        return dict(httpx.get(f"{client}/health", timeout=5).json())
    return dict(client.get("/health").json())


@pytest.fixture
def tts(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_server(DebugTTS, copy_engine("tts/debug-tts", tmp_path)).app) as client:
        assert client.post("/load", json={"engineModelName": "default"}).status_code == 200
        yield client


def stt_client(tmp_path: Path, **server: Any) -> TestClient:
    served = make_server(
        DebugSTT, copy_engine("stt/debug-stt", tmp_path), server_settings=ServerSettings(**server)
    )
    return TestClient(served.app)


# -- 3: no request can freeze the server ----------------------------------------------------


def test_a_body_above_the_limit_is_413_before_it_is_parsed(tmp_path: Path) -> None:
    served = make_server(DebugTTS, copy_engine("tts/debug-tts", tmp_path),
                         server_settings=ServerSettings(max_request_bytes=1000))  # fmt: skip
    with TestClient(served.app) as client:
        big = json.dumps({**GENERATE, "text": "a" * 5000})
        declared = client.post("/generate", content=big,
                               headers={"content-type": "application/json"})  # fmt: skip
        assert (declared.status_code, declared.json()) == (
            413, {"detail": "Request body too large: the limit is 1000 bytes"},
        )  # fmt: skip
        streamed = client.post(
            "/generate", content=iter([big[:600].encode(), big[600:].encode()]),
            headers={"content-type": "application/json"},
        )  # fmt: skip
        assert streamed.status_code == 413
        assert health(client)["status"] == "ready"


def test_sample_check_lists_are_capped(tts: TestClient) -> None:
    reply = tts.post("/samples/check", json={"sampleIds": ["a"] * 1001})
    assert reply.status_code == 422
    (error,) = reply.json()["detail"]
    assert error["type"] == "too_long" and error["loc"] == ["body", "sampleIds"]
    assert len(json.dumps(error["input"])) < 1000  # the input is quoted short, not echoed whole
    assert tts.post("/samples/check", json={"sampleIds": ["a"] * 1000}).status_code == 200


@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
def test_audio_path_reads_only_regular_files(tmp_path: Path, kind: str) -> None:
    if kind == "fifo":
        path = tmp_path / "pipe.wav"
        os.mkfifo(path)
    else:
        path = Path("/dev/zero") if kind == "device" else tmp_path
    with stt_client(tmp_path) as client:
        client.post("/load", json={"engineModelName": "default"})
        reply = client.post("/analyze", json={"audioPath": str(path)})
        assert reply.status_code == 400, reply.text
        assert reply.json()["detail"] == f"Audio path is not a regular file: {path}"
        assert health(client)["status"] == "ready"


def test_audio_path_is_size_capped(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    path.write_bytes(wav(2.0))
    with stt_client(tmp_path, max_request_bytes=20_000) as client:
        client.post("/load", json={"engineModelName": "default"})
        reply = client.post("/analyze", json={"audioPath": str(path)})
        assert (reply.status_code, reply.json()) == (
            413, {"detail": "Upload too large: the limit is 20000 bytes"},
        )  # fmt: skip


def test_an_engine_off_loopback_reads_audio_paths_only_inside_samples(tmp_path: Path) -> None:
    outside = tmp_path / "outside.wav"
    outside.write_bytes(wav())
    with stt_client(tmp_path, host="0.0.0.0") as client:
        client.post("/load", json={"engineModelName": "default"})
        refused = client.post("/analyze", json={"audioPath": str(outside)})
        assert refused.status_code == 400
        assert refused.json()["detail"].startswith("Audio path must be inside samples/")
        (tmp_path / "debug-stt" / "samples" / "take.wav").write_bytes(wav())
        assert client.post("/analyze", json={"audioPath": "take.wav"}).status_code == 200
    with stt_client(tmp_path / "opted-out", host="0.0.0.0", audio_paths="any") as client:
        client.post("/load", json={"engineModelName": "default"})
        assert client.post("/analyze", json={"audioPath": str(outside)}).status_code == 200


# -- 4: no ValueError from request data is a 500 --------------------------------------------


def test_a_nul_byte_in_audio_path_is_a_400(tmp_path: Path) -> None:
    with stt_client(tmp_path) as client:
        client.post("/load", json={"engineModelName": "default"})
        reply = client.post("/analyze", json={"audioPath": "/tmp/a\u0000b.wav"})
        assert (reply.status_code, reply.json()) == (
            400, {"detail": "Invalid audio path: it contains a NUL character"},
        )  # fmt: skip


def test_non_ascii_base64_on_transcribe_is_a_400(tmp_path: Path) -> None:
    with stt_client(tmp_path) as client:
        client.post("/load", json={"engineModelName": "default"})
        reply = client.post("/transcribe", json={"audioBase64": "UklGRg\u00e4=="})
        assert reply.status_code == 400
        assert reply.json()["detail"] == "Invalid base64 audio: only ASCII characters are allowed"


@pytest.mark.parametrize("route", ["/samples/upload/{id}", "/samples/check"])
def test_a_sample_id_too_long_for_a_file_name_is_a_400(tts: TestClient, route: str) -> None:
    long_id = "x" * 252
    if route == "/samples/check":
        reply = tts.post(route, json={"sampleIds": [long_id]})
    else:
        reply = tts.post(route.format(id=long_id), content=wav(),
                         headers={"content-type": "application/octet-stream"})  # fmt: skip
    assert reply.status_code == 400
    assert reply.json()["detail"] == f"Invalid sample ID format: {'x' * 80}..."


# -- 5: browser attacks ----------------------------------------------------------------------


def test_a_foreign_origin_cannot_act_and_an_allowed_one_can(tmp_path: Path) -> None:
    served = make_server(DebugTTS, copy_engine("tts/debug-tts", tmp_path),
                         server_settings=ServerSettings(
                             allowed_origins=("https://studio.example",)))  # fmt: skip
    with TestClient(served.app) as client:
        evil = {"origin": "https://evil.example", "content-type": "application/octet-stream"}
        upload = client.post("/samples/upload/voice", content=wav(), headers=evil)
        assert upload.status_code == 403
        assert "https://evil.example" in upload.json()["detail"]
        assert not (tmp_path / "debug-tts" / "samples" / "voice.wav").exists()
        assert (
            client.post("/shutdown", headers={"origin": "https://evil.example"}).status_code == 403
        )
        assert health(client)["status"] == "ready"
        good = {**evil, "origin": "https://studio.example"}
        assert client.post("/samples/upload/voice", content=wav(), headers=good).status_code == 200


def test_a_loopback_engine_refuses_a_foreign_host(tmp_path: Path) -> None:
    """DNS rebinding: evil.example resolving to 127.0.0.1 must not reach the engine."""
    served = make_server(DebugTTS, copy_engine("tts/debug-tts", tmp_path),
                         server_settings=ServerSettings(allowed_hosts=()))  # fmt: skip
    with live_server(served) as url:
        port = url.rsplit(":", 1)[1]
        assert httpx.get(f"{url}/health").status_code == 200
        assert httpx.get(f"{url}/health", headers={"host": f"localhost:{port}"}).status_code == 200
        rebound = httpx.get(f"{url}/models", headers={"host": f"evil.example:{port}"})
        assert rebound.status_code == 421


# -- 6: shutdown drains ----------------------------------------------------------------------


class SlowTTS(DebugTTS):
    def __init__(self, context: EngineContext) -> None:
        super().__init__(context)
        self.entered, self.release = threading.Event(), threading.Event()

    def synthesize(self, request: SynthesisRequest) -> Iterator[AudioChunk]:
        self.entered.set()
        assert self.release.wait(30)
        yield from super().synthesize(request)


def test_shutdown_answers_at_once_refuses_new_work_and_lets_the_running_job_end(
    tmp_path: Path,
) -> None:
    served: Served = make_server(SlowTTS, copy_engine("tts/debug-tts", tmp_path))
    with live_server(served) as url:
        httpx.post(f"{url}/load", json={"engineModelName": "default"})
        results: list[httpx.Response] = []
        running = threading.Thread(
            target=lambda: results.append(httpx.post(f"{url}/generate", json=GENERATE, timeout=30))
        )
        running.start()
        assert served.engine.entered.wait(10)
        assert httpx.post(f"{url}/shutdown", json={}, timeout=5).json() == {
            "status": "shutting_down"
        }
        late = httpx.post(f"{url}/generate", json=GENERATE, timeout=5)
        assert (late.status_code, late.json()) == (503, {"detail": "Engine is shutting down"})
        assert not served.exit_requested.is_set()  # still draining
        served.engine.release.set()
        running.join(30)
        assert results[0].status_code == 200 and results[0].content[:4] == b"RIFF"
        assert served.exit_requested.wait(10)


# -- 7: corrupt samples ----------------------------------------------------------------------


def header_with(data_size: int, rate: int = 16000, frames: bytes = b"\x00\x00" * 100) -> bytes:
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", data_size) + frames
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize(
    ("audio", "problem"),
    [
        (wav()[: len(wav()) // 2], "truncated"),
        (header_with(0xFFFFFFF0), "truncated"),
        (header_with(200, rate=0), "sample rate 0 Hz"),
    ],
    ids=["truncated", "huge-data-size", "rate-0"],
)
def test_a_corrupt_sample_is_refused_and_nothing_is_stored(
    tts: TestClient, tmp_path: Path, audio: bytes, problem: str
) -> None:
    reply = tts.post("/samples/upload/voice", content=audio,
                     headers={"content-type": "application/octet-stream"})  # fmt: skip
    assert reply.status_code == 400, reply.text
    assert problem in reply.json()["detail"]
    assert os.listdir(tmp_path / "debug-tts" / "samples") == []


# -- 8: no absolute paths in errors -----------------------------------------------------------


def test_errors_name_paths_relative_to_the_engine_directory(tmp_path: Path) -> None:
    base = copy_engine("tts/debug-tts", tmp_path)
    (base / "models" / "broken" / "model.json").mkdir(parents=True)
    with TestClient(make_server(DebugTTS, base).app) as client:
        reply = client.post("/load", json={"engineModelName": "broken"})
        assert reply.status_code == 500
        for text in (reply.json()["detail"], health(client)["error"]):
            assert str(tmp_path) not in text
            assert "models/broken/model.json" in text


# -- 9: a failed fetch leaves the engine serving ----------------------------------------------


def test_a_failed_download_keeps_the_loaded_model_serving_and_ready(
    tmp_path: Path, file_server: FileServer
) -> None:
    base = copy_engine("tts/debug-tts", tmp_path)
    manifest = yaml.safe_load((base / "engine.yaml").read_text())
    source = {"url": f"{file_server.url}/broken/model.json"}
    manifest["models"].append({"name": "remote", "display_name": "Remote", "source": source})
    (base / "engine.yaml").write_text(yaml.safe_dump(manifest))
    file_server.add("/broken/model.json", b"{}")
    file_server.behaviour("/broken/model.json").status = 500
    served = make_server(DebugTTS, base, store_settings=StoreSettings(retries=0))
    with TestClient(served.app) as client:
        client.post("/load", json={"engineModelName": "default"})
        failed = client.post("/load", json={"engineModelName": "remote"})
        assert failed.status_code == 502
        state = health(client)
        assert (state["status"], state["currentEngineModel"]) == ("ready", "default")
        assert state["error"] == failed.json()["detail"]
        assert client.post("/generate", json=GENERATE).status_code == 200


# -- 10: listings --------------------------------------------------------------------------


@pytest.mark.parametrize("offline", [False, True], ids=["online", "offline"])
def test_models_lists_local_models_first_and_offline_only_what_can_load(
    tmp_path: Path, offline: bool
) -> None:
    base = copy_engine("tts/debug-tts", tmp_path)
    manifest = yaml.safe_load((base / "engine.yaml").read_text())
    manifest["models"].insert(0, {"name": "aaa-remote", "display_name": "Remote",
                                  "source": {"url": "https://example.invalid/m.json"}})  # fmt: skip
    (base / "engine.yaml").write_text(yaml.safe_dump(manifest))
    (base / "models" / "zzz-local").mkdir()
    served = make_server(DebugTTS, base, store_settings=StoreSettings(offline=offline))
    with TestClient(served.app) as client:
        names = [m["name"] for m in client.get("/models").json()["models"]]
    assert names == (
        ["default", "zzz-local"] if offline else ["default", "zzz-local", "aaa-remote"]
    )
