"""The origin's wire contract (engine-api.md) as a door over the runtime."""

from .common import common_router
from .quality import quality_router
from .stt import stt_router
from .tts import tts_router

__all__ = ["common_router", "quality_router", "stt_router", "tts_router"]
