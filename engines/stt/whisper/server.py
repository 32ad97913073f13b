"""whisper: speech-to-text with faster-whisper (a model is a directory in CTranslate2 layout)."""

from __future__ import annotations

import importlib.metadata
import io
import os
import re

import ctranslate2
from faster_whisper import WhisperModel, decode_audio
from faster_whisper.transcribe import Segment

from enginekit.scoring import compare_texts
from enginekit.server import (
    AnalysisDetails,
    AnalysisResult,
    BadRequest,
    BaseSTTServer,
    InfoBlockItem,
    PronunciationRule,
    QualityField,
    QualityThresholds,
    Transcript,
    TranscriptSegment,
    TranscriptWord,
    run,
)

SAMPLE_RATE = 16000
# Segments Whisper itself thinks are silence and cannot read with any confidence are the
# classic hallucinations ("Thank you.") on silence, tones and noise.
NO_SPEECH_PROBABILITY = 0.6
LOW_LOG_PROBABILITY = -1.0
DEVIATION_LABELS = {"substituted": "wordMismatch", "missing": "missingWord", "extra": "extraWord"}


def whisper_device() -> tuple[str, str]:
    """cuda/float16 where CTranslate2 sees a GPU, else cpu/int8; WHISPER_DEVICE and
    WHISPER_COMPUTE_TYPE override."""
    device = os.environ.get("WHISPER_DEVICE", "auto")
    if device == "auto":
        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    default_compute = "float16" if device == "cuda" else "int8"
    return device, os.environ.get("WHISPER_COMPUTE_TYPE", default_compute)


def hallucinated(segment: Segment) -> bool:
    return (
        segment.no_speech_prob > NO_SPEECH_PROBABILITY and segment.avg_logprob < LOW_LOG_PROBABILITY
    )


def apply_rules(text: str, rules: list[PronunciationRule]) -> str:
    """What the speaker was asked to say, after the client's pronunciation rules."""
    for rule in (r for r in rules if r.is_active):
        if rule.is_regex:
            text = re.sub(rule.pattern, rule.replacement, text)
        else:
            text = text.replace(rule.pattern, rule.replacement)
    return text


class WhisperSTTServer(BaseSTTServer):
    def load_model(self, model_name: str) -> None:
        device, compute_type = whisper_device()
        model_path = self.models_dir / model_name
        self.model = WhisperModel(str(model_path), device=device, compute_type=compute_type)

    def unload_model(self) -> None:
        self.model = None

    def package_version(self) -> str:
        return importlib.metadata.version("faster-whisper")

    def transcribe(
        self, audio_bytes: bytes, language: str | None, word_timestamps: bool
    ) -> Transcript:
        try:
            samples = decode_audio(io.BytesIO(audio_bytes), sampling_rate=SAMPLE_RATE)
        except Exception as exc:  # PyAV raises its own error types for undecodable input
            raise BadRequest(f"Cannot decode audio: {exc}") from exc
        language = language.replace("_", "-").split("-")[0].lower() if language else None
        if language and language != "en" and not self.model.model.is_multilingual:
            raise BadRequest(f"This model is English-only; it cannot transcribe {language!r}")
        segments, info = self.model.transcribe(
            samples, language=language, word_timestamps=word_timestamps, vad_filter=True
        )
        kept = [s for s in segments if not hallucinated(s)]
        words = [
            TranscriptWord(word=w.word.strip(), start=w.start, end=w.end, probability=w.probability)
            for s in kept
            for w in s.words or []
        ]
        return Transcript(
            text=" ".join(s.text.strip() for s in kept).strip(),
            language=info.language,
            duration=round(len(samples) / SAMPLE_RATE, 3),
            segments=[
                TranscriptSegment(start=s.start, end=s.end, text=s.text.strip()) for s in kept
            ],
            words=words,
        )

    def analyze_audio(
        self,
        audio_bytes: bytes,
        language: str,
        thresholds: QualityThresholds,
        expected_text: str | None,
        pronunciation_rules: list[PronunciationRule],
    ) -> AnalysisResult:
        transcript = self.transcribe(audio_bytes, language or None, word_timestamps=True)
        probabilities = [w.probability for w in transcript.words]
        confidence = round(100 * sum(probabilities) / len(probabilities)) if probabilities else 0
        fields = [
            QualityField(key="transcription", value=transcript.text, type="text"),
            QualityField(key="confidence", value=confidence, type="percent"),
            QualityField(key="language", value=transcript.language, type="string"),
            QualityField(key="duration", value=transcript.duration, type="seconds"),
        ]
        if not expected_text:
            details = AnalysisDetails(top_label="whisperTranscription", fields=fields)
            return AnalysisResult(quality_score=confidence, details=details)
        comparison = compare_texts(apply_rules(expected_text, pronunciation_rules), transcript.text)
        error_rate = min(comparison.word_error_rate, 1.0)
        rate_field = QualityField(
            key="wordErrorRate", value=round(100 * error_rate, 1), type="percent"
        )
        fields.append(rate_field)
        deviations = [
            InfoBlockItem(
                text=DEVIATION_LABELS[d.kind],
                severity="warning" if d.kind == "substituted" else "error",
                details={"expected": d.expected, "detected": d.detected, "position": d.position},
            )
            for d in comparison.deviations
        ]
        details = AnalysisDetails(
            top_label="whisperTranscription",
            fields=fields,
            info_blocks={"textDeviations": deviations} if deviations else {},
        )
        return AnalysisResult(quality_score=round(100 * (1 - error_rate)), details=details)


if __name__ == "__main__":
    run(WhisperSTTServer)
