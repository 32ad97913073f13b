"""POST /load of a catalog model that must be downloaded first (issue 3; engine-api.md §10.1,
§10.2, §10.11), against the real loopback file server.

debug-tts's engine.yaml gets one extra catalog entry, `remote-voice`, whose source points at the
file server; its model.json is a valid debug-tts model with its own sample rate, so a WAV from
/generate shows which model produced it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from support.engines import copy_engine, engine_module, live_server, make_server
from support.fileserver import FileServer

from enginekit.settings import StoreSettings

DebugTTS = engine_module("tts/debug-tts").DebugTTS

REMOTE = "remote-voice"
REMOTE_PATH = "/voices/model.json"
REMOTE_RATE = 16000  # debug-tts's baked-in default renders at 22050


def remote_model(padding: int = 0) -> bytes:
    """A debug-tts model.json (the keys of models/default/model.json), optionally padded."""
    config: dict[str, Any] = {"base_frequency": 440.0, "sample_rate": REMOTE_RATE}
    config["char_duration"] = 0.01
    if padding:
        config["padding"] = "x" * padding
    return json.dumps(config).encode()


def add_catalog_model(engine: Path, server_url: str, data: bytes, sha256: str | None) -> None:
    path = engine / "engine.yaml"
    manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
    manifest["models"].append(
        {
            "name": REMOTE,
            "display_name": "Remote Voice",
            "source": {
                "url": f"{server_url}/voices",
                "files": [
                    {
                        "path": "model.json",
                        "sha256": sha256 or hashlib.sha256(data).hexdigest(),
                        "size": len(data),
                    }
                ],
            },
        }
    )
    path.write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")


def catalog_engine(
    tmp_path: Path,
    file_server: FileServer,
    data: bytes,
    *,
    sha256: str | None = None,
    served: bool = True,
) -> Path:
    engine = copy_engine("tts/debug-tts", tmp_path)
    add_catalog_model(engine, file_server.url, data, sha256)
    if served:
        file_server.add(REMOTE_PATH, data)
    return engine


@contextmanager
def client_for(engine: Path, offline: bool = False) -> Iterator[TestClient]:
    served = make_server(DebugTTS, engine, store_settings=StoreSettings(offline=offline))
    with TestClient(served.app) as client:
        yield client


def listing(client: TestClient | httpx.Client) -> dict[str, dict[str, Any]]:
    reply = client.get("/models")
    assert reply.status_code == 200
    return {m["name"]: m for m in reply.json()["models"]}


def load(client: TestClient | httpx.Client, name: str) -> httpx.Response:
    return client.post("/load", json={"engine_model_name": name})


def health(client: TestClient | httpx.Client) -> dict[str, Any]:
    return client.get("/health").json()


def rendered_rate(client: TestClient | httpx.Client) -> int:
    reply = client.post("/generate", json={"text": "Hi", "language": "en", "ttsSpeakerWav": ""})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(reply.content), "rb") as audio:
        return audio.getframerate()


def assert_nothing_installed(engine: Path) -> None:
    assert not os.path.lexists(engine / "models" / REMOTE)
    assert not os.path.lexists(engine / "external_models" / REMOTE)


def assert_health_matches_generate(client: TestClient) -> None:
    """Whatever /health claims about the loaded model, /generate must agree."""
    state = health(client)
    if state["engineModelLoaded"]:
        assert state["currentEngineModel"] == "default"
        assert rendered_rate(client) == 22050
    else:
        assert state["currentEngineModel"] is None
        reply = client.post("/generate", json={"text": "Hi", "language": "en", "ttsSpeakerWav": ""})
        assert (reply.status_code, reply.json()) == (400, {"detail": "Model not loaded"})


def gets(file_server: FileServer) -> list[str]:
    return [r.path for r in file_server.requests() if r.method == "GET"]


# -- the happy path -------------------------------------------------------------------------


def test_load_downloads_a_catalog_model_links_it_and_serves_it(
    tmp_path: Path, file_server: FileServer
) -> None:
    data = remote_model()
    engine = catalog_engine(tmp_path, file_server, data)
    with client_for(engine) as client:
        before = listing(client)
        assert before["default"]["source"] == "baked-in"
        assert before[REMOTE]["source"] == "downloadable"
        assert before[REMOTE]["displayName"] == "Remote Voice"
        assert before[REMOTE]["sizeBytes"] == len(data)
        assert_nothing_installed(engine)

        reply = load(client, REMOTE)
        assert (reply.status_code, reply.json()) == (
            200,
            {"status": "loaded", "engineModelName": REMOTE, "error": None},
        )
        assert (engine / "external_models" / REMOTE / "model.json").read_bytes() == data
        link = engine / "models" / REMOTE
        assert link.is_symlink()
        assert os.readlink(link) == f"../external_models/{REMOTE}"
        assert gets(file_server) == [REMOTE_PATH]

        after = listing(client)
        assert after[REMOTE]["source"] == "external"
        assert after[REMOTE]["displayName"] == "Remote Voice"
        state = health(client)
        assert (state["status"], state["currentEngineModel"]) == ("ready", REMOTE)
        assert (state["engineModelLoaded"], state["progress"]) == (True, None)
        assert rendered_rate(client) == REMOTE_RATE


def test_health_shows_download_progress_while_load_runs(
    tmp_path: Path, file_server: FileServer
) -> None:
    data = remote_model(padding=200_000)
    engine = catalog_engine(tmp_path, file_server, data)
    file_server.behaviour(REMOTE_PATH).bytes_per_second = 100_000
    served = make_server(DebugTTS, engine)
    with live_server(served) as url, httpx.Client(base_url=url, timeout=30) as http:
        replies: list[httpx.Response] = []
        loader = threading.Thread(target=lambda: replies.append(load(http, REMOTE)))
        loader.start()
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + 30
        while loader.is_alive():
            assert time.monotonic() < deadline, "the load never finished"
            state = health(http)
            progress = state["progress"]
            if progress is not None:
                assert state["status"] == "loading"
                seen.append(progress)
                downloading = progress["phase"] == "downloading"
                if downloading and progress["bytesDone"] <= len(data) // 2:  # >= 1 s to go
                    assert_nothing_installed(engine)  # never half a model in sight
            time.sleep(0.02)
        loader.join()
        assert replies[0].status_code == 200, replies[0].text

        downloading = [p for p in seen if p["phase"] == "downloading"]
        assert downloading, f"no download progress seen in {seen}"
        for progress in downloading:
            assert list(progress) == ["phase", "model", "bytesDone", "bytesTotal"]
            assert (progress["model"], progress["bytesTotal"]) == (REMOTE, len(data))
            assert 0 < progress["bytesDone"] <= len(data)
        assert any(p["bytesDone"] < len(data) for p in downloading)
        done = [p["bytesDone"] for p in downloading]
        assert done == sorted(done)

        final = health(http)
        assert (final["status"], final["progress"], final["currentEngineModel"]) == (
            "ready",
            None,
            REMOTE,
        )


def test_a_restarted_server_serves_the_downloaded_model_without_the_network(
    tmp_path: Path, file_server: FileServer
) -> None:
    engine = catalog_engine(tmp_path, file_server, remote_model())
    with client_for(engine) as client:
        assert load(client, REMOTE).status_code == 200
    file_server.reset_counts()
    with client_for(engine) as client:
        assert listing(client)[REMOTE]["source"] == "external"
        reply = load(client, REMOTE)
        assert reply.status_code == 200, reply.text
        assert rendered_rate(client) == REMOTE_RATE
    assert file_server.requests() == []


# -- failures -------------------------------------------------------------------------------


def test_a_checksum_mismatch_fails_the_load_and_installs_nothing(
    tmp_path: Path, file_server: FileServer
) -> None:
    engine = catalog_engine(tmp_path, file_server, remote_model(), sha256="0" * 64)
    with client_for(engine) as client:
        reply = load(client, REMOTE)
        assert reply.status_code >= 500
        detail = reply.json()["detail"]
        assert "Checksum mismatch" in detail
        assert "model.json" in detail
        state = health(client)
        assert state["status"] == "error"
        assert "Checksum mismatch" in state["error"]
        assert (state["engineModelLoaded"], state["progress"]) == (False, None)
        assert_nothing_installed(engine)
        assert sorted(os.listdir(engine / "models")) == ["default"]
        assert listing(client)[REMOTE]["source"] == "downloadable"

        assert load(client, "default").status_code == 200
        assert (health(client)["status"], health(client)["error"]) == ("ready", None)


def test_a_source_whose_file_is_gone_answers_404_and_status_returns_to_ready(
    tmp_path: Path, file_server: FileServer
) -> None:
    engine = catalog_engine(tmp_path, file_server, remote_model(), served=False)
    with client_for(engine) as client:
        reply = load(client, REMOTE)
        assert reply.status_code == 404, reply.text
        assert REMOTE_PATH in reply.json()["detail"]
        state = health(client)
        assert (state["status"], state["error"], state["progress"]) == ("ready", None, None)
        assert_nothing_installed(engine)
        assert gets(file_server) == [REMOTE_PATH]  # a 404 is final, not retried


def test_a_failed_download_during_a_hotswap_leaves_health_truthful(
    tmp_path: Path, file_server: FileServer
) -> None:
    engine = catalog_engine(tmp_path, file_server, remote_model(), served=False)
    with client_for(engine) as client:
        assert load(client, "default").status_code == 200
        assert load(client, REMOTE).status_code == 404
        assert health(client)["status"] == "ready"
        assert_health_matches_generate(client)


def test_offline_refuses_to_download_but_baked_in_models_still_load(
    tmp_path: Path, file_server: FileServer
) -> None:
    engine = catalog_engine(tmp_path, file_server, remote_model())
    with client_for(engine, offline=True) as client:
        reply = load(client, REMOTE)
        assert reply.status_code >= 500
        detail = reply.json()["detail"]
        assert REMOTE in detail
        assert "offline" in detail.lower()
        assert health(client)["status"] == "error"
        assert_nothing_installed(engine)

        assert load(client, "default").status_code == 200
        state = health(client)
        assert (state["status"], state["currentEngineModel"]) == ("ready", "default")
        assert rendered_rate(client) == 22050
    assert file_server.requests() == []


def test_an_unknown_model_is_400_listing_every_servable_model(
    tmp_path: Path, file_server: FileServer
) -> None:
    engine = catalog_engine(tmp_path, file_server, remote_model())
    with client_for(engine) as client:
        reply = load(client, "nope")
        assert (reply.status_code, reply.json()) == (
            400,
            {"detail": "Unknown model: nope. Available: default, remote-voice"},
        )
        assert health(client)["status"] == "ready"
        assert not os.path.lexists(engine / "models" / "nope")
        assert not os.path.lexists(engine / "external_models" / "nope")
        assert "nope" not in listing(client)
    assert file_server.requests() == []


def test_an_unknown_model_during_a_hotswap_leaves_health_truthful(
    tmp_path: Path, file_server: FileServer
) -> None:
    engine = catalog_engine(tmp_path, file_server, remote_model())
    with client_for(engine) as client:
        assert load(client, "default").status_code == 200
        assert load(client, "nope").status_code == 400
        assert health(client)["status"] == "ready"
        assert_health_matches_generate(client)


@pytest.mark.parametrize("name", [REMOTE, "default"])
def test_loading_the_same_model_twice_reloads_it(
    tmp_path: Path, file_server: FileServer, name: str
) -> None:
    engine = catalog_engine(tmp_path, file_server, remote_model())
    with client_for(engine) as client:
        assert load(client, name).status_code == 200
        again = load(client, name)
        assert again.json() == {"status": "loaded", "engineModelName": name, "error": None}
        assert health(client)["currentEngineModel"] == name
    assert len(gets(file_server)) == (1 if name == REMOTE else 0)
