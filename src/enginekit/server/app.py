"""The FastAPI application of an engine: error mapping, optional auth, lifespan, routers."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from .. import __version__
from ..errors import EnginekitError

if TYPE_CHECKING:
    from .base import BaseEngineServer

__all__ = ["create_app"]

logger = logging.getLogger(__name__)

UNAUTHENTICATED_PATHS = frozenset({"/health"})
STARTUP_NAMES_SHOWN = 10


def create_app(server: BaseEngineServer) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for action in server.store.link_external():
            logger.debug("link_external: %s %s", action.action, action.name)
        names = server.store.names()
        shown = ", ".join(names[:STARTUP_NAMES_SHOWN]) + (
            ", ..." if len(names) > STARTUP_NAMES_SHOWN else ""
        )
        logger.info("%s ready; %d model(s): %s", server.display_name, len(names), shown or "none")
        startup_load = None
        if server.startup_model:
            startup_load = asyncio.create_task(server.load_at_startup(server.startup_model))
        yield
        if startup_load is not None and not startup_load.done():
            startup_load.cancel()
        await server.shutdown_worker()

    app = FastAPI(title=server.display_name, version=__version__, lifespan=lifespan)

    @app.exception_handler(EnginekitError)
    async def enginekit_error(_: Request, exc: EnginekitError) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"detail": exc.detail})

    @app.exception_handler(Exception)
    async def unexpected_error(_: Request, exc: Exception) -> JSONResponse:
        """The contract's shape for every 500: JSON `{"detail": str(e)}`, never plain text."""
        logger.exception("Unhandled error")
        return JSONResponse(status_code=500, content={"detail": str(exc)})

    token = server.settings.api_token
    if token:
        _require_token(app, token)
    for router in server.routers():
        app.include_router(router)
    return app


def _require_token(app: FastAPI, token: str) -> None:
    """ENGINE_API_TOKEN: every endpoint but /health needs `Authorization: Bearer <token>`."""
    expected = f"Bearer {token}".encode()

    @app.middleware("http")
    async def check_token(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.url.path in UNAUTHENTICATED_PATHS:
            return await call_next(request)
        sent = request.headers.get("authorization", "").encode()
        if not secrets.compare_digest(sent, expected):
            return JSONResponse(
                status_code=401,
                content={"detail": "Missing or invalid bearer token"},
                headers={"WWW-Authenticate": "Bearer"},
            )
        return await call_next(request)
