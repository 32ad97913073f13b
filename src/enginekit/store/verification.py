"""Re-hashing a model's files against what was recorded at download or declared by its source."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import InvalidSource
from ..settings import StoreSettings
from .integrity import sha256_of
from .records import ModelRecord
from .sources import ModelSource

__all__ = ["FileCheck", "VerifyReport", "verify_model"]

Status = Literal["ok", "mismatch", "missing"]


@dataclass(frozen=True)
class FileCheck:
    path: str
    status: Status
    expected: str
    actual: str | None


@dataclass(frozen=True)
class VerifyReport:
    """`recorded` is False when nothing says what the bytes should be (e.g. a baked-in model)."""

    name: str
    recorded: bool
    files: list[FileCheck]

    @property
    def ok(self) -> bool:
        return all(check.status == "ok" for check in self.files)


def verify_model(
    name: str,
    path: Path,
    record: ModelRecord | None,
    source: ModelSource | None,
    settings: StoreSettings,
) -> VerifyReport:
    expected = _expected_digests(record, source, settings)
    checks = [_check(path, relpath, digest) for relpath, digest in sorted(expected.items())]
    return VerifyReport(name, bool(expected), checks)


def _expected_digests(
    record: ModelRecord | None, source: ModelSource | None, settings: StoreSettings
) -> dict[str, str]:
    if record is not None:
        return {f.path: f.sha256 for f in record.files}
    if source is None:
        return {}
    try:
        tasks = source.tasks(settings)
    except InvalidSource:
        return {}
    return {task.relpath: task.sha256 for task in tasks if task.sha256}


def _check(model_path: Path, relpath: str, expected: str) -> FileCheck:
    file_path = model_path / relpath if model_path.is_dir() else model_path
    if not file_path.is_file():
        return FileCheck(relpath, "missing", expected, None)
    actual = sha256_of(file_path)
    return FileCheck(relpath, "ok" if actual == expected else "mismatch", expected, actual)
