"""Run by `enginekit engines install vibevoice` (and the Dockerfile) with the engine's interpreter,
after requirements.txt.

vibevoice 0.0.1 declares gradio, av and aiortc (its demo's needs) with exact pins beside them;
inference imports none of those, so it is installed without its declared dependencies (what it
does import is in requirements.txt). Then, on a CPU torch, torchaudio's CUDA-only extension is
set aside (enginekit.torch_engines).
"""

from __future__ import annotations

import logging
import subprocess
import sys

from enginekit.torch_engines.torchaudio_cpu import set_aside_cuda_extension

WITHOUT_DEPENDENCIES = ["vibevoice==0.0.1"]


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    pip = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-cache-dir", "--quiet"]
    subprocess.run([*pip, *WITHOUT_DEPENDENCIES], check=True)
    set_aside_cuda_extension()
    return 0


if __name__ == "__main__":
    sys.exit(main())
