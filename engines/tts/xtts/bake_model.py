"""Bake a catalog model of engine.yaml into models/ at image build time (enginekit.torch_engines).

python bake_model.py NAME [--models-dir /app/models]
"""

from __future__ import annotations

import sys
from pathlib import Path

from enginekit.torch_engines.bake import main

if __name__ == "__main__":
    sys.exit(main(Path(__file__).resolve().parent / "engine.yaml"))
