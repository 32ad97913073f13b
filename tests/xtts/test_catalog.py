"""The catalog's XTTS versions download from hf://coqui/XTTS-v2@<revision>: served here by the
loopback file server in Hugging Face's layout (HF_ENDPOINT), with a tiny model's files."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from support.engines import free_port
from support.fileserver import FileServer

from .conftest import SOURCE, copy_engine
from .helpers import EngineProcess, generate, start_engine, upload, voice_wav

FILES = ("config.json", "model.pth", "vocab.json")  # v2.0.2 has no speakers_xtts.pth


def serve_as_release(file_server: FileServer, model: Path, revision: str) -> None:
    files = {name: (model / name).read_bytes() for name in FILES}
    file_server.add_hf("coqui/XTTS-v2", files, revision=revision)


def test_first_load_of_a_catalog_version_downloads_it_into_external_models(
    xtts_python: Path, tiny_models: Path, tmp_path: Path, file_server: FileServer
) -> None:
    serve_as_release(file_server, tiny_models / "tiny-a", "v2.0.2")
    base = copy_engine(tmp_path, tiny_models)
    with start_engine(xtts_python, base, free_port(), HF_ENDPOINT=file_server.url) as engine:
        assert _source(engine, "v2.0.2") == "downloadable"
        reply = engine.client.post("/load", json={"engineModelName": "v2.0.2"})
        assert reply.status_code == 200, reply.text
        assert _source(engine, "v2.0.2") == "external"
        assert sorted(os.listdir(base / "external_models" / "v2.0.2")) == sorted(FILES)
        upload(engine.client, "speaker", voice_wav())
        assert generate(engine.client, "Hello.", "speaker.wav").status_code == 200
    assert {r.path.rsplit("/", 1)[-1] for r in file_server.requests()} == set(FILES)


def test_bake_model_places_a_catalog_version_in_models(
    xtts_python: Path, tiny_models: Path, tmp_path: Path, file_server: FileServer
) -> None:
    serve_as_release(file_server, tiny_models / "tiny-b", "v2.0.2")
    models = tmp_path / "app" / "models"
    bake = [str(xtts_python), str(SOURCE / "bake_model.py"), "v2.0.2", "--models-dir", str(models)]
    run = subprocess.run(
        bake, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "HF_ENDPOINT": file_server.url},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert os.listdir(models) == ["v2.0.2"]  # a real directory, nothing hidden left beside it
    baked = models / "v2.0.2"
    assert not baked.is_symlink()
    assert sorted(os.listdir(baked)) == sorted(FILES)
    assert os.listdir(models.parent) == ["models"]  # the scratch engine directory is gone


def _source(engine: EngineProcess, name: str) -> str:
    models = engine.client.get("/models").json()["models"]
    return next(m["source"] for m in models if m["name"] == name)
