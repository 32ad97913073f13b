"""Where an engine's models/, external_models/ and samples/ live.

The standard's rule: `/app` in a container (when `/app/server.py` exists), otherwise the directory
of the running `server.py`. `ENGINE_HOME` (Settings.engine_home) overrides both so tests and
operators can point anywhere; `ENGINE_EXTERNAL_MODELS` puts external_models/ elsewhere (the
gateway's data directory, the same directory a container gets mounted). Finding a layout writes
nothing; a server creates its directories when it starts.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CONTAINER_ROOT", "EngineLayout"]

CONTAINER_ROOT = Path("/app")


@dataclass(frozen=True)
class EngineLayout:
    """The three standard directories below one base path."""

    base_path: Path
    external_dir: Path | None = None

    @classmethod
    def at(
        cls, base_path: str | os.PathLike[str], external_dir: Path | None = None
    ) -> EngineLayout:
        return cls(Path(base_path).absolute(), external_dir.absolute() if external_dir else None)

    @classmethod
    def detect(
        cls,
        engine_home: Path | None = None,
        script: str | os.PathLike[str] | None = None,
        container_root: Path = CONTAINER_ROOT,
        external_dir: Path | None = None,
    ) -> EngineLayout:
        """Apply the base-path rule: ENGINE_HOME, else the container root, else the script's dir."""
        if engine_home is not None:
            return cls.at(engine_home, external_dir)
        if (container_root / "server.py").exists():
            return cls.at(container_root, external_dir)
        running = Path(script if script is not None else sys.argv[0])
        return cls.at(running.absolute().parent, external_dir)

    @property
    def models_dir(self) -> Path:
        return self.base_path / "models"

    @property
    def external_models_dir(self) -> Path:
        return self.external_dir or self.base_path / "external_models"

    @property
    def samples_dir(self) -> Path:
        return self.base_path / "samples"

    def create_directories(self) -> None:
        """models/ and samples/ always exist; external_models/ is a mount point, never invented."""
        self.models_dir.mkdir(parents=True, exist_ok=True)
        self.samples_dir.mkdir(parents=True, exist_ok=True)
