"""Endpoints every engine has: /health, /models, /load, /info, /shutdown (engine-api.md §3)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Response

from ...errors import EngineFailure
from ...manifest import EngineManifest
from ...runtime import ModelListing, Runtime
from ..openapi import contract_errors
from ..wire import (
    EngineModelConfig,
    HealthResponse,
    InfoResponse,
    LoadRequest,
    LoadResponse,
    ModelField,
    ModelInfo,
    ModelsResponse,
    ParameterSchema,
    UpstreamInfo,
    VariantInfo,
)

__all__ = ["build_info", "common_router", "model_info"]

logger = logging.getLogger(__name__)

EXIT_DELAY_S = 0.1


def common_router(runtime: Runtime, request_exit: Callable[[], None]) -> APIRouter:
    router = APIRouter()

    @router.get("/health", response_model=HealthResponse)
    async def health() -> HealthResponse:
        return _health(runtime)

    listing = _EncodedListing(runtime)

    @router.get("/models", response_model=ModelsResponse, responses=contract_errors(500))
    async def models() -> Response:
        try:
            body = await listing.body()
        except Exception as exc:
            logger.exception("Listing models failed")
            raise EngineFailure(str(exc)) from exc
        return Response(content=body, media_type="application/json")

    @router.post(
        "/load", response_model=LoadResponse,
        responses=contract_errors(400, 404, 500, 502, 503, 507),
    )  # fmt: skip
    async def load(request: LoadRequest) -> LoadResponse:
        name = request.engine_model_name
        await runtime.switch_model(name)
        return LoadResponse(status="loaded", engine_model_name=name)

    @router.get("/info", response_model=InfoResponse, responses=contract_errors(500))
    async def info() -> InfoResponse:
        try:
            return build_info(runtime)
        except Exception as exc:
            raise EngineFailure(f"Failed to load engine metadata: {exc}") from exc

    stopping: set[asyncio.Task[None]] = set()

    async def finish() -> None:
        await runtime.shutdown()
        await asyncio.sleep(EXIT_DELAY_S)
        request_exit()

    @router.post("/shutdown")
    async def shutdown() -> dict[str, str]:
        """Answers at once; new work gets 503 while the running job ends, then the engine
        unloads and exits."""
        if not runtime.stopping:
            runtime.begin_shutdown()
            task = asyncio.create_task(finish())
            stopping.add(task)
            task.add_done_callback(stopping.discard)
        return {"status": "shutting_down"}

    return router


class _EncodedListing:
    """/models encoded once per listing: an unchanged catalog listing (the same object) answers
    with the same bytes, so 10,000 models are not re-validated and re-encoded on every call."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._listed: tuple[ModelListing, ...] | None = None
        self._body = b""

    async def body(self) -> bytes:
        listed = await asyncio.to_thread(self._runtime.catalog.listing)
        if listed is not self._listed:
            self._body = await asyncio.to_thread(self._encode, listed)
            self._listed = listed
        return self._body

    def _encode(self, listed: tuple[ModelListing, ...]) -> bytes:
        runtime = self._runtime
        default = runtime.catalog.pick_default([model.name for model in listed])
        reply = ModelsResponse(
            models=[model_info(m) for m in listed], default_model=default, device=runtime.device
        )
        return reply.model_dump_json().encode()


def model_info(model: ModelListing) -> ModelInfo:
    return ModelInfo(
        name=model.name,
        display_name=model.display_name,
        languages=model.languages,
        fields=[ModelField(key="size_mb", value=model.size_mb, field_type="number")],
        source=model.source,
        size_bytes=model.size_bytes,
    )


def _health(runtime: Runtime) -> HealthResponse:
    snapshot = runtime.health()
    state, device = snapshot.state, snapshot.device
    if device is None:  # the contract: still 200, with the error in the body
        return HealthResponse(
            status="error", engine_model_loaded=state.model_loaded,
            current_engine_model=state.current_model, device=runtime.device,
            error=snapshot.error, package_version=None, gpu_memory_used_mb=None,
            gpu_memory_total_mb=None,
        )  # fmt: skip
    return HealthResponse(
        status=state.status, engine_model_loaded=state.model_loaded,
        current_engine_model=state.current_model, device=device.device, error=state.error,
        package_version=snapshot.package_version, gpu_memory_used_mb=device.gpu_memory_used_mb,
        gpu_memory_total_mb=device.gpu_memory_total_mb, progress=state.progress,
    )  # fmt: skip


def build_info(runtime: Runtime) -> InfoResponse:
    """/info from engine.yaml (§9.2), with the reference's defaults when the yaml is absent."""
    manifest = runtime.manifest
    if manifest is None:
        return InfoResponse(
            name=runtime.engine_name, display_name=runtime.display_name,
            engine_type=runtime.engine_type, description=None, upstream=None,
            supported_languages=[], constraints={}, capabilities={}, parameters={}, models=[],
            default_model=runtime.catalog.default_model(), auto_discover_models=False,
            requires_gpu=False, variants=[], schema_version=2,
        )  # fmt: skip
    return InfoResponse(
        name=manifest.name, display_name=manifest.display_name,
        engine_type=manifest.engine_type, description=manifest.description,
        upstream=UpstreamInfo(**manifest.upstream.model_dump()),
        supported_languages=manifest.supported_languages,
        constraints=manifest.constraints.model_dump(exclude_unset=True),
        capabilities=manifest.capabilities.model_dump(exclude_unset=True),
        parameters=_parameters(manifest),
        models=[
            EngineModelConfig(name=m.name, display_name=m.display_name, metadata=m.metadata())
            for m in manifest.models
        ],
        default_model=manifest.default_model or runtime.catalog.default_model(),
        auto_discover_models=bool(manifest.auto_discover_models),
        requires_gpu=manifest.requires_gpu,
        variants=[VariantInfo(**v.model_dump()) for v in manifest.variants],
        schema_version=manifest.schema_version,
    )  # fmt: skip


def _parameters(manifest: EngineManifest) -> dict[str, ParameterSchema]:
    schemas: dict[str, ParameterSchema] = {}
    for name, spec in manifest.parameters.items():
        values: dict[str, Any] = spec.model_dump()
        schemas[name] = ParameterSchema(
            type=values["type"], label=values["label"] or name,
            description=values["description"] or "", default=values["default"],
            min=values["min"], max=values["max"], step=values["step"],
            readonly=bool(values["readonly"]), category=values["category"],
        )  # fmt: skip
    return schemas
