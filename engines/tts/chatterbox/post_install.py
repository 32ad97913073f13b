"""Run by `enginekit engines install chatterbox` (and the Dockerfile) with the engine's
interpreter, after requirements.txt.

chatterbox-tts 0.1.6 declares torch 2.6, transformers 4.46.3 with numpy < 1.26, and gradio;
s3tokenizer declares pre-commit. Both are installed without their declared dependencies: what
they really import is in requirements.txt. Then, on a CPU torch, torchaudio's CUDA-only
extension is set aside (enginekit.torch_engines).
"""

from __future__ import annotations

import logging
import subprocess
import sys

from enginekit.torch_engines.torchaudio_cpu import set_aside_cuda_extension

WITHOUT_DEPENDENCIES = ["chatterbox-tts==0.1.6", "s3tokenizer==0.3.0"]


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    pip = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-cache-dir", "--quiet"]
    subprocess.run([*pip, *WITHOUT_DEPENDENCIES], check=True)
    set_aside_cuda_extension()
    return 0


if __name__ == "__main__":
    sys.exit(main())
