"""Case 3, debug-tts: POST /generate of 10,000 characters through HTTP (a real uvicorn serving a
copy of engines/tts/debug-tts) against the reference's approach, a per-sample Python loop (for
each character, for each sample, math.sin) rendering the same tones with the same parameters
(models/default/model.json, the engine's 5 ms fades and continuous phase). No goal; seconds and
the ratio. The loop runs once over all 10,000 characters, or over a prefix scaled linearly
(--loop-chars).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import math
import sys
import time
import wave
from array import array
from pathlib import Path
from typing import Any

import httpx
from _common import (
    SENTENCES,
    Result,
    copy_engine,
    emit,
    engine_module,
    live_server,
    make_server,
    median,
    scratch_dir,
    setup_logging,
    verdict,
)

logger = logging.getLogger("bench.debug_tts")

ENGINE = "tts/debug-tts"
CHARS = 10_000
FADE_SECONDS = 0.005  # the engine's constant


def text_of(length: int) -> str:
    repeats = length // len(SENTENCES) + 1
    return (SENTENCES * repeats)[:length]


def render_loop(text: str, config: dict[str, Any]) -> bytes:
    """The reference's way: one math.sin per sample, in Python; 16-bit mono WAV."""
    rate = int(config["sample_rate"])
    base = float(config["base_frequency"])
    per_char = max(1, int(rate * config["char_duration"]))
    fade = min(per_char // 2, int(rate * FADE_SECONDS)) or 1
    out = array("h")
    phase = 0.0
    for char in text:
        frequency = base * 2.0 ** ((ord(char) % 24) / 12.0) if char.isalnum() else 0.0
        for i in range(per_char):
            envelope = _envelope(i, per_char, fade)
            sample = 0.5 * math.sin(2 * math.pi * (phase + frequency * i / rate)) * envelope
            out.append(int(max(-1.0, min(1.0, sample)) * 32767))
        phase = (phase + frequency * per_char / rate) % 1.0
    return _wav(out, rate)


def _envelope(i: int, length: int, fade: int) -> float:
    if fade < 2:
        return 1.0
    if i < fade:
        return i / (fade - 1)
    if i >= length - fade:
        return 1.0 - (i - (length - fade)) / (fade - 1)
    return 1.0


def _wav(samples: array[int], rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


def frames(wav_bytes: bytes) -> array[int]:
    with wave.open(io.BytesIO(wav_bytes), "rb") as audio:
        data = array("h")
        data.frombytes(audio.readframes(audio.getnframes()))
    return data


def largest_difference(a: array[int], b: array[int]) -> int:
    """Largest per-sample difference (16-bit units) over the common length."""
    return max((abs(x - y) for x, y in zip(a, b, strict=False)), default=0)


def time_generate(client: httpx.Client, url: str, text: str) -> tuple[float, bytes]:
    body = {"text": text, "language": "en", "tts_speaker_wav": ""}
    started = time.perf_counter()
    response = client.post(f"{url}/generate", json=body, timeout=300)
    seconds = time.perf_counter() - started
    response.raise_for_status()
    return seconds, response.content


def measure_http(text: str, runs: int, work: Path) -> tuple[list[float], bytes, dict[str, Any]]:
    base = copy_engine(ENGINE, work)
    config = json.loads((base / "models" / "default" / "model.json").read_text("utf-8"))
    engine_class = engine_module(ENGINE).DebugTTS
    with live_server(make_server(engine_class, base)) as url, httpx.Client() as client:
        load = client.post(f"{url}/load", json={"engine_model_name": "default"}, timeout=60)
        load.raise_for_status()
        time_generate(client, url, text)  # warm-up: first request, first large allocations
        timings: list[float] = []
        audio = b""
        for _ in range(runs):
            seconds, audio = time_generate(client, url, text)
            timings.append(seconds)
            logger.info("/generate %d chars: %.3f s", len(text), seconds)
    return timings, audio, config


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="/generate requests (median)")
    parser.add_argument(
        "--loop-chars",
        type=int,
        default=CHARS,
        help="characters the Python loop renders (fewer: scaled linearly to 10,000)",
    )
    args = parser.parse_args()
    setup_logging()
    text = text_of(CHARS)
    with scratch_dir("debug-tts") as work:
        timings, audio, config = measure_http(text, args.runs, work)
    prefix = text[: args.loop_chars]
    started = time.perf_counter()
    looped = render_loop(prefix, config)
    loop_measured = time.perf_counter() - started
    loop_s = loop_measured * len(text) / len(prefix)
    engine_frames, loop_frames = frames(audio), frames(looped)
    http_s = median(timings)
    values = {
        "chars": CHARS,
        "http_generate_s": timings,
        "http_generate_median_s": http_s,
        "python_loop_s": loop_s,
        "python_loop_chars_measured": len(prefix),
        "python_loop_measured_s": loop_measured,
        "samples": len(engine_frames),
        "audio_seconds": len(engine_frames) / int(config["sample_rate"]),
        "largest_sample_difference": largest_difference(engine_frames, loop_frames),
    }
    ratio = loop_s / http_s
    scaled = "" if len(prefix) == CHARS else f", scaled from {len(prefix):,} chars"
    emit(
        Result("debug-tts", "per-sample Python loop (math.sin)", values, ratio, None, None),
        f"debug-tts /generate of {CHARS:,} chars: {http_s:.3f} s over HTTP (median of "
        f"{args.runs}) vs Python loop {loop_s:.2f} s{scaled} -> {ratio:.0f}x faster; "
        f"{verdict(None)}",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
