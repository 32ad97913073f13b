"""The gateway's model endpoints as a script uses them (httpx against a real gateway): list,
pull with progress events, verify, remove; the store's rules hold through them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from console.conftest import REMOTE, REMOTE_FILES, Console


@pytest.fixture(scope="module")
def console(start_console: Callable[..., Console]) -> Console:
    return start_console()


def models_of(console: Console, engine: str) -> dict[str, dict[str, Any]]:
    reply = httpx.get(f"{console.url}/store/{engine}/models")
    assert reply.status_code == 200, reply.text
    return {m["name"]: m for m in reply.json()["models"]}


def pull_events(console: Console, model: str) -> list[dict[str, Any]]:
    url = f"{console.url}/store/debug-tts/models/{model}/pull/events"
    with httpx.stream("GET", url, timeout=60) as reply:
        assert reply.headers["content-type"].startswith("text/event-stream")
        return [json.loads(line[6:]) for line in reply.iter_lines() if line.startswith("data: ")]


def test_listing_shows_each_kind_without_starting_an_engine(console: Console) -> None:
    models = models_of(console, "debug-tts")
    assert models["default"]["kind"] == "baked-in"
    assert models["default"]["sha256"] is None
    remote = models[REMOTE]
    assert remote["kind"] == "downloadable"
    assert remote["size_bytes"] == sum(len(d) for d in REMOTE_FILES.values())
    assert remote["sha256"] == "declared"
    assert not any(m["loaded"] for m in models.values())
    states = {e["name"]: e["state"] for e in httpx.get(f"{console.url}/engines").json()["engines"]}
    assert states == {"debug-tts": "stopped", "debug-stt": "stopped"}


def test_pull_streams_progress_per_file_and_ends_verified(console: Console) -> None:
    first = httpx.post(f"{console.url}/store/debug-tts/models/{REMOTE}/pull", json={})
    assert first.status_code == 202, first.text
    again = httpx.post(f"{console.url}/store/debug-tts/models/{REMOTE}/pull", json={})
    assert again.status_code == 200  # the same pull, not a second download
    events = pull_events(console, REMOTE)
    total = sum(len(d) for d in REMOTE_FILES.values())
    partial = [e for e in events if e["state"] == "running" and 0 < e["done"] < total]
    assert partial, "no event showed a download in progress"
    assert any(e["rate"] > 0 and e["files"] for e in partial)
    assert events[-1]["state"] == "ready" and events[-1]["downloaded"] is True
    assert {f["path"] for f in events[-1]["files"]} == set(REMOTE_FILES)
    model_dir = console.data_dir / "debug-tts" / REMOTE
    assert {p.name: p.read_bytes() for p in model_dir.iterdir()} == REMOTE_FILES
    listed = models_of(console, "debug-tts")[REMOTE]
    assert listed["kind"] == "downloaded"
    assert listed["sha256"] == "recorded"
    assert listed["verified"]["ok"] is True
    polled = httpx.get(f"{console.url}/store/debug-tts/models/{REMOTE}/pull").json()
    assert polled["state"] == "ready"


def test_verify_reports_a_changed_byte(console: Console) -> None:
    model_dir = console.data_dir / "debug-tts" / REMOTE
    assert model_dir.exists(), "needs the pull of the test above"
    target = model_dir / "voice.bin"
    data = bytearray(target.read_bytes())
    data[100] ^= 0xFF
    target.write_bytes(bytes(data))
    report = httpx.post(f"{console.url}/store/debug-tts/models/{REMOTE}/verify", json={}).json()
    assert report["recorded"] is True and report["ok"] is False
    assert {f["path"]: f["status"] for f in report["files"]} == {
        "model.json": "ok",
        "voice.bin": "mismatch",
    }
    assert models_of(console, "debug-tts")[REMOTE]["verified"]["ok"] is False


def test_remove_keeps_the_users_own_files_unless_asked(console: Console) -> None:
    mine = console.data_dir / "debug-tts" / "mine"
    mine.mkdir(parents=True)
    (mine / "model.json").write_text('{"base_frequency": 200, "sample_rate": 8000}')
    assert models_of(console, "debug-tts")["mine"]["kind"] == "external"
    kept = httpx.delete(f"{console.url}/store/debug-tts/models/mine").json()
    assert kept["deleted"] is False and kept["kept"]
    assert (mine / "model.json").is_file()
    gone = httpx.delete(f"{console.url}/store/debug-tts/models/mine?delete_files=true").json()
    assert gone["deleted"] is True
    assert not mine.exists()


def test_baked_in_model_cannot_be_removed(console: Console) -> None:
    reply = httpx.delete(f"{console.url}/store/debug-tts/models/default")
    assert reply.status_code == 409
    assert "baked into" in reply.json()["detail"]
    assert (console.engines["debug-tts"] / "models" / "default" / "model.json").is_file()


def test_pull_of_a_model_outside_the_catalog_is_refused(console: Console) -> None:
    reply = httpx.post(f"{console.url}/store/debug-tts/models/nothing-here/pull", json={})
    assert reply.status_code == 404
    assert REMOTE in reply.json()["detail"]  # names what can be pulled
    assert not (console.data_dir / "debug-tts" / "nothing-here").exists()
    unknown = httpx.get(f"{console.url}/store/no-such-engine/models")
    assert unknown.status_code == 404 and "debug-tts" in unknown.json()["detail"]


def test_the_loaded_model_cannot_be_removed(console: Console) -> None:
    """A running engine keeps the files of the model it has loaded."""
    downloaded = console.data_dir / "debug-tts" / REMOTE
    assert downloaded.exists(), "needs the pull of the test above"
    speech = httpx.post(
        f"{console.url}/v1/audio/speech",
        json={"model": f"debug-tts/{REMOTE}", "input": "Hi.", "voice": "default"},
        timeout=120,
    )
    assert speech.status_code == 200, speech.text
    try:
        assert models_of(console, "debug-tts")[REMOTE]["loaded"] is True
        refused = httpx.delete(f"{console.url}/store/debug-tts/models/{REMOTE}")
        assert refused.status_code == 409
        assert "loaded" in refused.json()["detail"]
        assert downloaded.exists()
    finally:
        httpx.post(f"{console.url}/engines/debug-tts/stop", json={}, timeout=60)
    removed = httpx.delete(f"{console.url}/store/debug-tts/models/{REMOTE}").json()
    assert removed["deleted"] is True and not downloaded.exists()
    assert models_of(console, "debug-tts")[REMOTE]["kind"] == "downloadable"
