"""Text-to-speech: /generate, /samples/check, /samples/upload/{sample_id} (engine-api.md §4)."""

from __future__ import annotations

import asyncio

import numpy as np
from fastapi import APIRouter, Request, Response

from ...audio import encode_wav
from ...engine import AudioChunk
from ...errors import EngineFailure
from ...runtime import Runtime
from ...runtime.requests import synthesis_request
from ...runtime.samples import check_sample_id, sample_path, store_upload
from ..openapi import binary_content, contract_errors
from ..wire import GenerateRequest, SampleCheckRequest, SampleCheckResponse

__all__ = ["tts_router", "wav_of"]

GENERATE_RESPONSES = {
    200: {"description": "The speech as a WAV file", "content": binary_content("audio/wav")},
    **contract_errors(400, 404, 500, 503),
}
#: /samples/upload takes the file's raw bytes, as clients send them (engine-api.md §4.3).
UPLOAD_BODY = {
    "requestBody": {"required": True, "content": binary_content("application/octet-stream")}
}


def wav_of(chunks: list[AudioChunk]) -> bytes:
    """One WAV of an engine's chunks (they share a rate: one model produced them)."""
    return encode_wav(np.concatenate([c.samples for c in chunks]), chunks[0].sample_rate)


def tts_router(runtime: Runtime) -> APIRouter:
    router = APIRouter()

    @router.post("/generate", response_class=Response, responses=GENERATE_RESPONSES)
    async def generate(body: GenerateRequest) -> Response:
        async with runtime.processing():
            request = synthesis_request(
                runtime.rules, body.text, body.language, body.tts_speaker_wav,
                body.parameters or {},
            )  # fmt: skip
            chunks = [chunk async for chunk in runtime.synthesize(request)]
        # Joining and encoding a long text takes a while: off the event loop, like the job.
        return Response(content=await asyncio.to_thread(wav_of, chunks), media_type="audio/wav")

    @router.post(
        "/samples/check", response_model=SampleCheckResponse,
        responses=contract_errors(400),
    )  # fmt: skip
    async def samples_check(body: SampleCheckRequest) -> SampleCheckResponse:
        samples_dir = runtime.layout.samples_dir

        def missing() -> list[str]:
            return [i for i in body.sample_ids if not check_sample_id(samples_dir, i)]

        return SampleCheckResponse(missing=await asyncio.to_thread(missing))

    @router.post(
        "/samples/upload/{sample_id}", openapi_extra=UPLOAD_BODY,
        responses=contract_errors(400, 413, 500),
    )  # fmt: skip
    async def samples_upload(sample_id: str, request: Request) -> dict[str, str]:
        destination = sample_path(runtime.layout.samples_dir, sample_id)
        length = request.headers.get("content-length")
        declared = int(length) if length and length.isdigit() else None
        limit = runtime.settings.server.max_upload_bytes
        try:
            await store_upload(destination, request.stream(), limit, declared)
        except OSError as exc:
            raise EngineFailure(str(exc)) from exc
        return {"status": "ok", "sampleId": sample_id}

    return router
