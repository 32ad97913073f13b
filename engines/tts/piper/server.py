"""piper: neural text-to-speech with Piper voices (a model is a directory with <voice>.onnx)."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from piper import PiperVoice, SynthesisConfig

from enginekit.engine import AudioChunk, SynthesisRequest, TTSEngine
from enginekit.errors import InvalidInput
from enginekit.server import run


def language_family(code: str) -> str:
    """'en_US', 'en-us' and 'EN' all speak 'en'."""
    return code.replace("_", "-").split("-")[0].lower()


class Piper(TTSEngine):
    def load(self, name: str) -> None:
        voices = sorted((self.models_dir / name).glob("*.onnx"))
        if len(voices) != 1:
            raise InvalidInput(f"Model {name} must hold exactly one .onnx voice file")
        self.voice = PiperVoice.load(voices[0], use_cuda=self.device == "cuda")

    def unload(self) -> None:
        del self.voice

    def package_version(self) -> str:
        return importlib.metadata.version("piper-tts")

    def speakers(self) -> Mapping[str, Mapping[str, Any]]:
        """A multi-speaker voice's named speakers, each selected by its speaker_id."""
        if self.voice.config.num_speakers <= 1:
            return {}
        return {
            name: {"speaker_id": index} for name, index in self.voice.config.speaker_id_map.items()
        }

    def synthesize(self, request: SynthesisRequest) -> Iterator[AudioChunk]:
        """One chunk per sentence as piper produces it, each but the first after a pause."""
        voice, parameters = self.voice, request.parameters
        spoken = voice.config.espeak_voice
        if language_family(request.language) != language_family(spoken):
            raise InvalidInput(
                f"Language {request.language!r} is not spoken by this voice; it speaks "
                f"{language_family(spoken)} ({spoken})"
            )
        speaker = int(self.parameter(parameters, "speaker_id"))
        if not 0 <= speaker < max(1, voice.config.num_speakers):
            raise InvalidInput(
                f"speaker_id {speaker} is out of range: this voice has "
                f"{voice.config.num_speakers} speaker(s)"
            )
        config = SynthesisConfig(
            speaker_id=speaker if voice.config.num_speakers > 1 else None,
            length_scale=1.0 / float(self.parameter(parameters, "speed")),
            noise_scale=float(self.parameter(parameters, "noise_scale")),
            noise_w_scale=float(self.parameter(parameters, "noise_w")),
        )
        rate = voice.config.sample_rate
        pause = np.zeros(int(rate * float(self.parameter(parameters, "sentence_silence"))), "f4")
        for index, chunk in enumerate(voice.synthesize(request.text, syn_config=config)):
            audio = chunk.audio_float_array.astype(np.float32)
            yield AudioChunk(np.concatenate([pause, audio]) if index else audio, rate)


if __name__ == "__main__":
    run(Piper)
