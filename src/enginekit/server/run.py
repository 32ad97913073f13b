"""One entry for every engine: `python server.py [--port N] [--host H] [--load MODEL]
[--wyoming URI]`.

Settings are read once here (PORT and HOST are the defaults of --port and --host, so the same
command works in a container and in a subprocess). SIGTERM and SIGINT unload the model in the
worker and exit with code 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from types import FrameType

import uvicorn

from ..doors import create_app
from ..engine import Engine, EngineContext
from ..errors import InvalidSetting
from ..layout import EngineLayout
from ..logs import configure_logging
from ..runtime import Runtime
from ..settings import Settings, wyoming_uri

__all__ = ["parse_args", "run"]

logger = logging.getLogger(__name__)


class _EngineUvicorn(uvicorn.Server):
    """uvicorn that also stops running downloads on SIGTERM/SIGINT, so `docker stop` during a
    /load ends in an orderly exit instead of waiting for the whole model."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit
        self._exiting = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Once: a second signal can arrive while the first handler is inside `on_exit` (it
        # sets a threading.Event, whose lock is not reentrant) and would wait on itself.
        if not self._exiting:
            self._exiting = True
            self._on_exit()
        super().handle_exit(sig, frame)


def parse_args(settings: Settings, argv: Sequence[str] | None = None) -> Settings:
    """The command line over the environment's settings."""
    server = settings.server
    parser = argparse.ArgumentParser(description="Run an enginekit engine server.")
    parser.add_argument(
        "--port", type=int, default=server.port,
        help=f"port to listen on (default: $PORT, else {server.port})",
    )  # fmt: skip
    parser.add_argument(
        "--host", default=server.host, help="address to bind (default: $HOST, else 127.0.0.1)"
    )
    parser.add_argument(
        "--load", metavar="MODEL", default=server.load_model,
        help="load this model at start-up ('default' for the engine's default model; "
        "default: $ENGINE_LOAD_MODEL, else none)",
    )  # fmt: skip
    parser.add_argument(
        "--wyoming", metavar="URI", default=server.wyoming_uri,
        help="also serve the Wyoming protocol at tcp://HOST:PORT or unix://PATH "
        "(default: $ENGINE_WYOMING_URI, else none)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    wyoming = wyoming_uri(args.wyoming or "", "--wyoming")
    return dataclasses.replace(
        settings,
        server=dataclasses.replace(
            server, port=args.port, host=args.host, load_model=args.load, wyoming_uri=wyoming
        ),
    )


def run(engine_class: Callable[[EngineContext], Engine], argv: Sequence[str] | None = None) -> None:
    """Read settings, set up logging, serve until /shutdown or a signal, exit 0."""
    try:
        settings = parse_args(Settings.from_env(), argv)
    except InvalidSetting as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        sys.exit(2)
    configure_logging(settings.log_level)
    server = settings.server
    try:  # bound first, so a busy port is one line before anything claims to be ready
        listener = socket.create_server(
            (server.host, server.port),
            family=socket.AF_INET6 if ":" in server.host else socket.AF_INET,
        )
        # Accepted connections inherit it. asyncio sets it only on sockets it made itself
        # (proto IPPROTO_TCP); without it every keep-alive answer waits ~40 ms for an ACK.
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError as exc:
        print(f"error: cannot listen on {server.host}:{server.port}: {exc.strerror}",
              file=sys.stderr)  # fmt: skip
        sys.exit(1)
    layout = EngineLayout.detect(settings.engine_home, external_dir=settings.external_models)
    runtime = Runtime(engine_class, layout, settings)
    uvicorn_server: _EngineUvicorn | None = None

    def request_exit() -> None:
        if uvicorn_server is not None:
            uvicorn_server.should_exit = True

    config = uvicorn.Config(
        create_app(runtime, request_exit),
        host=server.host, port=server.port, log_level="error", access_log=False,
    )  # fmt: skip
    uvicorn_server = _EngineUvicorn(config, on_exit=runtime.store.cancel_downloads)
    # uvicorn re-raises the signal it caught once it has shut down; with a no-op handler in place
    # that re-raise is harmless and the process ends with code 0 after the orderly unload.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)
    logger.info("%s listening on http://%s:%d", runtime.display_name, server.host, server.port)
    uvicorn_server.run(sockets=[listener])
    sys.exit(0)
