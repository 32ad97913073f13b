"""Case 1, download: a verified `enginekit models pull` (hf:// with --sha256) of 512 MiB and
1 GiB against what a careful user does by hand (`curl -s -o` then `sha256sum`) and against
`huggingface_hub.hf_hub_download`, all three from the same loopback mirror serving the Hub's
`/resolve/` layout with the headers huggingface_hub reads. Goal: at most 1.0x each.

The mirror is a ThreadingHTTPServer that sends the body with `socket.sendfile`, so the kernel
copies the bytes and the server is not the limit (plain `curl -o` is reported as evidence).
Every contender is a fresh process writing into a fresh directory on the same filesystem; runs
alternate and medians are compared. Each size ends with a breakdown of the pull (start-up, the
transfer loop in-process with httpx's own transport against the store's, sha256, fsync), so a
miss says where the time went.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import httpx
from _common import Result, alternate, emit, median, scratch_dir, setup_logging, verdict

from enginekit.settings import StoreSettings
from enginekit.store.bulk_http import BulkTransport
from enginekit.store.sources import FileTask
from enginekit.store.transfer import FileTransfer

logger = logging.getLogger("bench.download")

GOAL = 1.0
MIB = 1 << 20
WRITE_CHUNK = 16 * MIB
REPO_ID = "bench/big"
REVISION = "0123456789abcdef0123456789abcdef01234567"
FILENAME = "model.bin"
RESOLVE = f"/{REPO_ID}/resolve/{REVISION}/{FILENAME}"
ENGINEKIT = Path(sys.executable).with_name("enginekit")
HF_ENV = {
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # ours draws none either: stderr is not a terminal
    "HF_HUB_DISABLE_XET": "1",
    "HF_HUB_ETAG_TIMEOUT": "30",
}
HF_SCRIPT = (
    "import sys; from huggingface_hub import hf_hub_download; "
    "hf_hub_download(sys.argv[1], sys.argv[2], revision=sys.argv[3], cache_dir=sys.argv[4])"
)


# -- the payload and the mirror ---------------------------------------------------------------


def make_payload(directory: Path, size: int) -> tuple[Path, str]:
    """Random bytes written once; returns the file and its sha256."""
    path = directory / "payload.bin"
    digest = hashlib.sha256()
    with path.open("wb") as handle:
        for _ in range(size // WRITE_CHUNK):
            chunk = os.urandom(WRITE_CHUNK)
            digest.update(chunk)
            handle.write(chunk)
        rest = os.urandom(size % WRITE_CHUNK)
        digest.update(rest)
        handle.write(rest)
    return path, digest.hexdigest()


class _Mirror(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    payload: Path
    sha256: str


class _ResolveHandler(BaseHTTPRequestHandler):
    """GET/HEAD of one LFS file at `/<repo>/resolve/<commit>/<file>`, answered as the Hub
    answers: X-Repo-Commit, X-Linked-Etag (the sha256), X-Linked-Size, ETag, Content-Length."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        mirror = cast(_Mirror, self.server)
        if self.path.split("?", 1)[0] != RESOLVE:
            self.send_error(404)
            return
        size = mirror.payload.stat().st_size
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.send_header("ETag", f'"{mirror.sha256}"')
        self.send_header("X-Linked-Etag", f'"{mirror.sha256}"')
        self.send_header("X-Linked-Size", str(size))
        self.send_header("X-Repo-Commit", REVISION)
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if self.command == "GET":
            with mirror.payload.open("rb") as handle:
                self.connection.sendfile(handle)

    do_HEAD = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


@contextmanager
def mirror(payload: Path, sha256: str) -> Iterator[str]:
    """The mirror's endpoint (what HF_ENDPOINT is set to)."""
    httpd = _Mirror(("127.0.0.1", 0), _ResolveHandler)
    httpd.payload, httpd.sha256 = payload, sha256
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


# -- the contenders: each a fresh process into a fresh directory --------------------------------


def _timed_run(command: list[str], target: Path, env: dict[str, str] | None = None) -> float:
    target.mkdir()
    try:
        started = time.perf_counter()
        subprocess.run(
            command,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=600,
            env={**os.environ, **(env or {})},
        )
        return time.perf_counter() - started
    finally:
        shutil.rmtree(target, ignore_errors=True)


def pull(endpoint: str, sha256: str, work: Path) -> Callable[[], float]:
    target = work / "engine"
    command = [
        str(ENGINEKIT), "models", "pull", "big", "--source", f"hf://{REPO_ID}@{REVISION}/"
        f"{FILENAME}", "--sha256", sha256, "--engine-dir", str(target),
    ]  # fmt: skip
    return lambda: _timed_run(command, target, {"HF_ENDPOINT": endpoint})


def curl_and_sha256sum(endpoint: str, work: Path) -> Callable[[], float]:
    target = work / "manual"
    file = target / FILENAME
    script = f'curl -s -f -o "{file}" "{endpoint}{RESOLVE}" && sha256sum "{file}"'
    return lambda: _timed_run(["bash", "-c", script], target)


def curl_only(endpoint: str, work: Path) -> Callable[[], float]:
    target = work / "curl"
    command = ["curl", "-s", "-f", "-o", str(target / FILENAME), f"{endpoint}{RESOLVE}"]
    return lambda: _timed_run(command, target)


def hf_hub(endpoint: str, work: Path) -> Callable[[], float]:
    target = work / "hf-cache"
    command = [sys.executable, "-c", HF_SCRIPT, REPO_ID, FILENAME, REVISION, str(target)]
    return lambda: _timed_run(command, target, {**HF_ENV, "HF_ENDPOINT": endpoint})


