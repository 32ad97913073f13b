"""The engines of this checkout: `engines/<type>/<name>/` directories with an engine.yaml."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from .manifest import EngineManifest, ManifestError, load_manifest

__all__ = ["CHECKOUT", "EngineDir", "find_engine", "find_engines"]

logger = logging.getLogger(__name__)

#: The repository this enginekit runs from (an editable install, as `make` sets up).
CHECKOUT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class EngineDir:
    """One engine of the checkout: where it is and what its engine.yaml says."""

    name: str
    engine_type: str
    path: Path
    manifest: EngineManifest

    @property
    def server(self) -> Path:
        return self.path / "server.py"

    @property
    def venv_python(self) -> Path:
        return self.path / ".venv" / "bin" / "python"


def find_engines(root: Path | None = None) -> list[EngineDir]:
    """Every engine below root/engines (default: this checkout), by name; a broken engine.yaml
    is skipped with a warning."""
    engines = []
    for manifest_path in sorted(((root or CHECKOUT) / "engines").glob("*/*/engine.yaml")):
        try:
            manifest = load_manifest(manifest_path)
        except ManifestError as exc:
            logger.warning("Skipping %s: %s", manifest_path.parent, exc.detail)
            continue
        engines.append(
            EngineDir(manifest.name, manifest.engine_type, manifest_path.parent, manifest)
        )
    return sorted(engines, key=lambda engine: engine.name)


def find_engine(name: str, root: Path | None = None) -> EngineDir | None:
    return next((e for e in find_engines(root) if e.name == name), None)
