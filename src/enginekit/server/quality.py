"""Quality engines (stt, audio): POST /analyze (engine-api.md §5)."""

from __future__ import annotations

import base64
import binascii
import os
from typing import ClassVar

from fastapi import APIRouter, HTTPException

from ..audio import wav_duration
from .base import BaseEngineServer
from .processing import check_ready, refuse, refusing, run_job
from .samples import check_inside
from .wire import (
    AnalysisResult,
    AnalyzeRequest,
    AnalyzeResponse,
    PronunciationRule,
    QualityThresholds,
)

__all__ = ["BaseQualityServer", "quality_status"]

WAV_HEADER_BYTES = 44


class BaseQualityServer(BaseEngineServer):
    """Subclass and implement load_model, unload_model and analyze_audio."""

    engine_type: ClassVar[str] = "stt"

    def analyze_audio(
        self,
        audio_bytes: bytes,
        language: str,
        thresholds: QualityThresholds,
        expected_text: str | None,
        pronunciation_rules: list[PronunciationRule],
    ) -> AnalysisResult:
        """Score a WAV; runs in the worker thread."""
        raise NotImplementedError

    def routers(self) -> list[APIRouter]:
        return [*super().routers(), _quality_router(self)]

    def audio_from_request(
        self, audio_base64: str | None, audio_path: str | None, samples_only: bool = False
    ) -> bytes:
        """The audio bytes by the contract's rules (§5 steps 2-5), then the duration limit.

        `samples_only` confines `audio_path` to samples/, relative paths being taken from there
        (the reference's /analyze reads any server-local path; new endpoints do not).
        """
        if audio_base64:
            audio = _decode_base64(self, audio_base64)
        elif audio_path:
            if samples_only:
                audio_path = str(self.samples_dir / audio_path)  # relative paths: in samples/
                refusing(self, check_inside, self.samples_dir, audio_path)
            audio = _read_path(self, audio_path)
        else:
            refuse(self, 400, "Either audio_base64 or audio_path must be provided")
        if not audio:
            refuse(self, 400, "Audio data is empty")
        if len(audio) < WAV_HEADER_BYTES:
            refuse(self, 400, "Audio data too small to be valid WAV")
        if audio[0:4] != b"RIFF" or audio[8:12] != b"WAVE":
            refuse(self, 400, "Invalid audio format: expected WAV file")
        self._check_duration(audio)
        return audio

    def _check_duration(self, audio: bytes) -> None:
        """constraints.max_audio_duration, from the WAV header (unreadable headers pass)."""
        limit = self.manifest.constraints.max_audio_duration if self.manifest else None
        seconds = wav_duration(audio)
        if limit and seconds is not None and seconds > limit:
            refuse(
                self,
                400,
                f"Audio too long ({seconds:.1f} s). {self.display_name} max is "
                f"{limit} s. Split the audio into shorter parts.",
            )


def quality_status(score: int) -> str:
    """Computed by the server from the score, never chosen by the engine."""
    if score >= 85:
        return "perfect"
    return "warning" if score >= 70 else "defect"


def _decode_base64(server: BaseQualityServer, text: str) -> bytes:
    """Non-strict like the reference: characters outside the alphabet are dropped."""
    try:
        return base64.b64decode(text)
    except binascii.Error as exc:
        server.state.mark_failed(str(exc))
        raise HTTPException(status_code=500, detail=str(exc)) from exc


def _read_path(server: BaseQualityServer, path: str) -> bytes:
    """The path exactly as the client sent it, in the 404 detail and in OS error messages."""
    if not os.path.exists(path):
        refuse(server, 404, f"Audio file not found: {path}")
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        server.state.mark_failed(str(exc))
        raise HTTPException(status_code=500, detail=str(exc)) from exc


def _quality_router(server: BaseQualityServer) -> APIRouter:
    router = APIRouter()

    @router.post("/analyze", response_model=AnalyzeResponse)
    async def analyze(request: AnalyzeRequest) -> AnalyzeResponse:
        check_ready(server)
        audio = server.audio_from_request(request.audio_base64, request.audio_path)
        result = await run_job(
            server, server.analyze_audio, audio, request.language,
            request.quality_thresholds, request.expected_text, request.pronunciation_rules,
        )  # fmt: skip
        return AnalyzeResponse(
            engine_type=server.engine_type,
            engine_name=server.engine_name,
            quality_score=result.quality_score,
            quality_status=quality_status(result.quality_score),
            details=result.details,
        )

    return router
