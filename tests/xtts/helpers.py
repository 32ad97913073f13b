"""Starting the xtts engine, speaker samples, and reading its replies."""

from __future__ import annotations

from support.engine_process import (
    CLIENT_TIMEOUT,
    EngineProcess,
    generate,
    start_engine,
    upload,
    voice_wav,
    wav_rate_and_frames,
)

__all__ = [
    "CLIENT_TIMEOUT",
    "OUTPUT_RATE",
    "EngineProcess",
    "generate",
    "start_engine",
    "upload",
    "voice_wav",
    "wav_rate_and_frames",
]

OUTPUT_RATE = 24000  # XTTS-v2 and the tiny models speak at 24 kHz
