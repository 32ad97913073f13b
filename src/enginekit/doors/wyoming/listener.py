"""The Wyoming listener beside HTTP: started and stopped in the app's lifespan, so it runs in
uvicorn's event loop on the same runtime, and a Wyoming request is a job /health shows."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from wyoming.server import AsyncServer

from ...runtime import Runtime
from .connection import Connection

__all__ = ["WyomingListener", "serve_wyoming"]

logger = logging.getLogger(__name__)


class WyomingListener:
    """Accepts connections at `uri`; each is a task of its own, so none can stop another."""

    def __init__(self, runtime: Runtime, uri: str) -> None:
        self.uri = uri
        self._runtime = runtime
        self._server = AsyncServer.from_uri(uri)
        self._connections: set[asyncio.Task[None]] = set()

    def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Connection:
        return Connection(reader, writer, self._runtime, self._connections)

    async def start(self) -> None:
        try:
            await self._server.start(self._connect)
        except OSError as exc:
            logger.error("Cannot listen for Wyoming on %s: %s", self.uri, exc)
            raise
        logger.info("%s listening on %s (Wyoming)", self._runtime.display_name, self.uri)

    async def stop(self) -> None:
        """Close the socket, end every open connection (a job in progress stops at its next
        chunk) and wait until they have ended."""
        await self._server.stop()
        connections = list(self._connections)
        for task in connections:
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)


@asynccontextmanager
async def serve_wyoming(runtime: Runtime) -> AsyncIterator[WyomingListener | None]:
    """The listener ENGINE_WYOMING_URI / --wyoming asks for, for the app's lifetime (nothing
    without one)."""
    uri = runtime.settings.server.wyoming_uri
    if uri is None:
        yield None
        return
    listener = WyomingListener(runtime, uri)
    await listener.start()
    try:
        yield listener
    finally:
        await listener.stop()
