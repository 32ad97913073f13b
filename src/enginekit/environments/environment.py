"""Where an engine's environment lives and whether it matches what it was built from."""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..checkout import CHECKOUT, EngineDir, find_engines
from ..errors import EnginekitError

__all__ = ["Environment", "UnknownEngine", "environment_of", "environments"]

STAMP = ".enginekit-environment.json"
Status = Literal["installed", "outdated", "missing"]


class UnknownEngine(EnginekitError):
    usage_error = True


@dataclass(frozen=True)
class Environment:
    """`<engine dir>/.venv`, built from the checkout at `root` and the engine's requirements."""

    engine: EngineDir
    root: Path

    @property
    def name(self) -> str:
        return self.engine.name

    @property
    def venv(self) -> Path:
        return self.engine.path / ".venv"

    @property
    def python(self) -> Path:
        return self.engine.venv_python

    @property
    def requirements(self) -> Path:
        return self.engine.path / "requirements.txt"

    @property
    def post_install(self) -> Path:
        """An optional script the engine's interpreter runs after pip (see engines/tts/xtts)."""
        return self.engine.path / "post_install.py"

    @property
    def stamp(self) -> Path:
        return self.venv / STAMP

    def fingerprint(self) -> str:
        """What the environment is built from: a change to any of these means reinstall."""
        digest = hashlib.sha256()
        for path in (self.requirements, self.post_install):
            digest.update(path.name.encode() + b"\0")
            digest.update(path.read_bytes() if path.is_file() else b"-")
        digest.update(_core_dependencies(self.root / "pyproject.toml"))
        return digest.hexdigest()

    def status(self) -> Status:
        if not self.python.exists():
            return "missing"
        try:
            recorded = json.loads(self.stamp.read_text(encoding="utf-8"))["fingerprint"]
        except (OSError, ValueError, KeyError, TypeError):
            return "outdated"  # never finished, or built by hand
        return "installed" if recorded == self.fingerprint() else "outdated"


def _core_dependencies(pyproject: Path) -> bytes:
    """enginekit's own requirements; the extras (dev tools, other engines) never reach an
    engine's environment, so editing them must not make every environment outdated."""
    if sys.version_info < (3, 11):  # no tomllib: any edit of pyproject.toml counts
        return pyproject.read_bytes() if pyproject.is_file() else b"-"
    import tomllib  # noqa: PLC0415 (Python 3.11+)

    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return b"-"
    return json.dumps([project.get("requires-python"), project.get("dependencies")]).encode()


def environments(root: Path = CHECKOUT) -> list[Environment]:
    return [Environment(engine, root) for engine in find_engines(root)]


def environment_of(name: str, root: Path = CHECKOUT) -> Environment:
    """By engine name (`xtts`) or type/name (`tts/xtts`)."""
    found = environments(root)
    for environment in found:
        engine = environment.engine
        if name in (engine.name, f"{engine.engine_type}/{engine.name}"):
            return environment
    known = ", ".join(e.name for e in found) or "none"
    raise UnknownEngine(f"No engine {name!r} in {root / 'engines'} (engines: {known})")
