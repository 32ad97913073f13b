"""Case 1, download: `enginekit models pull` (sha256 checked) against `curl -s -o` of the same
1 GiB file from a loopback HTTP server. Goal: at most 1.1x curl's wall time.

The server is a ThreadingHTTPServer that answers with `socket.sendfile`, so the kernel copies the
bytes and the server is not the bottleneck (curl's rate is reported as evidence). Runs alternate;
the medians are compared. When the goal is missed, the run continues with a breakdown of where the
time goes (start-up, streaming, writing, hashing, fsync, the re-verify), the store's transfer loop
in-process with httpcore's 64 KiB reads against 1 MiB reads, pulls with the rich progress bar
drawn on a pseudo-terminal against pulls without, and a cProfile of one pull.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import logging
import os
import pstats
import pty
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import httpx
from _common import Result, alternate, emit, median, scratch_dir, setup_logging, verdict
from httpcore._sync.http11 import HTTP11Connection

from enginekit.cli import main as enginekit_main
from enginekit.models.integrity import sha256_of

logger = logging.getLogger("bench.download")

GOAL = 1.1
MIB = 1 << 20
WRITE_CHUNK = 16 * MIB
FILE_PATH = "/model.bin"
MODEL = "big"
ENGINEKIT = Path(sys.executable).with_name("enginekit")


# -- the payload and the server --------------------------------------------------------------


def make_payload(directory: Path, size: int) -> tuple[Path, str]:
    """Random bytes written once; returns the file and its sha256."""
    path = directory / "model.bin"
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


class _SendfileServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    payload: Path


class _SendfileHandler(BaseHTTPRequestHandler):
    """GET/HEAD of one file; the body goes out with sendfile(2). Ranges are ignored (200)."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        payload = cast(_SendfileServer, self.server).payload
        if self.path.split("?", 1)[0] != FILE_PATH:
            self.send_error(404)
            return
        stat = payload.stat()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(stat.st_size))
        self.send_header("ETag", f'"{stat.st_ino:x}-{stat.st_size:x}-{stat.st_mtime_ns:x}"')
        self.send_header("Last-Modified", formatdate(stat.st_mtime, usegmt=True))
        self.end_headers()
        if self.command == "GET":
            with payload.open("rb") as handle:
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
def serve(payload: Path) -> Iterator[str]:
    httpd = _SendfileServer(("127.0.0.1", 0), _SendfileHandler)
    httpd.payload = payload
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}{FILE_PATH}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


# -- the two contenders ----------------------------------------------------------------------


def pull_command(url: str, sha256: str, engine_dir: Path) -> list[str]:
    return [
        str(ENGINEKIT), "models", "pull", MODEL, "--source", url, "--sha256", sha256,
        "--engine-dir", str(engine_dir),
    ]  # fmt: skip


def pull_once(url: str, sha256: str, work: Path, stderr: int | None = None) -> float:
    """One real `enginekit models pull` into a fresh engine directory; its wall time."""
    engine_dir = work / "engine"
    engine_dir.mkdir()
    try:
        started = time.perf_counter()
        subprocess.run(
            pull_command(url, sha256, engine_dir),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=stderr if stderr is not None else subprocess.PIPE,
            timeout=600,
        )
        return time.perf_counter() - started
    finally:
        subprocess.run(["rm", "-rf", str(engine_dir)], check=True)


def curl_once(url: str, work: Path) -> float:
    target = work / "curl.bin"
    try:
        started = time.perf_counter()
        subprocess.run(["curl", "-s", "-o", str(target), url], check=True, timeout=600)
        return time.perf_counter() - started
    finally:
        target.unlink(missing_ok=True)


# -- where the time goes (only when the goal is missed) --------------------------------------


def cli_startup(work: Path) -> float:
    """Interpreter start and CLI imports: `enginekit models list` on an empty directory."""
    empty = work / "empty"
    empty.mkdir(exist_ok=True)
    started = time.perf_counter()
    subprocess.run(
        [str(ENGINEKIT), "models", "list", "--json", "--engine-dir", str(empty)],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=60,
    )
    return time.perf_counter() - started


