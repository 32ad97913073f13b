"""Case 4, responsiveness: GET /health latency (p50, p99) while POST /generate jobs (debug-tts,
10,000 characters each) run back to back, against the same engine idle. Goal: p99 under 50 ms.

The engine is a real subprocess (`python server.py`, a copy of engines/tts/debug-tts), so neither
the load generator nor the sampler shares its interpreter. The load generator is a separate
process too; the sampler sends one /health at a time on a keep-alive connection, with a short
pause between requests.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import sys
import time
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import httpx
from _common import (
    SENTENCES,
    Result,
    copy_engine,
    emit,
    engine_process,
    median,
    percentile,
    scratch_dir,
    setup_logging,
    verdict,
)

logger = logging.getLogger("bench.responsiveness")

ENGINE = "tts/debug-tts"
CHARS = 10_000
GOAL_MS = 50.0
MAX_JOBS = 10_000


def generate_forever(url: str, stop: Event, done: Any) -> None:
    """The load: /generate of 10,000 characters, back to back, until told to stop."""
    text = (SENTENCES * (CHARS // len(SENTENCES) + 1))[:CHARS]
    body = {"text": text, "language": "en", "tts_speaker_wav": ""}
    with httpx.Client(timeout=300) as client:
        for _ in range(MAX_JOBS):
            if stop.is_set():
                return
            client.post(f"{url}/generate", json=body).raise_for_status()
            with done.get_lock():
                done.value += 1


def sample_health(
    client: httpx.Client, url: str, count: int, pause: float
) -> tuple[list[float], int]:
    """`count` sequential /health latencies in ms, and how many said "processing"."""
    latencies: list[float] = []
    busy = 0
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(f"{url}/health")
        latencies.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        busy += response.json()["status"] == "processing"
        time.sleep(pause)
    return latencies, busy


def wait_loaded(client: httpx.Client, url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get(f"{url}/health").json().get("engineModelLoaded"):
            return
        time.sleep(0.05)
    raise TimeoutError("debug-tts did not load its default model")


def under_load(
    client: httpx.Client, url: str, count: int, pause: float
) -> tuple[list[float], int, int]:
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    done = context.Value("i", 0)
    load = context.Process(target=generate_forever, args=(url, stop, done), daemon=True)
    load.start()
    try:
        time.sleep(1.0)  # let the first job start (the process imports httpx first)
        latencies, busy = sample_health(client, url, count, pause)
    finally:
        stop.set()
        load.join(timeout=60)
        if load.is_alive():
            load.kill()
    return latencies, busy, int(done.value)


def summary(latencies: list[float]) -> dict[str, float]:
    return {
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies),
        "median_ms": median(latencies),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000, help="/health requests per phase")
    parser.add_argument("--pause-ms", type=float, default=10.0, help="pause between requests")
    args = parser.parse_args()
    setup_logging()
    pause = args.pause_ms / 1000
    with scratch_dir("responsiveness") as work:
        base: Path = copy_engine(ENGINE, work)
        env = {"ENGINE_HOME": str(base), "ENGINE_LOAD_MODEL": "default", "LOG_LEVEL": "WARNING"}
        with (
            engine_process(base / "server.py", base, env) as (url, _),
            httpx.Client(timeout=30) as client,
        ):
            wait_loaded(client, url)
            idle, _ = sample_health(client, url, args.samples, pause)
            loaded, busy, jobs = under_load(client, url, args.samples, pause)
    idle_stats, loaded_stats = summary(idle), summary(loaded)
    met = loaded_stats["p99_ms"] < GOAL_MS
    values: dict[str, Any] = {
        "samples_per_phase": args.samples,
        "pause_ms": args.pause_ms,
        "idle": idle_stats,
        "under_load": loaded_stats,
        "generate_jobs_completed": jobs,
        "samples_seeing_processing": busy,
    }
    ratio = loaded_stats["p99_ms"] / idle_stats["p99_ms"]
    goal = f"p99 < {GOAL_MS:g} ms"
    emit(
        Result("responsiveness", "/health when idle", values, ratio, goal, met, unit="ms"),
        f"responsiveness ({args.samples} /health samples per phase; {jobs} /generate jobs of "
        f"{CHARS:,} chars meanwhile, {busy} samples saw 'processing'): under load p50 "
        f"{loaded_stats['p50_ms']:.1f} ms, p99 {loaded_stats['p99_ms']:.1f} ms vs idle p50 "
        f"{idle_stats['p50_ms']:.1f} ms, p99 {idle_stats['p99_ms']:.1f} ms -> p99 {ratio:.1f}x; "
        f"goal p99 < {GOAL_MS:g} ms: {verdict(met)}",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
