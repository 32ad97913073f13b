"""Model pulls started from the gateway: each runs the store's pull in a thread of its own and
keeps a snapshot (bytes, rate, per file) that any number of readers poll or follow as events.

A pull outlives the request that started it: a browser that closes its tab, or a script that
only polls, leaves the download running to the end.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import EnginekitError
from ..store import ModelSource, ModelStore, ProgressEvent, Pulled

__all__ = ["PullJob", "Pulls"]

logger = logging.getLogger(__name__)

JobState = Literal["running", "ready", "failed"]
#: The longest a follower waits before sending the next event (coalesces chunk-sized updates).
EVENT_SPACING_S = 0.1


@dataclass
class _FileProgress:
    path: str
    done: int
    total: int | None
    first_done: int
    first_at: float
    at: float

    def rate(self) -> float:
        """Bytes per second transferred by this pull (resumed bytes do not count)."""
        elapsed = self.at - self.first_at
        return (self.done - self.first_done) / elapsed if elapsed > 0 else 0.0

    def describe(self) -> dict[str, Any]:
        return {"path": self.path, "done": self.done, "total": self.total,
                "rate": round(self.rate())}  # fmt: skip


class PullJob:
    """One model's pull; its snapshot changes in the worker thread, followers read on the loop."""

    def __init__(self, engine: str, model: str, loop: asyncio.AbstractEventLoop) -> None:
        self.engine = engine
        self.model = model
        self._loop = loop
        self._lock = threading.Lock()
        self._waiters: list[asyncio.Future[None]] = []
        self._files: dict[str, _FileProgress] = {}
        self._state: JobState = "running"
        self._phase: str | None = None
        self._done = 0
        self._total: int | None = None
        self._error: str | None = None
        self._downloaded: bool | None = None
        self._started = time.monotonic()
        self._finished: float | None = None
        self.version = 0

    @property
    def finished(self) -> bool:
        return self._state != "running"

    def progress(self, event: ProgressEvent) -> None:
        """The store's progress callback (worker thread)."""
        now = time.monotonic()
        with self._lock:
            self._phase, self._done, self._total = event.phase, event.done, event.total
            if event.file:
                entry = self._files.get(event.file)
                if entry is None:
                    entry = _FileProgress(event.file, event.file_done, event.file_total,
                                          event.file_done, now, now)  # fmt: skip
                    self._files[event.file] = entry
                entry.done, entry.total, entry.at = event.file_done, event.file_total, now
        self._changed()

    def finish(self, pulled: Pulled | None, error: str | None) -> None:
        with self._lock:
            self._state = "ready" if error is None else "failed"
            self._error = error
            self._downloaded = pulled.downloaded if pulled else None
            self._finished = time.monotonic()
        self._changed()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            end = self._finished or time.monotonic()
            elapsed = end - self._started
            moved = sum(f.done - f.first_done for f in self._files.values())
            return {
                "engine": self.engine,
                "model": self.model,
                "state": self._state,
                "phase": self._phase,
                "done": self._done,
                "total": self._total,
                "rate": round(moved / elapsed) if elapsed > 0 else 0,
                "elapsed_s": round(elapsed, 2),
                "files": [f.describe() for f in self._files.values()],
                "downloaded": self._downloaded,
                "error": self._error,
                "version": self.version,
            }

    def _changed(self) -> None:
        with self._lock:
            self.version += 1
        self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _wait_past(self, version: int) -> None:
        """Return once the snapshot is newer than `version` (on the loop's thread)."""
        if self.version != version:
            return
        waiter = self._loop.create_future()
        self._waiters.append(waiter)
        await waiter

    async def follow(self) -> AsyncIterator[dict[str, Any]]:
        """Snapshots as they change, the last one finished (ready or failed)."""
        while True:
            snapshot = self.snapshot()
            yield snapshot
            if snapshot["state"] != "running":
                return
            await self._wait_past(snapshot["version"])
            await asyncio.sleep(EVENT_SPACING_S)


class Pulls:
    """The gateway's pulls by (engine, model): one at a time per model, the last one kept."""

    def __init__(self) -> None:
        self._jobs: dict[tuple[str, str], PullJob] = {}

    def get(self, engine: str, model: str) -> PullJob | None:
        return self._jobs.get((engine, model))

    def running(self, engine: str) -> list[PullJob]:
        return [j for (e, _), j in self._jobs.items() if e == engine and not j.finished]

    def start(
        self,
        store: ModelStore,
        engine: str,
        model: str,
        source: ModelSource,
        on_ready: Callable[[Pulled], None],
    ) -> tuple[PullJob, bool]:
        """The running pull of `model`, or a new one; True when this call started it."""
        current = self.get(engine, model)
        if current is not None and not current.finished:
            return current, False
        job = PullJob(engine, model, asyncio.get_running_loop())
        self._jobs[(engine, model)] = job

        def run() -> None:
            try:
                pulled = store.pull(model, source, job.progress)
            except EnginekitError as exc:
                logger.warning("Pull of %s/%s failed: %s", engine, model, exc.detail)
                job.finish(None, exc.detail)
            except Exception as exc:
                logger.exception("Pull of %s/%s failed", engine, model)
                job.finish(None, f"Pull of {model} failed: {type(exc).__name__}")
            else:
                on_ready(pulled)
                job.finish(pulled, None)

        # A daemon thread: a gateway that stops does not wait for a download (its partial
        # files stay, and the next pull resumes them).
        threading.Thread(target=run, name=f"pull-{engine}-{model}", daemon=True).start()
        return job, True
