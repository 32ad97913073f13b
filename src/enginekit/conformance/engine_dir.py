"""An engine directory as the checks see it: its files, its type directory and its baked-in models.

"Baked-in" means what a fresh clone has in models/: files that git tracks or would track. A model
placed at run time and git-ignored (piper's `make run` voice) or a link made by the entrypoint is
not baked in, so a check gives the same answer on a developer's machine and in CI.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..errors import EnginekitError
from .dockerfile import Dockerfile

# The reference's layout: the directory above an engine names its type.
TYPE_DIRS = {"tts": "tts", "stt": "stt", "text_processing": "text", "audio_analysis": "audio"}


class NotAnEngine(EnginekitError):
    """A path given to `enginekit check` that holds neither engine.yaml nor server.py."""

    usage_error = True


def _is_engine(path: Path) -> bool:
    return (path / "engine.yaml").is_file() or (path / "server.py").is_file()


def find_repository_root(start: Path) -> Path:
    """The nearest directory at or above `start` with an engines/ directory (as git finds .git)."""
    for directory in (start.resolve(), *start.resolve().parents):
        if (directory / "engines").is_dir():
            return directory
    raise NotAnEngine(f"No engines/ directory at or above {start}; name engine directories")


def discover_engines(root: Path) -> list[EngineDir]:
    """engines/<type>/<name>/ directories holding engine.yaml or server.py, sorted."""
    return [
        EngineDir(candidate.resolve())
        for candidate in sorted((root / "engines").glob("*/*"))
        if candidate.is_dir()
        and not any(p.startswith((".", "__")) for p in candidate.parts[-2:])
        and _is_engine(candidate)
    ]


@dataclass(frozen=True)
class EngineDir:
    path: Path

    @classmethod
    def at(cls, path: Path) -> EngineDir:
        """Accept a directory holding engine.yaml or server.py; anything else is a usage error."""
        resolved = path.resolve()
        if not resolved.is_dir():
            raise NotAnEngine(f"Not a directory: {path}")
        if not _is_engine(resolved):
            raise NotAnEngine(f"Not an engine directory (no engine.yaml or server.py): {path}")
        return cls(resolved)

    @property
    def label(self) -> str:
        return f"{self.path.parent.name}/{self.path.name}"

    @property
    def dockerfile(self) -> Path:
        return self.path / "Dockerfile"

    @property
    def models_dir(self) -> Path:
        return self.path / "models"

    @cached_property
    def parsed_dockerfile(self) -> Dockerfile:
        """Parsed once for all the groups that read it; raises OSError or ValueError (a line
        dockerfile-parse rejects) when it cannot be read."""
        return Dockerfile.parse(self.dockerfile)

    @cached_property
    def model_files(self) -> list[Path]:
        """What Docker would see in models/ (git-ignored or not), links and hidden names aside."""
        if self.models_dir.is_symlink():
            return []
        return self._visible(self.models_dir.rglob("*"))

    @cached_property
    def baked_in_files(self) -> list[Path]:
        """The model files that belong to the repository (tracked, or untracked and not ignored)."""
        listed = _git_files(self.models_dir) if self.model_files else []
        return self.model_files if listed is None else self._visible(listed)

    def _visible(self, candidates: Iterable[Path]) -> list[Path]:
        return sorted(
            p
            for p in candidates
            if p.is_file()
            and not p.is_symlink()
            and not any(part.startswith(".") for part in p.relative_to(self.models_dir).parts)
        )


def _git_files(directory: Path) -> list[Path] | None:
    """Tracked plus untracked-but-not-ignored files, or None outside a git work tree."""
    command = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "."]
    try:
        listed = subprocess.run(command, cwd=directory, capture_output=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    names = listed.stdout.decode("utf-8", "surrogateescape").split("\0")
    return [directory / name for name in names if name]
