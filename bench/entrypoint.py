"""Case 2, entrypoint: linking 1,000 and 10,000 external models with scripts/docker-entrypoint.sh
against the standard's own script. Goal: ours at least 10x faster at 10,000.

The standard's script is taken at run time from the ```bash block under "## Docker Entrypoint
Script" of ../shared/seeds/model-management-standard.md; its two assignment lines are rewritten to
`VAR="${VAR:-default}"` so MODELS_DIR and EXTERNAL_DIR can point into the scratch tree. The tree
lives in /dev/shm (tmpfs) when writable, so the disk does not blur the comparison. Every run starts
with a fresh, empty models/; runs alternate and the medians are compared.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import (
    REPO,
    STANDARD,
    Result,
    alternate,
    emit,
    fast_dir,
    median,
    scratch_dir,
    setup_logging,
    verdict,
)

logger = logging.getLogger("bench.entrypoint")

GOAL = 10.0
OURS = REPO / "scripts" / "docker-entrypoint.sh"
SECTION = "## Docker Entrypoint Script"
ASSIGNMENT = re.compile(r'^(MODELS_DIR|EXTERNAL_DIR)="?([^"\n]*)"?[ \t]*$', re.MULTILINE)


def standard_script(markdown: Path) -> str:
    """The ```bash block of the entrypoint section, with overridable directories."""
    text = markdown.read_text(encoding="utf-8")
    if SECTION not in text:
        raise SystemExit(f"{markdown}: no '{SECTION}' section")
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    if block is None:
        raise SystemExit(f"{markdown}: no ```bash block under '{SECTION}'")
    script, count = ASSIGNMENT.subn(r'\1="${\1:-\2}"', block.group(1))
    if count != 2:
        raise SystemExit(f"{markdown}: expected 2 directory assignments, found {count}")
    return script


def build_tree(base: Path, count: int) -> Path:
    """external_models/ with `count` model directories holding one small file each."""
    external = base / "external_models"
    external.mkdir(parents=True)
    for index in range(count):
        model = external / f"model-{index:05d}"
        model.mkdir()
        (model / "model.bin").write_bytes(b"weights")
    return external


def run_once(script: Path, base: Path, expected: int) -> float:
    """One entrypoint run on a fresh models/; its wall time. Checks every model got linked."""
    models = base / "models"
    shutil.rmtree(models, ignore_errors=True)
    env = {
        "PATH": os.environ["PATH"],
        "MODELS_DIR": str(models),
        "EXTERNAL_DIR": str(base / "external_models"),
    }
    started = time.perf_counter()
    subprocess.run(
        ["bash", str(script)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=600,
    )
    seconds = time.perf_counter() - started
    linked = sum(1 for entry in os.scandir(models) if os.path.exists(entry.path))
    if linked != expected:
        raise RuntimeError(f"{script.name} linked {linked} of {expected} models")
    shutil.rmtree(models)
    return seconds


def measure(count: int, standard: Path, parent: Path, runs: int) -> dict[str, Any]:
    with scratch_dir(f"entrypoint-{count}", parent) as base:
        build_tree(base, count)
        ours, theirs = alternate(
            lambda: run_once(OURS, base, count), lambda: run_once(standard, base, count), runs
        )
    ours_s, theirs_s = median(ours), median(theirs)
    logger.info("%d models: ours %.3f s, standard %.3f s", count, ours_s, theirs_s)
    return {
        "ours_s": ours,
        "standard_s": theirs,
        "ours_median_s": ours_s,
        "standard_median_s": theirs_s,
        "speedup": theirs_s / ours_s,
        "runs": runs,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each script per size")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    setup_logging()
    parent = fast_dir()
    logger.info("scratch trees in %s; standard from %s", parent, STANDARD)
    with scratch_dir("entrypoint-script") as holder:
        standard = holder / "standard-entrypoint.sh"
        standard.write_text(standard_script(STANDARD), encoding="utf-8")
        results = {str(n): measure(n, standard, parent, args.runs) for n in args.sizes}
    largest = results[str(max(args.sizes))]
    ratio = largest["speedup"]
    met = ratio >= GOAL if max(args.sizes) >= 10000 else None
    values: dict[str, Any] = {"sizes": results, "scratch": str(parent)}
    emit(
        Result(
            "entrypoint",
            "the standard's entrypoint script (from the seed markdown)",
            values,
            ratio,
            f">= {GOAL:g}x faster at 10,000",
            met,
        ),
        "entrypoint ("
        + ", ".join(
            f"{int(n):,}: ours {r['ours_median_s']:.3f} s vs standard "
            f"{r['standard_median_s']:.3f} s = {r['speedup']:.1f}x"
            for n, r in results.items()
        )
        + f"; median of {args.runs}, in {parent}); goal >= {GOAL:g}x at 10,000: "
        + (verdict(met) if met is not None else "not measured"),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
