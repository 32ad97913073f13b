"""What every request must pass before any route sees it, so a hostile web page or one huge body
cannot act on or stall an engine (or the gateway):

- Host: a server bound to loopback answers only to loopback names (DNS rebinding), unless
  ENGINE_ALLOWED_HOSTS lists more;
- Origin: a browser's cross-site request is refused unless ENGINE_ALLOWED_ORIGINS lists its origin
  (same-origin pages, such as the gateway's console, pass);
- Content-Type: a POST may not be a type a browser sends cross-site without asking first
  (text/plain, form encodings), except multipart where a route takes files;
- size: a body above ENGINE_MAX_REQUEST_MB is refused (413) before it is parsed.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..settings import LOOPBACK_HOSTS, ServerSettings

__all__ = ["RequestGuard", "refusal_statuses"]

_SIMPLE_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded"})
_ACTING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

ErrorFactory = Callable[[str, int, str], JSONResponse]


def _hostname(host_header: str) -> str:
    return (urlsplit(f"//{host_header}").hostname or "").lower()


def _allowed_hosts(settings: ServerSettings) -> frozenset[str]:
    """The Host names served; empty means any (a server off loopback with none configured)."""
    if settings.allowed_hosts:
        return frozenset(settings.allowed_hosts)
    return frozenset(LOOPBACK_HOSTS) if settings.on_loopback else frozenset()


def refusal_statuses(settings: ServerSettings, method: str) -> tuple[int, ...]:
    """The statuses RequestGuard may answer a `method` request with (the OpenAPI documents
    them on every operation)."""
    statuses = [403, 413]
    if _allowed_hosts(settings):
        statuses.append(421)
    if method.upper() in _ACTING_METHODS:
        statuses.append(415)
    return tuple(sorted(statuses))


class RequestGuard:
    """Pure ASGI middleware (it must see the body as it streams, before anything parses it)."""

    def __init__(
        self,
        app: ASGIApp,
        settings: ServerSettings,
        error: ErrorFactory,
        multipart_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.settings = settings
        self.error = error
        self.multipart_paths = multipart_paths

    def refusal(self, method: str, path: str, headers: Headers) -> tuple[int, str] | None:
        host = headers.get("host", "")
        allowed_hosts = _allowed_hosts(self.settings)
        if allowed_hosts and _hostname(host) not in allowed_hosts:
            return 421, f"Host {host[:80]!r} is not served here (ENGINE_ALLOWED_HOSTS)"
        origin = headers.get("origin")
        same_origin = origin is not None and urlsplit(origin).netloc.lower() == host.lower()
        if origin is not None and origin not in self.settings.allowed_origins and not same_origin:
            return 403, (
                f"Cross-origin request from {origin[:80]!r} refused; "
                "allow it with ENGINE_ALLOWED_ORIGINS"
            )
        if method in _ACTING_METHODS:
            media = headers.get("content-type", "").split(";")[0].strip().lower()
            multipart = media == "multipart/form-data" and path in self.multipart_paths
            if media in _SIMPLE_TYPES or (media == "multipart/form-data" and not multipart):
                return 415, f"Unsupported content type {media!r} for {method} {path}"
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.settings.max_request_bytes:
            return 413, self._too_large()
        return None

    def _too_large(self) -> str:
        return f"Request body too large: the limit is {self.settings.max_request_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        problem = self.refusal(scope["method"], path, Headers(scope=scope))
        if problem is not None:
            await self.error(path, *problem)(scope, receive, send)
            return
        received, started, refused = 0, False, False

        async def limited_receive() -> Message:
            """Past the limit: answer 413 now, and tell the app the client has gone."""
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.settings.max_request_bytes and not refused:
                    refused = True
                    if not started:
                        await self.error(path, 413, self._too_large())(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out instead
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, limited_receive, tracked_send)
