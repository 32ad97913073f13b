"""vibevoice: Microsoft VibeVoice, long-form multi-speaker text-to-speech with a voice per speaker.

A model is a directory with VibeVoice's config.json, model.safetensors (or shards and their
index) and preprocessor_config.json, plus the Qwen2.5 text tokenizer's files in tokenizer/. The
release's preprocessor_config.json names the tokenizer by its Hugging Face id; the processor is
built here with the tokenizer from tokenizer/ instead, so a model loads with no network at all.
Audio is streamed as the model produces it, one 0.13 s frame at a time, at 24 kHz.
"""

from __future__ import annotations

import importlib.metadata
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from script import parse_script
from vibevoice.modular.modeling_vibevoice_inference import (
    VibeVoiceForConditionalGenerationInference,
)
from vibevoice.modular.modular_vibevoice_text_tokenizer import VibeVoiceTextTokenizerFast
from vibevoice.modular.streamer import AudioStreamer
from vibevoice.processor.vibevoice_processor import VibeVoiceProcessor
from vibevoice.processor.vibevoice_tokenizer_processor import VibeVoiceTokenizerProcessor

from enginekit.engine import AudioChunk, SynthesisRequest, TTSEngine
from enginekit.errors import InvalidInput
from enginekit.server import run
from enginekit.torch_engines.samples import read_sample

TOKENIZER_DIR = "tokenizer"
AUDIO_SETTINGS = ("sampling_rate", "normalize_audio", "target_dB_FS", "eps")


class VibeVoice(TTSEngine):
    def load(self, name: str) -> None:
        directory = self.models_dir / name
        for required in ("config.json", "preprocessor_config.json"):
            if not (directory / required).is_file():
                raise InvalidInput(
                    f"Model {name} has no {required}: not a VibeVoice model directory"
                )
        if not (directory / TOKENIZER_DIR / "tokenizer_config.json").is_file():
            raise InvalidInput(
                f"Model {name} has no {TOKENIZER_DIR}/tokenizer_config.json: put the Qwen2.5 "
                f"tokenizer files (tokenizer.json, tokenizer_config.json, vocab.json, "
                f"merges.txt) in {TOKENIZER_DIR}/ inside the model directory"
            )
        self.processor = _processor(directory)
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        model = VibeVoiceForConditionalGenerationInference.from_pretrained(
            directory,
            torch_dtype=dtype,
            device_map=self.device,
            attn_implementation="sdpa",
            local_files_only=True,
        )
        self.model = model.eval()
        self.output_rate = int(self.processor.audio_processor.sampling_rate)
        self.context_window = int(model.config.decoder_config.max_position_embeddings)

    def unload(self) -> None:
        del self.model, self.processor

    def package_version(self) -> str:
        return importlib.metadata.version("vibevoice")

    def synthesize(self, request: SynthesisRequest) -> Iterator[AudioChunk]:
        self._check_language(request.language)
        script = parse_script(request.text)
        voices = [read_sample(path, self.output_rate) for path in script.samples(request.speakers)]
        inputs = self.processor(
            text=[script.text()],
            voice_samples=[voices],
            padding=True,
            return_tensors="pt",
            return_attention_mask=True,
        )
        length = int(inputs["input_ids"].shape[-1])
        if length >= self.context_window:
            raise InvalidInput(
                f"Text and speaker samples come to {length} tokens; this model's context holds "
                f"{self.context_window}: send shorter text or shorter samples"
            )
        self.model.set_ddpm_inference_steps(int(self.parameter(request.parameters, "ddpm_steps")))
        generation = _Generation(
            self.model,
            {k: v.to(self.device) if torch.is_tensor(v) else v for k, v in inputs.items()},
            tokenizer=self.processor.tokenizer,
            cfg_scale=float(self.parameter(request.parameters, "cfg_scale")),
            max_new_tokens=self.model.generation_config.max_new_tokens,
        )
        for frame in generation.frames():
            yield AudioChunk(frame.float().numpy().reshape(-1), self.output_rate)

    def _check_language(self, code: str) -> None:
        """The model has no language input; it speaks what it was trained on (en, zh)."""
        languages = self.manifest.supported_languages if self.manifest else []
        family = code.replace("_", "-").split("-")[0].lower()
        if languages and family not in languages:
            raise InvalidInput(
                f"Language {code!r} is not spoken by VibeVoice; it speaks {', '.join(languages)}"
            )


class _Generation:
    """`generate` on a thread of its own, its audio frames read from the library's streamer as
    they come; leaving the iteration early (a client gone) stops the generation at its next
    frame, and a failure inside it is raised to the reader."""

    def __init__(self, model: Any, inputs: dict[str, Any], **options: Any) -> None:
        self.model, self.inputs, self.options = model, inputs, options
        self.streamer = AudioStreamer(batch_size=1)
        self.stop = threading.Event()
        self.failure: BaseException | None = None

    def frames(self) -> Iterator[torch.Tensor]:
        worker = threading.Thread(target=self._generate, name="vibevoice-generate", daemon=True)
        worker.start()
        try:
            yield from self.streamer.get_stream(0)
        finally:
            self.stop.set()
            worker.join()
        if self.failure is not None:
            raise self.failure

    def _generate(self) -> None:
        try:
            self.model.generate(
                **self.inputs,
                **self.options,
                audio_streamer=self.streamer,
                stop_check_fn=self.stop.is_set,
                generation_config={"do_sample": False},
                show_progress_bar=False,
            )
        except BaseException as exc:  # handed to the reading thread
            self.failure = exc
        finally:
            self.streamer.end()


def _processor(directory: Path) -> VibeVoiceProcessor:
    """VibeVoiceProcessor.from_pretrained's parts, with the tokenizer from the model directory
    (its own lookup follows the config's hub id, which wins over any argument)."""
    config = json.loads((directory / "preprocessor_config.json").read_text(encoding="utf-8"))
    audio = config.get("audio_processor", {})
    return VibeVoiceProcessor(
        tokenizer=VibeVoiceTextTokenizerFast.from_pretrained(
            directory / TOKENIZER_DIR, local_files_only=True
        ),
        audio_processor=VibeVoiceTokenizerProcessor(
            **{key: audio[key] for key in AUDIO_SETTINGS if key in audio}
        ),
        speech_tok_compress_ratio=config.get("speech_tok_compress_ratio", 3200),
        db_normalize=config.get("db_normalize", True),
    )


if __name__ == "__main__":
    run(VibeVoice)
