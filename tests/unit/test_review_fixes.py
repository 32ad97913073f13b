"""Findings of the first review, each pinned by the behaviour a user would notice."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import time
import wave
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from support.engines import copy_engine, engine_layout, engine_module, make_server

from enginekit.manifest import ManifestError, load_manifest
from enginekit.runtime.state import EngineState
from enginekit.settings import StoreSettings
from enginekit.store import ModelStore
from enginekit.store.linking import MirrorLinker, sidecar_of


def test_a_success_clears_an_error_a_concurrent_job_set() -> None:
    state = EngineState(model_loaded=True)
    state.job_started()
    state.job_started()
    state.job_failed("boom")
    assert (state.status, state.error) == ("processing", "boom")
    state.job_finished()
    assert (state.status, state.error) == ("ready", None)


def test_a_refused_request_reports_ready_and_keeps_the_old_message() -> None:
    state = EngineState(model_loaded=True)
    state.job_started()
    state.job_failed("boom")
    state.request_refused()  # e.g. 400 "Text cannot be empty" after the failure
    assert (state.status, state.error) == ("ready", "boom")
    state.job_started()
    state.job_refused()  # the engine itself refused the input (4xx)
    assert (state.status, state.active_jobs) == ("ready", 0)


def test_an_engine_yaml_that_is_not_utf8_is_a_clear_manifest_error(tmp_path: Path) -> None:
    path = tmp_path / "engine.yaml"
    path.write_bytes("description: für\n".encode("latin-1"))
    with pytest.raises(ManifestError, match="not UTF-8 text"):
        load_manifest(path)


def float_wav() -> bytes:
    """A 32-bit float WAV (format 3), as Audacity or soundfile write them."""
    frames = b"\x00\x00\x00\x00" * 800
    fmt = (3).to_bytes(2, "little") + (1).to_bytes(2, "little") + (8000).to_bytes(4, "little")
    fmt += (32000).to_bytes(4, "little") + (4).to_bytes(2, "little") + (32).to_bytes(2, "little")
    chunks = b"WAVE" + b"fmt " + len(fmt).to_bytes(4, "little") + fmt
    chunks += b"data" + len(frames).to_bytes(4, "little") + frames
    return b"RIFF" + len(chunks).to_bytes(4, "little") + chunks


def test_a_float_wav_sample_is_accepted_and_stored(tmp_path: Path) -> None:
    audio = float_wav()
    with pytest.raises(wave.Error, match="unknown format"), wave.open(io.BytesIO(audio)):
        pass
    server = make_server(
        engine_module("tts/debug-tts").DebugTTS, copy_engine("tts/debug-tts", tmp_path)
    )
    with TestClient(server.app) as client:
        reply = client.post("/samples/upload/float", content=audio)
    assert reply.json() == {"status": "ok", "sampleId": "float"}
    assert (server.runtime.layout.samples_dir / "float.wav").read_bytes() == audio


def test_a_failed_mirror_leaves_no_sidecar_that_would_hide_a_real_model(tmp_path: Path) -> None:
    store = ModelStore(engine_layout(tmp_path / "engine"), StoreSettings(link_mode="mirror"))
    link = store.models_dir / "foo"
    with pytest.raises(OSError):
        MirrorLinker().link(link, "../external_models/foo")  # the target does not exist
    assert not sidecar_of(link).exists()
    link.mkdir()
    (link / "model.json").write_text("{}")
    assert [(e.name, e.kind) for e in store.discover()] == [("foo", "baked-in")]
    assert store.prune(grace_s=0) == []
    assert (link / "model.json").exists()


def test_only_hidden_temporaries_count_as_litter(tmp_path: Path) -> None:
    store = ModelStore(engine_layout(tmp_path / "engine"), StoreSettings())
    real = store.models_dir / "model.enginekit-tmp"
    real.mkdir()
    litter = store.models_dir / ".model.abc.enginekit-tmp"
    litter.mkdir()
    old = time.time() - 3 * 24 * 3600
    for path in (real, litter):
        os.utime(path, (old, old))
    assert [e.name for e in store.discover()] == ["model.enginekit-tmp"]
    assert [a.path for a in store.prune()] == [litter]
    assert real.exists()


@pytest.mark.root
def test_an_unwritable_models_dir_skips_linking_but_keeps_serving(tmp_path: Path) -> None:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to make a read-only bind mount")
    store = ModelStore(engine_layout(tmp_path / "engine"), StoreSettings())
    (store.models_dir / "default").mkdir()
    (store.external_dir / "extra").mkdir(parents=True)
    models = str(store.models_dir)
    mounted = subprocess.run(["mount", "--bind", models, models], check=False).returncode == 0
    if not mounted:
        pytest.skip("the kernel refused a bind mount here")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", models], check=True)
        actions = store.link_external()
    finally:
        subprocess.run(["umount", models], check=True)
    assert [(a.name, a.action) for a in actions] == [("extra", "failed")]
    assert store.names() == ["default"]
