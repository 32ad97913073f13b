"""The catalog's 1.5B downloads from hf://microsoft/VibeVoice-1.5B with its Qwen tokenizer from
hf://Qwen/Qwen2.5-1.5B placed into the model's tokenizer/: both served here by the loopback file
server in Hugging Face's layout (HF_ENDPOINT), with the sharded tiny model's files. The
downloaded model then loads and speaks; /shutdown ends the engine with exit code 0."""

from __future__ import annotations

from pathlib import Path

from support.engine_process import start_engine, voice_wav
from support.engines import free_port
from support.fileserver import FileServer

from enginekit.manifest import load_manifest

from .conftest import SOURCE, THREADS, copy_engine
from .helpers import OUTPUT_RATE, generate, upload, wav_rate_and_frames


def serve_catalog_entry(file_server: FileServer, model: Path, name: str) -> list[str]:
    """Every file the engine.yaml entry lists, from the tiny model, at the URL it names."""
    entry = load_manifest(SOURCE / "engine.yaml").catalog_model(name)
    assert entry is not None and entry.source is not None
    for listed in entry.source.files:
        spec = listed.url or f"{entry.source.url}/{listed.path}"
        org, repo, inner = spec.removeprefix("hf://").split("/", 2)
        file_server.add_hf(f"{org}/{repo}", {inner: (model / listed.path).read_bytes()})
    return sorted(f.path for f in entry.source.files)


def test_first_load_of_the_catalog_model_fetches_weights_and_tokenizer(
    vibevoice_python: Path, tiny_models: Path, tmp_path: Path, file_server: FileServer
) -> None:
    listed = serve_catalog_entry(file_server, tiny_models / "tiny-a", "1.5B")
    base = copy_engine(tmp_path, tiny_models)
    env = {**THREADS, "HF_ENDPOINT": file_server.url}
    with start_engine(vibevoice_python, base, free_port(), **env) as engine:
        reply = engine.client.post("/load", json={"engineModelName": "1.5B"})
        assert reply.status_code == 200, reply.text
        downloaded = base / "external_models" / "1.5B"
        found = sorted(str(p.relative_to(downloaded)) for p in downloaded.rglob("*") if p.is_file())
        assert found == listed
        upload(engine.client, "speaker", voice_wav())
        spoken = generate(engine.client, "Hello from a downloaded model.", "speaker.wav")
        assert spoken.status_code == 200, spoken.text
        assert wav_rate_and_frames(spoken.content)[:2] == (OUTPUT_RATE, 1)
        assert engine.client.post("/shutdown").status_code == 200
        assert engine.process.wait(timeout=60) == 0
    fetched = {r.path for r in file_server.requests()}
    assert "/Qwen/Qwen2.5-1.5B/resolve/main/tokenizer.json" in fetched
    assert "/microsoft/VibeVoice-1.5B/resolve/main/model-00002-of-00003.safetensors" in fetched
    assert "Traceback" not in engine.output()
    assert (base / "models" / "1.5B").is_symlink()  # served from external_models/
