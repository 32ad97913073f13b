"""OpenAI door, piper: time to the first audio byte of POST /v1/audio/speech (streamed pcm, read
with the official `openai` client) against the time to the whole response, for a 12-sentence
text, on a real uvicorn serving a copy of engines/tts/piper with the joe voice. Goal: the first
byte within 1/5 of the whole. Also the real-time factor (seconds of work per second of audio) of
the streamed response against piper's own `PiperVoice.synthesize` of the same text in-process.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import openai
from _common import (
    JOE,
    PIPER_VOICE,
    Result,
    emit,
    engine_code,
    engine_module,
    live_server,
    make_server,
    median,
    place_files,
    scratch_dir,
    setup_logging,
    verdict,
)

logger = logging.getLogger("bench.first_audio")

GOAL = 0.2

LONG_TEXT = " ".join(
    f"Sentence number {n} tells the listener one more small thing about the weather today."
    for n in range(1, 13)
)


def one_request(client: openai.OpenAI) -> tuple[float, float, int]:
    """(seconds to the first byte, seconds to the last, bytes)."""
    started = time.perf_counter()
    first = None
    size = 0
    with client.audio.speech.with_streaming_response.create(
        model=PIPER_VOICE, voice="alloy", input=LONG_TEXT, response_format="pcm"
    ) as response:
        for piece in response.iter_bytes():
            if first is None and piece:
                first = time.perf_counter() - started
            size += len(piece)
    whole = time.perf_counter() - started
    return first or whole, whole, size


def in_process(runs: int) -> list[float]:
    """Seconds of PiperVoice.synthesize over the same text, every chunk consumed."""
    from piper import PiperVoice  # noqa: PLC0415 - onnxruntime only for this baseline

    voice = PiperVoice.load(JOE / f"{PIPER_VOICE}.onnx")
    times = []
    for _ in range(runs + 1):  # the first is a warm-up
        started = time.perf_counter()
        for _chunk in voice.synthesize(LONG_TEXT):
            pass
        times.append(time.perf_counter() - started)
    return times[1:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    setup_logging()
    with scratch_dir("first-audio") as work:
        base = engine_code("tts/piper", work)
        place_files(
            [JOE / f"{PIPER_VOICE}.onnx", JOE / f"{PIPER_VOICE}.onnx.json"],
            base / "models" / PIPER_VOICE,
        )
        server = make_server(engine_module("tts/piper").Piper, base)
        with live_server(server) as url:
            client = openai.OpenAI(base_url=f"{url}/v1", api_key="bench", max_retries=0)
            one_request(client)  # loads the voice; not measured
            runs = [one_request(client) for _ in range(args.runs)]
    direct_s = median(in_process(args.runs))
    firsts, wholes = [r[0] for r in runs], [r[1] for r in runs]
    first_s, whole_s = median(firsts), median(wholes)
    audio_s = runs[0][2] / 2 / 22050
    values = {
        "text_chars": len(LONG_TEXT),
        "sentences": 12,
        "audio_seconds": audio_s,
        "first_byte_s": firsts,
        "whole_s": wholes,
        "first_byte_median_s": first_s,
        "whole_median_s": whole_s,
        "in_process_median_s": direct_s,
        "rtf_streamed": whole_s / audio_s,
        "rtf_in_process": direct_s / audio_s,
    }
    ratio = first_s / whole_s
    met = ratio <= GOAL
    emit(
        Result("openai-first-audio", "whole streamed synthesis", values, ratio, f"<= {GOAL}", met),
        f"piper /v1/audio/speech, 12 sentences ({audio_s:.1f} s of audio): first byte "
        f"{first_s:.3f} s, whole {whole_s:.3f} s (median of {args.runs}) -> first byte at "
        f"{ratio:.1%} of the whole, goal <= {GOAL:.0%}: {verdict(met)}; real-time factor "
        f"{whole_s / audio_s:.3f} streamed vs {direct_s / audio_s:.3f} piper in-process",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
