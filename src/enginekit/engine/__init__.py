"""The engine protocol: what an engine author writes, and nothing of the server around it.

An engine is a small object: `load(name)`, `unload()`, and per task `synthesize(request)` (TTS,
yielding PCM chunks as the library produces them), `transcribe(request)` (STT) or
`analyze(request)` (quality). Requests are typed; no HTTP, no paths but what the runtime hands in.
"""

from .base import Engine, EngineContext, QualityEngine, STTEngine, TTSEngine
from .types import (
    AnalysisDetails,
    AnalysisRequest,
    AnalysisResult,
    AudioChunk,
    InfoBlockItem,
    PronunciationRule,
    QualityField,
    QualityThresholds,
    SynthesisRequest,
    Transcript,
    TranscriptionRequest,
    TranscriptSegment,
    TranscriptWord,
)

__all__ = [
    "ENGINE_BASE_CLASSES",
    "AnalysisDetails",
    "AnalysisRequest",
    "AnalysisResult",
    "AudioChunk",
    "Engine",
    "EngineContext",
    "InfoBlockItem",
    "PronunciationRule",
    "QualityEngine",
    "QualityField",
    "QualityThresholds",
    "STTEngine",
    "SynthesisRequest",
    "TTSEngine",
    "Transcript",
    "TranscriptSegment",
    "TranscriptWord",
    "TranscriptionRequest",
]

#: The classes an engine subclasses; the conformance checker trusts exactly these names.
ENGINE_BASE_CLASSES: tuple[type[Engine], ...] = (TTSEngine, STTEngine, QualityEngine)
