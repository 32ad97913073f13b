"""debug-tts: the standard's conforming example engine. Renders text as a sequence of tones."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import numpy as np

from enginekit.engine import AudioChunk, SynthesisRequest, TTSEngine
from enginekit.server import run

FADE_SECONDS = 0.005
SENTENCE = re.compile(r"[^.!?]*[.!?]+\s*|[^.!?]+")  # an exact partition of the text


class DebugTTS(TTSEngine):
    def load(self, name: str) -> None:
        model_path = self.models_dir / name
        self.config: dict[str, Any] = json.loads(
            (model_path / "model.json").read_text(encoding="utf-8")
        )

    def unload(self) -> None:
        self.config = {}

    def package_version(self) -> str:
        return "1.0.0"

    def synthesize(self, request: SynthesisRequest) -> Iterator[AudioChunk]:
        """One chunk per sentence, so streaming doors have something to stream."""
        pitch = float(self.parameter(request.parameters, "pitch", 1.0))
        speed = float(self.parameter(request.parameters, "speed", 1.0))
        rate = int(self.config["sample_rate"])
        phase = 0.0
        for sentence in SENTENCE.findall(request.text):
            samples, phase = self._tones(sentence, pitch, speed, rate, phase)
            yield AudioChunk(samples, rate)

    def _tones(
        self, text: str, pitch: float, speed: float, rate: int, phase: float
    ) -> tuple[np.ndarray, float]:
        """The text's tones starting at `phase` (in cycles), and the phase they end at, so the
        sentences of one text join without a click."""
        per_char = max(1, int(rate * self.config["char_duration"] / speed))
        codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
        # Letters and digits sing (two octaves by code point), everything else is a pause.
        voiced = np.array([c.isalnum() for c in text], dtype=bool)
        frequency = self.config["base_frequency"] * pitch * 2.0 ** ((codes % 24) / 12.0)
        frequency = np.where(voiced, frequency, 0.0)
        # One row per character; each row starts where the previous one's phase ended (in
        # cycles, kept below 1 so float32 stays exact enough for a clean tone).
        ends = phase + np.cumsum(frequency * per_char / rate)
        start = np.concatenate(([phase], ends[:-1])) % 1.0
        ticks = np.arange(per_char, dtype=np.float32) / rate
        cycles = start[:, None].astype(np.float32) + frequency[:, None].astype(np.float32) * ticks
        fade = min(per_char // 2, int(rate * FADE_SECONDS)) or 1
        envelope = np.ones(per_char, dtype=np.float32)
        envelope[:fade] = np.linspace(0.0, 1.0, fade)
        envelope[-fade:] = np.linspace(1.0, 0.0, fade)
        samples = (0.5 * np.sin(2 * np.pi * cycles) * envelope).ravel().astype(np.float32)
        return samples, float(ends[-1] % 1.0) if len(ends) else phase


if __name__ == "__main__":
    run(DebugTTS)
