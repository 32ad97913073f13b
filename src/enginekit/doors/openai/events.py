"""Server-sent events as OpenAI streams them: `event:`, then one JSON line `data:` with `type`."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from ...errors import EnginekitError
from .errors import error_of

__all__ = ["SSE_MEDIA_TYPE", "ending_in_an_error_event", "sse_content", "sse_event"]

logger = logging.getLogger(__name__)

SSE_MEDIA_TYPE = "text/event-stream"


def sse_content(*kinds: str) -> dict[str, Any]:
    """The OpenAPI media type of a stream of these events: its `schema` describes one event
    (as OpenAPI before 3.2 reads it), `data` a JSON object."""
    data = {"type": "string", "contentMediaType": "application/json"}
    event = {"type": "object", "required": ["event", "data"],
             "properties": {"event": {"enum": list(kinds)}, "data": data}}  # fmt: skip
    return {SSE_MEDIA_TYPE: {"schema": event}}


def sse_event(kind: str, **fields: Any) -> bytes:
    payload = json.dumps({"type": kind, **fields}, ensure_ascii=False, separators=(",", ":"))
    return f"event: {kind}\ndata: {payload}\n\n".encode()


async def ending_in_an_error_event(
    events: AsyncGenerator[bytes, None],
) -> AsyncIterator[bytes]:
    """A failure after the stream began cannot change the status any more: it ends the stream
    with OpenAI's `error` event (the SDK raises it as an `APIError` with our message) instead
    of a response cut off mid-chunk. A client that leaves closes `events` at once."""
    async with contextlib.aclosing(events):
        try:
            async for event in events:
                yield event
        except EnginekitError as exc:
            logger.warning("A stream ended in an error: %s", exc.detail)
            _, error = error_of(exc)
            yield sse_event("error", error=error.model_dump())
