"""What Chatterbox's loader would fetch from the network, kept local.

Building the multilingual tokenizer (`MTLTokenizer`) calls `hf_hub_download` for the Chinese
Cangjie table `Cangjie5_TC.json`, with the model directory as its cache, and `spacy_pkuseg`'s
segmenter, which downloads its model from GitHub and, offline, crashes the load. The table is
part of the catalog's file list, so the download is replaced by a read from the model directory
(a model without the file loads with a warning, and Chinese text is spelled glyph by glyph);
spacy-pkuseg is not installed, so Chinese text is not split into words (a warning at load).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chatterbox.models.tokenizers import tokenizer

__all__ = ["keep_local"]


def _from_model_directory(repo_id: str, filename: str, cache_dir: Any = None, **_: Any) -> str:
    path = Path(cache_dir or ".") / filename
    if not path.is_file():
        raise FileNotFoundError(f"{filename} is not in the model directory {path.parent}")
    return str(path)


def keep_local() -> None:
    tokenizer.hf_hub_download = _from_model_directory