def stream(url: str, sink: Path | None) -> dict[str, float]:
    """httpx as the store uses it (iter_bytes without a chunk size), optionally writing."""
    chunks = received = 0
    started = time.perf_counter()
    with httpx.Client() as client, client.stream("GET", url) as response:
        handle = sink.open("wb") if sink else None
        try:
            for chunk in response.iter_bytes():
                chunks += 1
                received += len(chunk)
                if handle:
                    handle.write(chunk)
        finally:
            if handle:
                handle.close()
    return {"seconds": time.perf_counter() - started, "chunks": chunks, "bytes": received}


def store_loop(url: str, sink: Path, read_bytes: int) -> float:
    """The store's transfer loop in this process (receive, write, sha256, fsync) with httpcore
    reading `read_bytes` per socket read instead of its fixed 64 KiB."""
    saved = HTTP11Connection.READ_NUM_BYTES
    HTTP11Connection.READ_NUM_BYTES = read_bytes
    try:
        digest = hashlib.sha256()
        started = time.perf_counter()
        with (
            httpx.Client() as client,
            client.stream("GET", url) as response,
            sink.open("wb") as handle,
        ):
            for chunk in response.iter_bytes():
                handle.write(chunk)
                digest.update(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        return time.perf_counter() - started
    finally:
        HTTP11Connection.READ_NUM_BYTES = saved
        sink.unlink(missing_ok=True)


def hash_seconds(size: int, chunk: int) -> float:
    """sha256 of `size` bytes fed in `chunk`-sized updates (the chunks httpx delivers)."""
    block = memoryview(os.urandom(64 * MIB))
    digest = hashlib.sha256()
    started = time.perf_counter()
    for offset in range(0, size, chunk):
        start = offset % len(block)
        digest.update(block[start : start + min(chunk, size - offset)])
    return time.perf_counter() - started


def fsync_seconds(path: Path) -> float:
    with path.open("rb+") as handle:
        started = time.perf_counter()
        os.fsync(handle.fileno())
        return time.perf_counter() - started


def tty_pull(url: str, sha256: str, work: Path) -> float:
    """A pull whose stderr is a pseudo-terminal, so the rich progress bar is drawn."""
    controller, terminal = pty.openpty()
    drained = threading.Thread(target=_drain, args=(controller,), daemon=True)
    drained.start()
    try:
        return pull_once(url, sha256, work, stderr=terminal)
    finally:
        os.close(terminal)
        drained.join(timeout=5)
        os.close(controller)


def _drain(fd: int) -> None:
    """Read the terminal's output so the progress bar never blocks on a full pty buffer."""
    for _ in range(10_000_000):
        try:
            if not os.read(fd, 65536):
                return
        except OSError:
            return


def profile_pull(url: str, sha256: str, work: Path, top: int = 10) -> list[dict[str, Any]]:
    """cProfile of one pull in this process (same code path as the CLI, minus start-up)."""
    engine_dir = work / "profiled"
    engine_dir.mkdir()
    profiler = cProfile.Profile()
    try:
        argv = pull_command(url, sha256, engine_dir)[1:]
        with open(os.devnull, "w") as quiet:
            saved, sys.stdout = sys.stdout, quiet
            try:
                profiler.runcall(enginekit_main, argv)
            finally:
                sys.stdout = saved
    finally:
        subprocess.run(["rm", "-rf", str(engine_dir)], check=True)
    stats = pstats.Stats(profiler, stream=io.StringIO())
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)  # type: ignore[attr-defined]
    return [
        {"function": _label(file, line, name), "calls": calls, "tottime_s": tottime}
        for (file, line, name), (_, calls, tottime, _, _) in rows[:top]
    ]


def _label(file: str, line: int, name: str) -> str:
    return name if file == "~" else f"{Path(file).name}:{line}({name})"


