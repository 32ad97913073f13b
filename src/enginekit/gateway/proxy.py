"""Forwarding one request to an engine and its reply back, streamed both ways, with the engine
marked in use until the last byte has gone out."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi.responses import StreamingResponse

from .remote import EngineUnreachable
from .supervisor import EngineHandle

__all__ = ["forward"]

logger = logging.getLogger(__name__)

#: Addresses one request may be sent to when earlier ones refuse the connection (remote
#: replicas that died since their last health check).
MAX_ADDRESSES = 4

#: Headers that describe one hop, not the message (RFC 9110 §7.6.1), and ones httpx recomputes;
#: a browser's Origin too: the gateway checked it, and to the engine the gateway is the client
#: (with the engine's own credentials, if it has any).
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host",
     "proxy-authorization", "proxy-authenticate", "authorization", "content-length", "origin"}
)  # fmt: skip


def _forwardable(headers: Any) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}


async def forward(
    client: httpx.AsyncClient,
    handle: EngineHandle,
    method: str,
    path: str,
    *,
    headers: Any = None,
    content: bytes | None = None,
    files: Any = None,
    data: Any = None,
    params: Any = None,
    model: str | None = None,
) -> StreamingResponse:
    """Start the engine if needed, load `model` when given, send, stream the answer back; an
    address that refuses the connection gives the request to another, if the engine has one.
    The caller passed the gateway's token check, so an engine's 401 is about the gateway's."""
    for attempt in range(1, MAX_ADDRESSES + 1):
        stack = contextlib.AsyncExitStack()
        url: str | None = None
        try:
            url = await stack.enter_async_context(handle.use())
            if model is not None:
                await handle.ensure_model(url, model)
            request = client.build_request(
                method, f"{url}{path}", headers=_forwardable(headers or {}) | handle.credentials,
                content=content, files=files, data=data, params=params, timeout=None,
            )  # fmt: skip
            upstream = await client.send(request, stream=True)
        except httpx.ConnectError as exc:
            await stack.aclose()
            if url is not None and await handle.refused(url) and attempt < MAX_ADDRESSES:
                logger.info("%s at %s refused the connection; trying again", handle.name, url)
                continue
            raise EngineUnreachable(
                f"{handle.name} at {url} refused the connection ({exc}); try again"
            ) from exc
        except BaseException:
            await stack.aclose()
            raise
        break
    stack.push_async_callback(upstream.aclose)
    if upstream.status_code == 401:
        await stack.aclose()
        raise handle.credentials_refused()

    async def body() -> AsyncIterator[bytes]:
        async with stack:
            async for chunk in upstream.aiter_raw():
                yield chunk

    return StreamingResponse(
        body(), status_code=upstream.status_code, headers=_forwardable(upstream.headers)
    )