def rounds(contenders: dict[str, Callable[[], float]], runs: int) -> dict[str, list[float]]:
    """Every contender once per round, in the same order, so drift hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for run in range(runs):
        for name, contender in contenders.items():
            times[name].append(contender())
        logger.info(
            "round %d/%d: %s", run + 1, runs, {k: round(v[-1], 3) for k, v in times.items()}
        )
    return times


# -- where the time goes ---------------------------------------------------------------------


def cli_startup(work: Path) -> float:
    """Interpreter start and CLI imports: `enginekit models list` on an empty directory."""
    empty = work / "empty"
    empty.mkdir(exist_ok=True)
    started = time.perf_counter()
    subprocess.run(
        [str(ENGINEKIT), "models", "list", "--json", "--engine-dir", str(empty)],
        check=True, stdout=subprocess.DEVNULL, timeout=60,
    )  # fmt: skip
    return time.perf_counter() - started


def transfer_loop(url: str, work: Path, transport: httpx.BaseTransport | None) -> float:
    """The store's FileTransfer in this process (receive, write, background sha256, fsync),
    through `transport` (None: httpx's own, 64 KiB per socket read)."""
    destination = work / "loop.bin"
    started = time.perf_counter()
    with httpx.Client(transport=transport) as client:
        FileTransfer(client, StoreSettings()).fetch(
            FileTask(FILENAME, url=url), destination, lambda done, total: None
        )
    seconds = time.perf_counter() - started
    for leftover in work.glob("loop.bin*"):
        leftover.unlink()
    return seconds


def sha256sum_seconds(payload: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["sha256sum", str(payload)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def fsync_seconds(payload: Path, work: Path) -> float:
    copy = work / "fsync.bin"
    shutil.copyfile(payload, copy)
    with copy.open("rb+") as handle:
        started = time.perf_counter()
        os.fsync(handle.fileno())
        seconds = time.perf_counter() - started
    copy.unlink()
    return seconds


def breakdown(endpoint: str, payload: Path, work: Path, runs: int) -> dict[str, float]:
    url = f"{endpoint}{RESOLVE}"
    httpx_own, bulk = alternate(
        lambda: transfer_loop(url, work, None),
        lambda: transfer_loop(url, work, BulkTransport()),
        runs,
    )
    return {
        "cli_startup_s": cli_startup(work),
        "loop_httpx_transport_64kib_s": median(httpx_own),
        "loop_bulk_transport_1mib_s": median(bulk),
        "sha256sum_s": sha256sum_seconds(payload),
        "fsync_s": fsync_seconds(payload, work),
    }


# -- main ------------------------------------------------------------------------------------


def measure(size_mib: int, runs: int) -> dict[str, Any]:
    with scratch_dir("download", parent=Path(os.environ.get("BENCH_DOWNLOAD_DIR", "/tmp"))) as work:
        logger.info("writing %d MiB of random bytes into %s", size_mib, work)
        payload, sha256 = make_payload(work, size_mib * MIB)
        with mirror(payload, sha256) as endpoint:
            contenders = {
                "pull": pull(endpoint, sha256, work),
                "curl_sha256sum": curl_and_sha256sum(endpoint, work),
                "hf_hub_download": hf_hub(endpoint, work),
                "curl": curl_only(endpoint, work),
            }
            contenders["curl"]()  # warm-up: page cache, sockets
            times = rounds(contenders, runs)
            parts = breakdown(endpoint, payload, work, runs)
    medians = {name: median(values) for name, values in times.items()}
    return {
        "mib": size_mib,
        "runs": runs,
        "seconds": times,
        "median_s": medians,
        "breakdown": parts,
    }


def _sentence(size: dict[str, Any], ratios: dict[str, float]) -> str:
    m, mib = size["median_s"], size["mib"]
    return (
        f"{mib} MiB: pull {m['pull']:.2f} s, curl+sha256sum {m['curl_sha256sum']:.2f} s "
        f"({ratios[f'{mib}_vs_curl_sha256sum']:.2f}x), hf_hub_download "
        f"{m['hf_hub_download']:.2f} s ({ratios[f'{mib}_vs_hf_hub_download']:.2f}x), "
        f"curl {m['curl']:.2f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mib", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--runs", type=int, default=3, help="rounds of every contender")
    args = parser.parse_args()
    setup_logging()
    sizes = [measure(size, args.runs) for size in args.sizes_mib]
    ratios: dict[str, float] = {}
    for size in sizes:
        m = size["median_s"]
        ratios[f"{size['mib']}_vs_curl_sha256sum"] = m["pull"] / m["curl_sha256sum"]
        ratios[f"{size['mib']}_vs_hf_hub_download"] = m["pull"] / m["hf_hub_download"]
    worst = max(ratios.values())
    met = worst <= GOAL
    human = "; ".join(_sentence(s, ratios) for s in sizes)
    loops = "; ".join(
        f"{s['mib']} MiB in-process loop: httpx transport "
        f"{s['breakdown']['loop_httpx_transport_64kib_s']:.2f} s vs store's "
        f"{s['breakdown']['loop_bulk_transport_1mib_s']:.2f} s, start-up "
        f"{s['breakdown']['cli_startup_s']:.2f} s, sha256sum {s['breakdown']['sha256sum_s']:.2f} s,"
        f" fsync {s['breakdown']['fsync_s']:.2f} s"
        for s in sizes
    )
    emit(
        Result(
            "download",
            "curl -s -o + sha256sum; hf_hub_download (same mirror)",
            {"sizes": sizes, "ratios": ratios, "load_avg_1m": os.getloadavg()[0]},
            worst,
            f"<= {GOAL}x both",
            met,
        ),
        f"download (median of {args.runs}): {human}; worst {worst:.2f}x, goal <= {GOAL}x: "
        f"{verdict(met)} ({loops})",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
