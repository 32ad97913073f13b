"""Write a random-weight XTTS model directory at DEST for tests and image smoke checks.

The model is built from coqui-tts's own XttsConfig with tiny GPT sizes and a character vocabulary,
and saved in the layout of the real XTTS-v2 release (config.json, model.pth, vocab.json), so the
engine loads it through the library's real `load_checkpoint`. It speaks noise, not words,
about 2 s of it for any text.

    .venv/bin/python tiny_model.py DEST [--seed N] [--languages en,de]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import string
import sys
import tempfile
from pathlib import Path

import torch
from TTS.tts.configs.xtts_config import XttsConfig
from TTS.tts.models.xtts import Xtts

from enginekit.torch_engines.vocabulary import character_vocabulary

logger = logging.getLogger("tiny_model")

SPECIAL = ["[STOP]", "[UNK]", "[SPACE]", "[START]"]
CHARACTERS = string.ascii_lowercase + string.digits + ".,!?'-:;äöüßéèàç"
AUDIO_TOKENS = 64  # codes 0..63, then start and stop
MAX_AUDIO_TOKENS = 48  # about 2 s at 24 kHz: every utterance runs to this length
NEVER = -1e4  # a logit bias no sampled token survives (and that float16 holds)


def tiny_config(languages: list[str], vocab_size: int) -> XttsConfig:
    config = XttsConfig()
    config.languages = languages
    args = config.model_args
    args.gpt_layers = 1
    args.gpt_n_model_channels = 32
    args.gpt_n_heads = 2
    args.decoder_input_dim = 32
    args.gpt_number_text_tokens = vocab_size
    args.gpt_start_text_token = SPECIAL.index("[START]")
    args.gpt_stop_text_token = SPECIAL.index("[STOP]")
    args.gpt_num_audio_tokens = AUDIO_TOKENS + 2
    args.gpt_start_audio_token = AUDIO_TOKENS
    args.gpt_stop_audio_token = AUDIO_TOKENS + 1
    args.gpt_max_audio_tokens = MAX_AUDIO_TOKENS
    return config


def never_stop(model: Xtts) -> None:
    """Random weights sample the stop code early about one time in four, and an utterance that
    ends inside the first streaming chunk cannot show streaming; without a stop code every
    utterance is MAX_AUDIO_TOKENS long, several chunks, the same length in every run."""
    with torch.no_grad():
        model.gpt.mel_head.bias[AUDIO_TOKENS + 1] = NEVER


def build(destination: Path, seed: int, languages: list[str]) -> Path:
    """Assemble under a hidden name beside DEST, then rename: never half a model at DEST."""
    if destination.exists():
        raise FileExistsError(f"{destination} exists; pick a new path")
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        vocab = character_vocabulary(SPECIAL + [f"[{lang}]" for lang in languages], CHARACTERS)
        (staging / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
        config = tiny_config(languages, len(vocab["model"]["vocab"]))
        torch.manual_seed(seed)
        model = Xtts(config)
        model.tokenizer = None  # the vocabulary is read from vocab.json at load
        never_stop(model)
        state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
        torch.save({"model": state}, staging / "model.pth")
        config.save_json(staging / "config.json")
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
        "--languages", default="en,de", help="comma-separated languages (default en,de)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    path = build(args.destination, args.seed, args.languages.split(","))
    size = sum(f.stat().st_size for f in path.iterdir())
    logger.info("tiny XTTS model at %s (%.1f MB)", path, size / 1e6)
    return 0


if __name__ == "__main__":
    sys.exit(main())
