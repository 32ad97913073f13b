"""An httpx transport for model files: urllib3 underneath, reading the body 1 MiB at a time.

httpx's own transport (httpcore) receives 64 KiB per socket read and offers no setting for it, so a
1 GiB file costs 16,384 trips through h11's parser, httpx's decoders, a write and a digest update.
urllib3 hands over whatever has arrived, up to the size asked for, so at loopback speed the same
file takes a few thousand trips instead
(docs/benchmarks.md, case 1). httpx stays the client: redirects, timeouts, proxies from the
environment (httpx mounts its own transport for those), headers and its exception types are what
the rest of the store relies on; this transport only moves the bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    LocationParseError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.exceptions import HTTPError as Urllib3Error

__all__ = ["READ_BYTES", "BulkTransport"]

READ_BYTES = 1 << 20


class BulkTransport(httpx.BaseTransport):
    """HTTP/1.1 through a urllib3 pool; bodies stream in READ_BYTES reads, undecoded (httpx
    decodes any Content-Encoding itself, as with its own transport)."""

    def __init__(self, read_bytes: int = READ_BYTES) -> None:
        self._read_bytes = read_bytes
        self._pool = urllib3.PoolManager(
            num_pools=4, maxsize=4, ssl_context=httpx.create_ssl_context()
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        try:
            answer = self._pool.urlopen(
                request.method,
                str(request.url),
                body=request.read() or None,
                headers=dict(request.headers),
                redirect=False,  # httpx follows redirects and keeps their history
                retries=False,  # the store decides what is worth another attempt
                preload_content=False,
                decode_content=False,
                timeout=urllib3.Timeout(connect=timeouts.get("connect"), read=timeouts.get("read")),
            )
        except Urllib3Error as exc:
            raise _as_httpx(exc, request) from exc
        return httpx.Response(
            status_code=answer.status,
            headers=list(answer.headers.items()),
            stream=_Body(answer, request, self._read_bytes),
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": (answer.reason or "").encode(),
            },
        )

    def close(self) -> None:
        self._pool.clear()


class _Body(httpx.SyncByteStream):
    def __init__(
        self, answer: urllib3.BaseHTTPResponse, request: httpx.Request, read_bytes: int
    ) -> None:
        self._answer = answer
        self._request = request
        self._read_bytes = read_bytes
        self._finished = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            # read1: what has arrived, up to read_bytes, so a slow body is written (and a
            # cancel noticed) as it comes instead of once a whole buffer is full
            while chunk := self._answer.read1(self._read_bytes, decode_content=False):
                yield chunk
            self._finished = True
        except Urllib3Error as exc:
            raise _as_httpx(exc, self._request) from exc

    def close(self) -> None:
        if not self._finished:  # a body left unread must not be the next request's answer
            self._answer.close()
        self._answer.release_conn()


def _as_httpx(exc: Urllib3Error, request: httpx.Request) -> httpx.TransportError:  # noqa: PLR0911
    """The httpx exception httpcore raises for the same failure; the OS error stays in the
    chain (`raise ... from`), which is what the store reads to tell transient from final."""
    message = str(exc)
    if isinstance(exc, ProxyError):
        return httpx.ProxyError(message, request=request)
    if isinstance(exc, NewConnectionError | SSLError):  # before ConnectTimeoutError: a subclass
        return httpx.ConnectError(message, request=request)
    if isinstance(exc, ConnectTimeoutError):
        return httpx.ConnectTimeout(message, request=request)
    if isinstance(exc, ReadTimeoutError):
        return httpx.ReadTimeout(message, request=request)
    if isinstance(exc, ProtocolError):  # a cut connection, a body shorter than announced
        return httpx.RemoteProtocolError(message, request=request)
    if isinstance(exc, LocationParseError):
        return httpx.UnsupportedProtocol(message, request=request)
    return httpx.TransportError(message, request=request)
