"""torchaudio beside a CPU torch, for the engines' post_install.py.

PyPI's torchaudio wheels are CUDA builds: beside a CPU torch their compiled extension cannot
load, and `import torchaudio` fails. torchaudio falls back to its pure-PyTorch code when the
extension files are absent, and that code (resampling, mel spectrograms, Kaldi filter banks) is
all the engines use, so on a CPU torch the extension is moved out of the package. A CUDA torch
keeps it untouched.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import torch

__all__ = ["set_aside_cuda_extension"]

logger = logging.getLogger(__name__)


def set_aside_cuda_extension() -> None:
    if torch.version.cuda is not None:
        logger.info("torch %s is a CUDA build: torchaudio kept as installed", torch.__version__)
        return
    spec = importlib.util.find_spec("torchaudio")
    if spec is None or not spec.submodule_search_locations:
        logger.info("torchaudio is not installed: nothing to do")
        return
    package = Path(next(iter(spec.submodule_search_locations)))
    for extension in sorted((package / "lib").glob("*.so")):
        extension.rename(extension.with_name(extension.name + ".cuda-only"))
        logger.info("torchaudio: set aside %s (needs CUDA torch)", extension.name)
