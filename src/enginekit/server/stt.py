"""Speech-to-text engines: /analyze plus the additive POST /transcribe."""

from __future__ import annotations

from typing import ClassVar

from fastapi import APIRouter

from .processing import check_ready, run_job
from .quality import BaseQualityServer
from .wire import TranscribeRequest, Transcript

__all__ = ["BaseSTTServer"]


class BaseSTTServer(BaseQualityServer):
    """Subclass and implement load_model, unload_model, transcribe and analyze_audio."""

    engine_type: ClassVar[str] = "stt"

    def transcribe(
        self, audio_bytes: bytes, language: str | None, word_timestamps: bool
    ) -> Transcript:
        """Transcribe a WAV; runs in the worker thread."""
        raise NotImplementedError

    def routers(self) -> list[APIRouter]:
        return [*super().routers(), _stt_router(self)]


def _stt_router(server: BaseSTTServer) -> APIRouter:
    router = APIRouter()

    @router.post("/transcribe", response_model=Transcript)
    async def transcribe(request: TranscribeRequest) -> Transcript:
        check_ready(server)
        audio = server.audio_from_request(
            request.audio_base64, request.audio_path, samples_only=True
        )
        return await run_job(
            server, server.transcribe, audio, request.language or None, request.word_timestamps
        )

    return router
