"""Case 7, containers: per engine image, its size, `docker run` to a healthy /health (polled every
20 ms), and `docker run` to the first answered /generate (debug-tts, piper) or /analyze
(debug-stt, whisper), each after POST /load. Whisper gets tiny.en mounted read-only at
/app/external_models. Containers use the host network and a free PORT, so everything is reached on
127.0.0.1. Baseline: `docker run --rm <base image> python -c pass`, the cost of starting any
Python container here. Images are built first as enginekit/<name>:bench (cached layers make that
quick); --no-build uses existing tags.
"""

from __future__ import annotations

import argparse
import base64
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import httpx
from _common import (
    REPO,
    TINY_EN,
    WHISPER_FILES,
    WHISPER_MODEL,
    Result,
    emit,
    free_port,
    median,
    place_files,
    scratch_dir,
    setup_logging,
    speech_wav,
    verdict,
)

logger = logging.getLogger("bench.containers")

BASE_IMAGE = os.environ.get("ENGINEKIT_BASE_IMAGE", "enginekit/base:py3.11")
POLL_S = 0.02
START_TIMEOUT_S = 180.0
STATUS_EVERY = 25  # polls between container status checks (each is a Docker API call)


@dataclass(frozen=True)
class EngineSpec:
    name: str
    directory: str
    model: str
    endpoint: str  # "generate" or "analyze"


ENGINES = (
    EngineSpec("debug-tts", "engines/tts/debug-tts", "default", "generate"),
    EngineSpec("debug-stt", "engines/stt/debug-stt", "default", "analyze"),
    EngineSpec("piper", "engines/tts/piper", "en_US-joe-medium", "generate"),
    EngineSpec("whisper", "engines/stt/whisper", WHISPER_MODEL, "analyze"),
)


def build(client: Any, spec: EngineSpec, tag: str) -> str:
    """Build (or refresh) enginekit/<name>:<tag>; the image it replaces is removed, so repeated
    runs leave no dangling images behind."""
    image = f"enginekit/{spec.name}:{tag}"
    previous = _image_id(client, image)
    command = [
        "docker", "build", "--network", "host", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}",
        "-f", f"{spec.directory}/Dockerfile", "-t", image, ".",
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"docker build of {image} failed:\n{done.stderr[-4000:]}")
    logger.info("built %s in %.1f s", image, time.perf_counter() - started)
    if previous is not None and previous != _image_id(client, image):
        try:
            client.images.remove(previous)
        except docker.errors.APIError as exc:  # still used by a container, or tagged elsewhere
            logger.info("kept the previous %s (%s)", image, exc)
    return image


def _image_id(client: Any, image: str) -> str | None:
    try:
        return str(client.images.get(image).id)
    except docker.errors.ImageNotFound:
        return None


