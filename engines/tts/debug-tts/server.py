"""debug-tts: the standard's conforming example engine. Renders text as a sequence of tones."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from enginekit.audio import encode_wav
from enginekit.server import BaseTTSServer, run

FADE_SECONDS = 0.005


class DebugTTSServer(BaseTTSServer):
    def load_model(self, model_name: str) -> None:
        model_path = self.models_dir / model_name
        self.config = json.loads((model_path / "model.json").read_text(encoding="utf-8"))

    def unload_model(self) -> None:
        self.config = {}

    def package_version(self) -> str:
        return "1.0.0"

    def generate_audio(
        self, text: str, language: str, speaker_wav: str | list[str], parameters: dict[str, Any]
    ) -> bytes:
        pitch = self.parameter(parameters, "pitch", 1.0)
        speed = self.parameter(parameters, "speed", 1.0)
        rate = int(self.config["sample_rate"])
        per_char = max(1, int(rate * self.config["char_duration"] / speed))
        codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
        # Letters and digits sing (two octaves by code point), everything else is a pause.
        voiced = np.array([c.isalnum() for c in text], dtype=bool)
        frequency = self.config["base_frequency"] * pitch * 2.0 ** ((codes % 24) / 12.0)
        frequency = np.where(voiced, frequency, 0.0)
        # One row per character; each row starts where the previous one's phase ended (in
        # cycles, kept below 1 so float32 stays exact enough for a clean tone).
        start = np.concatenate(([0.0], np.cumsum(frequency * per_char / rate)[:-1])) % 1.0
        ticks = np.arange(per_char, dtype=np.float32) / rate
        cycles = start[:, None].astype(np.float32) + frequency[:, None].astype(np.float32) * ticks
        fade = min(per_char // 2, int(rate * FADE_SECONDS)) or 1
        envelope = np.ones(per_char, dtype=np.float32)
        envelope[:fade] = np.linspace(0.0, 1.0, fade)
        envelope[-fade:] = np.linspace(1.0, 0.0, fade)
        samples = (0.5 * np.sin(2 * np.pi * cycles) * envelope).ravel()
        return encode_wav(samples, rate)


if __name__ == "__main__":
    run(DebugTTSServer)
