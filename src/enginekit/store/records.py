"""What the store remembers about a downloaded model: `external_models/.enginekit/<name>.json`.

Written before the model directory is renamed into place, so a visible downloaded model always has
its record and `verify` can re-hash it later, even in a new container on the same volume.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, field_validator

from .integrity import atomic_write_json
from .sources import validate_relative_path

__all__ = ["FileRecord", "ModelRecord", "read_record", "write_record"]


class FileRecord(BaseModel):
    path: str
    size: int
    sha256: str
    url: str | None = None

    @field_validator("path")
    @classmethod
    def _inside_the_model(cls, value: str) -> str:
        """A record on a shared volume must not make verify read outside the model."""
        return validate_relative_path(value)


class ModelRecord(BaseModel):
    name: str
    source: str
    files: list[FileRecord]
    downloaded_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))


def read_record(path: Path) -> ModelRecord | None:
    """The record at `path`, or None when it is missing or unreadable (treated as unrecorded)."""
    try:
        return ModelRecord.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError):
        return None


def write_record(path: Path, record: ModelRecord) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, record.model_dump(mode="json"))