def baseline_start() -> float:
    """`docker run --rm <base> python -c pass`: create, start, run Python, exit, remove."""
    started = time.perf_counter()
    subprocess.run(
        ["docker", "run", "--rm", "--network", "host", BASE_IMAGE, "python", "-c", "pass"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return time.perf_counter() - started


@contextmanager
def running(client: Any, image: str, volumes: dict[str, dict[str, str]]) -> Iterator[Any]:
    """A detached container on the host network; always removed."""
    port = free_port()
    container = client.containers.run(
        image, detach=True, network_mode="host", environment={"PORT": str(port)}, volumes=volumes
    )
    container.bench_url = f"http://127.0.0.1:{port}"
    try:
        yield container
    finally:
        container.remove(force=True)


def wait_healthy(container: Any, http: httpx.Client) -> None:
    polls = int(START_TIMEOUT_S / POLL_S)
    for poll in range(polls):
        try:
            if http.get(f"{container.bench_url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if poll % STATUS_EVERY == 0:
            container.reload()
            if container.status == "exited":
                raise RuntimeError(f"container exited:\n{container.logs().decode()[-2000:]}")
        time.sleep(POLL_S)
    raise TimeoutError(f"{container.image} not healthy within {START_TIMEOUT_S:g} s")


def first_request(spec: EngineSpec, url: str, http: httpx.Client, wav: bytes) -> None:
    http.post(f"{url}/load", json={"engine_model_name": spec.model}).raise_for_status()
    if spec.endpoint == "generate":
        body: dict[str, Any] = {
            "text": "Hello from a container.",
            "language": "en",
            "ttsSpeakerWav": "",
        }
    else:
        body = {"audioBase64": base64.b64encode(wav).decode("ascii"), "language": "en"}
    http.post(f"{url}/{spec.endpoint}", json=body).raise_for_status()


def start_once(
    client: Any, spec: EngineSpec, image: str, volumes: dict[str, dict[str, str]], wav: bytes
) -> dict[str, float]:
    with httpx.Client(timeout=300) as http:
        started = time.perf_counter()
        with running(client, image, volumes) as container:
            wait_healthy(container, http)
            healthy = time.perf_counter() - started
            first_request(spec, container.bench_url, http, wav)
            first = time.perf_counter() - started
    return {"health_s": healthy, "first_s": first}


def whisper_volume(work: Path) -> dict[str, dict[str, str]]:
    """tiny.en in a host directory the image's user (uid 10001) can read."""
    mounted = work / "external_models"
    place_files([TINY_EN / name for name in WHISPER_FILES], mounted / WHISPER_MODEL)
    for path in (work, mounted, mounted / WHISPER_MODEL):
        path.chmod(0o755)
    for file in (mounted / WHISPER_MODEL).iterdir():
        file.chmod(0o644)
    return {str(mounted): {"bind": "/app/external_models", "mode": "ro"}}


def measure(
    client: Any, images: dict[str, str], runs: int, work: Path, wav: bytes
) -> tuple[dict[str, Any], list[float]]:
    volumes = {spec.name: {} for spec in ENGINES} | {"whisper": whisper_volume(work)}
    samples: dict[str, list[dict[str, float]]] = {spec.name: [] for spec in ENGINES}
    baselines: list[float] = []
    for run in range(runs):  # round robin: every engine and the baseline see the same drift
        baselines.append(baseline_start())
        for spec in ENGINES:
            timing = start_once(client, spec, images[spec.name], volumes[spec.name], wav)
            samples[spec.name].append(timing)
            logger.info("run %d %s: %s", run + 1, spec.name, timing)
    results = {}
    for spec in ENGINES:
        image = client.images.get(images[spec.name])
        health = [s["health_s"] for s in samples[spec.name]]
        first = [s["first_s"] for s in samples[spec.name]]
        results[spec.name] = {
            "image": images[spec.name],
            "size_mb": image.attrs["Size"] / 1e6,
            "health_s": health,
            "first_s": first,
            "health_median_s": median(health),
            "first_median_s": median(first),
            "first_endpoint": f"/load then /{spec.endpoint}",
        }
    return results, baselines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="starts per engine (median)")
    parser.add_argument("--tag", default="bench", help="image tag (default: bench)")
    parser.add_argument("--no-build", action="store_true", help="use existing images")
    args = parser.parse_args()
    setup_logging()
    client = docker.from_env()
    client.images.get(BASE_IMAGE)  # fails early: build it with tools/build-base-image.sh
    images = {
        spec.name: (
            f"enginekit/{spec.name}:{args.tag}" if args.no_build else build(client, spec, args.tag)
        )
        for spec in ENGINES
    }
    wav = speech_wav()
    with scratch_dir("containers") as work:
        results, baselines = measure(client, images, args.runs, work, wav)
    baseline = median(baselines)
    for entry in results.values():
        entry["health_vs_baseline"] = entry["health_median_s"] / baseline
    values = {
        "runs": args.runs,
        "base_image": BASE_IMAGE,
        "base_image_size_mb": client.images.get(BASE_IMAGE).attrs["Size"] / 1e6,
        "baseline_s": baselines,
        "baseline_median_s": baseline,
        "engines": results,
    }
    worst = max(entry["health_vs_baseline"] for entry in results.values())
    emit(
        Result(
            "containers", f"docker run --rm {BASE_IMAGE} python -c pass", values, worst, None, None
        ),
        "containers (median of "
        f"{args.runs}; baseline python -c pass {baseline:.2f} s): "
        + "; ".join(
            f"{name} {r['size_mb']:.0f} MB, healthy {r['health_median_s']:.2f} s "
            f"({r['health_vs_baseline']:.1f}x), first {r['first_endpoint'].split()[-1]} "
            f"{r['first_median_s']:.2f} s"
            for name, r in results.items()
        )
        + f"; {verdict(None)}",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
