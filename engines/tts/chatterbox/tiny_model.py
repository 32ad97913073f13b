"""Write a random-weight Chatterbox model directory at DEST for tests and image smoke checks.

Chatterbox's loaders build T3 and S3Gen at the sizes fixed in the library and load them
strictly, so the model cannot be made smaller, only its files can:

- `.pt` files (torch.save) keep storage sharing, so every parameter of S3Gen and the voice
  encoder is a view of one random pool and the file holds that pool once; buffers (mel filters,
  batch-norm statistics) keep the library's own values.
- T3's `.safetensors` cannot share storage, so its 536M weights are stored as float8, one byte
  each; the loader copies them into the float32 model.
- The English loader reads `s3gen.safetensors` with strict=False, so that file holds no tensors
  and S3Gen keeps its constructor's random weights.

A random T3 never emits its stop token, so the weights are arranged to stop at once: every
layer's attention output and MLP down projection are zero (the residual stream carries the input
embeddings unchanged) and the speech embeddings and head are set so that the multilingual model
always predicts one token (its repetition check then stops after two) and the English model
predicts start -> A -> B -> stop. Either way two speech tokens: 80 ms of noise at 24 kHz.

    .venv/bin/python tiny_model.py DEST [--english] [--seed N]
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import shutil
import string
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import soundfile
import torch
from chatterbox.models.s3gen import S3GEN_SR, S3Gen
from chatterbox.models.t3 import T3
from chatterbox.models.t3.modules.t3_config import T3Config
from chatterbox.models.voice_encoder import VoiceEncoder
from chatterbox.mtl_tts import SUPPORTED_LANGUAGES, ChatterboxMultilingualTTS
from chatterbox.tts import ChatterboxTTS
from safetensors.torch import save_file

from enginekit.torch_engines.vocabulary import character_vocabulary

logger = logging.getLogger("tiny_model")

SPECIAL = ["[STOP]", "[UNK]", "[SPACE]", "[START]"]
CHARACTERS = string.ascii_lowercase + string.digits + ".,!?'-\"" + "\u0301\u0308"
CANGJIE = ["你\tonf", "好\tvnd"]  # a two-glyph Cangjie5_TC.json: Chinese text runs the real path
TOKEN_A, TOKEN_B = 1, 2  # the speech tokens the tiny models speak
MARKER = 8.0  # embedding value that dominates the normalised hidden state
LOGIT = 16.0  # head weight: a logit margin of about 16 * sqrt(1024) = 512
WEIGHT_SCALE = 0.02


def pooled_state(module: torch.nn.Module, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Every parameter a view of one random pool (torch.save then writes the pool once);
    buffers as the library made them."""
    largest = max(parameter.numel() for parameter in module.parameters())
    pool = (torch.randn(largest, generator=generator) * WEIGHT_SCALE).half()
    state = module.state_dict()
    for name, parameter in module.named_parameters():
        state[name] = pool[: parameter.numel()].view(parameter.shape)
    return state


