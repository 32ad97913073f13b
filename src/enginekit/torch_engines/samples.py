"""Speaker samples for voice cloning: read and checked the same way by every cloning engine, and
what an engine computes from them cached per set of files.

Samples are read with soundfile and resampled with torchaudio's pure-PyTorch code, which avoids
torchaudio.load (that needs torchcodec). The cache key holds each file's identity and
modification time, so a sample replaced or edited on disk is read again.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np
import soundfile
import torch
import torchaudio
from numpy.typing import NDArray

from ..errors import InvalidInput

__all__ = ["MIN_SECONDS", "SampleCache", "read_sample"]

MIN_SECONDS = 0.5
CACHED_VOICES = 16

Voice = TypeVar("Voice")
Key = tuple[tuple[str, int, int, int, int], ...]


def read_sample(path: Path, rate: int) -> NDArray[np.float32]:
    """Mono float32 at `rate`; a clear 400 naming the file for what is not audio or too short."""
    try:
        data, source_rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as exc:
        raise InvalidInput(f"Speaker sample {path.name} cannot be read as audio: {exc}") from exc
    if len(data) < MIN_SECONDS * source_rate:
        raise InvalidInput(
            f"Speaker sample {path.name} is too short ({len(data) / source_rate:.2f} s); "
            f"voice cloning needs at least {MIN_SECONDS} s of speech"
        )
    mono = np.ascontiguousarray(data.mean(axis=1), dtype=np.float32)
    if source_rate == rate:
        return mono
    resampled = torchaudio.functional.resample(torch.from_numpy(mono), int(source_rate), rate)
    return np.asarray(resampled.numpy(), dtype=np.float32)


class SampleCache(Generic[Voice]):
    """What `clone` made of the most recently used sets of samples, for one loaded model."""

    def __init__(self, clone: Callable[[Sequence[Path]], Voice], size: int = CACHED_VOICES):
        self._clone = clone
        self._size = size
        self._voices: OrderedDict[Key, Voice] = OrderedDict()

    def voice(self, samples: Sequence[Path]) -> Voice:
        key = _key(samples)
        if key not in self._voices:
            self._voices[key] = self._clone(samples)
            while len(self._voices) > self._size:
                self._voices.popitem(last=False)
        self._voices.move_to_end(key)
        return self._voices[key]


def _key(samples: Sequence[Path]) -> Key:
    def identity(path: Path) -> tuple[str, int, int, int, int]:
        info = os.stat(path)
        return (str(path), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)

    return tuple(identity(path) for path in samples)
