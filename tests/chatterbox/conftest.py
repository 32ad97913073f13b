"""The chatterbox engine as a real subprocess in its own environment
(engines/tts/chatterbox/.venv), with random-weight models built by the engine's tiny_model.py.

Chatterbox's sizes are fixed, so a tiny model is ~0.55 GB and takes ~30 s to build and ~15-20 s
to load: the two models (multilingual, English) are built once and kept under .cache/ (keyed by
tiny_model.py and the chatterbox-tts version), and one engine serves the package's tests.
Without the environment the tests skip with the command that installs it; CI sets
ENGINEKIT_REQUIRE_CHATTERBOX=1 (.ci/run installs the environment), so there a missing one fails.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.engines import ENGINES, REPO, free_port

from enginekit.environments import environment_of

from .helpers import ChatterboxProcess, network_namespaces, start_engine

SOURCE = ENGINES / "tts/chatterbox"
CACHE = REPO / ".cache" / "chatterbox-tiny"
MODELS = {"tiny": [], "tiny-en": ["--english"]}
logger = logging.getLogger(__name__)


def unavailable(reason: str) -> None:
    if os.environ.get("ENGINEKIT_REQUIRE_CHATTERBOX") == "1":
        pytest.fail(f"ENGINEKIT_REQUIRE_CHATTERBOX=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chatterbox_python() -> Path:
    """The engine's interpreter, from `enginekit engines install chatterbox`."""
    environment = environment_of("chatterbox")
    status = environment.status()
    if status != "installed":
        unavailable(f"the chatterbox environment is {status}: run `enginekit engines install "
                    "chatterbox`")  # fmt: skip
    return environment.python


def _cache_key(python: Path) -> str:
    version = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('chatterbox-tts'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    digest = hashlib.sha256((SOURCE / "tiny_model.py").read_bytes() + version.encode())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def tiny_models(chatterbox_python: Path) -> Path:
    """The multilingual and English tiny models, built one after the other (each peaks at about
    2.4 GB) into the cache unless already there."""
    root = CACHE / _cache_key(chatterbox_python)
    missing = [name for name in MODELS if not (root / name).is_dir()]
    for name in missing:
        command = [str(chatterbox_python), str(SOURCE / "tiny_model.py"), str(root / name)]
        build = subprocess.run(
            [*command, *MODELS[name]], capture_output=True, text=True, timeout=600, check=False
        )
        assert build.returncode == 0, build.stdout + build.stderr
    for stale in CACHE.iterdir():
        if stale != root:
            shutil.rmtree(stale, ignore_errors=True)
    return root


def copy_engine(destination: Path, models: Path, names: tuple[str, ...] = tuple(MODELS)) -> Path:
    """The engine's code without its environment, with tiny models in models/ (hard links)."""
    base = destination / "chatterbox"
    ignore = shutil.ignore_patterns(".venv*", "__pycache__", "models", "samples", "external_models")
    shutil.copytree(SOURCE, base, ignore=ignore)
    for name in names:
        shutil.copytree(models / name, base / "models" / name, copy_function=os.link)
    (base / "samples").mkdir()
    return base


@pytest.fixture(scope="package")
def chatterbox(chatterbox_python: Path, tiny_models: Path) -> Iterator[ChatterboxProcess]:
    """One engine for the package's tests, tiny loaded, in a network namespace with only
    loopback where the machine allows it (released when the package's tests end)."""
    with tempfile.TemporaryDirectory(prefix="chatterbox-engine-") as scratch:
        base = copy_engine(Path(scratch), tiny_models)
        isolated = network_namespaces()
        with start_engine(chatterbox_python, base, free_port(), isolated=isolated) as engine:
            reply = engine.client.post("/load", json={"engineModelName": "tiny"})
            assert reply.status_code == 200, reply.text + engine.output()
            yield engine
            rss, peak = engine.memory_mb()
            logger.warning("chatterbox engine memory: %d MB resident, %d MB peak", rss, peak)


@pytest.fixture
def client(chatterbox: ChatterboxProcess) -> Iterator[httpx.Client]:
    """The package's engine with tiny loaded again if a test swapped models."""
    if chatterbox.client.get("/health").json()["currentEngineModel"] != "tiny":
        assert chatterbox.client.post("/load", json={"engineModelName": "tiny"}).status_code == 200
    with chatterbox.new_client() as fresh:
        yield fresh
