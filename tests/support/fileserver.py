"""Loopback HTTP/1.1 file server with per-path faults, for downloader tests: real sockets,
so resume, truncation, retries and killed clients take the same paths as against a CDN."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast
from urllib.parse import urlsplit

import pytest

_CHUNK = 64 * 1024
_Plan = tuple[int, dict[str, str], bytes]  # status, headers (without Content-Length), body


@dataclass
class Behaviour:
    """Per-path fault injection; fields may be changed while the server runs."""

    ignore_range: bool = False  # 200 with the full body even when Range is sent
    truncate_at: int | None = None  # full Content-Length, but close after this many body bytes
    fail_times: int = 0  # answer 503 this many times first (counts down)
    status: int | None = None  # always answer this status with a short text body
    bytes_per_second: int | None = None  # throttle so a client can be killed mid-transfer
    range_limit: int | None = None  # a 206 carries at most this many bytes (a legal short 206)
    range_shift: int = 0  # a 206 starts this many bytes off the asked start (another range)
    on_request: Callable[[RequestRecord], None] | None = None  # runs before the response
    content_type: str | None = None  # answer the file with this Content-Type instead


@dataclass
class RequestRecord:
    """One request as the server saw it; body_bytes grows while the body is written."""

    method: str
    path: str  # without the query string
    range: str | None
    if_range: str | None
    authorization: str | None
    status: int = 0
    body_bytes: int = 0


@dataclass(frozen=True)
class _Entry:
    data: bytes
    etag: str
    last_modified: str


def _norm(path: str) -> str:
    return path if path.startswith("/") else "/" + path


def _text(status: int, message: str) -> _Plan:
    return status, {"Content-Type": "text/plain; charset=utf-8"}, message.encode() + b"\n"


def _parse_range(header: str, total: int) -> tuple[int, int] | None:
    """Inclusive (start, end); start >= total means 416; None means ignore the header."""
    unit, _, spec = header.partition("=")
    first, sep, last = spec.strip().partition("-")
    if unit.strip().lower() != "bytes" or "," in spec or not sep:
        return None  # other units, multi-range, junk: full body, as RFC 7233 allows
    try:
        if not first:  # suffix range: the last N bytes
            n = int(last)
            return (total, total) if n <= 0 else (max(0, total - n), total - 1)
        start, end = int(first), (int(last) if last else total - 1)
    except ValueError:
        return None
    if last and end < start:
        return None
    return start, min(end, total - 1)


def _if_range_matches(value: str, entry: _Entry) -> bool:
    """RFC 7233 If-Range: strong ETag comparison, or the exact Last-Modified date."""
    value = value.strip()
    if value.startswith(('"', "W/")):
        return value == entry.etag and not value.startswith("W/")
    try:
        return parsedate_to_datetime(value) == parsedate_to_datetime(entry.last_modified)
    except (TypeError, ValueError):
        return False


class FileServer:
    """Serves in-memory files on 127.0.0.1 and records every request it gets."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[str, _Entry] = {}
        self._behaviours: dict[str, Behaviour] = {}
        self._redirects: dict[str, tuple[str, dict[str, str]]] = {}
        self._records: list[RequestRecord] = []
        self._conns: set[socket.socket] = set()
        self._clock = 0
        self._httpd: _Server | None = None

    def start(self) -> FileServer:
        """Bind an ephemeral port and serve from a daemon thread."""
        self._httpd = httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.owner = self
        threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving and cut keep-alive / in-flight connections, so nothing lingers."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()

    def __enter__(self) -> FileServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:PORT (only once started)."""
        if self._httpd is None:
            raise RuntimeError("FileServer is not started")
        return f"http://127.0.0.1:{self._httpd.server_port}"

    def add(self, path: str, data: bytes, *, etag: str | None = None) -> str:
        """Serve data at the URL path and return its full URL (ETag defaults to sha256)."""
        url = self.url + _norm(path)  # raises before registering anything if not started
        self._put(_norm(path), data, etag)
        return url

    def add_hf(self, repo: str, files: dict[str, bytes], revision: str = "main") -> None:
        """Serve files in the Hugging Face layout /<repo>/resolve/<revision>/<path>."""
        for name, data in files.items():
            self.add(f"/{repo}/resolve/{revision}/{name.lstrip('/')}", data)

    def add_hf_lfs(
        self, repo: str, files: dict[str, bytes], revision: str = "main"
    ) -> dict[str, str]:
        """Serve files as the Hub serves LFS files: /<repo>/resolve/<revision>/<path> answers
        302 to a blob path with `X-Linked-Etag` (the quoted sha256) and `X-Linked-Size`, as
        huggingface_hub reads them. Returns each file's blob path (to replace its bytes)."""
        blobs = {}
        for name, data in files.items():
            digest = hashlib.sha256(data).hexdigest()
            blobs[name] = blob = f"/lfs-blobs/{digest}"
            self.add(blob, data)
            headers = {"X-Linked-Etag": f'"{digest}"', "X-Linked-Size": str(len(data))}
            self.add_redirect(f"/{repo}/resolve/{revision}/{name.lstrip('/')}", blob, headers)
        return blobs

    def add_redirect(self, path: str, location: str, headers: dict[str, str] | None = None) -> str:
        """Answer path with 302 to location (a path here or a full URL), plus headers."""
        url = self.url + _norm(path)
        target = self.url + _norm(location) if not location.startswith("http") else location
        with self._lock:
            self._redirects[_norm(path)] = (target, dict(headers or {}))
        return url

    def replace(self, path: str, data: bytes, *, etag: str | None = None) -> None:
        """Simulate an upstream change: new bytes, new ETag, strictly later Last-Modified."""
        if _norm(path) not in self._files:
            raise KeyError(path)
        self._put(_norm(path), data, etag)

    def behaviour(self, path: str) -> Behaviour:
        """The live Behaviour for path (created on first use); mutate it to inject faults."""
        with self._lock:
            return self._behaviours.setdefault(_norm(path), Behaviour())

    def requests(self, path: str | None = None) -> list[RequestRecord]:
        """Requests received so far, in arrival order, optionally only those for path."""
        with self._lock:
            return [r for r in self._records if path is None or r.path == _norm(path)]

    def body_bytes_sent(self, path: str | None = None) -> int:
        """Total body bytes written, to assert e.g. that a file was transferred exactly once."""
        return sum(r.body_bytes for r in self.requests(path))

    def reset_counts(self) -> None:
        """Forget recorded requests (files and behaviours stay)."""
        with self._lock:
            self._records.clear()

    def _put(self, path: str, data: bytes, etag: str | None) -> None:
        with self._lock:  # HTTP dates have 1 s resolution: force every version to differ
            self._clock = max(int(time.time()), self._clock + 1)
            etag = etag or '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
            self._files[path] = _Entry(data, etag, formatdate(self._clock, usegmt=True))

    def _count(self, rec: RequestRecord, n: int) -> None:
        with self._lock:
            rec.body_bytes += n

    def _plan(self, rec: RequestRecord) -> tuple[_Plan, Behaviour]:
        """Decide the response and record the request before sending anything (no races)."""
        with self._lock:
            live = self._behaviours.get(rec.path) or Behaviour()
            redirect = self._redirects.get(rec.path)
            if redirect is not None:
                location, extra = redirect
                plan: _Plan = (302, {**extra, "Location": location}, b"")
            else:
                plan = _decide(rec, live, self._files.get(rec.path))
            rec.status = plan[0]
            self._records.append(rec)
            return plan, dataclasses.replace(live)


