"""What crosses between the runtime and an engine: typed requests in, PCM or text out.

The quality types are also the wire shapes of /analyze, so they are camelCase models; the
requests are plain frozen dataclasses an engine only reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, Field

from ..camel import CamelModel

__all__ = [
    "AnalysisDetails",
    "AnalysisRequest",
    "AnalysisResult",
    "AudioChunk",
    "InfoBlockItem",
    "PronunciationRule",
    "QualityField",
    "QualityThresholds",
    "SynthesisRequest",
    "Transcript",
    "TranscriptSegment",
    "TranscriptWord",
    "TranscriptionRequest",
]

Samples = NDArray[np.float32]


@dataclass(frozen=True)
class AudioChunk:
    """Mono float32 PCM in -1..1 at `sample_rate`; doors encode, stream or resample it."""

    samples: Samples
    sample_rate: int

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


@dataclass(frozen=True)
class SynthesisRequest:
    """Validated text to speak. `speakers` are existing files inside samples/, in request order;
    `parameters` passed engine.yaml's type and range checks."""

    text: str
    language: str
    speakers: tuple[Path, ...] = ()
    parameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TranscriptionRequest:
    """Decoded mono float32 audio at `sample_rate` (the engine's `input_sample_rate` if it set
    one). `language` None means detect; `task` "translate" means into English."""

    audio: Samples
    sample_rate: int
    language: str | None = None
    word_timestamps: bool = False
    prompt: str | None = None
    temperature: float | None = None
    task: Literal["transcribe", "translate"] = "transcribe"

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate if self.sample_rate else 0.0


class QualityThresholds(CamelModel):
    max_silence_duration_warning: int = 2500
    max_silence_duration_critical: int = 3750
    speech_ratio_ideal_min: float = 75
    speech_ratio_ideal_max: float = 90
    speech_ratio_warning_min: float = 65
    speech_ratio_warning_max: float = 93
    max_clipping_peak: float = 0.0
    min_average_volume: float = -40.0


class PronunciationRule(CamelModel):
    pattern: str
    replacement: str
    is_regex: bool = False
    is_active: bool = True


@dataclass(frozen=True)
class AnalysisRequest:
    """A WAV to score, decoded, with what it should say (after the client's rules)."""

    audio: Samples
    sample_rate: int
    language: str
    thresholds: QualityThresholds = field(default_factory=QualityThresholds)
    expected_text: str | None = None
    pronunciation_rules: tuple[PronunciationRule, ...] = ()

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate if self.sample_rate else 0.0


class QualityField(CamelModel):
    key: str
    value: Any
    type: Literal["percent", "number", "seconds", "string", "text"]


class InfoBlockItem(CamelModel):
    text: str
    severity: Literal["error", "warning", "info"]
    details: dict[str, Any] | None = None


class AnalysisDetails(CamelModel):
    top_label: str = "quality.analysis"
    fields: list[QualityField] = Field(default_factory=list)
    info_blocks: dict[str, list[InfoBlockItem]] = Field(default_factory=dict)


class AnalysisResult(BaseModel):
    """What `analyze` returns; the runtime adds the engine's names and the status."""

    quality_score: int = Field(ge=0, le=100)
    details: AnalysisDetails = Field(default_factory=AnalysisDetails)


class TranscriptSegment(CamelModel):
    start: float
    end: float
    text: str
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    compression_ratio: float | None = None
    temperature: float | None = None
    tokens: list[int] = Field(default_factory=list)


class TranscriptWord(CamelModel):
    word: str
    start: float
    end: float
    probability: float


class Transcript(CamelModel):
    text: str
    language: str
    duration: float
    segments: list[TranscriptSegment] = Field(default_factory=list)
    words: list[TranscriptWord] = Field(default_factory=list)
