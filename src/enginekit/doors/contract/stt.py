"""Speech-to-text: the additive POST /transcribe (audio as base64 or a path inside samples/)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from ...audio import decode_audio
from ...engine import TranscriptionRequest
from ...runtime import Runtime
from ...runtime.requests import wav_audio
from ..openapi import contract_errors
from ..wire import TranscribeRequest, TranscribeResponse

__all__ = ["stt_router"]


def stt_router(runtime: Runtime) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/transcribe", response_model=TranscribeResponse,
        responses=contract_errors(400, 404, 413, 500, 503),
    )  # fmt: skip
    async def transcribe(body: TranscribeRequest) -> TranscribeResponse:
        engine = runtime.stt()
        async with runtime.processing():
            audio = await asyncio.to_thread(
                wav_audio, runtime.rules, body.audio_base64, body.audio_path, True
            )
            samples, rate = await asyncio.to_thread(decode_audio, audio, engine.input_sample_rate)
            request = TranscriptionRequest(
                audio=samples,
                sample_rate=rate,
                language=body.language or None,
                word_timestamps=body.word_timestamps,
            )
            transcript = await runtime.transcribe(request)
        return TranscribeResponse.model_validate(transcript.model_dump())

    return router
