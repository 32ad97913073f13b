"""One Wyoming client connection: events read with the library's reader under a size cap,
answered one at a time by the sessions the engine's type has, every refusal an `error` event.

Nothing a client sends ends more than its own connection: a malformed header or an oversize
event is answered with an error and the connection closed (the byte stream cannot be trusted
after either); any other bad event, an audio stream past the upload limit included, gets an
error and the connection goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import cast

from wyoming.error import Error
from wyoming.event import Event, async_read_event
from wyoming.info import Info
from wyoming.ping import Pong
from wyoming.server import AsyncEventHandler

from ...engine import STTEngine, TTSEngine
from ...errors import EnginekitError, PayloadTooLarge
from ...runtime import Runtime
from .hearing import Hearing
from .programs import describe
from .replies import error_event, optional_text
from .speech import Speech

__all__ = ["Connection"]

logger = logging.getLogger(__name__)

Handler = Callable[[Event], Awaitable[None]]


class _CappedReader:
    """What `async_read_event` reads through: a header announcing more data or payload than
    the cap is refused before a byte of it is buffered."""

    def __init__(self, reader: asyncio.StreamReader, cap: int) -> None:
        self._reader = reader
        self._cap = cap

    async def readline(self) -> bytes:
        return await self._reader.readline()

    async def readexactly(self, size: int) -> bytes:
        if size > self._cap:
            raise PayloadTooLarge(self._cap)
        return await self._reader.readexactly(size)


class Connection(AsyncEventHandler):
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        runtime: Runtime,
        open_tasks: set[asyncio.Task[None]],
    ) -> None:
        super().__init__(reader, writer)
        self._runtime = runtime
        self._open_tasks = open_tasks
        cap = runtime.settings.server.max_upload_bytes
        # The library's reader needs only readline and readexactly, which _CappedReader has.
        self._capped = cast(asyncio.StreamReader, _CappedReader(reader, cap))
        self._handlers: dict[str, Handler] = {
            "describe": self._describe,
            "ping": self._ping,
            "select-program": self._select_program,
        }
        if isinstance(runtime.engine, TTSEngine):
            self._handlers |= Speech(runtime, self.write_event).handlers()
        if isinstance(runtime.engine, STTEngine):
            self._handlers |= Hearing(runtime, self.write_event).handlers()

    async def run(self) -> None:
        """The library's loop with the cap, the malformed-header answer and a clean end when
        the client goes away mid-event; the listener cancels it at shutdown."""
        task = asyncio.current_task()
        if task is not None:
            self._open_tasks.add(cast("asyncio.Task[None]", task))
        try:
            while (event := await self._next_event()) is not None:
                if not await self.handle_event(event):
                    break
        except ConnectionError:
            logger.debug("Wyoming client went away")
        finally:
            if task is not None:
                self._open_tasks.discard(cast("asyncio.Task[None]", task))
            self.writer.close()

    async def handle_event(self, event: Event) -> bool:
        handler = self._handlers.get(event.type)
        try:
            if handler is None:
                supported = ", ".join(sorted(self._handlers))
                await self._error(
                    f"Unknown event {event.type!r}; supported: {supported}", "unknown-event"
                )
                return True
            await handler(event)
        except EnginekitError as exc:
            await self.write_event(error_event(exc))
        except ConnectionError:
            raise
        except Exception as exc:
            logger.exception("Wyoming %s failed", event.type)
            await self._error(f"{event.type} failed: {exc}", "engine-failure")
        return True

    async def _next_event(self) -> Event | None:
        """The next event; None at the end of the stream or after a refused header."""
        try:
            event = await async_read_event(self._capped)
        except PayloadTooLarge as exc:
            await self.write_event(error_event(exc))
            return None
        except asyncio.IncompleteReadError:
            return None  # the client left in the middle of an event
        except (KeyError, TypeError, AttributeError):
            event = None  # JSON, but not an event header (the library lets these through)
        else:
            if event is None and self.reader.at_eof():
                return None
        if event is None or not isinstance(event.type, str) or not isinstance(event.data, dict):
            await self._error(
                "Malformed event: expected a JSON header line with a string 'type' and "
                "optional 'data_length' and 'payload_length', then that many bytes",
                "malformed-event",
            )
            return None
        return event

    async def _error(self, text: str, code: str = "invalid-input") -> None:
        await self.write_event(Error(text=text, code=code).event())

    async def _describe(self, _: Event) -> None:
        info: Info = await describe(self._runtime)
        await self.write_event(info.event())

    async def _ping(self, event: Event) -> None:
        await self.write_event(Pong(text=optional_text(event.data, "text", event.type)).event())

    async def _select_program(self, event: Event) -> None:
        name = optional_text(event.data, "name", event.type)
        if name != self._runtime.engine_name:
            await self._error(f"Unknown program {name!r}; this is {self._runtime.engine_name!r}")
