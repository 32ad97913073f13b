"""Find the engines to check and run every rule group over each of them.

With no paths, the engines are those under `engines/` of the repository root, found by walking up
from the working directory (so `enginekit check` works from any subdirectory, as git does).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .dockerfile_rules import check_dockerfile
from .dockerignore_rules import check_dockerignore
from .engine_dir import EngineDir, NotAnEngine
from .findings import EngineReport
from .manifest_rules import check_manifest
from .python_rules import check_server

__all__ = ["check_engine", "check_paths", "discover_engines", "find_repository_root"]


def find_repository_root(start: Path) -> Path:
    """The nearest directory at or above `start` that has an engines/ directory."""
    for directory in (start.resolve(), *start.resolve().parents):
        if (directory / "engines").is_dir():
            return directory
    raise NotAnEngine(f"No engines/ directory at or above {start}; name engine directories")


def discover_engines(root: Path) -> list[EngineDir]:
    """engines/<type>/<name>/ directories holding engine.yaml or server.py, sorted."""
    found = []
    for candidate in sorted((root / "engines").glob("*/*")):
        hidden = any(p.startswith((".", "__")) for p in candidate.parts[-2:])
        has_files = (candidate / "engine.yaml").is_file() or (candidate / "server.py").is_file()
        if candidate.is_dir() and not hidden and has_files:
            found.append(EngineDir(candidate.resolve()))
    return found


def check_engine(engine: EngineDir) -> EngineReport:
    """All four groups, in the order of the issue: server.py, Dockerfile, .dockerignore, yaml."""
    report = EngineReport(engine.path, engine.label)
    report.findings += check_server(engine.server_py)
    report.findings += check_dockerfile(engine)
    report.findings += check_dockerignore(engine)
    report.findings += check_manifest(engine)
    return report


def check_paths(paths: Sequence[Path], cwd: Path | None = None) -> list[EngineReport]:
    """Check the given engine directories, or every engine of the repository when none is given.

    Raises NotAnEngine (a usage error) for a path that is not an engine directory, before any
    engine is checked, so a typo never yields a partial report.
    """
    if paths:
        engines = [EngineDir.at(path) for path in paths]
    else:
        root = find_repository_root(cwd or Path.cwd())
        engines = discover_engines(root)
        if not engines:
            raise NotAnEngine(f"No engines found under {root / 'engines'}")
    unique = list(dict.fromkeys(engines))
    return [check_engine(engine) for engine in unique]
