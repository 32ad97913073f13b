"""The `enginekit` command."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import EnginekitError
from ..logs import configure_logging
from ..settings import Settings
from . import check, engines, models, schema, serve

__all__ = ["main"]

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="enginekit",
        description="Speech engines with one model-management pattern.",
    )
    parser.add_argument("--version", action="version", version=f"enginekit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check.register(commands)
    engines.register(commands)
    models.register(commands)
    schema.register(commands)
    serve.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.settings = Settings.from_env(default_log_level="WARNING")
    except EnginekitError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return EXIT_USAGE
    debug = getattr(args, "debug", False) or args.settings.log_level == "DEBUG"
    configure_logging("DEBUG" if debug else args.settings.log_level)
    try:
        return int(args.handler(args))
    except EnginekitError as exc:
        if debug:
            logger.exception("Command failed")
        print(f"error: {exc.detail}", file=sys.stderr)
        return EXIT_USAGE if exc.usage_error else EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
