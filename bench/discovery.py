"""Case 6, discovery: GET /models with 10,000 entries in models/ (directories holding one small
file each, beside debug-tts's baked-in `default`), milliseconds per call (median of N calls),
against a bare `os.scandir` listing of the same directory. Goal: <= 50 ms per call. For context
the run also times a listing that sizes every entry (scandir of each model directory plus a stat
of its files, what an uncached listing must do), the catalog's cached listing in-process (its
directory fingerprint: a scandir and a stat per model directory), the call right after a model
was added (a rebuild; checked to list it), and the door's own share: building the 10,001
wire objects and their JSON.

The engine runs as users run it, `python server.py` in its own process: a server in a thread
of this process would share its interpreter lock and garbage collector with the client decoding
10,001 JSON objects, and half its calls took twice as long for that. A call is timed until the
whole body has arrived; decoding the JSON is the client's work, timed apart and checked after.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from _common import (
    Result,
    copy_engine,
    emit,
    engine_module,
    engine_process,
    make_server,
    median,
    scratch_dir,
    setup_logging,
    verdict,
)

logger = logging.getLogger("bench.discovery")

GOAL_MS = 50.0

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


def fetch_models(client: httpx.Client, url: str, expected: int) -> tuple[float, float]:
    """Milliseconds until the whole body of one /models arrived, then to decode its JSON."""
    started = time.perf_counter()
    response = client.get(f"{url}/models")
    body = response.content
    arrived = time.perf_counter()
    response.raise_for_status()
    listed = len(json.loads(body)["models"])
    decoded = time.perf_counter()
    if listed != expected:
        raise RuntimeError(f"/models listed {listed} models, expected {expected}")
    return (arrived - started) * 1000, (decoded - arrived) * 1000


def endpoint_ms(
    client: httpx.Client, url: str, expected: int, calls: int
) -> tuple[list[float], list[float]]:
    fetch_models(client, url, expected)  # warm-up: dentry cache, the first listing
    timings = [fetch_models(client, url, expected) for _ in range(calls)]
    return [fetched for fetched, _ in timings], [decoded for _, decoded in timings]


def door_share_ms(server: Any, calls: int) -> dict[str, float]:
    """What the door adds to a cached listing: the wire objects, then their JSON."""
    from enginekit.doors.contract.common import model_info  # noqa: PLC0415
    from enginekit.doors.wire import ModelsResponse  # noqa: PLC0415

    catalog = server.runtime.catalog
    listed = catalog.listing()

    def build() -> int:
        response = ModelsResponse(
            models=[model_info(m) for m in listed], default_model=None, device="cpu"
        )
        return len(response.model_dump_json())

    return {
        "catalog_listing_median_ms": median(per_call_ms(lambda: len(catalog.listing()), calls)),
        "wire_objects_and_json_median_ms": median(per_call_ms(build, calls)),
    }


def after_a_change_ms(client: httpx.Client, url: str, models: Path, expected: int) -> float:
    """One call right after a model was added: the listing is rebuilt and shows it."""
    fill_one(models, "model-added")
    fetched, _ = fetch_models(client, url, expected + 1)
    return fetched


def fill_one(models: Path, name: str) -> None:
    (models / name).mkdir()
    (models / name / "model.bin").write_bytes(b"weights")


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
    with scratch_dir("discovery") as work:
        base = copy_engine(ENGINE, work)
        fill(base / "models", args.entries)
        logger.info("%d model directories in %s", args.entries, base / "models")
        quiet = {"LOG_LEVEL": "WARNING"}  # nobody reads the engine's output here
        with (
            engine_process(base / "server.py", base, env=quiet) as (url, _),
            httpx.Client(timeout=120) as client,
        ):
            endpoint, decoding = endpoint_ms(client, url, args.entries + 1, args.calls)
            changed_ms = after_a_change_ms(client, url, base / "models", args.entries + 1)
        door = door_share_ms(make_server(engine_module(ENGINE).DebugTTS, base), args.calls)
        bare = per_call_ms(bare_listing(base / "models"), args.calls)
        sized = per_call_ms(sized_listing(base / "models"), args.calls)
    models_ms, bare_ms, sized_ms = median(endpoint), median(bare), median(sized)
    ratio = models_ms / bare_ms
    met = models_ms <= GOAL_MS
    values = {
        "entries": args.entries + 1,
        "calls": args.calls,
        "models_ms": endpoint,
        "models_median_ms": models_ms,
        "models_us_per_entry": models_ms * 1000 / (args.entries + 1),
        "client_json_decoding_median_ms": median(decoding),
        "scandir_median_ms": bare_ms,
        "scandir_with_sizes_median_ms": sized_ms,
        "after_adding_a_model_ms": changed_ms,
        **door,
        "load_avg_1m": os.getloadavg()[0],
        "scratch": str(work.parent),
    }
    emit(
        Result(
            "discovery",
            "bare os.scandir of models/",
            values,
            ratio,
            f"<= {GOAL_MS:g} ms",
            met,
            unit="ms",
        ),
        f"discovery (/models with {args.entries + 1:,} entries, median of {args.calls}): "
        f"{models_ms:.1f} ms per call vs bare os.scandir {bare_ms:.2f} ms -> {ratio:.0f}x; goal "
        f"<= {GOAL_MS:g} ms: {verdict(met)} (catalog's cached listing "
        f"{door['catalog_listing_median_ms']:.1f} ms, the door's wire objects and JSON "
        f"{door['wire_objects_and_json_median_ms']:.1f} ms, scandir with sizes {sized_ms:.1f} ms, "
        f"the call after adding a model {changed_ms:.0f} ms)",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
