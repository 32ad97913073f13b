"""The one place an engine's HTTP application is assembled: error mapping, optional auth, the
lifespan (link external models, start-up load, orderly shutdown) and the doors for its type."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from .. import __version__
from ..engine import QualityEngine, STTEngine, TTSEngine
from ..errors import EnginekitError
from ..runtime import Runtime
from .contract import common_router, quality_router, stt_router, tts_router
from .guards import RequestGuard
from .openai import OPENAI_PREFIX, error_response, openai_app
from .openapi import ErrorDetail, document
from .wyoming import serve_wyoming

__all__ = ["MULTIPART_PATHS", "create_app", "door_error", "require_token"]

logger = logging.getLogger(__name__)

UNAUTHENTICATED_PATHS = frozenset({"/health"})
MULTIPART_PATHS = frozenset({f"{OPENAI_PREFIX}/audio/transcriptions",
                             f"{OPENAI_PREFIX}/audio/translations"})  # fmt: skip
STARTUP_NAMES_SHOWN = 10


def create_app(runtime: Runtime, request_exit: Callable[[], None]) -> FastAPI:
    """`request_exit` ends the process's server; /shutdown calls it after the orderly unload."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        _link_and_announce(runtime)
        startup_load = None
        if runtime.settings.server.load_model:
            startup_load = asyncio.create_task(
                runtime.load_at_startup(runtime.settings.server.load_model)
            )
        async with serve_wyoming(runtime):
            yield
        if startup_load is not None and not startup_load.done():
            startup_load.cancel()
        await runtime.shutdown()

    app = FastAPI(
        title=runtime.display_name, version=__version__, lifespan=lifespan,
        description=f"The OpenAI-compatible API has its own document: {OPENAI_PREFIX}/openapi.json",
    )  # fmt: skip
    _map_errors(app, runtime)
    token = runtime.settings.server.api_token
    if token:
        require_token(app, token, UNAUTHENTICATED_PATHS)
    # Added last, so it runs first: nothing reaches auth or a route unchecked.
    app.add_middleware(
        RequestGuard, settings=runtime.settings.server, error=door_error,
        multipart_paths=MULTIPART_PATHS,
    )  # fmt: skip
    app.include_router(common_router(runtime, request_exit))
    engine = runtime.engine
    if isinstance(engine, TTSEngine):
        app.include_router(tts_router(runtime))
    if isinstance(engine, QualityEngine):
        app.include_router(quality_router(runtime))
    if isinstance(engine, STTEngine):
        app.include_router(stt_router(runtime))
    app.mount(OPENAI_PREFIX, openai_app(runtime))
    document(app, runtime.settings.server, ErrorDetail, open_paths=UNAUTHENTICATED_PATHS)
    return app


def _map_errors(app: FastAPI, runtime: Runtime) -> None:
    """The origin contract's error shapes (the /v1 application maps its own)."""

    @app.exception_handler(EnginekitError)
    async def enginekit_error(_: Request, exc: EnginekitError) -> JSONResponse:
        detail = runtime.public_message(exc.detail)
        return JSONResponse(status_code=exc.status_code, content={"detail": detail})

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        """FastAPI's 404/405, but OpenAI's error object for a /v1 path the mount cannot route
        (a newline in it, for one)."""
        if request.url.path.startswith(OPENAI_PREFIX + "/"):
            return door_error(request.url.path, exc.status_code, str(exc.detail), exc.headers)
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        """FastAPI's 422 shape, each `input` cut to a short prefix (a 100 MB body is not
        echoed back)."""
        errors = [{**error, "input": shorten(error.get("input"))} for error in exc.errors()]
        return JSONResponse(status_code=422, content=jsonable_encoder({"detail": errors}))

    @app.exception_handler(Exception)
    async def unexpected_error(_: Request, exc: Exception) -> JSONResponse:
        """The contract's shape for every 500: JSON `{"detail": str(e)}`, never plain text."""
        logger.exception("Unhandled error")
        detail = runtime.public_message(str(exc))
        return JSONResponse(status_code=500, content={"detail": detail})


SHOWN_CHARS = 200
SHOWN_ITEMS = 20


def shorten(value: Any) -> Any:
    """A request value as an error may quote it: strings cut, collections trimmed."""
    if isinstance(value, str) and len(value) > SHOWN_CHARS:
        return value[:SHOWN_CHARS] + "..."
    if isinstance(value, bytes) and len(value) > SHOWN_CHARS:
        return value[:SHOWN_CHARS] + b"..."
    if isinstance(value, dict):
        return {k: shorten(v) for k, v in list(value.items())[:SHOWN_ITEMS]}
    if isinstance(value, list | tuple):
        return [shorten(v) for v in value[:SHOWN_ITEMS]]
    return value


def _link_and_announce(runtime: Runtime) -> None:
    for action in runtime.store.link_external():
        logger.debug("link_external: %s %s", action.action, action.name)
    names = runtime.store.names()
    shown = ", ".join(names[:STARTUP_NAMES_SHOWN]) + (
        ", ..." if len(names) > STARTUP_NAMES_SHOWN else ""
    )
    logger.info("%s ready; %d model(s): %s", runtime.display_name, len(names), shown or "none")


def require_token(app: FastAPI, token: str, open_paths: frozenset[str]) -> None:
    """ENGINE_API_TOKEN: every endpoint but `open_paths` needs `Authorization: Bearer <token>`
    (the scheme is case-insensitive, as HTTP says)."""
    expected = token.encode()

    @app.middleware("http")
    async def check_token(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.url.path in open_paths:
            return await call_next(request)
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        valid = scheme.lower() == "bearer" and secrets.compare_digest(
            credentials.strip().encode(), expected
        )
        if not valid:
            return _unauthorized(request.url.path)
        return await call_next(request)


def door_error(
    path: str, status: int, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """An error in the shape of the door the path belongs to."""
    if path.startswith(OPENAI_PREFIX + "/"):
        code = "invalid_api_key" if status == 401 else None
        return error_response(status, message, code=code, headers=headers)
    return JSONResponse(status_code=status, content={"detail": message}, headers=headers)


def _unauthorized(path: str) -> JSONResponse:
    return door_error(path, 401, "Missing or invalid bearer token", {"WWW-Authenticate": "Bearer"})
