"""Request and response models of the engine wire contract (docs: engine-api.md).

Responses are camelCase; requests accept camelCase and snake_case (camelCase wins when both are
sent). Keys inside free-form dicts (`parameters`, `constraints`, `metadata`, `details`) pass through
unchanged because clients depend on them staying snake_case.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from ..camel import CamelModel
from ..engine import (
    AnalysisDetails,
    PronunciationRule,
    QualityThresholds,
)
from ..runtime import EngineStatus, LoadProgress

__all__ = [
    "AnalyzeRequest",
    "AnalyzeResponse",
    "EngineModelConfig",
    "GenerateRequest",
    "HealthResponse",
    "InfoResponse",
    "LoadRequest",
    "LoadResponse",
    "ModelField",
    "ModelInfo",
    "ModelsResponse",
    "ParameterSchema",
    "SampleCheckRequest",
    "SampleCheckResponse",
    "TranscribeRequest",
    "TranscribeResponse",
    "UpstreamInfo",
    "VariantInfo",
]


class WireModel(CamelModel):
    """Every request and response of the contract."""


# -- common ---------------------------------------------------------------------------------


class HealthResponse(WireModel):
    status: EngineStatus
    engine_model_loaded: bool
    current_engine_model: str | None
    device: str
    error: str | None
    package_version: str | None
    gpu_memory_used_mb: int | None
    gpu_memory_total_mb: int | None
    progress: LoadProgress | None = None


class ModelField(WireModel):
    key: str
    value: Any
    field_type: Literal["number", "string", "percent"]


class ModelInfo(WireModel):
    name: str
    display_name: str
    languages: list[str] = Field(default_factory=list)
    fields: list[ModelField] = Field(default_factory=list)
    source: Literal["baked-in", "external", "downloadable"] | None = None
    size_bytes: int | None = None


class ModelsResponse(WireModel):
    models: list[ModelInfo]
    default_model: str | None
    device: str


class LoadRequest(WireModel):
    engine_model_name: str = Field(examples=["default"])


class LoadResponse(WireModel):
    status: Literal["loaded", "error"]
    engine_model_name: str
    error: str | None = None


class UpstreamInfo(WireModel):
    name: str
    url: str
    license: str


class ParameterSchema(WireModel):
    type: str
    label: str
    description: str
    default: Any
    min: float | None
    max: float | None
    step: float | None
    readonly: bool
    category: str | None


class EngineModelConfig(WireModel):
    name: str
    display_name: str
    metadata: dict[str, Any]


class VariantInfo(WireModel):
    tag: str
    platforms: list[str]
    requires_gpu: bool


class InfoResponse(WireModel):
    name: str
    display_name: str
    engine_type: str
    description: str | None
    upstream: UpstreamInfo | None
    supported_languages: list[str]
    constraints: dict[str, Any]
    capabilities: dict[str, Any]
    parameters: dict[str, ParameterSchema]
    models: list[EngineModelConfig]
    default_model: str | None
    auto_discover_models: bool
    requires_gpu: bool
    variants: list[VariantInfo]
    schema_version: int


# -- tts ------------------------------------------------------------------------------------


class GenerateRequest(WireModel):
    text: str = Field(examples=["Hello world."])
    language: str = Field(examples=["en"])
    tts_speaker_wav: str | Annotated[list[str], Field(max_length=MAX_SPEAKERS)] = Field(
        examples=[""]
    )
    parameters: dict[str, Any] | None = None


MAX_SAMPLE_IDS = 1000
MAX_SPEAKERS = 64


class SampleCheckRequest(WireModel):
    sample_ids: list[str] = Field(max_length=MAX_SAMPLE_IDS)


class SampleCheckResponse(WireModel):
    missing: list[str]


# -- quality (stt, audio) -------------------------------------------------------------------


class AnalyzeRequest(WireModel):
    audio_base64: str | None = None
    audio_path: str | None = None
    language: str = "en"
    quality_thresholds: QualityThresholds = Field(default_factory=QualityThresholds)
    expected_text: str | None = None
    pronunciation_rules: list[PronunciationRule] = Field(default_factory=list)


class AnalyzeResponse(WireModel):
    engine_type: str
    engine_name: str
    quality_score: int
    quality_status: Literal["perfect", "warning", "defect"]
    details: AnalysisDetails


# -- stt (additive) -------------------------------------------------------------------------


class TranscribeRequest(WireModel):
    audio_base64: str | None = None
    audio_path: str | None = None
    language: str | None = None
    word_timestamps: bool = False


class TranscribeSegment(WireModel):
    start: float
    end: float
    text: str


class TranscribeWord(WireModel):
    word: str
    start: float
    end: float
    probability: float


class TranscribeResponse(WireModel):
    """/transcribe's shape; the engine's Transcript carries more, for the OpenAI door."""

    text: str
    language: str
    duration: float
    segments: list[TranscribeSegment] = Field(default_factory=list)
    words: list[TranscribeWord] = Field(default_factory=list)
