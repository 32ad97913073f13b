"""Request and response models of the engine wire contract (docs: engine-api.md).

Responses are camelCase; requests accept camelCase and snake_case (camelCase wins when both are
sent). Keys inside free-form dicts (`parameters`, `constraints`, `metadata`, `details`) pass through
unchanged because clients depend on them staying snake_case.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

__all__ = [
    "AnalysisDetails",
    "AnalysisResult",
    "AnalyzeRequest",
    "AnalyzeResponse",
    "EngineModelConfig",
    "GenerateRequest",
    "HealthResponse",
    "InfoBlockItem",
    "InfoResponse",
    "LoadProgress",
    "LoadRequest",
    "LoadResponse",
    "ModelField",
    "ModelInfo",
    "ModelsResponse",
    "ParameterSchema",
    "PronunciationRule",
    "QualityField",
    "QualityThresholds",
    "SampleCheckRequest",
    "SampleCheckResponse",
    "TranscribeRequest",
    "Transcript",
    "TranscriptSegment",
    "TranscriptWord",
    "UpstreamInfo",
    "VariantInfo",
]

EngineStatus = Literal["ready", "loading", "processing", "error"]


class WireModel(BaseModel):
    """camelCase out, both spellings in, unknown request fields ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


# -- common ---------------------------------------------------------------------------------


class LoadProgress(WireModel):
    """Additive /health field while a model downloads or loads."""

    phase: Literal["downloading", "verifying", "loading"]
    model: str
    bytes_done: int = 0
    bytes_total: int | None = None


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
    engine_model_name: str


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
    text: str
    language: str
    tts_speaker_wav: str | list[str]
    parameters: dict[str, Any] | None = None


class SampleCheckRequest(WireModel):
    sample_ids: list[str]


class SampleCheckResponse(WireModel):
    missing: list[str]


# -- quality (stt, audio) -------------------------------------------------------------------


class QualityThresholds(WireModel):
    max_silence_duration_warning: int = 2500
    max_silence_duration_critical: int = 3750
    speech_ratio_ideal_min: float = 75
    speech_ratio_ideal_max: float = 90
    speech_ratio_warning_min: float = 65
    speech_ratio_warning_max: float = 93
    max_clipping_peak: float = 0.0
    min_average_volume: float = -40.0


class PronunciationRule(WireModel):
    pattern: str
    replacement: str
    is_regex: bool = False
    is_active: bool = True


class AnalyzeRequest(WireModel):
    audio_base64: str | None = None
    audio_path: str | None = None
    language: str = "en"
    quality_thresholds: QualityThresholds = Field(default_factory=QualityThresholds)
    expected_text: str | None = None
    pronunciation_rules: list[PronunciationRule] = Field(default_factory=list)


class QualityField(WireModel):
    key: str
    value: Any
    type: Literal["percent", "number", "seconds", "string", "text"]


class InfoBlockItem(WireModel):
    text: str
    severity: Literal["error", "warning", "info"]
    details: dict[str, Any] | None = None


class AnalysisDetails(WireModel):
    top_label: str = "quality.analysis"
    fields: list[QualityField] = Field(default_factory=list)
    info_blocks: dict[str, list[InfoBlockItem]] = Field(default_factory=dict)


class AnalysisResult(BaseModel):
    """What an engine's analyze_audio returns; the server adds names and the status."""

    quality_score: int = Field(ge=0, le=100)
    details: AnalysisDetails = Field(default_factory=AnalysisDetails)


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


class TranscriptSegment(WireModel):
    start: float
    end: float
    text: str


class TranscriptWord(WireModel):
    word: str
    start: float
    end: float
    probability: float


class Transcript(WireModel):
    text: str
    language: str
    duration: float
    segments: list[TranscriptSegment] = Field(default_factory=list)
    words: list[TranscriptWord] = Field(default_factory=list)
