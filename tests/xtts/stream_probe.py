"""Run with the xtts environment's interpreter: load a model with the engine class and print one
JSON line per chunk that `synthesize` yields (samples, rate, dtype, seconds since the request).

    python stream_probe.py ENGINE_DIR MODEL SAMPLE TEXT
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from enginekit.engine import EngineContext, SynthesisRequest
from enginekit.manifest import load_manifest


def main() -> int:
    base, model, sample, text = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), sys.argv[4]
    sys.path.insert(0, str(base))
    from server import XTTS  # noqa: PLC0415 (the engine's module, from its directory)

    context = EngineContext(base / "models", base / "samples", load_manifest(base / "engine.yaml"))
    engine = XTTS(context)
    started = time.monotonic()
    engine.load(model)
    print(json.dumps({"loaded": time.monotonic() - started}), flush=True)
    request = SynthesisRequest(text=text, language="en", speakers=(sample,))
    started = time.monotonic()
    for chunk in engine.synthesize(request):
        line = {"samples": len(chunk.samples), "rate": chunk.sample_rate,
                "dtype": str(chunk.samples.dtype), "at": time.monotonic() - started}  # fmt: skip
        print(json.dumps(line), flush=True)
    engine.unload()
    return 0


if __name__ == "__main__":
    sys.exit(main())
