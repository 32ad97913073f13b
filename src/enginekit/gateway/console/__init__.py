"""The gateway's web console: one static page with its stylesheet and script, packaged with
enginekit (no CDN, no build step). The page and its assets are served without a token, since
a browser cannot send one for a page it navigates to; they hold no data, and every call the
page makes carries the token the user typed (kept in session storage, never in a cookie)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources

from fastapi import FastAPI
from fastapi.responses import Response

__all__ = ["CONSOLE_PATHS", "add_console"]

_ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
}
#: The page is same-origin only: its own script and style, audio from blobs, nothing inline.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; media-src 'self' blob:; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
CONSOLE_PATHS = frozenset({"/", *(f"/console/{name}" for name in _ASSETS)})


def _asset(name: str) -> Response:
    data = resources.files(__package__).joinpath(name).read_bytes()
    return Response(data, media_type=_ASSETS[name], headers=_HEADERS)


def add_console(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        return _asset("index.html")

    for name in _ASSETS:
        app.add_api_route(
            f"/console/{name}", _serving(name), methods=["GET"], include_in_schema=False
        )


def _serving(name: str) -> Callable[[], Awaitable[Response]]:
    async def asset() -> Response:
        return _asset(name)

    return asset
