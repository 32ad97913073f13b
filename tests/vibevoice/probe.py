"""Run with the vibevoice environment's interpreter: load a model with the engine class and print
one JSON line for the load, then one per chunk that `synthesize` yields (samples, rate, dtype,
seconds since the request). The offline test runs it with no network at all.

    python probe.py ENGINE_DIR MODEL TEXT SAMPLE [SAMPLE ...]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from enginekit.engine import EngineContext, SynthesisRequest
from enginekit.manifest import load_manifest


def main() -> int:
    base, model, text = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    samples = tuple(Path(arg) for arg in sys.argv[4:])
    sys.path.insert(0, str(base))
    from server import VibeVoice  # noqa: PLC0415 (the engine's module, from its directory)

    context = EngineContext(base / "models", base / "samples", load_manifest(base / "engine.yaml"))
    engine = VibeVoice(context)
    started = time.monotonic()
    engine.load(model)
    print(json.dumps({"loaded": time.monotonic() - started}), flush=True)
    request = SynthesisRequest(text=text, language="en", speakers=samples)
    started = time.monotonic()
    for chunk in engine.synthesize(request):
        line = {"samples": len(chunk.samples), "rate": chunk.sample_rate,
                "dtype": str(chunk.samples.dtype), "at": time.monotonic() - started}  # fmt: skip
        print(json.dumps(line), flush=True)
    engine.unload()
    return 0


if __name__ == "__main__":
    sys.exit(main())
