"""Progress events of long model work, for CLI bars and the server's /health `progress`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["Phase", "ProgressCallback", "ProgressEvent"]

Phase = Literal["downloading", "verifying", "loading"]


@dataclass(frozen=True)
class ProgressEvent:
    """Bytes done and total, for the current file and for the whole model (None = unknown)."""

    model: str
    phase: Phase
    file: str
    file_done: int
    file_total: int | None
    done: int
    total: int | None


ProgressCallback = Callable[[ProgressEvent], None]
