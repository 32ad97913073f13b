"""The engine class itself, in its environment, inside a network namespace with no network at all
(`unshare -n`, as root): the tiny model, whose preprocessor_config.json names its tokenizer by a
Hugging Face id as the real release does, loads from its own tokenizer/ and speaks, its audio
yielded frame by frame as the model produces it, not in one block at the end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from support.engine_process import voice_wav

from .conftest import FRAME, FRAMES, THREADS
from .helpers import OUTPUT_RATE

PROBE = Path(__file__).with_name("probe.py")


def test_loads_and_speaks_a_dialogue_with_the_network_unreachable(
    vibevoice_python: Path, vibevoice_base: Path, tmp_path: Path
) -> None:
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare(1) for a network namespace")
    samples = []
    for name, frequency in (("offline-a", 200.0), ("offline-b", 120.0)):
        samples.append(vibevoice_base / "samples" / f"{name}.wav")
        samples[-1].write_bytes(voice_wav(frequency=frequency))
    text = "Speaker 1: Nobody can reach the hub from here.\nSpeaker 2: Nor does it need to."
    command = [unshare, "-n", str(vibevoice_python), str(PROBE), str(vibevoice_base), "tiny-a"]
    run = subprocess.run(
        [*command, text, *map(str, samples)], capture_output=True, text=True, timeout=300,
        cwd=tmp_path, check=False, env={**os.environ, **THREADS, "HF_HUB_OFFLINE": ""},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    chunks = lines[1:]
    assert "loaded" in lines[0]
    assert [c["samples"] for c in chunks] == [FRAME] * FRAMES["tiny-a"]
    assert {(c["rate"], c["dtype"]) for c in chunks} == {(OUTPUT_RATE, "float32")}
    arrivals = [c["at"] for c in chunks]
    assert arrivals == sorted(arrivals) and arrivals[0] < arrivals[-1]
