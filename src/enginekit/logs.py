"""Logging set-up shared by the CLI and the servers: one place reads LOG_LEVEL."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

__all__ = ["VALID_LEVELS", "InvalidLogLevel", "configure_logging", "level_from_env"]

VALID_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class InvalidLogLevel(ValueError):
    """LOG_LEVEL names no level; start-up stops with one clear line instead of a traceback."""


def level_from_env(environ: Mapping[str, str] | None = None, default: str = "INFO") -> str:
    env = os.environ if environ is None else environ
    level = env.get("LOG_LEVEL", default).strip().upper() or default
    if level not in VALID_LEVELS:
        raise InvalidLogLevel(
            f"Invalid LOG_LEVEL {env.get('LOG_LEVEL')!r}; valid levels: {', '.join(VALID_LEVELS)}"
        )
    return level


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        force=True,
    )