def breakdown(url: str, sha256: str, work: Path, pull_s: float, runs: int) -> dict[str, Any]:
    """Each part measured on its own (so they need not add up exactly), then pulls with and
    without a terminal on stderr, alternated, and a cProfile of one pull."""
    logger.info("goal missed: measuring where the time goes")
    parts: dict[str, Any] = {"cli_startup_s": cli_startup(work)}
    streamed = stream(url, None)
    parts["stream_only_s"] = streamed["seconds"]
    parts["chunks"] = streamed["chunks"]
    parts["mean_chunk_bytes"] = streamed["bytes"] / max(1, streamed["chunks"])
    sink = work / "stream.bin"
    parts["stream_and_write_s"] = stream(url, sink)["seconds"]
    parts["fsync_s"] = fsync_seconds(sink)
    started = time.perf_counter()
    sha256_of(sink)  # what `pull` does after the download: store.verify() re-reads and re-hashes
    parts["reverify_s"] = time.perf_counter() - started
    sink.unlink()
    parts["sha256_in_memory_s"] = hash_seconds(
        int(streamed["bytes"]), int(parts["mean_chunk_bytes"])
    )
    parts["accounted_s"] = (
        parts["cli_startup_s"]
        + parts["stream_and_write_s"]
        + parts["sha256_in_memory_s"]
        + parts["fsync_s"]
        + parts["reverify_s"]
    )
    parts["pull_median_s"] = pull_s
    small, large = alternate(
        lambda: store_loop(url, sink, 64 * 1024), lambda: store_loop(url, sink, MIB), runs
    )
    parts["loop_64kib_reads_median_s"] = median(small)
    parts["loop_1mib_reads_median_s"] = median(large)
    plain, drawn = alternate(
        lambda: pull_once(url, sha256, work), lambda: tty_pull(url, sha256, work), runs
    )
    parts["tty_rounds_plain_pull_median_s"] = median(plain)
    parts["tty_rounds_progress_bar_pull_median_s"] = median(drawn)
    parts["profile_top_tottime"] = profile_pull(url, sha256, work)
    return parts


def where(parts: dict[str, Any]) -> str:
    return (
        f"start-up {parts['cli_startup_s']:.2f} s, receive+write {parts['stream_and_write_s']:.2f}"
        f" s, sha256 {parts['sha256_in_memory_s']:.2f} s, fsync {parts['fsync_s']:.2f} s, "
        f"re-verify {parts['reverify_s']:.2f} s; in-process loop with 1 MiB reads "
        f"{parts['loop_1mib_reads_median_s']:.2f} s vs 64 KiB "
        f"{parts['loop_64kib_reads_median_s']:.2f} s; with a progress bar on a terminal "
        f"{parts['tty_rounds_progress_bar_pull_median_s']:.2f} s vs "
        f"{parts['tty_rounds_plain_pull_median_s']:.2f} s without"
    )


# -- main ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="file size (default 1024)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each contender")
    args = parser.parse_args()
    setup_logging()
    size = args.size_mib * MIB
    with scratch_dir("download") as work:
        logger.info("writing %d MiB of random bytes into %s", args.size_mib, work)
        payload, sha256 = make_payload(work, size)
        with serve(payload) as url:
            curl_once(url, work)  # warm-up: page cache, sockets
            pulls, curls = alternate(
                lambda: pull_once(url, sha256, work), lambda: curl_once(url, work), args.runs
            )
            pull_s, curl_s = median(pulls), median(curls)
            ratio = pull_s / curl_s
            met = ratio <= GOAL
            parts = None if met else breakdown(url, sha256, work, pull_s, args.runs)
    values: dict[str, Any] = {
        "bytes": size,
        "runs": args.runs,
        "pull_s": pulls,
        "curl_s": curls,
        "pull_median_s": pull_s,
        "curl_median_s": curl_s,
        "pull_mib_per_s": size / MIB / pull_s,
        "curl_mib_per_s": size / MIB / curl_s,
        "scratch": str(Path(work).parent),
    }
    if parts is not None:
        values["breakdown"] = parts
    emit(
        Result("download", "curl -s -o FILE URL", values, ratio, f"<= {GOAL}x curl", met),
        f"download ({args.size_mib} MiB, median of {args.runs}): enginekit models pull "
        f"{pull_s:.2f} s vs curl {curl_s:.2f} s -> {ratio:.2f}x; goal <= {GOAL}x: {verdict(met)}"
        + ("" if parts is None else f" ({where(parts)})"),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
