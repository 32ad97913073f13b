"""piper: neural text-to-speech with Piper voices (a model is a directory with <voice>.onnx)."""

from __future__ import annotations

import importlib.metadata
from typing import Any

import numpy as np
from piper import PiperVoice, SynthesisConfig

from enginekit.audio import encode_wav
from enginekit.server import BadRequest, BaseTTSServer, run
from enginekit.server.device import device_name


def language_family(code: str) -> str:
    """'en_US', 'en-us' and 'EN' all speak 'en'."""
    return code.replace("_", "-").split("-")[0].lower()


class PiperTTSServer(BaseTTSServer):
    def load_model(self, model_name: str) -> None:
        model_path = self.models_dir / model_name
        voices = sorted(model_path.glob("*.onnx"))
        if len(voices) != 1:
            raise BadRequest(f"Model {model_name} must hold exactly one .onnx voice file")
        self.voice = PiperVoice.load(voices[0], use_cuda=device_name() == "cuda")
        self.voice_language = self.voice.config.espeak_voice

    def unload_model(self) -> None:
        self.voice = None

    def package_version(self) -> str:
        return importlib.metadata.version("piper-tts")

    def generate_audio(
        self, text: str, language: str, speaker_wav: str | list[str], parameters: dict[str, Any]
    ) -> bytes:
        if language_family(language) != language_family(self.voice_language):
            raise BadRequest(
                f"Language {language!r} is not spoken by this voice; it speaks "
                f"{language_family(self.voice_language)} ({self.voice_language})"
            )
        speaker = int(self.parameter(parameters, "speaker_id"))
        if not 0 <= speaker < max(1, self.voice.config.num_speakers):
            raise BadRequest(
                f"speaker_id {speaker} is out of range: this voice has "
                f"{self.voice.config.num_speakers} speaker(s)"
            )
        config = SynthesisConfig(
            speaker_id=speaker if self.voice.config.num_speakers > 1 else None,
            length_scale=1.0 / float(self.parameter(parameters, "speed")),
            noise_scale=float(self.parameter(parameters, "noise_scale")),
            noise_w_scale=float(self.parameter(parameters, "noise_w")),
        )
        rate = self.voice.config.sample_rate
        pause = np.zeros(int(rate * float(self.parameter(parameters, "sentence_silence"))))
        pieces: list[np.ndarray] = []
        for chunk in self.voice.synthesize(text, syn_config=config):
            pieces += [chunk.audio_float_array, pause]
        if not pieces:
            raise BadRequest(f"Nothing to speak in the text: {text!r}")
        return encode_wav(np.concatenate(pieces[:-1]), rate)


if __name__ == "__main__":
    run(PiperTTSServer)
