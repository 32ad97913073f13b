"""Requests to the vibevoice engine and reading its replies."""

from __future__ import annotations

from support.engine_process import generate, upload, wav_rate_and_frames

__all__ = ["OUTPUT_RATE", "generate", "upload", "wav_rate_and_frames"]

OUTPUT_RATE = 24000
