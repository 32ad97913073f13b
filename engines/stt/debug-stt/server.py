"""debug-stt: a deterministic stand-in for speech-to-text, computed from the audio itself.

It "hears" its model's fixed transcription in any audible audio and nothing in silence; its
/analyze scores the audio by duration, level and sample rate instead of by words.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from enginekit.engine import (
    AnalysisDetails,
    AnalysisRequest,
    AnalysisResult,
    InfoBlockItem,
    QualityField,
    STTEngine,
    Transcript,
    TranscriptionRequest,
    TranscriptSegment,
)
from enginekit.server import run


def decibels(value: float) -> float:
    return round(20 * float(np.log10(max(value, 1e-10))), 1)


class DebugSTT(STTEngine):
    input_sample_rate = None  # reports the rate the audio was recorded at

    def load(self, name: str) -> None:
        model_path = self.models_dir / name
        self.config: dict[str, Any] = json.loads(
            (model_path / "model.json").read_text(encoding="utf-8")
        )

    def unload(self) -> None:
        self.config = {}

    def package_version(self) -> str:
        return "1.0.0"

    def _audible(self, audio: np.ndarray) -> tuple[bool, float]:
        level = decibels(float(np.sqrt(np.mean(audio**2)))) if len(audio) else -200.0
        return level >= self.config["silence_threshold_db"], level

    def transcribe(self, request: TranscriptionRequest) -> Transcript:
        audible, _ = self._audible(request.audio)
        text = self.config["transcription"] if audible else ""
        duration = round(request.duration, 3)
        segments = [TranscriptSegment(start=0.0, end=duration, text=text)] if text else []
        return Transcript(
            text=text, language=request.language or "en", duration=duration, segments=segments
        )

    def analyze(self, request: AnalysisRequest) -> AnalysisResult:
        audible, level = self._audible(request.audio)
        fields = [
            QualityField(key="quality.stt.transcription", value=request.expected_text
                         or self.config["transcription"], type="text"),
            QualityField(key="quality.stt.confidence", value=100 if audible else 0,
                         type="percent"),
            QualityField(key="quality.stt.duration", value=round(request.duration, 2),
                         type="seconds"),
            QualityField(key="quality.stt.language", value=request.language, type="string"),
            QualityField(key="quality.stt.level", value=f"{level} dB", type="string"),
            QualityField(key="quality.stt.sampleRate", value=request.sample_rate,
                         type="number"),
        ]  # fmt: skip
        verdict = InfoBlockItem(
            text="quality.stt.perfectMatch" if audible else "quality.stt.noSpeech",
            severity="info" if audible else "error",
            details={"similarity": 100 if audible else 0, "level_db": level},
        )
        details = AnalysisDetails(
            top_label="quality.stt.analysis", fields=fields, info_blocks={"match": [verdict]}
        )
        return AnalysisResult(quality_score=100 if audible else 0, details=details)


if __name__ == "__main__":
    run(DebugSTT)