def t3_state(config: T3Config, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """T3's tensors as float8: random, except what makes it stop after two speech tokens."""
    with torch.device("meta"):
        shapes = {name: tensor.shape for name, tensor in T3(config).state_dict().items()}
    largest = max(shape.numel() for shape in shapes.values())
    pool = (torch.randn(largest, generator=generator) * WEIGHT_SCALE).to(torch.float8_e4m3fn)
    state = {name: pool[: shape.numel()].view(shape).clone() for name, shape in shapes.items()}
    for name, tensor in state.items():
        if name.endswith(("self_attn.o_proj.weight", "mlp.down_proj.weight")):
            tensor.zero_()  # each layer passes its input through unchanged
    state["tfmr.norm.weight"].fill_(1.0)
    state["speech_pos_emb.emb.weight"].zero_()
    embedding, head = state["speech_emb.weight"], state["speech_head.weight"]
    head.zero_()
    if config.is_multilingual:
        embedding[:, 0] = MARKER  # whatever the last token, the hidden state points at A
        head[TOKEN_A, 0] = LOGIT
    else:
        chain = [config.start_speech_token, TOKEN_A, TOKEN_B, config.stop_speech_token]
        for column, (token, following) in enumerate(itertools.pairwise(chain)):
            embedding[token] = 0.0
            embedding[token, column] = MARKER
            head[following, column] = LOGIT
    return state


def voice_sample(path: Path, seconds: float = 1.0) -> Path:
    """A voiced-like sample (tone with harmonics), the built-in voice's reference: short, as
    S3Gen's cost grows with the reference's length."""
    t = np.arange(round(seconds * S3GEN_SR)) / S3GEN_SR
    signal = sum(np.sin(2 * np.pi * 140.0 * k * t) / k for k in (1, 2, 3))
    soundfile.write(path, (0.3 * signal / 1.8).astype(np.float32), S3GEN_SR)
    return path


def write_model(staging: Path, english: bool, generator: torch.Generator) -> None:
    config = T3Config.english_only() if english else T3Config.multilingual()
    languages = ["en"] if english else sorted(SUPPORTED_LANGUAGES)
    ve, s3gen = VoiceEncoder(), S3Gen()
    ve_weights, s3gen_weights = pooled_state(ve, generator), pooled_state(s3gen, generator)
    ve.load_state_dict(ve_weights)
    s3gen.load_state_dict(s3gen_weights)
    t3_weights = t3_state(config, generator)
    with torch.device("meta"):
        t3 = T3(config)  # conditioning only reads its hyperparameters
    tts_class = ChatterboxTTS if english else ChatterboxMultilingualTTS
    tts = tts_class(t3, s3gen.eval(), ve.eval(), None, "cpu")  # type: ignore[arg-type]
    tts.prepare_conditionals(str(voice_sample(staging / "reference.wav")))
    (staging / "reference.wav").unlink()
    tts.conds.save(staging / "conds.pt")
    specials = SPECIAL + [f"[{lang}]" for lang in languages]
    tokenizer = json.dumps(character_vocabulary(specials, CHARACTERS))
    if english:
        save_file(_contiguous(ve_weights), staging / "ve.safetensors")
        save_file(t3_weights, staging / "t3_cfg.safetensors")
        save_file({}, staging / "s3gen.safetensors")  # read with strict=False
        (staging / "tokenizer.json").write_text(tokenizer, encoding="utf-8")
    else:
        torch.save(ve_weights, staging / "ve.pt")
        save_file(t3_weights, staging / "t3_mtl23ls_v2.safetensors")
        torch.save(s3gen_weights, staging / "s3gen.pt")
        (staging / "grapheme_mtl_merged_expanded_v1.json").write_text(tokenizer, encoding="utf-8")
        (staging / "Cangjie5_TC.json").write_text(json.dumps(CANGJIE), encoding="utf-8")


def _contiguous(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: tensor.contiguous().clone() for name, tensor in state.items()}


def build(destination: Path, english: bool, seed: int) -> Path:
    """Assemble under a hidden name beside DEST, then rename: never half a model at DEST."""
    if destination.exists():
        raise FileExistsError(f"{destination} exists; pick a new path")
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        write_model(staging, english, torch.Generator().manual_seed(seed))
        for path in staging.iterdir():
            path.chmod(0o644)  # safetensors writes 0600: unreadable to an image's server user
        staging.chmod(0o755)
        os.replace(staging, destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return destination


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("destination", type=Path, metavar="DEST", help="model directory to create")
    parser.add_argument("--english", action="store_true", help="the English model's file set")
    parser.add_argument("--seed", type=int, default=0, help="weights seed (default 0)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    path = build(args.destination, args.english, args.seed)
    size = sum(f.stat().st_size for f in path.iterdir())
    logger.info("tiny Chatterbox model at %s (%.0f MB)", path, size / 1e6)
    return 0


if __name__ == "__main__":
    sys.exit(main())
