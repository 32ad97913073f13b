"""The one mapping from enginekit's errors to OpenAI's error object on /v1, by exception class and
status code, never by message text, so the SDKs raise their usual exception classes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ...errors import (
    EnginekitError,
    GpuOutOfMemory,
    InvalidInput,
    InvalidModelName,
    ModelLoading,
    ModelNotFound,
    ModelNotLoaded,
    PayloadTooLarge,
    ShuttingDown,
)
from ..openapi import Responses, error_responses
from .wire import ErrorBody, ErrorObject

__all__ = ["InvalidParameter", "error_response", "install_error_handlers", "openai_errors"]

logger = logging.getLogger(__name__)

#: OpenAI answers a model it does not know with 404; the origin contract says 400.
_STATUS: dict[type[EnginekitError], int] = {ModelNotFound: 404}

_CODES: dict[type[EnginekitError], str] = {
    ModelNotFound: "model_not_found",
    InvalidModelName: "model_not_found",
    ModelNotLoaded: "model_not_loaded",
    ModelLoading: "model_loading",
    GpuOutOfMemory: "gpu_out_of_memory",
    ShuttingDown: "shutting_down",
    PayloadTooLarge: "payload_too_large",
}

_PARAMS: dict[type[EnginekitError], str] = {ModelNotFound: "model", InvalidModelName: "model"}


class InvalidParameter(InvalidInput):
    """Input refused because of one named request parameter (OpenAI's `param`)."""

    def __init__(self, param: str, detail: str) -> None:
        super().__init__(detail)
        self.param = param


def error_type(status: int) -> str:
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def error_of(exc: EnginekitError, public: Callable[[str], str] = str) -> tuple[int, ErrorObject]:
    """The HTTP status and OpenAI's error object for one of our errors."""
    status = _lookup(_STATUS, exc) or exc.status_code
    param = exc.param if isinstance(exc, InvalidParameter) else _lookup(_PARAMS, exc)
    return status, ErrorObject(
        message=public(exc.detail), type=error_type(status), param=param, code=_lookup(_CODES, exc)
    )


def error_response(
    status: int,
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    error = ErrorObject(message=message, type=error_type(status), param=param, code=code)
    content = ErrorBody(error=error).model_dump()
    return JSONResponse(status_code=status, content=content, headers=headers)


def openai_errors(*statuses: int) -> Responses:
    """`responses=` for a /v1 route: OpenAI's error object."""
    return error_responses(ErrorBody, *statuses)


def _lookup(table: dict[type[EnginekitError], Any], exc: EnginekitError) -> Any:
    return next((table[kind] for kind in type(exc).__mro__ if kind in table), None)


def install_error_handlers(app: FastAPI, public: Callable[[str], str] = str) -> None:
    """`public` turns a message into what a client may see (the runtime's path scrubbing)."""

    @app.exception_handler(EnginekitError)
    async def enginekit_error(_: Request, exc: EnginekitError) -> JSONResponse:
        status, error = error_of(exc, public)
        return JSONResponse(status_code=status, content=ErrorBody(error=error).model_dump())

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        """OpenAI answers a malformed parameter with 400 naming it, not FastAPI's 422."""
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "Invalid request"}
        location = [str(part) for part in first["loc"] if part not in ("body", "query")]
        param = ".".join(location) or None
        message = f"{param}: {first['msg']}" if param else str(first["msg"])
        return error_response(400, message, param=param, code="invalid_value")

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(Exception)
    async def unexpected_error(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("Unhandled error on /v1")
        return error_response(500, public(str(exc)))
