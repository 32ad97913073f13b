"""The real download path of issue 4: both engines fetch a catalog model from a loopback HTTP
server in the Hugging Face layout (`/<repo>/resolve/<revision>/<path>`, HF_ENDPOINT pointed at
it), store it in external_models/, link it into models/, serve it, and a restarted server finds
it without a single request (engine-api.md §10.1, §10.3, §10.11)."""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from support.engines import engine_module, live_server, make_server
from support.fileserver import FileServer

from enginekit.engine.scoring import normalise
from enginekit.settings import StoreSettings

from .helpers import (
    FOX,
    LOADING,
    PIPER_VOICE,
    WHISPER_MODEL,
    copy_engine_code,
    field_values,
    generate_body,
    wav_info,
)

Piper = engine_module("tts/piper").Piper
Whisper = engine_module("stt/whisper").Whisper

WHISPER_REPO = "Systran/faster-whisper-tiny.en"
VOICES_REPO = "rhasspy/piper-voices"
VOICES_REVISION = "v1.0.0"
VOICE_DIR = "en/en_US/joe/medium"


@pytest.fixture
def hub(file_server: FileServer, whisper_files: list[Path], voice_files: list[Path]) -> FileServer:
    """The file server holding both packages' files where Hugging Face keeps them."""
    file_server.add_hf(WHISPER_REPO, {f.name: f.read_bytes() for f in whisper_files})
    file_server.add_hf(
        VOICES_REPO,
        {f"{VOICE_DIR}/{f.name}": f.read_bytes() for f in voice_files},
        revision=VOICES_REVISION,
    )
    return file_server


def settings_for(hub: FileServer) -> StoreSettings:
    return StoreSettings(hf_endpoint=hub.url, retries=0)


@pytest.fixture
def client_for(hub: FileServer) -> Iterator[Any]:
    """Open TestClients on fresh server instances; all are closed at the end of the test."""
    opened: list[TestClient] = []

    def open_client(engine_class: type, base: Path) -> TestClient:
        client = TestClient(make_server(engine_class, base, settings_for(hub)).app)
        opened.append(client.__enter__())
        return client

    yield open_client
    for client in reversed(opened):
        client.__exit__(None, None, None)


def sources(client: TestClient | httpx.Client) -> dict[str, str]:
    return {m["name"]: m["source"] for m in client.get("/models").json()["models"]}


def assert_downloaded_and_linked(base: Path, name: str, originals: list[Path]) -> None:
    external = base / "external_models" / name
    assert sorted(os.listdir(external)) == sorted(f.name for f in originals)
    for original in originals:
        assert (external / original.name).read_bytes() == original.read_bytes(), original.name
    link = base / "models" / name
    assert link.is_symlink()
    assert os.readlink(link) == f"../external_models/{name}"
    assert sorted(os.listdir(base / "models")) == [name]


def test_whisper_downloads_tiny_en_on_load_and_a_restart_does_not_fetch_again(
    tmp_path: Path,
    hub: FileServer,
    client_for: Any,
    whisper_files: list[Path],
    fox_wav: bytes,
) -> None:
    base = copy_engine_code("stt/whisper", tmp_path)
    first = client_for(Whisper, base)
    assert sources(first)[WHISPER_MODEL] == "downloadable"
    assert not (base / "external_models").exists()

    reply = first.post("/load", json={"engineModelName": WHISPER_MODEL})
    assert reply.json() == {"status": "loaded", "engineModelName": WHISPER_MODEL, "error": None}
    assert_downloaded_and_linked(base, WHISPER_MODEL, whisper_files)
    fetched = {r.path for r in hub.requests() if r.method == "GET" and r.status in (200, 206)}
    assert fetched == {f"/{WHISPER_REPO}/resolve/main/{f.name}" for f in whisper_files}
    assert hub.body_bytes_sent() == sum(f.stat().st_size for f in whisper_files)
    assert sources(first)[WHISPER_MODEL] == "external"
    analysis = first.post(
        "/analyze", json={"audioBase64": base64.b64encode(fox_wav).decode(), "expectedText": FOX}
    )
    assert analysis.status_code == 200, analysis.text
    assert analysis.json()["qualityScore"] >= 85
    assert normalise(field_values(analysis.json())["transcription"]) == normalise(FOX)

    hub.reset_counts()
    second = client_for(Whisper, base)
    assert sources(second)[WHISPER_MODEL] == "external"
    reply = second.post("/load", json={"engineModelName": WHISPER_MODEL})
    assert reply.status_code == 200, reply.text
    text = second.post(
        "/transcribe", json={"audioBase64": base64.b64encode(fox_wav).decode()}
    ).json()["text"]
    assert normalise(text) == normalise(FOX)
    assert hub.requests() == []


