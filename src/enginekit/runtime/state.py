"""The engine's status machine (engine-api.md §2 with the §10 corrections).

`status` is derived from a few facts instead of being overwritten by whoever finishes last, so a
queued job finishing never reports "ready" while another job or a load is still running.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..camel import CamelModel

__all__ = ["EngineState", "EngineStatus", "LoadProgress"]

EngineStatus = Literal["ready", "loading", "processing", "error"]


class LoadProgress(CamelModel):
    """What a load is doing now; /health shows it as its additive `progress` field."""

    phase: Literal["downloading", "verifying", "loading"]
    model: str
    bytes_done: int = 0
    bytes_total: int | None = None


@dataclass
class EngineState:
    model_loaded: bool = False
    current_model: str | None = None
    error: str | None = None
    loading: bool = False
    active_jobs: int = 0
    failed: bool = False
    progress: LoadProgress | None = None

    @property
    def status(self) -> EngineStatus:
        if self.loading:
            return "loading"
        if self.active_jobs:
            return "processing"
        return "error" if self.failed else "ready"

    # -- loads ------------------------------------------------------------------------------

    def load_started(self) -> None:
        self.loading, self.failed, self.error = True, False, None

    def model_unloaded(self) -> None:
        self.model_loaded, self.current_model = False, None

    def load_succeeded(self, name: str) -> None:
        self.model_loaded, self.current_model = True, name
        self.loading, self.progress = False, None

    def load_refused(self) -> None:
        """A client error (unknown model, bad name): back to ready, nothing stuck at loading."""
        self.loading, self.progress = False, None

    def load_failed(self, message: str) -> None:
        """The message stays visible; the status says "error" only when no model is left to
        serve (a fetch that failed before the swap keeps the old model serving)."""
        self.loading, self.progress = False, None
        self.failed, self.error = not self.model_loaded, message

    # -- processing jobs --------------------------------------------------------------------

    def job_started(self) -> None:
        self.active_jobs += 1
        self.failed, self.error = False, None

    def job_finished(self) -> None:
        """A success clears an error, even one a concurrent job set meanwhile (§10.5)."""
        self.active_jobs -= 1
        self.failed, self.error = False, None

    def job_refused(self) -> None:
        """The engine refused the input (4xx): "ready" again, the old error message kept."""
        self.active_jobs -= 1
        self.failed = False

    def job_failed(self, message: str) -> None:
        self.active_jobs -= 1
        self.failed, self.error = True, message

    def mark_failed(self, message: str) -> None:
        """A failure outside a job: status "error" until a success."""
        self.failed, self.error = True, message

    def request_refused(self) -> None:
        """An HTTP error of a processing request sets "ready" (the reference's rule)."""
        self.failed = False
