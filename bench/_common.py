"""What every benchmark shares: paths, the two output lines, statistics, temporary directories and
the test helpers (tests/support) that start engines on loopback.

Each bench script prints exactly two lines on stdout: one JSON object, then one line for people.
Diagnostics go to stderr through `logging` (BENCH_LOG_LEVEL, default INFO).
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[1]
# The standard lives beside the repository: ../shared/seeds/ in CI and in clones
# (here /work/shared/seeds, the same directory).
SEEDS = REPO.parent / "shared" / "seeds"
STANDARD = SEEDS / "model-management-standard.md"

sys.path.insert(0, str(REPO / "tests"))

from support.containers import JOE, TINY_EN, WHISPER_FILES  # noqa: E402
from support.engines import (  # noqa: E402
    ENGINES,
    Served,
    copy_engine,
    engine_module,
    engine_process,
    free_port,
    live_server,
    make_server,
    wait_until_up,
)

__all__ = [
    "ENGINES",
    "JOE",
    "PIPER_VOICE",
    "REPO",
    "SENTENCES",
    "STANDARD",
    "TINY_EN",
    "WHISPER_FILES",
    "WHISPER_MODEL",
    "Result",
    "Served",
    "alternate",
    "copy_engine",
    "emit",
    "engine_code",
    "engine_module",
    "engine_process",
    "fast_dir",
    "free_port",
    "live_server",
    "make_server",
    "median",
    "percentile",
    "place_files",
    "scratch_dir",
    "setup_logging",
    "speech_wav",
    "timed",
    "verdict",
    "wait_until_up",
]

T = TypeVar("T")

logger = logging.getLogger("bench")

PIPER_VOICE = "en_US-joe-medium"
WHISPER_MODEL = "tiny.en"
SENTENCES = (
    "The quick brown fox jumps over the lazy dog. "
    "Speech engines run as containers or as local processes. "
    "Every model is linked into one directory before the server reads it. "
    "A benchmark means nothing without a baseline measured in the same run."
)


@dataclass
class Result:
    """The JSON line: what was measured, against what, and whether the goal is met."""

    case: str
    baseline: str
    values: dict[str, Any]
    ratio: float | None
    goal: str | None
    met: bool | None
    unit: str = "s"


def setup_logging() -> None:
    level = os.environ.get("BENCH_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    for chatty in ("httpx", "faster_whisper"):  # a line per request / per transcription
        logging.getLogger(chatty).setLevel(logging.WARNING)


def emit(result: Result, human: str) -> None:
    """The two output lines: JSON for machines, one sentence for people."""
    print(json.dumps(_rounded(asdict(result))), flush=True)
    print(human, flush=True)


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def verdict(met: bool | None) -> str:
    if met is None:
        return "no goal"
    return "goal met" if met else "goal MISSED"


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): a value that was actually observed."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[rank - 1])


def alternate(
    first: Callable[[], float], second: Callable[[], float], runs: int
) -> tuple[list[float], list[float]]:
    """Run two measurements in turns (first, second, first, ...) so drift hits both alike."""
    a: list[float] = []
    b: list[float] = []
    for run in range(runs):
        a.append(first())
        b.append(second())
        logger.info("run %d/%d: %.4f vs %.4f", run + 1, runs, a[-1], b[-1])
    return a, b


def timed(function: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value


def fast_dir() -> Path:
    """/dev/shm (tmpfs) when it is writable, else the system temporary directory."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return shm
    return Path(tempfile.gettempdir())


@contextmanager
def scratch_dir(prefix: str, parent: Path | None = None) -> Iterator[Path]:
    """A temporary directory that is removed afterwards, whatever happens."""
    path = Path(tempfile.mkdtemp(prefix=f"enginekit-bench-{prefix}-", dir=parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def engine_code(relative: str, destination: Path) -> Path:
    """A copy of an engine without its run-time directories (models, external_models, samples);
    the bench places the model files itself."""
    target = destination / relative.rsplit("/", 1)[-1]
    ignore = shutil.ignore_patterns("__pycache__", "models", "external_models", "samples")
    shutil.copytree(ENGINES / relative, target, ignore=ignore)
    return target


def place_files(files: Sequence[Path], directory: Path) -> Path:
    """Hard links of model files into `directory` (copies across filesystems)."""
    directory.mkdir(parents=True, exist_ok=True)
    for source in files:
        try:
            os.link(source, directory / source.name)
        except OSError:
            shutil.copy2(source, directory / source.name)
    return directory


def speech_wav(text: str = SENTENCES) -> bytes:
    """A WAV of `text` spoken by the joe voice (piper, in this process): real speech input."""
    # Imported here: onnxruntime is heavy and only the engine benchmarks need speech.
    import numpy as np  # noqa: PLC0415
    from piper import PiperVoice  # noqa: PLC0415

    from enginekit.audio import encode_wav  # noqa: PLC0415

    voice = PiperVoice.load(JOE / f"{PIPER_VOICE}.onnx")
    pieces = [chunk.audio_float_array for chunk in voice.synthesize(text)]
    return encode_wav(np.concatenate(pieces), voice.config.sample_rate)
