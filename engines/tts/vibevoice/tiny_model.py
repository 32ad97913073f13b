"""Write a random-weight VibeVoice model directory at DEST for tests and image smoke checks.

The model is built from vibevoice's own config classes with tiny sizes (one-layer Qwen2 decoder of
width 64, one-layer diffusion head, speech tokenizers with 4 filters and depth 1) and saved with
`save_pretrained` in the layout of the real releases: config.json, model.safetensors,
preprocessor_config.json (naming the hub tokenizer, as the real one does) and the text tokenizer
in tokenizer/. The engine loads it through the library's real loaders; it speaks noise, not words.

Its final norm is zeroed, so every logit is 0 and greedy decoding picks the lowest allowed token
id, which is `<|vision_pad|>` (speech): it speaks exactly `--frames` frames (3200 samples, 0.13 s
at 24 kHz each), capped by generation_config.json's max_new_tokens. `--shards 3` writes the
weights in three shards with an index, as the 1.5B release does (the catalog test serves them).

    .venv/bin/python tiny_model.py DEST [--seed N] [--frames 40] [--shards N]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import Qwen2TokenizerFast
from vibevoice.modular.configuration_vibevoice import VibeVoiceConfig
from vibevoice.modular.modeling_vibevoice_inference import (
    VibeVoiceForConditionalGenerationInference,
)

logger = logging.getLogger("tiny_model")

WIDTH = 64
# <|vision_pad|> first: the lowest id of the tokens generation may pick (see the module doc).
SPECIAL = ["<|vision_pad|>", "<|endoftext|>", "<|vision_start|>", "<|vision_end|>"]
# The processor's fixed prompt pieces and some English, so BPE merges keep prompts short.
CORPUS = [
    " Transform the text provided by various speakers into speech output, utilizing the distinct "
    "voice of each respective speaker.\n",
    " Voice input:\n",
    " Text input:\n",
    " Speech output:\n",
    *(f" Speaker {n}:" for n in range(4)),
    " Hello there. This is a test of the speech engine, one sentence after another.",
]
PREPROCESSOR = {
    "processor_class": "VibeVoiceProcessor",
    "speech_tok_compress_ratio": 3200,
    "db_normalize": True,
    "audio_processor": {
        "feature_extractor_type": "VibeVoiceTokenizerProcessor",
        "sampling_rate": 24000,
        "normalize_audio": True,
        "target_dB_FS": -25,
        "eps": 1e-06,
    },
    "language_model_pretrained_name": "Qwen/Qwen2.5-1.5B",  # as in the real release
}


def tokenizer() -> Qwen2TokenizerFast:
    """A byte-level BPE like Qwen2's, trained on CORPUS, wrapped as a Qwen2 tokenizer."""
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(CORPUS * 8, trainer)
    return Qwen2TokenizerFast(
        tokenizer_object=bpe,
        unk_token=None,
        bos_token=None,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )


def tiny_config(vocab_size: int) -> VibeVoiceConfig:
    speech = {"encoder_n_filters": 4, "encoder_depths": "1-1-1-1-1-1-1"}
    return VibeVoiceConfig(
        acoustic_tokenizer_config={**speech, "decoder_n_filters": 4, "vae_dim": 64},
        semantic_tokenizer_config={**speech, "vae_dim": 128},
        decoder_config={
            "model_type": "qwen2",
            "vocab_size": vocab_size,
            "hidden_size": WIDTH,
            "intermediate_size": 2 * WIDTH,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "max_position_embeddings": 8192,
        },
        diffusion_head_config={
            "hidden_size": WIDTH,
            "head_layers": 1,
            "latent_size": 64,
            "speech_vae_dim": 64,
            "ddpm_num_inference_steps": 10,
        },
        tie_word_embeddings=True,
    )


def build(destination: Path, seed: int, frames: int, shards: int = 1) -> Path:
    """Assemble under a hidden name beside DEST, then rename: never half a model at DEST."""
    if destination.exists():
        raise FileExistsError(f"{destination} exists; pick a new path")
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        text = tokenizer()
        text.save_pretrained(staging / "tokenizer")
        torch.manual_seed(seed)
        model = VibeVoiceForConditionalGenerationInference(tiny_config(len(text)))
        with torch.no_grad():
            model.model.speech_scaling_factor.fill_(1.0)  # NaN until set (the real ones are)
            model.model.speech_bias_factor.fill_(0.0)
            model.model.language_model.norm.weight.zero_()
        model.generation_config.max_new_tokens = frames
        total = sum(t.numel() * t.element_size() for t in model.state_dict().values())
        shard_size = math.ceil(total / shards) + 2**20 if shards > 1 else total + 2**20
        model.save_pretrained(staging, safe_serialization=True, max_shard_size=shard_size)
        written = len(list(staging.glob("*.safetensors")))
        if written != shards:
            raise RuntimeError(f"asked for {shards} shards, the weights went into {written}")
        (staging / "preprocessor_config.json").write_text(json.dumps(PREPROCESSOR, indent=2))
        for path in staging.rglob("*"):  # readable by a container's other user too
            path.chmod(0o755 if path.is_dir() else 0o644)
        staging.chmod(0o755)
        os.replace(staging, destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return destination


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("destination", type=Path, metavar="DEST", help="model directory to create")
    parser.add_argument("--seed", type=int, default=0, help="weights seed (default 0)")
    parser.add_argument(
        "--frames", type=int, default=40, help="speech frames per generation (default 40: 5.3 s)"
    )
    parser.add_argument("--shards", type=int, default=1, help="weight files (default 1)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    path = build(args.destination, args.seed, args.frames, args.shards)
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    logger.info("tiny VibeVoice model at %s (%.1f MB)", path, size / 1e6)
    return 0


if __name__ == "__main__":
    sys.exit(main())
