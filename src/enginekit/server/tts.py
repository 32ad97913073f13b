"""Text-to-speech engines: /generate, /samples/check, /samples/upload/{sample_id} (§4)."""

from __future__ import annotations

from typing import Any, ClassVar

from fastapi import APIRouter, HTTPException, Request, Response

from .base import BaseEngineServer
from .parameters import check_parameters
from .processing import check_ready, refuse, refusing, run_job
from .samples import check_sample_id, check_speaker_file, sample_path, store_upload
from .wire import GenerateRequest, SampleCheckRequest, SampleCheckResponse

__all__ = ["BaseTTSServer"]


class BaseTTSServer(BaseEngineServer):
    """Subclass and implement load_model, unload_model and generate_audio."""

    engine_type: ClassVar[str] = "tts"

    def generate_audio(
        self,
        text: str,
        language: str,
        speaker_wav: str | list[str],
        parameters: dict[str, Any],
    ) -> bytes:
        """Return a complete WAV file; runs in the worker thread."""
        raise NotImplementedError

    def routers(self) -> list[APIRouter]:
        return [*super().routers(), _tts_router(self)]

    def validate_generate(self, request: GenerateRequest) -> None:
        """The contract's validation order (§4.1 steps 2-6), then declared parameter types."""
        if not request.text.strip():
            refuse(self, 400, "Text cannot be empty")
        if not request.language.strip():
            refuse(self, 400, "Language cannot be empty")
        limit = self.manifest.constraints.max_text_length if self.manifest else None
        if limit and len(request.text) > limit:
            refuse(
                self,
                400,
                f"Text too long ({len(request.text)} chars). {self.display_name} "
                f"max is {limit} chars. Use text segmentation to split into smaller chunks.",
            )
        self._validate_speakers(request.tts_speaker_wav)
        refusing(self, check_parameters, self.manifest, request.parameters or {})

    def _validate_speakers(self, speakers: str | list[str]) -> None:
        entries = [speakers] if isinstance(speakers, str) else speakers
        for entry in entries:
            if entry.strip():
                refusing(self, check_speaker_file, self.samples_dir, entry)
        cloning = self.manifest and self.manifest.capabilities.supports_speaker_cloning
        has_speaker = bool(speakers.strip()) if isinstance(speakers, str) else bool(speakers)
        if cloning and not has_speaker:
            refuse(
                self,
                400,
                f"{self.display_name} requires speaker samples for voice cloning. "
                "Upload samples via /samples/upload and include sample IDs in tts_speaker_wav.",
            )


def _tts_router(server: BaseTTSServer) -> APIRouter:
    router = APIRouter()

    @router.post("/generate", response_class=Response)
    async def generate(request: GenerateRequest) -> Response:
        check_ready(server)
        server.validate_generate(request)
        audio = await run_job(
            server, server.generate_audio, request.text, request.language,
            request.tts_speaker_wav, request.parameters or {},
        )  # fmt: skip
        return Response(content=audio, media_type="audio/wav")

    @router.post("/samples/check", response_model=SampleCheckResponse)
    async def samples_check(request: SampleCheckRequest) -> SampleCheckResponse:
        missing = [i for i in request.sample_ids if not check_sample_id(server.samples_dir, i)]
        return SampleCheckResponse(missing=missing)

    @router.post("/samples/upload/{sample_id}")
    async def samples_upload(sample_id: str, request: Request) -> dict[str, str]:
        destination = sample_path(server.samples_dir, sample_id)
        length = request.headers.get("content-length")
        declared = int(length) if length and length.isdigit() else None
        try:
            await store_upload(
                destination, request.stream(), server.settings.max_upload_bytes, declared
            )
        except OSError as exc:
            raise HTTPException(status_code=500, detail=str(exc)) from exc
        return {"status": "ok", "sampleId": sample_id}

    return router
