"""A TCP relay from an address containers can reach (the host's docker0 address) to a loopback
server: the test file server binds 127.0.0.1 only, and containers on an overlay network cannot
reach the host's loopback."""

from __future__ import annotations

import contextlib
import socket
import threading


class Relay:
    def __init__(self, listen_host: str, target_port: int) -> None:
        self._target = ("127.0.0.1", target_port)
        self._server = socket.create_server((listen_host, 0))
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.host, self.port = listen_host, int(self._server.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self._target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._server.close()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.close()
