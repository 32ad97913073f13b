"""Case 10, long audio on whisper: 60 s or more of real speech (piper's joe voice reading varied
sentences, resampled to 16 kHz) through faster-whisper's BatchedInferencePipeline, with the
whisper engine's batch size and piece length, against the library's plain
`WhisperModel.transcribe`, both in this process on the same model (tiny.en, the engine's device
and compute type), word timestamps and VAD on as the engine asks. Reports the real-time factor
(processing seconds per second of audio, lower is faster) and the word error rate of each
against the text read. Goal: the batched pipeline is no slower than plain transcribe (ratio
<= 1.0); where it is faster, the engine uses it for audio longer than one window.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys
from typing import Any

import jiwer
from _common import (
    TINY_EN,
    Result,
    alternate,
    emit,
    engine_module,
    median,
    setup_logging,
    speech_wav,
    timed,
    verdict,
)
from faster_whisper import BatchedInferencePipeline, WhisperModel, decode_audio

logger = logging.getLogger("bench.long_audio")

SAMPLE_RATE = 16_000
GOAL = 1.0
TOPICS = ("weather", "harbour", "library", "garden", "railway", "kitchen", "orchestra", "market")
TEXT = " ".join(
    f"The {topic} was quiet this morning, and everyone who walked past it stopped to listen. "
    f"Later that day the {topic} filled with people who had come from far away to see it."
    for topic in TOPICS
)


def plain(model: WhisperModel, audio: Any) -> str:
    segments, _ = model.transcribe(audio, language="en", word_timestamps=True, vad_filter=True)
    return " ".join(s.text.strip() for s in segments)


def batched(pipeline: BatchedInferencePipeline, audio: Any, batch_size: int, chunk_s: int) -> str:
    segments, _ = pipeline.transcribe(
        audio, language="en", word_timestamps=True, vad_filter=True, batch_size=batch_size,
        chunk_length=chunk_s,
    )  # fmt: skip
    return " ".join(s.text.strip() for s in segments)


def wer(text: str) -> float:
    normal = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.Strip()])
    return float(jiwer.wer(normal(TEXT), normal(text)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    whisper = engine_module("stt/whisper")
    parser.add_argument("--batch-size", type=int, default=whisper.BATCH_SIZE)
    parser.add_argument("--chunk-s", type=int, default=whisper.BATCH_CHUNK_S, help="piece length")
    args = parser.parse_args()
    setup_logging()
    audio = decode_audio(io.BytesIO(speech_wav(TEXT)), sampling_rate=SAMPLE_RATE)
    seconds = len(audio) / SAMPLE_RATE
    device, compute_type = whisper.whisper_device("cpu", {})
    model = WhisperModel(str(TINY_EN), device=device, compute_type=compute_type)
    pipeline = BatchedInferencePipeline(model)
    texts: dict[str, str] = {}

    def run_plain() -> float:
        elapsed, texts["plain"] = timed(lambda: plain(model, audio))
        return elapsed

    def run_batched() -> float:
        elapsed, texts["batched"] = timed(
            lambda: batched(pipeline, audio, args.batch_size, args.chunk_s)
        )
        return elapsed

    run_plain(), run_batched()  # warm-up
    plains, batches = alternate(run_plain, run_batched, args.runs)
    plain_s, batched_s = median(plains), median(batches)
    ratio = batched_s / plain_s
    met = ratio <= GOAL
    values = {
        "audio_s": seconds,
        "device": device,
        "compute_type": compute_type,
        "batch_size": args.batch_size,
        "chunk_s": args.chunk_s,
        "plain_s": plains,
        "batched_s": batches,
        "plain_rtf": plain_s / seconds,
        "batched_rtf": batched_s / seconds,
        "plain_wer": wer(texts["plain"]),
        "batched_wer": wer(texts["batched"]),
        "cpus": os.cpu_count(),
        "load_avg_1m": os.getloadavg()[0],
    }
    emit(
        Result(
            "long-audio", "WhisperModel.transcribe in-process", values, ratio, f"<= {GOAL}x", met
        ),
        f"long audio ({seconds:.0f} s, tiny.en {device}/{compute_type}, median of {args.runs}): "
        f"batched {batched_s:.2f} s (RTF {values['batched_rtf']:.3f}, WER "
        f"{values['batched_wer']:.1%}) vs plain {plain_s:.2f} s (RTF {values['plain_rtf']:.3f}, "
        f"WER {values['plain_wer']:.1%}) -> {ratio:.2f}x; goal <= {GOAL}x: {verdict(met)}",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
