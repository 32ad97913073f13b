"""Run by `enginekit engines install xtts` (and the Dockerfile) with the engine's interpreter:
on a CPU torch, torchaudio's CUDA-only extension is set aside (enginekit.torch_engines)."""

from __future__ import annotations

import logging
import sys

from enginekit.torch_engines.torchaudio_cpu import set_aside_cuda_extension


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    set_aside_cuda_extension()
    return 0


if __name__ == "__main__":
    sys.exit(main())