def test_a_catalog_model_the_hub_lacks_is_404_and_leaves_nothing(
    tmp_path: Path, hub: FileServer, client_for: Any
) -> None:
    base = copy_engine_code("stt/whisper", tmp_path)
    client = client_for(Whisper, base)
    reply = client.post("/load", json={"engineModelName": "base.en"})
    assert reply.status_code == 404, reply.text
    detail = reply.json()["detail"]
    assert detail.startswith(f"HTTP 404 for {hub.url}/Systran/faster-whisper-base.en/resolve/main/")
    assert os.listdir(base / "models") == []
    assert not (base / "external_models" / "base.en").exists()
    health = client.get("/health").json()
    assert (health["status"], health["engineModelLoaded"], health["progress"]) == (
        "ready",
        False,
        None,
    )
    assert sources(client)["base.en"] == "downloadable"


def wait_for(condition: Any, seconds: float = 30.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not reached")


def test_piper_downloads_a_catalog_voice_and_a_restart_does_not_fetch_again(
    tmp_path: Path, hub: FileServer, client_for: Any, voice_files: list[Path]
) -> None:
    """The voice is throttled (about 2 s) so the loading window can be observed from another
    connection: /health shows progress, /generate answers 503 and leaves status "loading"."""
    base = copy_engine_code("tts/piper", tmp_path)
    onnx = f"/{VOICES_REPO}/resolve/{VOICES_REVISION}/{VOICE_DIR}/{PIPER_VOICE}.onnx"
    hub.behaviour(onnx).bytes_per_second = voice_files[0].stat().st_size // 2
    server = make_server(Piper, base, settings_for(hub))
    with live_server(server) as url, httpx.Client(base_url=url, timeout=120) as client:
        assert sources(client)[PIPER_VOICE] == "downloadable"
        replies: list[httpx.Response] = []
        loader = threading.Thread(
            target=lambda: replies.append(
                client.post("/load", json={"engineModelName": PIPER_VOICE})
            )
        )
        loader.start()
        health = wait_for(lambda: (h := client.get("/health").json())["progress"] is not None and h)
        assert health["status"] == "loading"
        assert health["progress"]["model"] == PIPER_VOICE
        assert health["progress"]["phase"] == "downloading"
        busy = client.post("/generate", json=generate_body("Hello."))
        assert (busy.status_code, busy.json()) == (503, {"detail": LOADING})
        assert client.get("/health").json()["status"] == "loading"  # §10.3
        loader.join()
        assert replies[0].json() == {
            "status": "loaded",
            "engineModelName": PIPER_VOICE,
            "error": None,
        }
        health = client.get("/health").json()
        assert (health["status"], health["currentEngineModel"], health["progress"]) == (
            "ready",
            PIPER_VOICE,
            None,
        )
        assert_downloaded_and_linked(base, PIPER_VOICE, voice_files)
        assert sources(client)[PIPER_VOICE] == "external"
        spoken = client.post("/generate", json=generate_body("Downloaded and speaking."))
        assert spoken.status_code == 200
        assert wav_info(spoken.content).rate == 22050

    hub.reset_counts()
    second = client_for(Piper, base)
    assert sources(second)[PIPER_VOICE] == "external"
    assert second.post("/load", json={"engineModelName": PIPER_VOICE}).status_code == 200
    assert second.post("/generate", json=generate_body("Again.")).status_code == 200
    assert hub.requests() == []
