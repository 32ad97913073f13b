"""Engines that already run somewhere else (a Compose or Swarm service, a Kubernetes Service):
the gateway never starts or stops them. Each configured URL's host name is resolved again every
few seconds (on the gateway's periodic pass), every address it resolves to is health-checked,
and requests go round-robin over the healthy ones: a service with several replicas (Swarm's
`dnsrr`, a headless Service) gets its load spread, and a replica that dies or is replaced drops
out or joins by itself."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..checkout import EngineDir
from ..errors import EnginekitError
from .runners import _LogTail
from .supervisor import EngineHandle, EngineRefusedCredentials

__all__ = ["EngineUnreachable", "RemoteEngine", "RemoteRunner", "resolve_host"]

logger = logging.getLogger(__name__)

REFRESH_S = 2.0
HEALTH_TIMEOUT_S = 2.0


class EngineUnreachable(EnginekitError):
    """No address of a remote engine answers /health."""

    status_code = 503


def resolve_host(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (an IP literal is itself), sorted so the order is
    stable; none when the name does not resolve (yet)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return []
    return sorted({str(info[4][0]) for info in infos})


@dataclass
class Backend:
    """One address of a remote engine, as its last health check saw it."""

    url: str
    up: bool = False
    status: str | None = None
    model: str | None = None
    requests: int = 0

    def describe(self) -> dict[str, Any]:
        return {"url": self.url, "healthy": self.up, "status": self.status,
                "model": self.model, "requests": self.requests}  # fmt: skip


def _expand(url: str) -> list[str]:
    """The URL once per address of its host. https stays as written: a certificate names the
    host, not an address, so the balancing is left to whatever the name points at."""
    parts = urlsplit(url.rstrip("/"))
    host = parts.hostname or ""
    if parts.scheme == "https" or not host:
        return [url.rstrip("/")]
    port = parts.port or 80
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host)
        return [url.rstrip("/")]
    addresses = resolve_host(host, port)
    return [f"{parts.scheme}://{_netloc(address, port)}{parts.path}" for address in addresses]


def _netloc(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


class RemoteRunner:
    """The Runner of a remote engine: nothing to start or stop; it keeps the addresses of the
    configured URLs and their health."""

    kind = "remote"

    def __init__(self, urls: list[str], client: httpx.AsyncClient) -> None:
        self.urls = urls
        self._client = client
        self._backends: list[Backend] = []
        self._checked_at: float | None = None
        self._turn = 0
        self._tail = _LogTail()

    def start(self, port: int) -> None:
        """Nothing to start: the engine runs already."""

    def stop(self) -> None:
        """Nothing to stop: whoever started the engine owns it."""

    def alive(self) -> bool:
        return any(b.up for b in self._backends)

    @property
    def checked(self) -> bool:
        return self._checked_at is not None

    def identity(self) -> dict[str, Any]:
        return {"urls": self.urls, "backends": [b.describe() for b in self._backends]}

    def logs(self) -> list[str]:
        return self._tail.lines()

    async def pick(self) -> Backend:
        """The next healthy address, round-robin; addresses whose engine is still loading a
        model come only when no other is up. With none up it checks again before giving up."""
        if not self.alive():
            await self.refresh()
        up = [b for b in self._backends if b.up]
        ready = [b for b in up if b.status != "loading"] or up
        if not ready:
            raise EngineUnreachable(
                f"No address of {', '.join(self.urls)} answers /health; "
                f"last checks: {self._summary()}"
            )
        backend = ready[self._turn % len(ready)]
        self._turn += 1
        backend.requests += 1
        return backend

    def refused(self, url: str) -> None:
        """A request's connection to `url` was refused: it is down until a check says not."""
        for backend in self._backends:
            if backend.url == url and backend.up:
                backend.up, backend.status = False, "refused a connection"
                self._note(f"{url} down: refused a connection")

    async def refresh_if_stale(self) -> None:
        if self._checked_at is None or time.monotonic() - self._checked_at >= REFRESH_S:
            await self.refresh()

    async def refresh(self) -> None:
        """Resolve every URL again and health-check every address it has now."""
        found: list[str] = []
        for url in self.urls:
            found += [u for u in await asyncio.to_thread(_expand, url)
                      if u not in found]  # fmt: skip
        known = {b.url: b for b in self._backends}
        backends = [known.get(url) or Backend(url) for url in found]
        await asyncio.gather(*(self._check(b) for b in backends))
        for gone in set(known) - set(found):
            self._note(f"{gone} no longer resolves; dropped")
        self._backends = backends
        self._checked_at = time.monotonic()

    async def _check(self, backend: Backend) -> None:
        was_up = backend.up
        try:
            reply = await self._client.get(f"{backend.url}/health", timeout=HEALTH_TIMEOUT_S)
            body = reply.json() if reply.status_code == 200 else {}
        except (httpx.HTTPError, ValueError) as exc:
            backend.up, backend.status = False, f"unreachable ({type(exc).__name__})"
        else:
            body = body if isinstance(body, dict) else {}
            backend.up = reply.status_code == 200
            backend.status = str(body.get("status")) if backend.up else f"HTTP {reply.status_code}"
            backend.model = body.get("currentEngineModel") if backend.up else None
        if backend.up != was_up:
            self._note(f"{backend.url} {'up' if backend.up else 'down'}: {backend.status}")

    def _note(self, line: str) -> None:
        logger.info("remote %s", line)
        self._tail.add(f"[gateway] {line}")

    def _summary(self) -> str:
        return "; ".join(f"{b.url}: {b.status}" for b in self._backends) or "no address resolved"


class RemoteEngine(EngineHandle):
    """An EngineHandle whose URL is a different healthy address for each request."""

    runner: RemoteRunner

    def __init__(
        self,
        engine: EngineDir,
        runner: RemoteRunner,
        client: httpx.AsyncClient,
        token: str | None = None,
    ) -> None:
        super().__init__(
            engine, runner, client, idle_timeout=0, keep_running=True, start_timeout=0.1
        )
        if token is not None:
            self.credentials = {"Authorization": f"Bearer {token}"}

    async def ensure_running(self) -> str:
        try:
            backend = await self.runner.pick()
        except EngineUnreachable:
            self.state = "failed"
            raise
        self.state, self.url = "running", backend.url
        return backend.url

    async def refused(self, url: str) -> bool:
        """A replica that died since the last check: the request goes to another address,
        or, with none left up, to whatever a fresh check finds (else a 503 naming them)."""
        self.runner.refused(url)
        return True

    def credentials_refused(self) -> EngineRefusedCredentials:
        return EngineRefusedCredentials(
            f"Engine {self.name} refused the gateway's credentials (401): set "
            f"engines.{self.name}.token_file to a file holding the token it asks for"
        )

    async def stop(self) -> None:
        """A remote engine is never stopped by the gateway."""

    async def stop_if_idle(self) -> bool:
        """Never stopped; the gateway's periodic pass is when its addresses are checked again."""
        await self.runner.refresh_if_stale()
        self.state = "running" if self.runner.alive() else "failed"
        return False

    def describe(self) -> dict[str, Any]:
        up = self.runner.alive()
        return {
            "name": self.name,
            "type": self.engine.engine_type,
            "runner": self.runner.kind,
            "state": "running" if up else ("failed" if self.runner.checked else "starting"),
            "port": None,
            **self.runner.identity(),
            "model": self.model if up else None,
            "idle_seconds": round(self.idle_seconds(), 1),
        }
