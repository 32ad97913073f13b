"""Quality engines (stt, audio): POST /analyze (engine-api.md §5)."""

from __future__ import annotations

import asyncio
import functools
from typing import Literal

from fastapi import APIRouter

from ...runtime import Runtime
from ...runtime.requests import analysis_request, wav_audio
from ..openapi import contract_errors
from ..wire import AnalyzeRequest, AnalyzeResponse

__all__ = ["quality_router", "quality_status"]


def quality_status(score: int) -> Literal["perfect", "warning", "defect"]:
    """Computed by the server from the score, never chosen by the engine."""
    if score >= 85:
        return "perfect"
    return "warning" if score >= 70 else "defect"


def quality_router(runtime: Runtime) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/analyze", response_model=AnalyzeResponse,
        responses=contract_errors(400, 404, 413, 500, 503),
    )  # fmt: skip
    async def analyze(body: AnalyzeRequest) -> AnalyzeResponse:
        engine = runtime.quality()
        async with runtime.processing():
            audio = await asyncio.to_thread(
                wav_audio, runtime.rules, body.audio_base64, body.audio_path,
                runtime.rules.confine_audio_paths,
            )  # fmt: skip
            request = await asyncio.to_thread(
                functools.partial(
                    analysis_request, audio, sample_rate=engine.input_sample_rate,
                    language=body.language, thresholds=body.quality_thresholds,
                    expected_text=body.expected_text,
                    pronunciation_rules=body.pronunciation_rules,
                )
            )  # fmt: skip
            result = await runtime.analyze(request)
        return AnalyzeResponse(
            engine_type=runtime.engine_type,
            engine_name=runtime.engine_name,
            quality_score=result.quality_score,
            quality_status=quality_status(result.quality_score),
            details=result.details,
        )

    return router
