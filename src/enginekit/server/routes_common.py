"""Endpoints every engine has: /health, /models, /load, /info, /shutdown (engine-api.md §3)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException

from ..manifest import EngineManifest
from .device import device_info, device_name
from .wire import (
    EngineModelConfig,
    HealthResponse,
    InfoResponse,
    LoadRequest,
    LoadResponse,
    ModelsResponse,
    ParameterSchema,
    UpstreamInfo,
    VariantInfo,
)

if TYPE_CHECKING:
    from .base import BaseEngineServer

__all__ = ["build_info", "common_router"]

logger = logging.getLogger(__name__)

EXIT_DELAY_S = 0.1


def common_router(server: BaseEngineServer) -> APIRouter:
    router = APIRouter()

    @router.get("/health", response_model=HealthResponse)
    async def health() -> HealthResponse:
        return _health(server)

    @router.get("/models", response_model=ModelsResponse)
    async def models() -> ModelsResponse:
        try:
            listed = await asyncio.to_thread(server.get_available_models)
            default = server.pick_default([model.name for model in listed])
        except Exception as exc:
            logger.exception("Listing models failed")
            raise HTTPException(status_code=500, detail=str(exc)) from exc
        return ModelsResponse(models=listed, default_model=default, device=device_name())

    @router.post("/load", response_model=LoadResponse)
    async def load(request: LoadRequest) -> LoadResponse:
        name = request.engine_model_name
        await server.switch_model(name)
        return LoadResponse(status="loaded", engine_model_name=name)

    @router.get("/info", response_model=InfoResponse)
    async def info() -> InfoResponse:
        try:
            return build_info(server)
        except Exception as exc:
            raise HTTPException(
                status_code=500, detail=f"Failed to load engine metadata: {exc}"
            ) from exc

    @router.post("/shutdown")
    async def shutdown() -> dict[str, str]:
        await server.shutdown_worker()
        asyncio.get_running_loop().call_later(EXIT_DELAY_S, server.request_exit)
        return {"status": "shutting_down"}

    return router


def _health(server: BaseEngineServer) -> HealthResponse:
    state = server.state
    try:
        device = device_info()
        version = server.package_version()
    except Exception as exc:  # the contract: still 200, with the error in the body
        return HealthResponse(
            status="error", engine_model_loaded=state.model_loaded,
            current_engine_model=state.current_model, device=device_name(), error=str(exc),
            package_version=None, gpu_memory_used_mb=None, gpu_memory_total_mb=None,
        )  # fmt: skip
    return HealthResponse(
        status=state.status, engine_model_loaded=state.model_loaded,
        current_engine_model=state.current_model, device=device.device, error=state.error,
        package_version=version, gpu_memory_used_mb=device.gpu_memory_used_mb,
        gpu_memory_total_mb=device.gpu_memory_total_mb, progress=state.progress,
    )  # fmt: skip


def build_info(server: BaseEngineServer) -> InfoResponse:
    """/info from engine.yaml (§9.2), with the reference's defaults when the yaml is absent."""
    manifest = server.manifest
    if manifest is None:
        return InfoResponse(
            name=server.engine_name, display_name=server.display_name,
            engine_type=server.engine_type, description=None, upstream=None,
            supported_languages=[], constraints={}, capabilities={}, parameters={}, models=[],
            default_model=server.default_model, auto_discover_models=False, requires_gpu=False,
            variants=[], schema_version=2,
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
        default_model=manifest.default_model or server.default_model,
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
