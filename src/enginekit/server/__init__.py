"""The HTTP side of an engine: subclass a base server, implement the model methods, call run()."""

from ..errors import BadRequest
from .base import BaseEngineServer
from .quality import BaseQualityServer
from .run import run
from .stt import BaseSTTServer
from .tts import BaseTTSServer
from .wire import (
    AnalysisDetails,
    AnalysisResult,
    InfoBlockItem,
    PronunciationRule,
    QualityField,
    QualityThresholds,
    Transcript,
    TranscriptSegment,
    TranscriptWord,
)

__all__ = [
    "AnalysisDetails",
    "AnalysisResult",
    "BadRequest",
    "BaseEngineServer",
    "BaseQualityServer",
    "BaseSTTServer",
    "BaseTTSServer",
    "InfoBlockItem",
    "PronunciationRule",
    "QualityField",
    "QualityThresholds",
    "Transcript",
    "TranscriptSegment",
    "TranscriptWord",
    "run",
]
