"""Case 6, discovery: GET /models with 10,000 entries in models/ (directories holding one small
file each, beside debug-tts's baked-in `default`), milliseconds per call (median of N calls),
against a bare `os.scandir` listing of the same directory. No goal in the issue; the ratio says
how much the endpoint adds on top of reading the directory. For context the run also times a
listing that sizes every entry (scandir of each model directory plus a stat of its files), the
least work /models must do to report sizes.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from _common import (
    Result,
    copy_engine,
    emit,
    engine_module,
    live_server,
    make_server,
    median,
    scratch_dir,
    setup_logging,
    verdict,
)

logger = logging.getLogger("bench.discovery")

ENGINE = "tts/debug-tts"
ENTRIES = 10_000


def fill(models: Path, count: int) -> None:
    for index in range(count):
        model = models / f"model-{index:05d}"
        model.mkdir()
        (model / "model.bin").write_bytes(b"weights")


def bare_listing(models: Path) -> Callable[[], int]:
    def call() -> int:
        with os.scandir(models) as entries:
            return len([entry.name for entry in entries])

    return call


def sized_listing(models: Path) -> Callable[[], int]:
    def call() -> int:
        total = 0
        with os.scandir(models) as entries:
            for entry in entries:
                with os.scandir(entry.path) as files:
                    total += sum(f.stat().st_size for f in files)
        return total

    return call


def models_call(client: httpx.Client, url: str, expected: int) -> Callable[[], int]:
    def call() -> int:
        response = client.get(f"{url}/models")
        response.raise_for_status()
        listed = len(response.json()["models"])
        if listed != expected:
            raise RuntimeError(f"/models listed {listed} models, expected {expected}")
        return listed

    return call


def per_call_ms(call: Callable[[], int], calls: int) -> list[float]:
    call()  # warm-up: dentry cache, first request
    timings: list[float] = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20, help="calls per contender (median)")
    parser.add_argument("--entries", type=int, default=ENTRIES)
    args = parser.parse_args()
    setup_logging()
    # The engine logs every model name at start-up: one line of ~130 kB with 10,000 models.
    logging.getLogger("enginekit.server.app").setLevel(logging.WARNING)
    with scratch_dir("discovery") as work:
        base = copy_engine(ENGINE, work)
        fill(base / "models", args.entries)
        logger.info("%d model directories in %s", args.entries, base / "models")
        server = make_server(engine_module(ENGINE).DebugTTSServer, base)
        with live_server(server) as url, httpx.Client(timeout=120) as client:
            endpoint = per_call_ms(models_call(client, url, args.entries + 1), args.calls)
        bare = per_call_ms(bare_listing(base / "models"), args.calls)
        sized = per_call_ms(sized_listing(base / "models"), args.calls)
    models_ms, bare_ms, sized_ms = median(endpoint), median(bare), median(sized)
    ratio = models_ms / bare_ms
    values = {
        "entries": args.entries + 1,
        "calls": args.calls,
        "models_ms": endpoint,
        "models_median_ms": models_ms,
        "models_us_per_entry": models_ms * 1000 / (args.entries + 1),
        "scandir_median_ms": bare_ms,
        "scandir_with_sizes_median_ms": sized_ms,
        "scratch": str(work.parent),
    }
    emit(
        Result("discovery", "bare os.scandir of models/", values, ratio, None, None, unit="ms"),
        f"discovery (/models with {args.entries + 1:,} entries, median of {args.calls}): "
        f"{models_ms:.1f} ms per call vs bare os.scandir {bare_ms:.2f} ms -> {ratio:.0f}x "
        f"(scandir with sizes {sized_ms:.1f} ms); {verdict(None)}",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
