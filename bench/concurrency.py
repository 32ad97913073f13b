"""Case 9, concurrency: 4 clients at once against 1, on piper and on debug-tts, each a real
engine subprocess; requests per second and p50/p99 latency of `POST /generate`, and `GET /health`
p99 polled every 20 ms while the 4 clients run. Piper runs twice: as the engine declares it
(one job at a time) and with `parallel_jobs` = 2 (a subclass; piper serialises its phonemizer
behind a lock and onnxruntime sessions are thread-safe), so the gain of running syntheses side
by side is measured on this machine. Goal: /health p99 under load < 50 ms; the 4-client
throughput and latency are reported against 1 client (no goal of their own).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from _common import (
    JOE,
    PIPER_VOICE,
    SENTENCES,
    Result,
    copy_engine,
    emit,
    engine_code,
    engine_process,
    median,
    percentile,
    place_files,
    scratch_dir,
    setup_logging,
    verdict,
)

logger = logging.getLogger("bench.concurrency")

HEALTH_GOAL_MS = 50.0
CLIENTS = 4
LAUNCHER = """\
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from server import {cls}  # noqa: E402

from enginekit.server import run  # noqa: E402


class Parallel({cls}):
    parallel_jobs = {jobs}


run(Parallel)
"""


@contextmanager
def engine(kind: str, work: Path, jobs: int | None) -> Iterator[str]:
    """A copy of the engine as a subprocess, its model loaded; `jobs`: a subclass declaring
    parallel_jobs (None: the engine as it is)."""
    if kind == "piper":
        base = engine_code("tts/piper", work / f"{kind}-{jobs}")
        files = [JOE / f"{PIPER_VOICE}.onnx", JOE / f"{PIPER_VOICE}.onnx.json"]
        place_files(files, base / "models" / PIPER_VOICE)
        model, cls = PIPER_VOICE, "Piper"
    else:
        base = copy_engine("tts/debug-tts", work / f"{kind}-{jobs}")
        model, cls = "default", "DebugTTS"
    script = base / "server.py"
    if jobs is not None:
        script = base / "parallel.py"
        script.write_text(LAUNCHER.format(cls=cls, jobs=jobs), encoding="utf-8")
    env = {"ENGINE_HOME": str(base), "ENGINE_LOAD_MODEL": model, "LOG_LEVEL": "WARNING"}
    with engine_process(script, base, env) as (url, _):
        wait_loaded(url)
        yield url


def wait_loaded(url: str, limit_s: float = 300) -> None:
    """/health answers before ENGINE_LOAD_MODEL has finished loading; wait for the model."""
    deadline = time.monotonic() + limit_s
    while not model_loaded(httpx.get(f"{url}/health", timeout=30).json()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not load its model within {limit_s:g} s")
        time.sleep(0.1)


def model_loaded(health: dict[str, Any]) -> bool:
    """The wire spells it engineModelLoaded (camelCase); older engines engine_model_loaded."""
    return bool(health.get("engineModelLoaded", health.get("engine_model_loaded")))


def generate(url: str, text: str) -> float:
    body = {"text": text, "language": "en", "tts_speaker_wav": ""}
    with httpx.Client(timeout=600) as client:
        started = time.perf_counter()
        client.post(f"{url}/generate", json=body).raise_for_status()
        return time.perf_counter() - started


def load(url: str, text: str, clients: int, requests: int) -> dict[str, Any]:
    """`requests` /generate calls spread over `clients` threads; /health polled meanwhile."""
    stop = threading.Event()
    health: list[float] = []
    poller = threading.Thread(target=poll_health, args=(url, stop, health), daemon=True)
    poller.start()
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = list(pool.map(lambda _: generate(url, text), range(requests)))
    wall = time.perf_counter() - started
    stop.set()
    poller.join()
    return {
        "requests": requests,
        "wall_s": wall,
        "per_second": requests / wall,
        "p50_s": median(latencies),
        "p99_s": percentile(latencies, 99),
        "health_samples": len(health),
        "health_p50_ms": median(health),
        "health_p99_ms": percentile(health, 99),
    }


def poll_health(url: str, stop: threading.Event, into: list[float]) -> None:
    with httpx.Client(timeout=30) as client:
        while not stop.is_set():
            started = time.perf_counter()
            client.get(f"{url}/health").raise_for_status()
            into.append((time.perf_counter() - started) * 1000)
            stop.wait(0.02)


def phases(url: str, text: str, requests: int) -> tuple[dict[str, Any], dict[str, Any]]:
    return load(url, text, 1, requests), load(url, text, CLIENTS, requests)


def summarise(ones: list[dict[str, Any]], manys: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the rounds of each figure, 1 client and 4 clients."""

    def med(runs: list[dict[str, Any]]) -> dict[str, float]:
        return {key: median([run[key] for run in runs]) for key in runs[0]}

    one, many = med(ones), med(manys)
    return {
        "one_client": one,
        "four_clients": many,
        "rounds": {"one_client": ones, "four_clients": manys},
        "throughput_gain": many["per_second"] / one["per_second"],
        "p50_vs_one": many["p50_s"] / one["p50_s"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds (medians)")
    parser.add_argument("--piper-requests", type=int, default=8, help="per phase and round")
    parser.add_argument("--debug-requests", type=int, default=40, help="per phase and round")
    parser.add_argument("--debug-chars", type=int, default=4000)
    args = parser.parse_args()
    setup_logging()
    debug_text = (SENTENCES * (args.debug_chars // len(SENTENCES) + 1))[: args.debug_chars]
    runs: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
    with scratch_dir("concurrency") as work:
        with engine("debug", work, None) as url:
            generate(url, debug_text)  # warm-up
            for _ in range(args.rounds):
                one, many = phases(url, debug_text, args.debug_requests)
                runs.setdefault("debug-tts", ([], []))[0].append(one)
                runs["debug-tts"][1].append(many)
        # Both piper variants up at once and measured in turns, so the machine's load (shared,
        # 2 CPUs) hits both alike; only one of them works at any moment.
        with engine("piper", work, None) as serial, engine("piper", work, 2) as parallel:
            for url in (serial, parallel):
                generate(url, SENTENCES)  # warm-up
            for index in range(args.rounds):
                for name, url in (("piper", serial), ("piper parallel_jobs=2", parallel)):
                    one, many = phases(url, SENTENCES, args.piper_requests)
                    runs.setdefault(name, ([], []))[0].append(one)
                    runs[name][1].append(many)
                logger.info("round %d/%d done", index + 1, args.rounds)
    cases = {name: summarise(ones, manys) for name, (ones, manys) in runs.items()}
    worst_health = max(c["four_clients"]["health_p99_ms"] for c in cases.values())
    met = worst_health < HEALTH_GOAL_MS
    parallel_gain = (
        cases["piper parallel_jobs=2"]["four_clients"]["per_second"]
        / cases["piper"]["four_clients"]["per_second"]
    )
    human = "; ".join(
        f"{name}: 4 clients {c['four_clients']['per_second']:.2f}/s vs 1 client "
        f"{c['one_client']['per_second']:.2f}/s ({c['throughput_gain']:.2f}x), p50 "
        f"{c['four_clients']['p50_s']:.2f} s vs {c['one_client']['p50_s']:.2f} s, p99 "
        f"{c['four_clients']['p99_s']:.2f} s vs {c['one_client']['p99_s']:.2f} s, /health p99 "
        f"{c['four_clients']['health_p99_ms']:.1f} ms"
        for name, c in cases.items()
    )
    emit(
        Result(
            "concurrency",
            "1 client; piper with one job at a time",
            {
                "cases": cases,
                "piper_parallel_gain": parallel_gain,
                "cpus": os.cpu_count(),
                "load_avg_1m": os.getloadavg()[0],
            },
            worst_health,
            f"/health p99 < {HEALTH_GOAL_MS:g} ms under 4 clients",
            met,
            unit="ms",
        ),
        f"concurrency (median of {args.rounds} rounds): {human}; piper parallel_jobs=2 vs 1 "
        f"under 4 clients: {parallel_gain:.2f}x; /health p99 worst {worst_health:.1f} ms, goal "
        f"< {HEALTH_GOAL_MS:g} ms: {verdict(met)}",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
