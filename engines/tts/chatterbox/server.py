"""chatterbox: Resemble AI's Chatterbox, speech in the voice of a few seconds of sample audio.

A model is a directory with one of Chatterbox's two file sets: multilingual (23 languages;
ve.pt, t3_mtl23ls_v2.safetensors, s3gen.pt, grapheme_mtl_merged_expanded_v1.json, optionally
Cangjie5_TC.json) or English (ve.safetensors, t3_cfg.safetensors, s3gen.safetensors,
tokenizer.json). Its conds.pt, when present, is the built-in voice spoken when a request names
no sample. Chatterbox produces a whole utterance at once, watermarked (Perth), at 24 kHz.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import perth
import torch
from chatterbox.mtl_tts import SUPPORTED_LANGUAGES, ChatterboxMultilingualTTS
from chatterbox.tts import ChatterboxTTS
from offline import keep_local
from voices import VoiceCache

from enginekit.engine import AudioChunk, SynthesisRequest, TTSEngine
from enginekit.errors import EngineFailure, InvalidInput
from enginekit.server import run

MULTILINGUAL = "t3_mtl23ls_v2.safetensors"
ENGLISH = "t3_cfg.safetensors"


def chatterbox_language(code: str) -> str:
    """'en-US' and 'EN' speak 'en'."""
    return code.replace("_", "-").split("-")[0].lower()


class Chatterbox(TTSEngine):
    def load(self, name: str) -> None:
        directory = self.models_dir / name
        if perth.PerthImplicitWatermarker is None:  # its import failed and was swallowed
            raise EngineFailure(
                "resemble-perth's watermarker cannot be imported (it needs pkg_resources: "
                "setuptools < 81)"
            )
        if self.device == "cpu":
            torch.set_flush_denormal(True)  # random and quiet signals: denormals cost 5-20x
        keep_local()
        if (directory / MULTILINGUAL).is_file():
            model: Any = ChatterboxMultilingualTTS.from_local(directory, self.device)
            self.languages = sorted(SUPPORTED_LANGUAGES)
        elif (directory / ENGLISH).is_file():
            model = ChatterboxTTS.from_local(directory, self.device)
            self.languages = ["en"]
        else:
            raise InvalidInput(
                f"Model {name} has neither {MULTILINGUAL} nor {ENGLISH}: not a Chatterbox model "
                "directory"
            )
        self.model, self.name = model, name
        self.multilingual = isinstance(model, ChatterboxMultilingualTTS)
        self.builtin_voice = model.conds
        self.voices = VoiceCache(model)

    def unload(self) -> None:
        del self.model, self.voices, self.builtin_voice

    def package_version(self) -> str:
        return importlib.metadata.version("chatterbox-tts")

    def synthesize(self, request: SynthesisRequest) -> Iterator[AudioChunk]:
        language = chatterbox_language(request.language)
        if language not in self.languages:
            raise InvalidInput(
                f"Language {request.language!r} is not spoken by this model; it speaks "
                f"{', '.join(self.languages)}"
            )
        self.model.conds = self._voice(request.speakers)
        parameters = request.parameters
        options: dict[str, Any] = {
            "exaggeration": float(self.parameter(parameters, "exaggeration")),
            "cfg_weight": float(self.parameter(parameters, "cfg_weight")),
            "temperature": float(self.parameter(parameters, "temperature")),
        }
        if self.multilingual:
            options["language_id"] = language
        with torch.inference_mode():
            wav = self.model.generate(request.text, **options)
        yield AudioChunk(wav.squeeze(0).cpu().numpy().astype(np.float32), int(self.model.sr))

    def _voice(self, speakers: Sequence[Path]) -> Any:
        if speakers:
            return self.voices.voice(speakers)
        if self.builtin_voice is None:
            raise InvalidInput(
                f"Model {self.name} has no built-in voice (conds.pt): name a speaker sample "
                "in ttsSpeakerWav"
            )
        return self.builtin_voice


if __name__ == "__main__":
    run(Chatterbox)
