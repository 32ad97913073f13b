"""Case 11, start-up: `enginekit models list` wall time (goal <= 0.15 s) against the bare
interpreter (`python -c pass`) in the same run, with the import time of what the command pulls in
(`python -X importtime`, the slowest top-level packages); and `make run`'s engine (piper serving
its default voice, `server.py --load default`) from process start to a `/health` answer, to the
voice loaded, and to the first audio byte of a streamed `/v1/audio/speech` of one sentence.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from _common import (
    JOE,
    PIPER_VOICE,
    Result,
    emit,
    engine_code,
    free_port,
    median,
    place_files,
    scratch_dir,
    setup_logging,
    verdict,
)

logger = logging.getLogger("bench.startup")

GOAL_S = 0.15
ENGINEKIT = Path(sys.executable).with_name("enginekit")
SENTENCE = "The quick brown fox jumps over the lazy dog."


def wall(command: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=60)
        times.append(time.perf_counter() - started)
    return times


def import_costs(engine_dir: Path, top: int = 8) -> dict[str, float]:
    """Cumulative import seconds of the packages, and of enginekit's modules, that `models
    list` imports (nested ones count in their importer too)."""
    code = "import sys; from enginekit.cli import main; sys.exit(main(sys.argv[1:]))"
    command = [sys.executable, "-X", "importtime", "-c", code, "models", "list", "--engine-dir"]
    done = subprocess.run(
        [*command, str(engine_dir)], capture_output=True, text=True, check=True, timeout=60
    )
    costs: dict[str, float] = {}
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        module = parts[2].strip()
        root, _, rest = module.partition(".")
        if "." not in rest and (not rest or root == "enginekit") and module != "enginekit.cli":
            costs[module] = int(parts[1]) / 1e6  # a package, or one of enginekit's: cumulative
    ranked = sorted(costs.items(), key=lambda item: item[1], reverse=True)
    return dict(ranked[:top])


def engine_start(base: Path) -> dict[str, float]:
    """Seconds from Popen to /health 200, to the voice loaded, to the first streamed byte."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(base / "server.py"), "--host", "127.0.0.1", "--port", str(port),
         "--load", "default"],
        cwd=base, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    marks: dict[str, float] = {}
    model = PIPER_VOICE
    try:
        with httpx.Client(timeout=30) as client:
            while "health_s" not in marks or "loaded_s" not in marks:
                if process.poll() is not None:
                    raise RuntimeError(f"the engine exited with {process.returncode}")
                try:
                    health = client.get(f"{url}/health").json()
                except httpx.TransportError:
                    time.sleep(0.01)
                    continue
                marks.setdefault("health_s", time.perf_counter() - started)
                if health.get("engineModelLoaded", health.get("engine_model_loaded")):
                    marks["loaded_s"] = time.perf_counter() - started
                    model = health.get("currentEngineModel") or PIPER_VOICE
                else:
                    time.sleep(0.01)
            body = {"model": model, "voice": "alloy", "input": SENTENCE,
                    "response_format": "pcm"}  # fmt: skip
            with client.stream("POST", f"{url}/v1/audio/speech", json=body) as response:
                response.raise_for_status()
                for piece in response.iter_bytes():
                    if piece:
                        marks["first_audio_s"] = time.perf_counter() - started
                        break
    finally:
        process.kill()
        process.wait(timeout=10)
    return marks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="runs of each command (median)")
    parser.add_argument("--starts", type=int, default=3, help="engine starts (median)")
    args = parser.parse_args()
    setup_logging()
    with scratch_dir("startup") as work:
        empty = work / "engine"
        empty.mkdir()
        bare = wall([sys.executable, "-c", "pass"], args.runs)
        listing = wall([str(ENGINEKIT), "models", "list", "--engine-dir", str(empty)], args.runs)
        imports = import_costs(empty)
        base = engine_code("tts/piper", work)
        place_files(
            [JOE / f"{PIPER_VOICE}.onnx", JOE / f"{PIPER_VOICE}.onnx.json"],
            base / "models" / PIPER_VOICE,
        )
        starts = [engine_start(base) for _ in range(args.starts)]
    list_s, bare_s = median(listing), median(bare)
    engine = {key: median([s[key] for s in starts]) for key in starts[0]}
    met = list_s <= GOAL_S
    values = {
        "models_list_s": listing,
        "python_pass_s": bare,
        "models_list_median_s": list_s,
        "python_pass_median_s": bare_s,
        "import_s_by_package": imports,
        "engine_starts": starts,
        "engine_median": engine,
        "load_avg_1m": os.getloadavg()[0],
    }
    top = ", ".join(f"{name} {seconds:.3f} s" for name, seconds in list(imports.items())[:5])
    emit(
        Result("startup", "python -c pass", values, list_s / bare_s, f"<= {GOAL_S} s", met),
        f"start-up (median of {args.runs}): enginekit models list {list_s:.3f} s vs python -c "
        f"pass {bare_s:.3f} s, goal <= {GOAL_S} s: {verdict(met)} (imports: {top}); make run's "
        f"piper (median of {args.starts}): /health {engine['health_s']:.2f} s, voice loaded "
        f"{engine['loaded_s']:.2f} s, first audio byte {engine['first_audio_s']:.2f} s",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
