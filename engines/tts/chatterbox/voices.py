"""Voices cloned from speaker samples: Chatterbox conditionals (S3Gen's reference features, the
speech-token prompt and the voice encoder's embedding), cached per set of sample files. Samples
are read and checked, and the cache keyed, by enginekit.torch_engines.samples; several samples
are joined into one reference."""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
from chatterbox.models.s3gen import S3GEN_SR

from enginekit.torch_engines.samples import SampleCache, read_sample

__all__ = ["VoiceCache"]

logger = logging.getLogger(__name__)


class VoiceCache:
    """Conditionals of the most recently used sets of samples for one loaded model."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self._voices: SampleCache[Any] = SampleCache(self._clone)

    def voice(self, samples: Sequence[Path]) -> Any:
        return self._voices.voice(samples)

    def _clone(self, samples: Sequence[Path]) -> Any:
        audio = np.concatenate([read_sample(path, S3GEN_SR) for path in samples])
        reference = io.BytesIO()
        soundfile.write(reference, audio, S3GEN_SR, format="WAV", subtype="FLOAT")
        reference.seek(0)
        self._model.prepare_conditionals(reference)  # librosa reads the in-memory WAV
        logger.info("Cloned a voice from %s", ", ".join(p.name for p in samples))
        return self._model.conds
