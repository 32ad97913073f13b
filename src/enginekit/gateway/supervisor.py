"""One engine under the gateway: started on the first request that needs it (one start for any
number of concurrent requests), noticed when it dies, stopped when idle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from ..checkout import EngineDir
from ..errors import EnginekitError
from .runners import Runner

__all__ = ["EngineHandle", "EngineRefusedCredentials", "EngineStartFailed", "free_port"]

logger = logging.getLogger(__name__)

State = Literal["stopped", "starting", "running", "stopping", "failed"]
LOG_LINES_IN_ERRORS = 20
HEALTH_POLL_S = 0.2


class EngineStartFailed(EnginekitError):
    """An engine did not come up; the detail carries its last log lines."""

    status_code = 503


class EngineRefusedCredentials(EnginekitError):
    """An engine answered the gateway with a 401. The caller's own token was already accepted,
    so this is a 502 naming the gateway's setting, not a 401 the caller would take as theirs."""

    status_code = 502


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Usage:
    in_flight: int = 0
    last_used: float = 0.0


class EngineHandle:
    """An engine of the gateway with its runner; `url` is valid while it runs."""

    def __init__(
        self,
        engine: EngineDir,
        runner: Runner,
        client: httpx.AsyncClient,
        *,
        idle_timeout: float,
        keep_running: bool,
        start_timeout: float,
    ) -> None:
        self.engine = engine
        self.runner = runner
        self.idle_timeout = idle_timeout
        self.keep_running = keep_running
        self.start_timeout = start_timeout
        self._client = client
        self._lock = asyncio.Lock()
        self._model_locks: dict[str, asyncio.Lock] = {}
        self._usage = Usage(last_used=time.monotonic())
        self.port: int | None = None
        self.url: str | None = None
        self.state: State = "stopped"
        self.model: str | None = None
        #: Headers that authenticate the gateway to the engine: a remote engine's token.
        self.credentials: dict[str, str] = {}

    @property
    def name(self) -> str:
        return self.engine.name

    async def refused(self, url: str) -> bool:
        """`url` refused the connection, so nothing of the request reached it: whether to send
        it again, to another address. A started engine has one address: no."""
        return False

    def idle_seconds(self) -> float:
        return 0.0 if self._usage.in_flight else time.monotonic() - self._usage.last_used

    @contextlib.asynccontextmanager
    async def use(self) -> AsyncIterator[str]:
        """The engine's URL for one request, starting the engine first if it is not running;
        idle time counts from the end of the last request."""
        self._usage.in_flight += 1
        try:
            yield await self.ensure_running()
        finally:
            self._usage.in_flight -= 1
            self._usage.last_used = time.monotonic()

    async def ensure_running(self) -> str:
        async with self._lock:
            if self.state == "running" and await asyncio.to_thread(self.runner.alive):
                assert self.url is not None
                return self.url
            if self.state == "running":
                logger.warning("%s died; starting it again", self.name)
            await self._start()
            assert self.url is not None
            return self.url

    async def _start(self) -> None:
        self.state, self.model = "starting", None
        self._model_locks.clear()  # a new address: the old one's locks serve no one
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        started = time.monotonic()
        try:
            await asyncio.to_thread(self.runner.start, self.port)
            await self._wait_healthy()
        except EngineStartFailed:
            self.state = "failed"
            await asyncio.to_thread(self.runner.stop)
            raise
        except Exception as exc:
            self.state = "failed"
            await asyncio.to_thread(self.runner.stop)
            raise self._failure(f"could not start: {exc}") from exc
        self.state = "running"
        self._usage.last_used = time.monotonic()  # idle from now, not since the last request
        logger.info("%s up in %.1f s at %s", self.name, time.monotonic() - started, self.url)

    async def _wait_healthy(self) -> None:
        """Any answer from /health counts (a loading engine is alive); a runner that exits or
        the start timeout ends the wait with the engine's last log lines."""
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if not await asyncio.to_thread(self.runner.alive):
                raise self._failure("exited before answering /health")
            with contextlib.suppress(httpx.TransportError):
                reply = await self._client.get(f"{self.url}/health", timeout=2.0)
                if reply.status_code == 200:
                    return
            await asyncio.sleep(HEALTH_POLL_S)
        raise self._failure(f"did not answer /health within {self.start_timeout:.0f} s")

    def credentials_refused(self) -> EngineRefusedCredentials:
        """An engine the gateway started asks for a token (one set in its image, say)."""
        return EngineRefusedCredentials(
            f"Engine {self.name} asks for a token (401), but the gateway starts its engines "
            "without one: remove ENGINE_API_TOKEN from its image or environment"
        )

    def _failure(self, what: str) -> EngineStartFailed:
        tail = "\n".join(self.runner.logs()[-LOG_LINES_IN_ERRORS:])
        return EngineStartFailed(f"Engine {self.name} {what}. Its last output:\n{tail}")

    async def ensure_model(self, url: str, model: str) -> None:
        """Load `model` unless the engine reports it loaded (a hotswap otherwise). One load at a
        time per address: a request that comes during another's load waits and looks again,
        so concurrent requests for one model load it once (the engine's /load always reloads)."""
        if await self._serves(url, model):
            return
        async with self._model_locks.setdefault(url, asyncio.Lock()):
            if await self._serves(url, model):
                return
            reply = await self._client.post(
                f"{url}/load", json={"engineModelName": model}, headers=self.credentials,
                timeout=None,
            )  # fmt: skip
        if reply.status_code == 401:
            raise self.credentials_refused()
        if reply.status_code != 200:
            detail = reply.json().get("detail", reply.text) if reply.content else reply.text
            raise _EngineRefused(reply.status_code, f"Loading {model} on {self.name}: {detail}")
        self.model = model

    async def _serves(self, url: str, model: str) -> bool:
        health = (await self._client.get(f"{url}/health", timeout=5.0)).json()
        if health.get("currentEngineModel") != model:
            return False
        self.model = model
        return True

    async def stop(self) -> None:
        """/shutdown (the orderly unload), then the runner's stop."""
        async with self._lock:
            if self.state not in ("running", "starting", "failed"):
                return
            self.state = "stopping"
            if self.url and self.runner.kind != "remote":
                with contextlib.suppress(httpx.HTTPError):
                    await self._client.post(f"{self.url}/shutdown", json={}, timeout=10.0)
            await asyncio.to_thread(self.runner.stop)
            self.state, self.model = "stopped", None

    async def stop_if_idle(self) -> bool:
        if self.keep_running or not self.idle_timeout or self.state != "running":
            return False
        if self.idle_seconds() < self.idle_timeout:
            return False
        logger.info("%s idle for %.0f s; stopping it", self.name, self.idle_seconds())
        await self.stop()
        return True

    def describe(self) -> dict[str, Any]:
        alive = self.runner.alive()
        state = self.state
        if state == "running" and not alive:
            state = "failed"
        return {
            "name": self.name,
            "type": self.engine.engine_type,
            "runner": self.runner.kind,
            "state": state,
            "port": self.port if alive else None,
            **self.runner.identity(),
            "model": self.model if alive else None,
            "idle_seconds": round(self.idle_seconds(), 1),
        }


class _EngineRefused(EnginekitError):
    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
