"""An engine's OpenAPI documents say what its doors really answer: FastAPI describes the routes
and their bodies; this adds each error status in the shape of the door that sends it, and the
bearer scheme when ENGINE_API_TOKEN is set.

Routes name the statuses they raise themselves (`error_responses`, one shared description per
status). What the request guard and the token check answer on every route is added to every
operation here, from the same table, so no route repeats it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from ..settings import ServerSettings
from .guards import refusal_statuses

__all__ = [
    "BEARER_SCHEME",
    "ERRORS",
    "ErrorDetail",
    "Responses",
    "binary_content",
    "contract_errors",
    "document",
    "error_responses",
]

#: One description per error status, whichever door sends it.
ERRORS: dict[int, str] = {
    400: "Invalid input, an unknown model, or no model loaded",
    401: "Missing or invalid bearer token (ENGINE_API_TOKEN)",
    403: "A cross-origin request from an origin not in ENGINE_ALLOWED_ORIGINS",
    404: "A named model, speaker sample or audio file does not exist",
    413: "The request body or the audio is above the configured limit",
    415: "A content type a browser sends cross-site unasked (text/plain, form encodings)",
    421: "A Host this engine does not serve (ENGINE_ALLOWED_HOSTS)",
    500: "The engine failed unexpectedly",
    502: "Downloading the model failed",
    503: "A model is loading, the engine is shutting down, or the GPU ran out of memory",
    507: "Not enough disk space for the model, or the model store is read-only",
}
BEARER_SCHEME = "bearerAuth"
FASTAPI_VALIDATION = "422"
_REF = "#/components/schemas/{model}"
_BINARY: dict[str, Any] = {"type": "string", "format": "binary"}
_CHALLENGE = {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}

Responses = dict[int | str, dict[str, Any]]


class ErrorDetail(BaseModel):
    """The origin contract's error body."""

    detail: str


def error_responses(model: type[BaseModel], *statuses: int) -> Responses:
    """`responses=` for a route that raises these statuses with bodies shaped like `model`."""
    return {status: {"model": model, "description": ERRORS[status]} for status in statuses}


def contract_errors(*statuses: int) -> Responses:
    """`responses=` for an origin contract route: `{"detail": ...}` bodies."""
    return error_responses(ErrorDetail, *statuses)


def binary_content(*media_types: str) -> dict[str, Any]:
    """An OpenAPI `content` of raw bytes in each of `media_types`."""
    return {media_type: {"schema": dict(_BINARY)} for media_type in media_types}


def document(
    app: FastAPI,
    settings: ServerSettings,
    error_model: type[BaseModel],
    *,
    open_paths: frozenset[str] = frozenset(),
    validation_status: int = 422,
) -> None:
    """Complete `app`'s document once, when it is first asked for. `open_paths` need no token;
    `validation_status` is what the app answers a malformed request with (422 is FastAPI's)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _complete(
                generate(), settings, error_model, open_paths, validation_status
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented extension point


def _complete(
    schema: dict[str, Any],
    settings: ServerSettings,
    error_model: type[BaseModel],
    open_paths: frozenset[str],
    validation_status: int,
) -> dict[str, Any]:
    components = schema.setdefault("components", {})
    _add_model(components.setdefault("schemas", {}), error_model)
    error = {"application/json": {"schema": {"$ref": _REF.format(model=error_model.__name__)}}}
    token = bool(settings.api_token)
    for path, operations in schema.get("paths", {}).items():
        needs_token = token and path not in open_paths
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status in refusal_statuses(settings, method) + ((401,) if needs_token else ()):
                responses.setdefault(str(status), {"description": ERRORS[status], "content": error})
            if needs_token:
                responses["401"]["headers"] = _CHALLENGE
            elif token:
                operation["security"] = []
            if validation_status != int(FASTAPI_VALIDATION):
                responses.pop(FASTAPI_VALIDATION, None)
            operation["responses"] = dict(sorted(responses.items()))
    if validation_status != int(FASTAPI_VALIDATION):
        for name in ("HTTPValidationError", "ValidationError"):
            components["schemas"].pop(name, None)
    if token:
        components["securitySchemes"] = {BEARER_SCHEME: {"type": "http", "scheme": "bearer"}}
        schema["security"] = [{BEARER_SCHEME: []}]
    return schema


def _add_model(schemas: dict[str, Any], model: type[BaseModel]) -> None:
    """`model` and the models it nests, unless FastAPI already listed them."""
    definition = model.model_json_schema(ref_template=_REF, mode="serialization")
    for name, nested in definition.pop("$defs", {}).items():
        schemas.setdefault(name, nested)
    schemas.setdefault(model.__name__, definition)
