"""The wheels an image build needs from this machine (the CPU torch build where one is on disk),
served as a find-links directory over loopback HTTP: pip inside `docker build --network host`
reads its listing (the Dockerfiles' PIP_FIND_LINKS)."""

from __future__ import annotations

import functools
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["TORCH", "find_links"]

logger = logging.getLogger(__name__)

TORCH = "torch==2.13.0"


@contextmanager
def find_links(directory: Path, *requirements: str) -> Iterator[str]:
    """Download `requirements` (no dependencies) into `directory` and serve it; yields the URL."""
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(directory)]
    subprocess.run([*pip, *requirements], check=True, timeout=1800)
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        logger.debug(format, *args)
