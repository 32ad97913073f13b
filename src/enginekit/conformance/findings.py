"""What a check reports (one Finding per rule and place, grouped per engine) and the rule catalog.

A finding is data, not text, so the summary, the table, the JSON output and the tests read the same
fields and never parse a message. Rules make findings through `passed`, `failed` and `skipped`, so a
rule id can only be one the catalog knows, and the usual fix lives in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any


class Group(str, Enum):
    """Named like the prefix of its rules' ids (`server.`, `dockerfile.`, ...)."""

    SERVER = "server.py"
    DOCKERFILE = "Dockerfile"
    DOCKERIGNORE = ".dockerignore"
    MANIFEST = "engine.yaml"


class Status(str, Enum):
    """`skip` means "not applicable here" (no Dockerfile, no baked-in models): never a failure."""

    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"


_SCRIPT = "/app/docker-entrypoint.sh"
#: Every rule id with its usual fix, in the order a check reports them.
RULES = {
    "server.reads-models-dir": "Build model paths as `self.models_dir / model_name`; never "
    "hard-code /app/models (the same code must also run as a subprocess).",
    "server.downloads-to-external": "Download into `self.external_models_dir / model_name` and "
    "point library caches (HF_HOME, WHISPER_CACHE, ...) there: models/ is lost when the container "
    "stops.",
    "server.symlink-after-download": "After downloading, link the model into models/: "
    "`model_path.symlink_to(external_path)`.",
    "server.baked-in-precedence": "Check `if not model_path.exists():` (model_path = "
    "self.models_dir / name) before any download.",
    "server.discovery-scans-models-dir": "Discover models with `self.models_dir.iterdir()`; "
    "mounted and downloaded models appear there as links.",
    "server.models-dir-read-only": "Write into `self.external_models_dir` and link the result into "
    "models/; models/ holds what the image baked in.",
    "dockerfile.copy-models": "COPY the engine's models/ to /app/models, e.g. "
    "`COPY tts/engine/models/ ./models/`.",
    "dockerfile.copy-entrypoint": "COPY scripts/docker-entrypoint.sh ./",
    "dockerfile.entrypoint-executable": f"RUN chmod +x {_SCRIPT} (after the COPY), or "
    "COPY --chmod=755 ...",
    "dockerfile.standard-dirs": "RUN mkdir -p /app/models /app/external_models /app/samples",
    "dockerfile.entrypoint": f'ENTRYPOINT ["{_SCRIPT}"] (exec form; the script ends with '
    '`exec "$@"`)',
    "dockerfile.cmd": 'CMD ["sh", "-c", "python server.py --port ${PORT:-8766} --host 0.0.0.0"]',
    "dockerignore.models-in-context": "Add `!<engine path>/models/` after `**/models/` in the "
    "root .dockerignore.",
    "manifest.schema": "Correct the field as the schema says (`enginekit schema` prints it).",
    "manifest.name": "Set `name:` to the directory name (or rename the directory).",
    "manifest.engine-type": "tts/ -> tts, stt/ -> stt, text_processing/ -> text, "
    "audio_analysis/ -> audio.",
    "manifest.default-model": "Set `default_model:` to the name of an entry in `models:` (or add "
    "that entry).",
    "manifest.max-text-length": "Add `constraints: {max_text_length: N}`: clients chunk text "
    "by it.",
    "manifest.python-version": "Make `installation.python_version` and the `FROM python:X.Y` "
    "image agree.",
}


def group_rules(group: Group) -> list[str]:
    """The ids of a group's rules, in catalog order."""
    return [rule for rule in RULES if rule.startswith(f"{group.name.lower()}.")]


def _shown(path: Path, relative_to: Path | None) -> str:
    """Paths below the working directory read better relative; others stay absolute."""
    if relative_to is not None and path.is_relative_to(relative_to):
        return str(path.relative_to(relative_to))
    return str(path)


@dataclass(frozen=True)
class Finding:
    """One rule's verdict at one place; `fix` says what to change when it failed."""

    rule: str
    status: Status
    file: Path | None
    message: str
    line: int | None = None
    fix: str = ""

    @property
    def group(self) -> Group:
        return Group[self.rule.partition(".")[0].upper()]

    @property
    def passed(self) -> bool:
        return self.status is not Status.FAIL

    def location(self, relative_to: Path | None = None) -> str:
        """`file:line` (or just `file`), relative to `relative_to` when the file lies below it."""
        if self.file is None:
            return ""
        shown = _shown(self.file, relative_to)
        return f"{shown}:{self.line}" if self.line else shown

    def to_dict(self, relative_to: Path | None = None) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "group": self.group.value,
            "status": self.status.value,
            "passed": self.passed,
            "file": None if self.file is None else _shown(self.file, relative_to),
            "line": self.line,
            "message": self.message,
            "fix": self.fix,
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
            "path": _shown(self.path, relative_to),
            "passed": self.passed,
            "findings": [f.to_dict(relative_to) for f in self.findings],
        }


def passed(rule: str, file: Path | None, message: str, line: int | None = None) -> Finding:
    return Finding(rule, Status.PASS, file, message, line)


def failed(
    rule: str, file: Path | None, message: str, line: int | None = None, fix: str = ""
) -> Finding:
    return Finding(rule, Status.FAIL, file, message, line, fix or RULES[rule])


def skipped(rule: str, file: Path | None, message: str) -> Finding:
    return Finding(rule, Status.SKIP, file, message)


def unanalysed(rules: list[str], problem: Finding, why: str) -> list[Finding]:
    """A group whose file cannot be analysed: `problem` for its first rule, the others skipped."""
    return [problem, *(skipped(rule, problem.file, why) for rule in rules[1:])]
