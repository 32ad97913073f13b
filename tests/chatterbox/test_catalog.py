"""The catalog's English model downloads from hf://ResembleAI/chatterbox's file list: served here
by the loopback file server in Hugging Face's layout (HF_ENDPOINT), with the tiny English model's
files. The same engine, fresh, first refuses to generate, and at /shutdown exits 0."""

from __future__ import annotations

import os
from pathlib import Path

from support.engines import free_port
from support.fileserver import FileServer

from .conftest import copy_engine
from .helpers import TINY_FRAMES, generate, start_engine, wav_rate_and_frames

FILES = ("ve.safetensors", "t3_cfg.safetensors", "s3gen.safetensors", "tokenizer.json", "conds.pt")


def test_a_fresh_engine_downloads_the_english_model_on_first_load_and_speaks_its_builtin_voice(
    chatterbox_python: Path, tiny_models: Path, tmp_path: Path, file_server: FileServer
) -> None:
    files = {name: (tiny_models / "tiny-en" / name).read_bytes() for name in FILES}
    file_server.add_hf("ResembleAI/chatterbox", files)
    del files
    base = copy_engine(tmp_path, tiny_models, names=())
    with start_engine(chatterbox_python, base, free_port(), HF_ENDPOINT=file_server.url) as engine:
        refused = generate(engine.client, "Hello.", [""])
        assert (refused.status_code, refused.json()["detail"]) == (400, "Model not loaded")
        reply = engine.client.post("/load", json={"engineModelName": "english"})
        assert reply.status_code == 200, reply.text
        assert sorted(os.listdir(base / "external_models" / "english")) == sorted(FILES)
        spoken = generate(engine.client, "Hello.", [""])
        assert spoken.status_code == 200, spoken.text
        assert wav_rate_and_frames(spoken.content)[2] == TINY_FRAMES
        assert engine.client.post("/shutdown").status_code == 200
        assert engine.process.wait(timeout=120) == 0
    assert {r.path.rsplit("/", 1)[-1] for r in file_server.requests()} == set(FILES)
    assert "Traceback" not in engine.output()
