"""OpenAI's audio API as a door over the runtime, mounted at /v1 beside the origin contract: same
process, same runtime, same worker and status machine. Its own application, so every error under
/v1 takes OpenAI's error object while the origin routes keep `{"detail"}`."""

from __future__ import annotations

from fastapi import FastAPI

from ... import __version__
from ...engine import STTEngine, TTSEngine
from ...runtime import Runtime
from ..openapi import document
from .errors import error_response, install_error_handlers
from .models import models_router
from .speech import speech_router
from .transcription import transcription_router
from .wire import ErrorBody

__all__ = ["OPENAI_PREFIX", "error_response", "openai_app"]

OPENAI_PREFIX = "/v1"


def openai_app(runtime: Runtime) -> FastAPI:
    """The /v1 application for this engine's type; mount it at OPENAI_PREFIX."""
    app = FastAPI(title=f"{runtime.display_name} (OpenAI-compatible)", version=__version__)
    install_error_handlers(app, runtime.public_message)
    app.include_router(models_router(runtime))
    if isinstance(runtime.engine, TTSEngine):
        app.include_router(speech_router(runtime))
    if isinstance(runtime.engine, STTEngine):
        app.include_router(transcription_router(runtime))
    # Malformed requests are 400s here (OpenAI's), never FastAPI's 422.
    document(app, runtime.settings.server, ErrorBody, validation_status=400)
    return app
