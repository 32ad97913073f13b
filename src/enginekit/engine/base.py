"""The classes an engine subclasses. Everything the runtime owns stays out of the engine's
namespace: an engine sees its context through read-only properties, so `self.models_dir = ...`
fails loudly instead of silently breaking a server."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..manifest import EngineManifest
from .scoring import score_transcript
from .types import (
    AnalysisRequest,
    AnalysisResult,
    AudioChunk,
    SynthesisRequest,
    Transcript,
    TranscriptionRequest,
    TranscriptSegment,
)

__all__ = ["Engine", "EngineContext", "QualityEngine", "STTEngine", "TTSEngine"]

_REQUIRED: Any = object()


@dataclass(frozen=True)
class EngineContext:
    """What the runtime hands an engine: its directories, its engine.yaml and its device."""

    models_dir: Path
    samples_dir: Path
    manifest: EngineManifest | None = None
    device: str = "cpu"


class Engine:
    """Base of every engine: `load(name)` reads `self.models_dir / name`; `unload()` frees it.

    Both run on the runtime's worker thread, never on the event loop. `parallel_jobs` > 1 lets
    the runtime run that many jobs at once (for models whose library is thread-safe).
    """

    engine_type: ClassVar[str] = "unknown"
    parallel_jobs: ClassVar[int] = 1

    def __init__(self, context: EngineContext) -> None:
        self.__context = context

    @property
    def models_dir(self) -> Path:
        return self.__context.models_dir

    @property
    def samples_dir(self) -> Path:
        return self.__context.samples_dir

    @property
    def manifest(self) -> EngineManifest | None:
        return self.__context.manifest

    @property
    def device(self) -> str:
        """ "cuda" or "cpu": the runtime's one device rule (ENGINE_DEVICE overrides)."""
        return self.__context.device

    def parameter(self, parameters: Mapping[str, Any], name: str, fallback: Any = _REQUIRED) -> Any:
        """A request parameter, else its default from engine.yaml, else `fallback`."""
        if name in parameters:
            return parameters[name]
        spec = self.manifest.parameters.get(name) if self.manifest else None
        if spec is not None:
            return spec.default
        if fallback is _REQUIRED:
            raise KeyError(f"Parameter {name} is neither in the request nor in engine.yaml")
        return fallback

    def load(self, name: str) -> None:
        raise NotImplementedError

    def unload(self) -> None:
        """Release the loaded model; the default keeps nothing to release."""

    def package_version(self) -> str | None:
        """The inference library's version for /health."""
        return None


class TTSEngine(Engine):
    """Text to speech: yield float32 chunks as soon as the library has them."""

    engine_type: ClassVar[str] = "tts"

    def synthesize(self, request: SynthesisRequest) -> Iterator[AudioChunk]:
        raise NotImplementedError

    def speakers(self) -> Mapping[str, Mapping[str, Any]]:
        """The loaded model's named speakers (multi-speaker voices), each with the request
        parameters that select it, so doors can offer them as voices; none by default."""
        return {}


class QualityEngine(Engine):
    """Audio analysis: score a decoded WAV (engine-api.md §5)."""

    engine_type: ClassVar[str] = "audio"
    #: None: audio arrives at the rate it was recorded at; a number: resampled to it.
    input_sample_rate: ClassVar[int | None] = None

    def analyze(self, request: AnalysisRequest) -> AnalysisResult:
        raise NotImplementedError


class STTEngine(QualityEngine):
    """Speech to text. `analyze` defaults to a transcription scored against the expected text."""

    engine_type: ClassVar[str] = "stt"
    input_sample_rate: ClassVar[int | None] = 16000
    analysis_label: ClassVar[str] = "quality.stt.analysis"

    def transcribe(self, request: TranscriptionRequest) -> Transcript:
        raise NotImplementedError

    def transcribe_segments(self, request: TranscriptionRequest) -> Iterator[TranscriptSegment]:
        """The segments as they are recognised, for streamed transcripts (`stream=true`). An
        engine whose library recognises piece by piece overrides this; by default they are
        those of `transcribe`, all at its end (a transcript without segments is one)."""
        transcript = self.transcribe(request)
        if transcript.segments:
            yield from transcript.segments
        elif transcript.text:
            yield TranscriptSegment(start=0.0, end=transcript.duration, text=transcript.text)

    def can_translate(self) -> bool:
        """Whether the loaded model can translate into English (multilingual models)."""
        return False

    def analyze(self, request: AnalysisRequest) -> AnalysisResult:
        transcript = self.transcribe(
            TranscriptionRequest(
                audio=request.audio,
                sample_rate=request.sample_rate,
                language=request.language or None,
                word_timestamps=True,
            )
        )
        return score_transcript(
            transcript, request.expected_text, request.pronunciation_rules, self.analysis_label
        )
