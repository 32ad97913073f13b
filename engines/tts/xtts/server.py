"""xtts: Coqui XTTS-v2, multilingual text-to-speech with voice cloning from speaker samples.

A model is a directory with XTTS's config.json, model.pth and vocab.json (and optionally
speakers_xtts.pth); its languages are the ones its config lists. Audio is streamed as XTTS's
`inference_stream` produces it, at the model's output rate (24 kHz for XTTS-v2).
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator

import numpy as np
from TTS.tts.configs.xtts_config import XttsConfig
from TTS.tts.models.xtts import Xtts
from voices import VoiceCache

from enginekit.engine import AudioChunk, SynthesisRequest, TTSEngine
from enginekit.errors import InvalidInput
from enginekit.server import run

STREAM_CHUNK_TOKENS = 20  # XTTS's default: about 0.9 s of audio per chunk


def xtts_language(code: str) -> str:
    """'en-US' and 'EN' speak 'en'; Chinese is 'zh-cn' in XTTS's configs."""
    family = code.replace("_", "-").split("-")[0].lower()
    return "zh-cn" if family == "zh" else family


class XTTS(TTSEngine):
    def load(self, name: str) -> None:
        directory = self.models_dir / name
        if not (directory / "config.json").is_file():
            raise InvalidInput(f"Model {name} has no config.json: not an XTTS model directory")
        config = XttsConfig()
        config.load_json(str(directory / "config.json"))
        model = Xtts(config)
        model.load_checkpoint(config, checkpoint_dir=str(directory), use_deepspeed=False)
        self.model = model.to(self.device)
        self.languages: list[str] = list(config.languages)
        self.output_rate = int(config.model_args.output_sample_rate)
        self.voices = VoiceCache(self.model)

    def unload(self) -> None:
        del self.model, self.voices

    def package_version(self) -> str:
        return importlib.metadata.version("coqui-tts")

    def synthesize(self, request: SynthesisRequest) -> Iterator[AudioChunk]:
        language = xtts_language(request.language)
        if language not in self.languages:
            raise InvalidInput(
                f"Language {request.language!r} is not spoken by this model; it speaks "
                f"{', '.join(self.languages)}"
            )
        parameters = request.parameters
        splitting = bool(self.parameter(parameters, "enable_text_splitting"))
        if not splitting:
            self._check_length(request.text, language)
        voice = self.voices.voice(request.speakers)
        stream = self.model.inference_stream(
            request.text,
            language,
            voice.gpt_cond_latent,
            voice.speaker_embedding,
            stream_chunk_size=STREAM_CHUNK_TOKENS,
            temperature=float(self.parameter(parameters, "temperature")),
            length_penalty=float(self.parameter(parameters, "length_penalty")),
            repetition_penalty=float(self.parameter(parameters, "repetition_penalty")),
            top_k=int(self.parameter(parameters, "top_k")),
            top_p=float(self.parameter(parameters, "top_p")),
            speed=float(self.parameter(parameters, "speed")),
            enable_text_splitting=splitting,
        )
        for chunk in stream:
            yield AudioChunk(chunk.detach().cpu().numpy().astype(np.float32), self.output_rate)

    def _check_length(self, text: str, language: str) -> None:
        """XTTS asserts on over-long input; unsplit text must fit the GPT's text window."""
        tokens = len(self.model.tokenizer.encode(text, lang=language))
        limit = int(self.model.args.gpt_max_text_tokens)
        if tokens >= limit:
            raise InvalidInput(
                f"Text is {tokens} tokens long; without enable_text_splitting this model takes "
                f"fewer than {limit}"
            )


if __name__ == "__main__":
    run(XTTS)
