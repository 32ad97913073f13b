"""whisper: speech-to-text with faster-whisper (a model is a directory in CTranslate2 layout)."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator, Mapping
from typing import Any

import ctranslate2
from faster_whisper import BatchedInferencePipeline, WhisperModel
from faster_whisper.transcribe import Segment, TranscriptionInfo

from enginekit.engine import (
    STTEngine,
    Transcript,
    TranscriptionRequest,
    TranscriptSegment,
    TranscriptWord,
)
from enginekit.errors import InvalidInput
from enginekit.server import run

# Segments Whisper itself thinks are silence and cannot read with any confidence are the
# classic hallucinations ("Thank you.") on silence, tones and noise.
NO_SPEECH_PROBABILITY = 0.6
LOW_LOG_PROBABILITY = -1.0


COMPUTE_TYPES = {"cuda": "float16", "cpu": "int8"}

# Audio longer than one Whisper window goes through faster-whisper's batched pipeline: it cuts
# the speech at VAD pauses into pieces of at most BATCH_CHUNK_S and decodes them as one batch.
# On 68 s of speech that took about a quarter of plain transcribe's time on a 2-CPU machine at a
# similar word error rate (docs/benchmarks.md, case 10); with the default 30 s pieces it lost
# words at piece ends. Its segments are the pieces (words keep their own times). Up to one
# window there is nothing to batch.
BATCHED_FROM_S = 30.0
BATCH_SIZE = 8
BATCH_CHUNK_S = 20


def whisper_device(engine_device: str, compute_types: Mapping[str, str]) -> tuple[str, str]:
    """The runtime's device where CTranslate2 can use it, and its precision (float16 on cuda,
    int8 on cpu; engine.yaml's engine_config.compute_type overrides per device)."""
    device = "cuda" if engine_device == "cuda" and ctranslate2.get_cuda_device_count() else "cpu"
    return device, compute_types.get(device, COMPUTE_TYPES[device])


def hallucinated(segment: Segment) -> bool:
    return (
        segment.no_speech_prob > NO_SPEECH_PROBABILITY and segment.avg_logprob < LOW_LOG_PROBABILITY
    )


def segment_of(segment: Segment) -> TranscriptSegment:
    return TranscriptSegment(
        start=segment.start,
        end=segment.end,
        text=segment.text.strip(),
        avg_logprob=segment.avg_logprob,
        no_speech_prob=segment.no_speech_prob,
        compression_ratio=segment.compression_ratio,
        temperature=segment.temperature,
        tokens=list(segment.tokens),
    )


def language_family(code: str) -> str:
    return code.replace("_", "-").split("-")[0].lower()


class Whisper(STTEngine):
    analysis_label = "whisperTranscription"

    def load(self, name: str) -> None:
        config = self.manifest.engine_config if self.manifest else {}
        device, compute_type = whisper_device(self.device, config.get("compute_type", {}))
        self.model = WhisperModel(str(self.models_dir / name), device=device,
                                  compute_type=compute_type)  # fmt: skip
        self.batched = BatchedInferencePipeline(self.model)

    def unload(self) -> None:
        del self.batched, self.model

    def package_version(self) -> str:
        return importlib.metadata.version("faster-whisper")

    def can_translate(self) -> bool:
        return bool(self.model.model.is_multilingual)

    def transcribe(self, request: TranscriptionRequest) -> Transcript:
        segments, info = self._recognise(request)
        kept = list(segments)
        words = [
            TranscriptWord(word=w.word.strip(), start=w.start, end=w.end, probability=w.probability)
            for s in kept
            for w in s.words or []
        ]
        return Transcript(
            text=" ".join(s.text.strip() for s in kept).strip(),
            language=info.language,
            duration=round(request.duration, 3),
            segments=[segment_of(s) for s in kept],
            words=words,
        )

    def transcribe_segments(self, request: TranscriptionRequest) -> Iterator[TranscriptSegment]:
        """faster-whisper decodes window by window (batch by batch past 30 s): each segment
        goes out as soon as its window is decoded."""
        segments, _ = self._recognise(request)
        for segment in segments:
            yield segment_of(segment)

    def _recognise(
        self, request: TranscriptionRequest
    ) -> tuple[Iterator[Segment], TranscriptionInfo]:
        """faster-whisper's lazy segments (hallucinations dropped) and what it detected."""
        language = language_family(request.language) if request.language else None
        if language and language != "en" and not self.model.model.is_multilingual:
            raise InvalidInput(f"This model is English-only; it cannot transcribe {language!r}")
        if request.task == "translate" and not self.can_translate():
            raise InvalidInput("This model is English-only; it cannot translate")
        options: dict[str, Any] = {}
        if request.temperature is not None:
            options["temperature"] = request.temperature
        if request.duration > BATCHED_FROM_S:
            pipeline: WhisperModel | BatchedInferencePipeline = self.batched
            options.update(batch_size=BATCH_SIZE, chunk_length=BATCH_CHUNK_S)
        else:
            pipeline = self.model
        segments, info = pipeline.transcribe(
            request.audio, language=language, task=request.task,
            word_timestamps=request.word_timestamps, initial_prompt=request.prompt or None,
            vad_filter=True, **options,
        )  # fmt: skip
        return (s for s in segments if not hallucinated(s)), info


if __name__ == "__main__":
    run(Whisper)
