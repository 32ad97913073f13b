"""The xtts engine as a real subprocess in its own environment (engines/tts/xtts/.venv), with
random-weight models built once per test run by the engine's tiny_model.py.

Without that environment the tests skip with the command that installs it; CI sets
ENGINEKIT_REQUIRE_XTTS=1 (.ci/run installs the environment), so there a missing one fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.engines import ENGINES, free_port

from enginekit.environments import environment_of

from .helpers import CLIENT_TIMEOUT, EngineProcess, start_engine

SOURCE = ENGINES / "tts/xtts"
MODELS = {"tiny-a": ("1", "en,de"), "tiny-b": ("2", "en,fr")}


def _unavailable(reason: str) -> None:
    if os.environ.get("ENGINEKIT_REQUIRE_XTTS") == "1":
        pytest.fail(f"ENGINEKIT_REQUIRE_XTTS=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def xtts_python() -> Path:
    """The engine's interpreter, from `enginekit engines install xtts`."""
    environment = environment_of("xtts")
    status = environment.status()
    if status != "installed":
        _unavailable(f"the xtts environment is {status}: run `enginekit engines install xtts`")
    return environment.python


@pytest.fixture(scope="session")
def tiny_models(xtts_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two random-weight models (different seeds and languages), built in parallel."""
    root = tmp_path_factory.mktemp("xtts-tiny-models")
    script = str(SOURCE / "tiny_model.py")
    builds = [
        subprocess.Popen(
            [str(xtts_python), script, str(root / name), "--seed", seed, "--languages", languages],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name, (seed, languages) in MODELS.items()
    ]
    for build in builds:
        output, _ = build.communicate(timeout=240)
        assert build.returncode == 0, output
    return root


def copy_engine(destination: Path, models: Path) -> Path:
    """The engine's code without its environment, with the tiny models in models/ (hard links)."""
    base = destination / "xtts"
    ignore = shutil.ignore_patterns(".venv*", "__pycache__", "models", "samples", "external_models")
    shutil.copytree(SOURCE, base, ignore=ignore)
    shutil.copytree(models, base / "models", copy_function=os.link)
    (base / "samples").mkdir()
    return base


@pytest.fixture(scope="session")
def xtts_base(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_engine(tmp_path_factory.mktemp("xtts-engine"), tiny_models)


@pytest.fixture(scope="session")
def xtts(xtts_python: Path, xtts_base: Path) -> Iterator[EngineProcess]:
    """One engine process for the session with tiny-a loaded."""
    with start_engine(xtts_python, xtts_base, free_port()) as engine:
        reply = engine.client.post("/load", json={"engineModelName": "tiny-a"})
        assert reply.status_code == 200, reply.text
        yield engine


@pytest.fixture
def client(xtts: EngineProcess) -> Iterator[httpx.Client]:
    """The session engine with tiny-a loaded again if a test swapped models."""
    if xtts.client.get("/health").json()["currentEngineModel"] != "tiny-a":
        assert xtts.client.post("/load", json={"engineModelName": "tiny-a"}).status_code == 200
    with httpx.Client(base_url=xtts.url, timeout=CLIENT_TIMEOUT) as fresh:
        yield fresh
