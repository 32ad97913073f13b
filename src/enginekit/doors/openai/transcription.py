"""STT engines: POST /v1/audio/transcriptions and /v1/audio/translations (multipart uploads).

Any container or codec PyAV reads is accepted; the upload limit applies before the body is read
when the client declares its size, and to the file itself in any case.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from ...audio import decode_audio
from ...engine import TranscriptionRequest
from ...errors import PayloadTooLarge
from ...runtime import Runtime
from .errors import InvalidParameter, openai_errors
from .events import sse_content
from .models import TRANSCRIPTION_ALIASES, use_model
from .transcripts import Task, render, stream_events
from .wire import TranscriptionForm, TranscriptText, VerboseTranscription

__all__ = ["transcription_router"]

#: Room for the form's other fields and boundaries on top of the file's own limit.
FORM_ALLOWANCE = 64 * 1024
_FIELDS = ("model", "language", "prompt", "response_format", "temperature", "stream")
_LISTS = ("timestamp_granularities[]",)
_TEXT: dict[str, Any] = {"schema": {"type": "string"}}
RESPONSES = {
    200: {
        "description": "The transcript in `response_format`, or its SSE events (`stream=true`)",
        "content": {
            "text/plain": _TEXT,
            "text/vtt": _TEXT,
            **sse_content("transcript.text.delta", "transcript.text.done"),
        },
    },
    **openai_errors(400, 404, 413, 500, 502, 503, 507),
}


def form_body(task: Task) -> dict[str, Any]:
    """The multipart request OpenAI's SDKs send: the audio file and TranscriptionForm's fields
    (the route reads the form itself, so FastAPI cannot describe it)."""
    fields = TranscriptionForm.model_json_schema()
    properties = {"file": {"type": "string", "format": "binary"}, **fields["properties"]}
    if task == "translate":
        properties.pop("language")
    schema = {"type": "object", "required": ["file", *fields["required"]], "properties": properties}
    content = {"multipart/form-data": {"schema": schema}}
    return {"requestBody": {"required": True, "content": content}}


def transcription_router(runtime: Runtime) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/audio/transcriptions", response_model=TranscriptText | VerboseTranscription,
        responses=RESPONSES, openapi_extra=form_body("transcribe"),
    )  # fmt: skip
    async def transcriptions(request: Request) -> Response:
        return await _transcribe(runtime, request, "transcribe")

    @router.post(
        "/audio/translations", response_model=TranscriptText | VerboseTranscription,
        responses=RESPONSES, openapi_extra=form_body("translate"),
    )  # fmt: skip
    async def translations(request: Request) -> Response:
        return await _transcribe(runtime, request, "translate")

    return router


async def _transcribe(runtime: Runtime, request: Request, task: Task) -> Response:
    limit = runtime.settings.server.max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + FORM_ALLOWANCE:
        raise PayloadTooLarge(limit)
    async with request.form(max_files=1) as form:
        fields = _fields(form, task)
        audio = await _file_bytes(form, limit)
    model = await use_model(runtime, fields.model, TRANSCRIPTION_ALIASES)
    engine = runtime.stt()
    async with runtime.processing():
        if task == "translate" and not engine.can_translate():
            raise InvalidParameter(
                "model",
                f"{model} cannot translate into English; translations need a multilingual model",
            )
        samples, rate = await asyncio.to_thread(decode_audio, audio, engine.input_sample_rate)
        _check_duration(runtime, len(samples) / rate if rate else 0.0)
        transcription = TranscriptionRequest(
            audio=samples, sample_rate=rate, language=fields.language or None,
            word_timestamps="word" in fields.timestamp_granularities,
            prompt=fields.prompt or None, temperature=fields.temperature, task=task,
        )  # fmt: skip
        if fields.stream:  # what fails before the first segment is still an HTTP error
            segments = runtime.transcribe_segments(transcription)
            return stream_events(await anext(segments, None), segments)
        transcript = await runtime.transcribe(transcription)
    return render(transcript, fields.response_format, task, fields.timestamp_granularities)


def _fields(form: FormData, task: Task) -> TranscriptionForm:
    """The form's fields, validated like a JSON body (a 400 naming the field); translations
    take no language."""
    values: dict[str, Any] = {name: form[name] for name in _FIELDS if name in form}
    values.update({name: form.getlist(name) for name in _LISTS if name in form})
    if task == "translate":
        values.pop("language", None)
    try:
        return TranscriptionForm.model_validate(values)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from exc


async def _file_bytes(form: FormData, limit: int) -> bytes:
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidParameter("file", "file: an audio file upload is required")
    if upload.size is not None and upload.size > limit:
        raise PayloadTooLarge(limit)
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(limit)
    if not data:
        raise InvalidParameter("file", "The audio file is empty")
    return data


def _check_duration(runtime: Runtime, seconds: float) -> None:
    """engine.yaml's constraints.max_audio_duration, for any format (the contract checks WAVs)."""
    limit = runtime.manifest.constraints.max_audio_duration if runtime.manifest else None
    if limit and seconds > limit:
        raise InvalidParameter(
            "file",
            f"Audio too long ({seconds:.1f} s). {runtime.display_name} max is {limit} s. "
            "Split the audio into shorter parts.",
        )
