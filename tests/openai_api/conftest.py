"""Engines behind the official `openai` client: debug-tts and debug-stt per module, piper and
whisper per session (the real-engine fixtures of tests/engines), each on a real uvicorn."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from engines.conftest import (  # noqa: F401  (fixtures, registered for this package)
    bake,
    engines_dir,
    piper,
    piper_baked,
    piper_base,
    voice_files,
    whisper,
    whisper_base,
    whisper_files,
)
from engines.helpers import LiveEngine
from support.engines import copy_engine, engine_module, live_server, make_server

from .helpers import Served, sdk

DebugTTS = engine_module("tts/debug-tts").DebugTTS
DebugSTT = engine_module("stt/debug-stt").DebugSTT


def _served(engine_class: type, base: Path) -> Iterator[Served]:
    server = make_server(engine_class, base)
    with live_server(server) as url:
        yield Served(server, url, sdk(url))


@pytest.fixture(scope="module")
def debug_tts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """debug-tts with nothing loaded: the first request loads its default model."""
    yield from _served(DebugTTS, copy_engine("tts/debug-tts", tmp_path_factory.mktemp("tts")))


@pytest.fixture(scope="module")
def debug_stt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from _served(DebugSTT, copy_engine("stt/debug-stt", tmp_path_factory.mktemp("stt")))


@pytest.fixture(scope="module")
def piper_sdk(piper: LiveEngine) -> openai.OpenAI:  # noqa: F811
    return sdk(piper.url)


@pytest.fixture(scope="module")
def whisper_sdk(whisper: LiveEngine) -> openai.OpenAI:  # noqa: F811
    return sdk(whisper.url)
