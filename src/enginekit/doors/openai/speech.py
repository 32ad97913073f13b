"""TTS engines: POST /v1/audio/speech, plus Open WebUI's GET /v1/audio/voices and
/v1/audio/models.

Speech streams: the engine's chunks are encoded and sent as it yields them, so the first audio
of a long text leaves long before the whole synthesis ends. Anything refused before the first
chunk is still an HTTP error; a client that goes away stops the engine at its next chunk.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from ...engine import AudioChunk, SynthesisRequest, TTSEngine
from ...errors import InvalidInput
from ...runtime import Runtime
from ...runtime.parameters import check_parameters
from ...runtime.requests import synthesis_request
from ..encoding import MEDIA_TYPES, AudioEncoder, open_encoder
from ..openapi import binary_content
from .errors import InvalidParameter, openai_errors
from .events import SSE_MEDIA_TYPE, ending_in_an_error_event, sse_content, sse_event
from .models import SPEECH_ALIASES, use_model
from .voices import available_voices, resolve_voice
from .wire import AudioModel, AudioModelList, SpeechRequest, VoiceList

__all__ = ["speech_router"]

FALLBACK_LANGUAGE = "en"
SPEECH_RESPONSES = {
    200: {
        "description": "The audio in `response_format`, or its SSE events (`stream_format=sse`)",
        "content": {
            **binary_content(*MEDIA_TYPES.values()),
            **sse_content("speech.audio.delta", "speech.audio.done"),
        },
    },
    **openai_errors(400, 404, 500, 502, 503, 507),
}


def speech_router(runtime: Runtime) -> APIRouter:
    router = APIRouter()

    @router.post("/audio/speech", response_class=StreamingResponse, responses=SPEECH_RESPONSES)
    async def speech(body: SpeechRequest) -> StreamingResponse:
        model = await use_model(runtime, body.model, SPEECH_ALIASES)
        engine = runtime.tts()
        async with runtime.processing():
            request = _synthesis_request(runtime, engine, body, model)
            chunks = runtime.synthesize(request)
            first = await anext(chunks)
        try:
            encoder = open_encoder(body.response_format, first.sample_rate)
        except BaseException:
            await _close(chunks)
            raise
        audio = _encoded(first, chunks, encoder)
        if body.stream_format == "sse":
            events = ending_in_an_error_event(_speech_events(audio))
            return StreamingResponse(events, media_type=SSE_MEDIA_TYPE)
        headers = {"X-Sample-Rate": str(encoder.output_rate)}
        media_type = MEDIA_TYPES[body.response_format]
        return StreamingResponse(audio, media_type=media_type, headers=headers)

    @router.get("/audio/voices", response_model=VoiceList, responses=openai_errors(500))
    async def voices() -> VoiceList:
        engine = runtime.tts()
        return VoiceList(voices=await asyncio.to_thread(available_voices, runtime, engine))

    @router.get("/audio/models", response_model=AudioModelList, responses=openai_errors(500))
    async def audio_models() -> AudioModelList:
        listed = await asyncio.to_thread(runtime.catalog.listing)
        return AudioModelList(models=[AudioModel(id=m.name) for m in listed])

    return router


def _synthesis_request(
    runtime: Runtime, engine: TTSEngine, body: SpeechRequest, model: str
) -> SynthesisRequest:
    voice = resolve_voice(runtime, engine, body.voice_id)
    parameters = {**voice.parameters, **_speed(runtime, body.speed)}
    language = body.language or _language_of(runtime, model)
    return synthesis_request(runtime.rules, body.input, language, voice.speakers, parameters)


def _speed(runtime: Runtime, speed: float | None) -> dict[str, Any]:
    """OpenAI's `speed` is the engine's `speed` parameter, checked against its range."""
    manifest = runtime.manifest
    if manifest is None or "speed" not in manifest.parameters:
        if speed not in (None, 1.0):
            raise InvalidParameter(
                "speed", f"{runtime.display_name} has no speed parameter; speed must be 1.0"
            )
        return {}
    if speed is None:
        return {}
    parameters = {"speed": speed}
    try:
        check_parameters(manifest, parameters)
    except InvalidInput as exc:
        raise InvalidParameter("speed", exc.detail) from exc
    return parameters


def _language_of(runtime: Runtime, model: str) -> str:
    """OpenAI sends no language: the model's first in engine.yaml, else the engine's first."""
    manifest = runtime.manifest
    if manifest is None:
        return FALLBACK_LANGUAGE
    entry = manifest.catalog_model(model)
    languages = (entry.languages if entry else None) or manifest.supported_languages
    return languages[0] if languages else FALLBACK_LANGUAGE


async def _encoded(
    first: AudioChunk, rest: AsyncIterator[AudioChunk], encoder: AudioEncoder
) -> AsyncGenerator[bytes, None]:
    """Encoded bytes chunk by chunk, off the event loop. An encoder abandoned mid-stream is
    left to the garbage collector: its thread may still be inside the codec."""
    try:
        chunk: AudioChunk | None = first
        while chunk is not None:
            if data := await asyncio.to_thread(encoder.encode, chunk.samples):
                yield data
            chunk = await anext(rest, None)
        if data := await asyncio.to_thread(encoder.finish):
            yield data
    finally:
        await _close(rest)


async def _close(chunks: AsyncIterator[AudioChunk]) -> None:
    """End the engine's job now (its generator's cleanup marks it ended), not at GC."""
    close = getattr(chunks, "aclose", None)
    if close is not None:
        await close()


async def _speech_events(audio: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
    async with contextlib.aclosing(audio):  # a client gone: the engine's job ends now
        async for data in audio:
            yield sse_event("speech.audio.delta", audio=base64.b64encode(data).decode("ascii"))
    yield sse_event("speech.audio.done")
