"""The one wrapper around engine work: the worker threads, the status machine's job transitions,
and the mapping of whatever an engine raises onto the error tree."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from ..errors import EngineFailure, EnginekitError, GpuOutOfMemory
from .device import free_accelerator_memory, is_gpu_out_of_memory
from .state import EngineState

__all__ = ["JobRunner"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_DONE = object()
STREAM_BUFFER = 4
HANDOVER_POLL_S = 0.1


class _Handoff:
    """Items from the engine's thread to the event loop through a small buffer: the engine
    waits while it is full, and learns at its next item that the caller has gone."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[Any] = asyncio.Queue(STREAM_BUFFER)
        self.stop = threading.Event()

    def hand_over(self, item: Any) -> bool:
        """Blocks while the buffer is full; False once the caller has gone."""
        try:
            delivery = asyncio.run_coroutine_threadsafe(self.queue.put(item), self.loop)
        except RuntimeError:  # the event loop is closed: nobody is listening
            return False
        while not self.stop.is_set():
            try:
                delivery.result(timeout=HANDOVER_POLL_S)
                return True
            except concurrent.futures.TimeoutError:
                continue
        delivery.cancel()
        return False

    def pump(self, produce: Callable[[], Iterator[Any]]) -> None:
        try:
            for item in produce():
                if not self.hand_over(item):
                    return
        except BaseException as exc:  # handed to the event loop, raised there
            self.hand_over(exc)
            return
        self.hand_over(_DONE)


class JobRunner:
    """Model work off the event loop: one thread for loads, `parallel` threads for jobs (the
    same single thread by default, so work is queued as the contract says)."""

    def __init__(
        self,
        state: EngineState,
        name: str,
        device: str,
        parallel: int = 1,
        scrub: Callable[[str], str] = str,
    ) -> None:
        self._state = state
        self._device = device
        self._scrub = scrub
        self._worker = ThreadPoolExecutor(1, thread_name_prefix=f"{name}-worker")
        self._jobs = (
            self._worker
            if parallel <= 1
            else ThreadPoolExecutor(parallel, thread_name_prefix=f"{name}-job")
        )
        self._running = 0
        self._idle = asyncio.Event()
        self._recorded: weakref.WeakSet[BaseException] = weakref.WeakSet()

    async def on_worker(self, function: Callable[..., T], *args: Any) -> T:
        """Model work (check, fetch, load, unload) on the single worker thread."""
        return await asyncio.get_running_loop().run_in_executor(self._worker, function, *args)

    def recorded(self, exc: BaseException) -> bool:
        """Whether a job already put this failure into the state (so no one records it twice)."""
        return exc in self._recorded

    async def wait_idle(self) -> None:
        """Parallel jobs run beside the worker; a load waits until none is running and no
        admitted request is still on its way to its job."""
        while self._running:
            self._idle.clear()
            await self._idle.wait()

    @asynccontextmanager
    async def admitted(self) -> AsyncIterator[None]:
        """A request from its checks to its end (decoding its upload, say): a load waits for it
        as for a running job, so its job runs on the model it was admitted for."""
        self._running += 1
        try:
            yield
        finally:
            self._release()

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """One job: "processing" while it runs; its failure sets the status."""
        async with self._job(getattr(function, "__name__", "job")):
            return await asyncio.get_running_loop().run_in_executor(self._jobs, function, *args)

    async def stream(self, produce: Callable[[], Iterator[T]]) -> AsyncGenerator[T, None]:
        """One job whose items reach the caller as the engine yields them. The whole iteration
        holds the job thread (nothing else runs on the model meanwhile). The engine runs at
        most STREAM_BUFFER items ahead of the caller, so a caller that stops (a client gone)
        stops the engine at its next item."""
        loop = asyncio.get_running_loop()
        handoff = _Handoff(loop)
        async with self._job(getattr(produce, "__name__", "stream")):
            loop.run_in_executor(self._jobs, handoff.pump, produce)
            try:
                while (item := await handoff.queue.get()) is not _DONE:
                    if isinstance(item, BaseException):
                        raise item
                    yield item
            finally:
                handoff.stop.set()

    @asynccontextmanager
    async def _job(self, name: str) -> AsyncIterator[None]:
        state = self._state
        state.job_started()
        self._running += 1
        try:
            yield
        except EnginekitError as exc:
            if exc.status_code < 500:
                state.job_refused()
            else:
                state.job_failed(self._scrub(exc.detail))
            self._recorded.add(exc)
            raise
        except (GeneratorExit, asyncio.CancelledError):
            state.job_refused()  # the client went away: neither a success nor a failure
            raise
        except Exception as exc:
            if is_gpu_out_of_memory(exc):
                state.job_failed("GPU out of memory")
                free_accelerator_memory(self._device)
                failure: EnginekitError = GpuOutOfMemory()
            else:
                logger.exception("%s failed", name)
                message = self._scrub(str(exc))
                state.job_failed(message)
                failure = EngineFailure(message)
            self._recorded.add(failure)
            raise failure from exc
        else:
            state.job_finished()
        finally:
            self._release()

    def _release(self) -> None:
        self._running -= 1
        if not self._running:
            self._idle.set()

    def shutdown(self) -> None:
        self._worker.shutdown(wait=False)
        self._jobs.shutdown(wait=False)
