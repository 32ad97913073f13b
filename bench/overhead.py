"""Case 5, overhead: whisper POST /analyze and piper POST /generate through HTTP (a real uvicorn
serving copies of the engines) against calling faster-whisper and piper directly in this process
on the same inputs. Goal: HTTP at most 1.10x direct, for each engine.

Direct whisper does what the runtime and the engine's transcribe() do with the same arguments:
decode the WAV bytes to 16 kHz float32 (faster_whisper.decode_audio, PyAV like the runtime) and
WhisperModel.transcribe(language="en", word_timestamps=True, vad_filter=True) on the same device
and compute type, consuming every segment. Direct piper does what synthesize() does:
PiperVoice.synthesize with the engine.yaml defaults, the sentence pauses joined, encoded as a WAV.
Both sides are warmed up once, then run alternately; the medians are compared.
"""

from __future__ import annotations

import argparse
import base64
import io
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from _common import (
    JOE,
    PIPER_VOICE,
    SENTENCES,
    TINY_EN,
    WHISPER_FILES,
    WHISPER_MODEL,
    Result,
    Served,
    alternate,
    emit,
    engine_code,
    engine_module,
    live_server,
    make_server,
    median,
    place_files,
    scratch_dir,
    setup_logging,
    speech_wav,
    verdict,
)
from faster_whisper import WhisperModel, decode_audio
from piper import PiperVoice, SynthesisConfig

from enginekit.audio import encode_wav

logger = logging.getLogger("bench.overhead")

GOAL = 1.10
SAMPLE_RATE = 16000
PIPER_PARAMETERS = ("speed", "noise_scale", "noise_w", "sentence_silence")


@contextmanager
def served(
    relative: str, class_name: str, model: str, files: list[Path], work: Path
) -> Iterator[tuple[str, Served]]:
    """A copy of the engine with `model` in models/, served and loaded; yields (url, server)."""
    base = engine_code(relative, work)
    place_files(files, base / "models" / model)
    server = make_server(getattr(engine_module(relative), class_name), base)
    with live_server(server) as url:
        response = httpx.post(f"{url}/load", json={"engine_model_name": model}, timeout=300)
        response.raise_for_status()
        yield url, server


def timer(call: Callable[[], object]) -> Callable[[], float]:
    def measure() -> float:
        started = time.perf_counter()
        call()
        return time.perf_counter() - started

    return measure


# -- whisper ---------------------------------------------------------------------------------


def whisper_http(client: httpx.Client, url: str, wav: bytes) -> Callable[[], object]:
    body = {"audioBase64": base64.b64encode(wav).decode("ascii"), "language": "en"}

    def call() -> object:
        response = client.post(f"{url}/analyze", json=body)
        response.raise_for_status()
        return response.json()

    return call


def whisper_direct(wav: bytes, server: Served) -> Callable[[], object]:
    """The device and precision the served engine chose (its load() does the same)."""
    runtime = server.runtime
    config = runtime.manifest.engine_config if runtime.manifest else {}
    device, compute_type = engine_module("stt/whisper").whisper_device(
        runtime.device, config.get("compute_type", {})
    )
    model = WhisperModel(str(TINY_EN), device=device, compute_type=compute_type)

    def call() -> object:
        samples = decode_audio(io.BytesIO(wav), sampling_rate=SAMPLE_RATE)
        segments, _ = model.transcribe(
            samples, language="en", word_timestamps=True, vad_filter=True
        )
        return [segment.text for segment in segments]

    return call


# -- piper -----------------------------------------------------------------------------------


def piper_http(client: httpx.Client, url: str, text: str) -> Callable[[], object]:
    body = {"text": text, "language": "en", "tts_speaker_wav": ""}

    def call() -> object:
        response = client.post(f"{url}/generate", json=body)
        response.raise_for_status()
        return response.content

    return call


def piper_direct(text: str, defaults: dict[str, float]) -> Callable[[], object]:
    voice = PiperVoice.load(JOE / f"{PIPER_VOICE}.onnx", use_cuda=False)
    config = SynthesisConfig(
        speaker_id=None,
        length_scale=1.0 / defaults["speed"],
        noise_scale=defaults["noise_scale"],
        noise_w_scale=defaults["noise_w"],
    )
    rate = voice.config.sample_rate
    pause = np.zeros(int(rate * defaults["sentence_silence"]))

    def call() -> object:
        pieces: list[np.ndarray] = []
        for chunk in voice.synthesize(text, syn_config=config):
            pieces += [chunk.audio_float_array, pause]
        return encode_wav(np.concatenate(pieces[:-1]), rate)

    return call


# -- main ------------------------------------------------------------------------------------


def compare(name: str, http: Callable[[], object], direct: Callable[[], object], runs: int) -> Any:
    http()  # warm-up: first-call allocations, caches
    logger.info("%s direct warm-up output: %.80r", name, direct())
    over_http, in_process = alternate(timer(http), timer(direct), runs)
    http_s, direct_s = median(over_http), median(in_process)
    logger.info("%s: HTTP %.3f s, direct %.3f s", name, http_s, direct_s)
    return {
        "http_s": over_http,
        "direct_s": in_process,
        "http_median_s": http_s,
        "direct_median_s": direct_s,
        "ratio": http_s / direct_s,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="alternated runs of each side")
    args = parser.parse_args()
    setup_logging()
    wav = speech_wav()
    logger.info("input: %d characters of text, %d bytes of speech WAV", len(SENTENCES), len(wav))
    joe = [JOE / f"{PIPER_VOICE}.onnx", JOE / f"{PIPER_VOICE}.onnx.json"]
    whisper_files = [TINY_EN / name for name in WHISPER_FILES]
    with scratch_dir("overhead") as work, ExitStack() as stack:
        client = stack.enter_context(httpx.Client(timeout=300))
        w_url, whisper_served = stack.enter_context(
            served("stt/whisper", "Whisper", WHISPER_MODEL, whisper_files, work)
        )
        whisper = compare(
            "whisper",
            whisper_http(client, w_url, wav),
            whisper_direct(wav, whisper_served),
            args.runs,
        )
        p_url, piper_served = stack.enter_context(
            served("tts/piper", "Piper", PIPER_VOICE, joe, work)
        )
        defaults = {n: float(piper_served.engine.parameter({}, n)) for n in PIPER_PARAMETERS}
        piper = compare(
            "piper",
            piper_http(client, p_url, SENTENCES),
            piper_direct(SENTENCES, defaults),
            args.runs,
        )
    ratio = max(whisper["ratio"], piper["ratio"])
    met = ratio <= GOAL
    values = {
        "runs": args.runs,
        "whisper_analyze": whisper,
        "piper_generate": piper,
        "text_chars": len(SENTENCES),
        "speech_wav_bytes": len(wav),
    }
    emit(
        Result(
            "overhead",
            "faster-whisper / piper called directly in-process",
            values,
            ratio,
            f"<= {GOAL:.2f}x direct",
            met,
        ),
        f"overhead (median of {args.runs}): whisper /analyze {whisper['http_median_s']:.3f} s vs "
        f"direct {whisper['direct_median_s']:.3f} s = {whisper['ratio']:.3f}x; piper /generate "
        f"{piper['http_median_s']:.3f} s vs direct {piper['direct_median_s']:.3f} s = "
        f"{piper['ratio']:.3f}x; goal <= {GOAL:.2f}x: {verdict(met)}",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
