"""The engine class itself in its environment: synthesize yields 24 kHz float32 chunks one by
one as XTTS's inference_stream produces them, not one block at the end."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from .helpers import OUTPUT_RATE, voice_wav

PROBE = Path(__file__).with_name("stream_probe.py")
TEXT = "This sentence is long enough to come out in several pieces of audio."


def test_synthesize_yields_float32_chunks_as_they_are_produced(
    xtts_python: Path, xtts_base: Path, tmp_path: Path
) -> None:
    sample = xtts_base / "samples" / "stream-probe.wav"
    sample.write_bytes(voice_wav())
    command = [str(xtts_python), str(PROBE), str(xtts_base), "tiny-a", str(sample), TEXT]
    run = subprocess.run(
        command, capture_output=True, text=True, timeout=600, cwd=tmp_path, check=False
    )
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    chunks = lines[1:]
    assert len(chunks) > 1
    assert {(c["rate"], c["dtype"]) for c in chunks} == {(OUTPUT_RATE, "float32")}
    assert all(c["samples"] > 0 for c in chunks)
    arrivals = [c["at"] for c in chunks]
    assert arrivals == sorted(arrivals) and arrivals[0] < arrivals[-1]
