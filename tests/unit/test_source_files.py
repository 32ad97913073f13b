"""A model's listed file may come from a spec of its own (VibeVoice's weights from one Hugging Face
repository, its Qwen tokenizer from another): downloaded through the store into one directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError
from support.engines import engine_layout
from support.fileserver import FileServer

from enginekit.errors import InvalidSource
from enginekit.settings import StoreSettings
from enginekit.store import ModelSource, ModelStore, SourceFile


def test_files_with_their_own_url_land_beside_the_others(
    tmp_path: Path, file_server: FileServer
) -> None:
    file_server.add_hf("org/speech", {"config.json": b"{}", "weights.bin": b"w" * 64})
    file_server.add_hf("other/text", {"tokenizer.json": b'{"t": 1}'}, revision="v2")
    source = ModelSource(
        url="hf://org/speech",
        files=[
            SourceFile(path="config.json"),
            SourceFile(path="tokenizer/tokenizer.json", url="hf://other/text@v2/tokenizer.json"),
            SourceFile(path="weights.bin"),
        ],
    )
    settings = StoreSettings(hf_endpoint=file_server.url, retries=0)
    store = ModelStore(engine_layout(tmp_path / "engine"), settings)
    model = store.ensure("speech", source)
    assert (model / "tokenizer" / "tokenizer.json").read_bytes() == b'{"t": 1}'
    assert sorted(os.listdir(model)) == ["config.json", "tokenizer", "weights.bin"]
    fetched = {r.path for r in file_server.requests()}
    assert "/other/text/resolve/v2/tokenizer.json" in fetched


def test_a_file_url_must_name_one_file_of_a_known_scheme() -> None:
    with pytest.raises(ValidationError, match="unsupported scheme 'ftp'"):
        SourceFile(path="a.json", url="ftp://host/a.json")
    whole_repo = ModelSource(
        url="hf://org/speech", files=[SourceFile(path="t.json", url="hf://other/text")]
    )
    with pytest.raises(InvalidSource, match="names a repository"):
        whole_repo.tasks(StoreSettings())
