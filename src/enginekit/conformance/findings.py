"""What a conformance check reports: one Finding per rule and place, grouped per engine.

A finding is data, not text, so the table, the JSON output and the tests all read the same fields
and never parse a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

__all__ = ["EngineReport", "Finding", "Group", "Status", "shown_path"]


def shown_path(path: Path, relative_to: Path | None) -> str:
    """Paths below the working directory read better relative; others stay absolute."""
    if relative_to is not None and path.is_relative_to(relative_to):
        return str(path.relative_to(relative_to))
    return str(path)


class Group(str, Enum):
    """The four rule groups of the standard's checklist (plus engine.yaml, from the schema)."""

    SERVER = "server.py"
    DOCKERFILE = "Dockerfile"
    DOCKERIGNORE = ".dockerignore"
    MANIFEST = "engine.yaml"


class Status(str, Enum):
    """`skip` means "not applicable here" (no Dockerfile, no baked-in models): never a failure."""

    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Finding:
    """One rule's verdict at one place; `fix` says what to change when it failed."""

    rule: str
    group: Group
    status: Status
    file: Path | None
    line: int | None
    message: str
    fix: str = ""

    @property
    def passed(self) -> bool:
        return self.status is not Status.FAIL

    def location(self, relative_to: Path | None = None) -> str:
        """`file:line` (or just `file`), relative to `relative_to` when the file lies below it."""
        if self.file is None:
            return ""
        shown = shown_path(self.file, relative_to)
        return f"{shown}:{self.line}" if self.line else shown

    def to_dict(self, relative_to: Path | None = None) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "group": self.group.value,
            "status": self.status.value,
            "passed": self.passed,
            "file": None if self.file is None else shown_path(self.file, relative_to),
            "line": self.line,
            "message": self.message,
            "fix": self.fix if self.status is Status.FAIL else "",
        }


@dataclass
class EngineReport:
    """Every finding for one engine directory, in rule order."""

    path: Path
    name: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(f.passed for f in self.findings)

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if not f.passed]

    def to_dict(self, relative_to: Path | None = None) -> dict[str, Any]:
        return {
            "engine": self.name,
            "path": shown_path(self.path, relative_to),
            "passed": self.passed,
            "findings": [f.to_dict(relative_to) for f in self.findings],
        }
