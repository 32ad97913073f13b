"""OpenAI model names to the engine's models, and GET /v1/models.

A request's `model` is one of the engine's models (loaded first when it is not the loaded one,
through the runtime's hotswap path, a download included), or one of OpenAI's own names, which mean
"the loaded model, else the default"."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from ...errors import ModelNotFound
from ...runtime import Runtime
from .errors import openai_errors
from .wire import ModelList, ModelObject

__all__ = ["SPEECH_ALIASES", "TRANSCRIPTION_ALIASES", "models_router", "use_model"]

SPEECH_ALIASES = frozenset({"tts-1", "tts-1-hd", "gpt-4o-mini-tts"})
TRANSCRIPTION_ALIASES = frozenset({"whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"})


async def use_model(runtime: Runtime, requested: str, aliases: frozenset[str]) -> str:
    """The engine model `requested` names, loaded. A request that comes during a load waits
    for it (a 503 would fail a client whose retries end before a download does); an OpenAI
    name then means the model that load left."""
    await runtime.loads_settled()
    name = _alias_target(runtime, requested) if requested in aliases else requested
    await runtime.ensure_loaded(name)
    return name


def _alias_target(runtime: Runtime, alias: str) -> str:
    state = runtime.state
    name = state.current_model if state.model_loaded else runtime.catalog.default_model()
    if name is None:
        raise ModelNotFound(alias, [])
    return name


def models_router(runtime: Runtime) -> APIRouter:
    router = APIRouter()

    def listed() -> list[ModelObject]:
        owner = runtime.engine_name
        return [ModelObject(id=m.name, owned_by=owner) for m in runtime.catalog.listing()]

    @router.get("/models", response_model=ModelList, responses=openai_errors(500))
    async def models() -> ModelList:
        return ModelList(data=await asyncio.to_thread(listed))

    @router.get("/models/{model_id}", response_model=ModelObject, responses=openai_errors(404, 500))
    async def model(model_id: str) -> ModelObject:
        known = await asyncio.to_thread(listed)
        found = next((m for m in known if m.id == model_id), None)
        if found is None:
            raise ModelNotFound(model_id, [m.id for m in known])
        return found

    return router
