"""The text tokenizer of the torch engines' random-weight test models (tiny_model.py)."""

from __future__ import annotations

from typing import Any

__all__ = ["character_vocabulary"]


def character_vocabulary(specials: list[str], characters: str) -> dict[str, Any]:
    """A `tokenizers` BPE file without merges: `specials` first (ids 0, 1, ..., marked
    special, "[UNK]" among them for text outside `characters`), then one token per
    character, so any text the model is given tokenizes without a trained vocabulary."""
    ids = {token: index for index, token in enumerate(specials + list(characters))}
    added = [
        {
            "id": ids[token],
            "content": token,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for token in specials
    ]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": None,
        "post_processor": None,
        "decoder": None,
        "model": {"type": "BPE", "dropout": None, "unk_token": "[UNK]", "vocab": ids, "merges": []},
    }
