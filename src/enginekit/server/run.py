"""One entry for every engine: `python server.py [--port N] [--host H]`.

PORT and HOST from the environment are the defaults, so the same command works in a container and
in a subprocess. SIGTERM and SIGINT unload the model in the worker and exit with code 0.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from types import FrameType

import uvicorn

from ..logs import InvalidLogLevel, configure_logging, level_from_env
from .base import BaseEngineServer

__all__ = ["DEFAULT_PORT", "parse_args", "run"]

logger = logging.getLogger(__name__)

DEFAULT_PORT = 8766


class _EngineUvicorn(uvicorn.Server):
    """uvicorn that also stops running downloads on SIGTERM/SIGINT, so `docker stop` during a
    /load ends in an orderly exit instead of waiting for the whole model."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._on_exit()
        super().handle_exit(sig, frame)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run an enginekit engine server.")
    parser.add_argument(
        "--port",
        type=int,
        # A string default goes through type=int too, so PORT=abc is a clean usage error.
        default=os.environ.get("PORT") or str(DEFAULT_PORT),
        help=f"port to listen on (default: $PORT, else {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--host",
        default=os.environ.get("HOST") or "127.0.0.1",
        help="address to bind (default: $HOST, else 127.0.0.1)",
    )
    parser.add_argument(
        "--load",
        metavar="MODEL",
        default=os.environ.get("ENGINE_LOAD_MODEL") or None,
        help="load this model at start-up ('default' for the engine's default model; "
        "default: $ENGINE_LOAD_MODEL, else none)",
    )
    return parser.parse_args(argv)


def run(factory: Callable[[], BaseEngineServer], argv: Sequence[str] | None = None) -> None:
    """Parse arguments, set up logging, serve until /shutdown or a signal, exit 0."""
    args = parse_args(argv)
    try:
        configure_logging(level_from_env())
    except InvalidLogLevel as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    server = factory()
    if args.load:
        server.startup_model = server.default_model if args.load == "default" else args.load
    config = uvicorn.Config(
        server.app, host=args.host, port=args.port, log_level="error", access_log=False
    )
    uvicorn_server = _EngineUvicorn(config, on_exit=server.store.cancel_downloads)

    def request_exit() -> None:
        uvicorn_server.should_exit = True

    server.request_exit = request_exit
    # uvicorn re-raises the signal it caught once it has shut down; with a no-op handler in place
    # that re-raise is harmless and the process ends with code 0 after the orderly unload.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)
    logger.info("%s listening on http://%s:%d", server.display_name, args.host, args.port)
    uvicorn_server.run()
    sys.exit(0)
