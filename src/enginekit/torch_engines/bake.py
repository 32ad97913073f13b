"""Bake a catalog model (an engine.yaml's) into models/ at image build time: the standard's
baked-in default. Downloaded with enginekit's store (settings such as HF_ENDPOINT and HF_TOKEN
from the environment) into a scratch engine directory, verified, then moved into models/ in one
rename. Each engine's bake_model.py calls `main` with its engine.yaml."""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..layout import EngineLayout
from ..manifest import load_manifest
from ..settings import Settings
from ..store import ModelStore

__all__ = ["bake", "main"]

logger = logging.getLogger(__name__)


def bake(manifest: Path, name: str, models_dir: Path) -> Path:
    target = models_dir / name
    if target.exists():
        return target
    entry = load_manifest(manifest).catalog_model(name)
    if entry is None or entry.source is None:
        raise SystemExit(f"{name} is not a downloadable model of {manifest.name}")
    models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".bake-", dir=models_dir.parent) as scratch:
        layout = EngineLayout.at(Path(scratch))
        layout.create_directories()
        ModelStore(layout, Settings.from_env().store).ensure(name, entry.source)
        os.replace(layout.external_models_dir / name, target)
    return target


def main(manifest: Path, argv: Sequence[str] | None = None) -> int:
    """`bake_model.py NAME [--models-dir DIR]` (default: models/ beside engine.yaml)."""
    parser = argparse.ArgumentParser(description="Bake a catalog model into models/")
    parser.add_argument("name", metavar="NAME", help="a model of engine.yaml's catalog")
    parser.add_argument("--models-dir", type=Path, default=manifest.parent / "models")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logger.info("%s baked at %s", args.name, bake(manifest, args.name, args.models_dir))
    return 0
