"""Voices cloned from speaker samples: XTTS conditioning latents, cached per set of sample files
(computing them costs a pass through two encoders). Samples are read and checked, and the cache
keyed, by enginekit.torch_engines.samples."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from enginekit.torch_engines.samples import SampleCache, read_sample

__all__ = ["Voice", "VoiceCache"]

logger = logging.getLogger(__name__)

CLONING_RATE = 22050  # the rate XTTS's encoders read


@dataclass(frozen=True)
class Voice:
    gpt_cond_latent: torch.Tensor
    speaker_embedding: torch.Tensor


class VoiceCache:
    """Latents of the most recently used sets of samples for one loaded model."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self._voices = SampleCache(self._clone)

    def voice(self, samples: Sequence[Path]) -> Voice:
        return self._voices.voice(samples)

    def _clone(self, samples: Sequence[Path]) -> Voice:
        config = self._model.config
        limit = CLONING_RATE * int(config.max_ref_len)
        audios = [
            torch.from_numpy(read_sample(path, CLONING_RATE)[:limit]).unsqueeze(0)
            for path in samples
        ]
        audios = [audio.to(self._model.device) for audio in audios]
        embeddings = [self._model.get_speaker_embedding(a, CLONING_RATE) for a in audios]
        latent = self._model.get_gpt_cond_latents(
            torch.cat(audios, dim=-1),
            CLONING_RATE,
            length=int(config.gpt_cond_len),
            chunk_length=int(config.gpt_cond_chunk_len),
        )
        logger.info("Cloned a voice from %s", ", ".join(p.name for p in samples))
        return Voice(latent, torch.stack(embeddings).mean(dim=0))
