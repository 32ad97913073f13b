"""Request and response shapes of OpenAI's audio API (snake_case, as the SDKs send and read them).

Unknown request fields are ignored, as OpenAI-compatible servers do, so a newer SDK keeps working.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ..encoding import AudioFormat

__all__ = [
    "AudioModel",
    "AudioModelList",
    "ErrorBody",
    "ErrorObject",
    "Granularity",
    "ModelList",
    "ModelObject",
    "SpeechRequest",
    "TranscriptFormat",
    "TranscriptText",
    "TranscriptionForm",
    "VerboseSegment",
    "VerboseTranscription",
    "VerboseWord",
    "Voice",
    "VoiceList",
    "VoiceRef",
]

TranscriptFormat = Literal["json", "text", "srt", "verbose_json", "vtt"]
Granularity = Literal["word", "segment"]


class ErrorObject(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorBody(BaseModel):
    """Every error under /v1, so the SDKs raise their usual exception classes."""

    error: ErrorObject


class TranscriptText(BaseModel):
    """`response_format=json`."""

    text: str


class VoiceRef(BaseModel):
    """The object form of `voice`: `{"id": ...}`."""

    id: str = Field(min_length=1)


class SpeechRequest(BaseModel):
    model: str = Field(min_length=1, examples=["tts-1"])
    input: str = Field(examples=["Hello world."])
    voice: str | VoiceRef = Field(examples=["alloy"])
    response_format: AudioFormat = "mp3"
    speed: float = Field(default=1.0, ge=0.25, le=4.0)
    instructions: str | None = None  # accepted; our engines take no style prompt
    stream_format: Literal["audio", "sse"] = "audio"
    #: An extension (send it with the SDK's extra_body): the language to speak; by default the
    #: model's first language in engine.yaml.
    language: str | None = None

    @property
    def voice_id(self) -> str:
        return self.voice.id if isinstance(self.voice, VoiceRef) else self.voice


class TranscriptionForm(BaseModel):
    """The multipart fields of /audio/transcriptions and /audio/translations but the file."""

    model: str = Field(min_length=1, examples=["whisper-1"])
    language: str | None = None
    prompt: str | None = None
    response_format: TranscriptFormat = "json"
    temperature: float | None = Field(default=None, ge=0.0, le=1.0)
    timestamp_granularities: list[Granularity] = Field(
        default_factory=list, alias="timestamp_granularities[]"
    )
    stream: bool = False


class ModelObject(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0  # unknown: models are files, not API objects with a creation date
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelObject]


class AudioModel(BaseModel):
    id: str


class AudioModelList(BaseModel):
    """Open WebUI's model discovery: GET {base}/audio/models."""

    models: list[AudioModel]


class Voice(BaseModel):
    id: str
    name: str


class VoiceList(BaseModel):
    """Open WebUI's voice discovery: GET {base}/audio/voices."""

    voices: list[Voice]


class VerboseSegment(BaseModel):
    id: int
    seek: int
    start: float
    end: float
    text: str
    tokens: list[int]
    temperature: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float


class VerboseWord(BaseModel):
    word: str
    start: float
    end: float


class VerboseTranscription(BaseModel):
    task: Literal["transcribe", "translate"]
    language: str
    duration: float
    text: str
    segments: list[VerboseSegment] | None = None
    words: list[VerboseWord] | None = None
