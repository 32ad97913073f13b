"""An engine directory as the checks see it: its files, its type directory and its baked-in models.

"Baked-in" means what a fresh clone has in models/: files that git tracks or would track. A model
placed at run time and git-ignored (piper's `make run` voice) or a link made by the entrypoint is
not baked in, so a check gives the same answer on a developer's machine and in CI.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..errors import EnginekitError
from .dockerfile_model import Dockerfile

__all__ = ["TYPE_DIRS", "EngineDir", "NotAnEngine"]

# The reference's layout: the directory above an engine names its type.
TYPE_DIRS = {"tts": "tts", "stt": "stt", "text_processing": "text", "audio_analysis": "audio"}


class NotAnEngine(EnginekitError):
    """A path given to `enginekit check` that holds neither engine.yaml nor server.py."""

    usage_error = True


@dataclass(frozen=True)
class EngineDir:
    path: Path

    @classmethod
    def at(cls, path: Path) -> EngineDir:
        """Accept a directory holding engine.yaml or server.py; anything else is a usage error."""
        resolved = path.resolve()
        if not resolved.is_dir():
            raise NotAnEngine(f"Not a directory: {path}")
        if not ((resolved / "engine.yaml").is_file() or (resolved / "server.py").is_file()):
            raise NotAnEngine(f"Not an engine directory (no engine.yaml or server.py): {path}")
        return cls(resolved)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def type_dir(self) -> str:
        return self.path.parent.name

    @property
    def label(self) -> str:
        return f"{self.type_dir}/{self.name}"

    @property
    def server_py(self) -> Path:
        return self.path / "server.py"

    @property
    def manifest(self) -> Path:
        return self.path / "engine.yaml"

    @property
    def dockerfile(self) -> Path:
        return self.path / "Dockerfile"

    @property
    def models_dir(self) -> Path:
        return self.path / "models"

    @cached_property
    def parsed_dockerfile(self) -> Dockerfile:
        """Parsed once for all the groups that read it; raises OSError when unreadable."""
        return Dockerfile.parse(self.dockerfile)

    @cached_property
    def model_files(self) -> list[Path]:
        """What Docker would see in models/ now (git-ignored or not): files, links and hidden
        names aside."""
        if not self.models_dir.is_dir() or self.models_dir.is_symlink():
            return []
        return self._visible(_walk_files(self.models_dir))

    @cached_property
    def baked_in_files(self) -> list[Path]:
        """The model files that belong to the repository (tracked, or untracked and not ignored)."""
        if not self.model_files:
            return []
        listed = _git_files(self.models_dir)
        return self.model_files if listed is None else self._visible(listed)

    def _visible(self, candidates: list[Path]) -> list[Path]:
        return sorted(
            p
            for p in candidates
            if p.is_file()
            and not p.is_symlink()
            and not any(part.startswith(".") for part in p.relative_to(self.models_dir).parts)
        )


def _git_files(directory: Path) -> list[Path] | None:
    """Tracked plus untracked-but-not-ignored files, or None outside a git work tree."""
    try:
        result = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "."],
            cwd=directory,
            capture_output=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    names = result.stdout.decode("utf-8", "surrogateescape").split("\0")
    return [directory / name for name in names if name]


def _walk_files(directory: Path) -> list[Path]:
    found: list[Path] = []
    for root, _dirs, files in os.walk(directory):
        found.extend(Path(root) / name for name in files)
    return found
