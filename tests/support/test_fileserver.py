"""Self-test for the loopback file server that the downloader tests rely on."""

from __future__ import annotations

import socket
import struct
import threading
import time

import httpx
import pytest

from . import fileserver
from .fileserver import FileServer

file_server = fileserver.file_server  # re-export the fixture into this module

DATA = bytes(range(256)) * 40  # 10240 bytes


def test_full_get_and_head(file_server: FileServer) -> None:
    url = file_server.add("/blob.bin", DATA)
    assert url == file_server.url + "/blob.bin"
    r = httpx.get(url)
    assert r.status_code == 200
    assert r.content == DATA
    assert r.headers["content-length"] == str(len(DATA))
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["etag"].startswith('"') and r.headers["last-modified"].endswith("GMT")
    head = httpx.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(DATA))
    assert file_server.body_bytes_sent("/blob.bin") == len(DATA)


def test_range_requests(file_server: FileServer) -> None:
    url = file_server.add("/blob.bin", DATA)
    with httpx.Client() as client:  # one keep-alive connection for all requests
        r = client.get(url, headers={"Range": "bytes=100-"})
        assert r.status_code == 206
        assert r.content == DATA[100:]
        assert r.headers["content-range"] == f"bytes 100-{len(DATA) - 1}/{len(DATA)}"
        r = client.get(url, headers={"Range": "bytes=10-19"})
        assert (r.status_code, r.content, r.headers["content-range"]) == (
            206,
            DATA[10:20],
            f"bytes 10-19/{len(DATA)}",
        )
        r = client.get(url, headers={"Range": "bytes=-5"})
        assert (r.status_code, r.content) == (206, DATA[-5:])
        r = client.get(url, headers={"Range": f"bytes={len(DATA)}-"})
        assert r.status_code == 416
        assert r.headers["content-range"] == f"bytes */{len(DATA)}"
    assert [rec.status for rec in file_server.requests()] == [206, 206, 206, 416]


def test_if_range(file_server: FileServer) -> None:
    url = file_server.add("/blob.bin", DATA)
    first = httpx.get(url)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    for validator in (etag, modified):
        r = httpx.get(url, headers={"Range": "bytes=5-", "If-Range": validator})
        assert (r.status_code, r.content) == (206, DATA[5:])
    for stale in ('"not-the-etag"', "W/" + etag, "Thu, 01 Jan 1970 00:00:00 GMT"):
        r = httpx.get(url, headers={"Range": "bytes=5-", "If-Range": stale})
        assert (r.status_code, r.content) == (200, DATA)
    rec = file_server.requests("/blob.bin")[-1]
    assert (rec.range, rec.if_range) == ("bytes=5-", "Thu, 01 Jan 1970 00:00:00 GMT")


def test_replace_changes_validators(file_server: FileServer) -> None:
    url = file_server.add("/blob.bin", DATA)
    old = httpx.get(url).headers
    file_server.replace("/blob.bin", b"new content")
    r = httpx.get(url, headers={"Range": "bytes=2-", "If-Range": old["etag"]})
    assert (r.status_code, r.content) == (200, b"new content")
    assert r.headers["etag"] != old["etag"]
    assert r.headers["last-modified"] != old["last-modified"]
    r = httpx.get(url, headers={"Range": "bytes=2-", "If-Range": old["last-modified"]})
    assert r.status_code == 200


def test_ignore_range(file_server: FileServer) -> None:
    url = file_server.add("/blob.bin", DATA)
    file_server.behaviour("/blob.bin").ignore_range = True
    r = httpx.get(url, headers={"Range": "bytes=100-"})
    assert (r.status_code, r.content) == (200, DATA)
    assert "content-range" not in r.headers


def test_truncate_at_closes_early(file_server: FileServer) -> None:
    url = file_server.add("/blob.bin", DATA)
    file_server.behaviour("/blob.bin").truncate_at = 1000
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(url)
    assert file_server.body_bytes_sent("/blob.bin") == 1000
    file_server.behaviour("/blob.bin").truncate_at = None
    r = httpx.get(url, headers={"Range": "bytes=1000-"})
    assert (r.status_code, r.content) == (206, DATA[1000:])
    assert file_server.body_bytes_sent("/blob.bin") == len(DATA)  # exactly one transfer overall


def test_fail_times_then_success(file_server: FileServer) -> None:
    url = file_server.add("/blob.bin", DATA)
    file_server.behaviour("/blob.bin").fail_times = 2
    with httpx.Client() as client:
        assert [client.get(url).status_code for _ in range(3)] == [503, 503, 200]
    assert file_server.behaviour("/blob.bin").fail_times == 0


def test_status_override_and_404(file_server: FileServer) -> None:
    url = file_server.add("/gated.bin", DATA)
    file_server.behaviour("/gated.bin").status = 403
    r = httpx.get(url, headers={"Authorization": "Bearer hf_x"})
    assert r.status_code == 403 and b"403" in r.content
    assert file_server.requests("/gated.bin")[0].authorization == "Bearer hf_x"
    assert httpx.get(file_server.url + "/missing").status_code == 404


def test_hf_layout(file_server: FileServer) -> None:
    file_server.add_hf(
        "org/model", {"config.json": b"{}", "sub/w.bin": b"w" * 10}, revision="abc123"
    )
    base = f"{file_server.url}/org/model/resolve/abc123"
    assert httpx.get(f"{base}/config.json").content == b"{}"
    assert httpx.get(f"{base}/sub/w.bin?download=true").content == b"w" * 10  # query ignored
    assert httpx.get(f"{file_server.url}/org/model/resolve/main/config.json").status_code == 404


def test_counts_and_reset(file_server: FileServer) -> None:
    a = file_server.add("/a", b"aaaa")
    b = file_server.add("b", b"bb")  # leading slash optional
    httpx.get(a)
    httpx.get(a)
    httpx.get(b)
    assert len(file_server.requests()) == 3
    assert [(r.method, r.path, r.status, r.body_bytes) for r in file_server.requests("/a")] == [
        ("GET", "/a", 200, 4),
        ("GET", "/a", 200, 4),
    ]
    assert file_server.body_bytes_sent() == 10
    file_server.reset_counts()
    assert file_server.requests() == [] and file_server.body_bytes_sent() == 0


def test_throttle_and_silent_disconnect(
    file_server: FileServer, capfd: pytest.CaptureFixture[str]
) -> None:
    url = file_server.add("/slow.bin", DATA)
    file_server.behaviour("/slow.bin").bytes_per_second = 20_000
    t0 = time.monotonic()
    assert httpx.get(url).content == DATA
    assert time.monotonic() - t0 > 0.35  # ~0.5 s at 20 kB/s
    # A client that vanishes mid-transfer must not produce tracebacks.
    port = int(file_server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /slow.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(100)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
    time.sleep(0.3)
    assert file_server.body_bytes_sent("/slow.bin") < 2 * len(DATA)
    assert capfd.readouterr().err == ""


def test_stop_with_idle_keepalive_connection() -> None:
    server = FileServer().start()
    url = server.add("/x", b"x")
    client = httpx.Client()
    assert client.get(url).content == b"x"  # connection stays open in the pool
    stopping = threading.Thread(target=server.stop, daemon=True)
    stopping.start()
    stopping.join(30)
    assert not stopping.is_alive()  # an idle kept-alive connection would hold it until closed
    client.close()
    with pytest.raises(RuntimeError):
        _ = server.url
