"""`enginekit check`: the Model Management Standard's conformance checklist, automated.

Four rule groups (server.py, Dockerfile, .dockerignore, engine.yaml) turn each checklist row into
a finding with a place and a fix; see docs/conformance.md.
"""

from .catalog import RULES, RuleInfo
from .engine_dir import EngineDir, NotAnEngine
from .findings import EngineReport, Finding, Group, Status
from .runner import check_engine, check_paths, discover_engines, find_repository_root

__all__ = [
    "RULES",
    "EngineDir",
    "EngineReport",
    "Finding",
    "Group",
    "NotAnEngine",
    "RuleInfo",
    "Status",
    "check_engine",
    "check_paths",
    "discover_engines",
    "find_repository_root",
]
