"""`enginekit check`: the Model Management Standard's conformance checklist, automated.

Four rule groups (server.py, Dockerfile, .dockerignore, engine.yaml) turn each checklist row into
a finding with a place and a fix; see docs/conformance.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .dockerfile_rules import check_dockerfile
from .dockerignore_rules import check_dockerignore
from .engine_dir import EngineDir, NotAnEngine, discover_engines, find_repository_root
from .findings import RULES, EngineReport, Finding, Group, Status
from .manifest_rules import check_manifest
from .python_rules import check_server

__all__ = [
    "RULES",
    "EngineDir",
    "EngineReport",
    "Finding",
    "Group",
    "NotAnEngine",
    "Status",
    "check_engine",
    "check_paths",
    "discover_engines",
    "find_repository_root",
]


def check_engine(engine: EngineDir) -> EngineReport:
    """All four groups, in the checklist's order: server.py, Dockerfile, .dockerignore, yaml."""
    findings = [
        *check_server(engine.path / "server.py"),
        *check_dockerfile(engine),
        *check_dockerignore(engine),
        *check_manifest(engine),
    ]
    return EngineReport(engine.path, engine.label, findings)


def check_paths(paths: Sequence[Path], cwd: Path | None = None) -> list[EngineReport]:
    """The given engine directories, or every engine of the repository when none is given.

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
    return [check_engine(engine) for engine in dict.fromkeys(engines)]
