"""Where an engine's models/, external_models/ and samples/ live.

The standard's rule: `/app` in a container (when `/app/server.py` exists), otherwise the directory
of the running `server.py`. `ENGINE_HOME` overrides both so tests and operators can point anywhere.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CONTAINER_ROOT", "EngineLayout"]

CONTAINER_ROOT = Path("/app")


@dataclass(frozen=True)
class EngineLayout:
    """The three standard directories below one base path."""

    base_path: Path

    @classmethod
    def at(cls, base_path: str | os.PathLike[str]) -> EngineLayout:
        """An explicit base path (library and CLI use); creates models/ and samples/."""
        layout = cls(Path(base_path).absolute())
        layout.create_directories()
        return layout

    @classmethod
    def detect(
        cls,
        script: str | os.PathLike[str] | None = None,
        environ: Mapping[str, str] | None = None,
        container_root: Path = CONTAINER_ROOT,
    ) -> EngineLayout:
        """Apply the base-path rule: ENGINE_HOME, else the container root, else the script's dir."""
        env = os.environ if environ is None else environ
        if env.get("ENGINE_HOME"):
            return cls.at(env["ENGINE_HOME"])
        if (container_root / "server.py").exists():
            return cls.at(container_root)
        running = Path(script if script is not None else sys.argv[0])
        return cls.at(running.absolute().parent)

    @property
    def models_dir(self) -> Path:
        return self.base_path / "models"

    @property
    def external_models_dir(self) -> Path:
        return self.base_path / "external_models"

    @property
    def samples_dir(self) -> Path:
        return self.base_path / "samples"

    def create_directories(self) -> None:
        """models/ and samples/ always exist; external_models/ is a mount point, never invented."""
        self.models_dir.mkdir(parents=True, exist_ok=True)
        self.samples_dir.mkdir(parents=True, exist_ok=True)