def _decide(rec: RequestRecord, b: Behaviour, entry: _Entry | None) -> _Plan:
    if b.status is not None:
        return _text(b.status, f"injected status {b.status}")
    if b.fail_times > 0:
        b.fail_times -= 1
        return _text(503, "injected failure")
    if entry is None:
        return _text(404, "not found")
    total, headers = len(entry.data), {"ETag": entry.etag, "Last-Modified": entry.last_modified}
    headers["Content-Type"] = b.content_type or "application/octet-stream"
    if not b.ignore_range:
        headers["Accept-Ranges"] = "bytes"
    honour = rec.range and not b.ignore_range
    if honour and rec.if_range is not None:
        honour = _if_range_matches(rec.if_range, entry)
    rng = _parse_range(rec.range, total) if honour and rec.range else None
    if rng is None:
        return 200, headers, entry.data
    if rng[0] >= total:
        status, text_headers, body = _text(416, "range not satisfiable")
        return status, {**text_headers, "Content-Range": f"bytes */{total}"}, body
    start = min(max(0, rng[0] + b.range_shift), total - 1)
    end = max(start, rng[1])
    end = end if b.range_limit is None else min(end, start + b.range_limit - 1)
    headers["Content-Range"] = f"bytes {start}-{end}/{total}"
    return 206, headers, entry.data[start : end + 1]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive threads sit in readline(); never join them
    owner: FileServer

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that vanish (a SIGKILLed downloader) are expected; real bugs still print.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like real CDNs

    @property
    def owner(self) -> FileServer:
        return cast(_Server, self.server).owner

    def setup(self) -> None:  # track connections so stop() can cut them
        super().setup()
        with self.owner._lock:
            self.owner._conns.add(self.connection)

    def finish(self) -> None:
        with self.owner._lock:
            self.owner._conns.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: keep test output clean."""

    def do_GET(self) -> None:
        """GET and HEAD share everything but the body write."""
        h, path = self.headers, urlsplit(self.path).path
        rec = RequestRecord(self.command, path, h["Range"], h["If-Range"], h["Authorization"])
        (status, headers, body), b = self.owner._plan(rec)
        if b.on_request is not None:
            b.on_request(rec)
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command == "HEAD":
                return
            cut = len(body) if b.truncate_at is None else max(0, min(b.truncate_at, len(body)))
            self._write_body(rec, body[:cut], b.bytes_per_second)
            if cut < len(body):  # the client must see fewer bytes than Content-Length
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:  # the client went away mid-response
            self.close_connection = True

    def _write_body(self, rec: RequestRecord, body: bytes, bps: int | None) -> None:
        chunk = max(1, min(_CHUNK, bps // 20)) if bps else _CHUNK
        started = time.monotonic()
        for offset in range(0, len(body), chunk):
            if bps:
                time.sleep(max(0.0, started + offset / bps - time.monotonic()))
            piece = body[offset : offset + chunk]
            self.owner._count(rec, len(piece))  # before writing: clients check right after
            try:
                self.wfile.write(piece)
            except OSError:
                self.owner._count(rec, -len(piece))
                raise

    do_HEAD = do_GET


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    """A started FileServer, stopped after the test."""
    with FileServer() as server:
        yield server
