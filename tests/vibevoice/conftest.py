"""The vibevoice engine as a real subprocess in its own environment (engines/tts/vibevoice/.venv),
with random-weight models built once per test run by the engine's tiny_model.py and placed in
external_models/ as a mounted model would be (scenario 3: nothing in models/ but links).

Without that environment the tests skip with the command that installs it; CI sets
ENGINEKIT_REQUIRE_VIBEVOICE=1 (.ci/run installs the environment), so there a missing one fails.
The engine runs with one torch thread: the tiny model's operations are too small to gain from
more, and on a shared two-core machine idle threads spinning slow it down tenfold.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.engine_process import CLIENT_TIMEOUT, EngineProcess, engine_python, start_engine
from support.engines import ENGINES, free_port

SOURCE = ENGINES / "tts/vibevoice"
FRAME = 3200  # samples per speech frame (24 kHz / 7.5 Hz)
FRAMES = {"tiny-a": 12, "tiny-b": 30}  # tiny-b speaks longer, so a swap shows in the length
THREADS = {"OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="session")
def vibevoice_python() -> Path:
    return engine_python("vibevoice")


@pytest.fixture(scope="session")
def tiny_models(vibevoice_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tiny-a, in three shards as the 1.5B release is (the catalog test serves its files), and
    tiny-b: the same weights (hard links) with a longer generation cap of its own."""
    root = tmp_path_factory.mktemp("vibevoice-tiny-models")
    command = [str(vibevoice_python), str(SOURCE / "tiny_model.py"), str(root / "tiny-a")]
    command += ["--frames", str(FRAMES["tiny-a"]), "--shards", "3"]
    env = {**os.environ, **THREADS}
    build = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert build.returncode == 0, build.stderr
    shutil.copytree(root / "tiny-a", root / "tiny-b", copy_function=os.link)
    config = root / "tiny-b" / "generation_config.json"
    settings = json.loads(config.read_text())
    config.unlink()  # a hard link: tiny-a keeps its own
    config.write_text(json.dumps({**settings, "max_new_tokens": FRAMES["tiny-b"]}))
    return root


def copy_engine(destination: Path, models: Path) -> Path:
    """The engine's code without its environment, the tiny models in external_models/ (hard
    links), models/ empty as in the image."""
    base = destination / "vibevoice"
    ignore = shutil.ignore_patterns(".venv*", "__pycache__", "models", "samples", "external_models")
    shutil.copytree(SOURCE, base, ignore=ignore)
    shutil.copytree(models, base / "external_models", copy_function=os.link)
    (base / "models").mkdir()
    (base / "samples").mkdir()
    return base


@pytest.fixture(scope="session")
def vibevoice_base(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_engine(tmp_path_factory.mktemp("vibevoice-engine"), tiny_models)


@pytest.fixture(scope="session")
def vibevoice(vibevoice_python: Path, vibevoice_base: Path) -> Iterator[EngineProcess]:
    """One engine process for the session with tiny-a loaded."""
    with start_engine(vibevoice_python, vibevoice_base, free_port(), **THREADS) as engine:
        reply = engine.client.post("/load", json={"engineModelName": "tiny-a"})
        assert reply.status_code == 200, reply.text
        yield engine


@pytest.fixture
def client(vibevoice: EngineProcess) -> Iterator[httpx.Client]:
    """The session engine with tiny-a loaded again if a test swapped or unloaded it."""
    if vibevoice.client.get("/health").json()["currentEngineModel"] != "tiny-a":
        assert vibevoice.client.post("/load", json={"engineModelName": "tiny-a"}).status_code == 200
    with httpx.Client(base_url=vibevoice.url, timeout=CLIENT_TIMEOUT) as fresh:
        yield fresh
