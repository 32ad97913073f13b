"""debug-stt: a deterministic quality analysis computed from the WAV itself (no real model)."""

from __future__ import annotations

import json

import numpy as np

from enginekit.audio import decode_wav
from enginekit.server import (
    AnalysisDetails,
    AnalysisResult,
    BaseQualityServer,
    InfoBlockItem,
    PronunciationRule,
    QualityField,
    QualityThresholds,
    run,
)


def decibels(value: float) -> float:
    return round(20 * float(np.log10(max(value, 1e-10))), 1)


class DebugSTTServer(BaseQualityServer):
    def load_model(self, model_name: str) -> None:
        model_path = self.models_dir / model_name
        self.config = json.loads((model_path / "model.json").read_text(encoding="utf-8"))

    def unload_model(self) -> None:
        self.config = {}

    def package_version(self) -> str:
        return "1.0.0"

    def analyze_audio(
        self,
        audio_bytes: bytes,
        language: str,
        thresholds: QualityThresholds,
        expected_text: str | None,
        pronunciation_rules: list[PronunciationRule],
    ) -> AnalysisResult:
        samples, rate = decode_wav(audio_bytes)
        duration = len(samples) / rate if rate else 0.0
        level = decibels(float(np.sqrt(np.mean(samples**2)))) if len(samples) else -200.0
        audible = level >= self.config["silence_threshold_db"]
        fields = [
            QualityField(key="quality.stt.transcription", value=expected_text
                         or self.config["transcription"], type="text"),
            QualityField(key="quality.stt.confidence", value=100 if audible else 0,
                         type="percent"),
            QualityField(key="quality.stt.duration", value=round(duration, 2), type="seconds"),
            QualityField(key="quality.stt.language", value=language, type="string"),
            QualityField(key="quality.stt.level", value=f"{level} dB", type="string"),
            QualityField(key="quality.stt.sampleRate", value=rate, type="number"),
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
    run(DebugSTTServer)
