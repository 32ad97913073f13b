"""Errors as Wyoming `error` events, and the checks of event fields every session shares."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from wyoming.error import Error
from wyoming.event import Event

from ...errors import EnginekitError, InvalidInput

__all__ = ["Send", "error_event", "optional_text", "required_text"]

Send = Callable[[Event], Awaitable[None]]

_WORD_START = re.compile(r"(?<!^)(?=[A-Z])")


def error_event(exc: EnginekitError) -> Event:
    """`text` is the sentence HTTP would answer with; `code` the error's class in kebab case
    (invalid-input, model-not-found, model-loading, payload-too-large, ...)."""
    code = _WORD_START.sub("-", type(exc).__name__).lower()
    return Error(text=exc.detail, code=code).event()


def required_text(data: dict[str, Any], key: str, event_type: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise InvalidInput(f"{event_type} needs a string {key!r}")
    return value


def optional_text(data: dict[str, Any], key: str, event_type: str) -> str | None:
    """A string field, None when absent or empty."""
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"{event_type}: {key!r} must be a string")
    return value or None
