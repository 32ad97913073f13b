"""The one gate every model name passes before it becomes part of a path."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import InvalidModelName, shown

__all__ = ["MAX_NAME_BYTES", "RESERVED_NAMES", "is_visible_name", "validate_model_name"]

MAX_NAME_BYTES = 255
_SEPARATORS = ("/", "\\")
# lost+found sits at the root of every ext4 volume; mounting one at external_models/ must not
# turn it into a model.
RESERVED_NAMES = frozenset({"lost+found"})


def validate_model_name(name: str) -> str:
    """Return `name` unchanged if it is a plain, visible file name; raise InvalidModelName if not.

    Case is kept (`en_US-joe-medium` is a real voice name).
    """
    allowed = "a non-empty file name without '/', '\\', NUL or a leading '.', at most 255 bytes"
    if not name:
        raise InvalidModelName(f"Invalid model name: empty. Allowed: {allowed}")
    problem = _name_problem(name)
    if problem:
        raise InvalidModelName(f"Invalid model name {shown(name)!r}: {problem}. Allowed: {allowed}")
    return name


_RULES: tuple[tuple[Callable[[str], bool], str], ...] = (
    (lambda n: "\x00" in n, "contains NUL"),
    (lambda n: any(sep in n for sep in _SEPARATORS), "contains a path separator"),
    (lambda n: n in (".", ".."), "is a relative directory reference"),
    (lambda n: n.startswith("."), "is hidden (starts with '.')"),
    (
        lambda n: len(n.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES,
        f"is longer than {MAX_NAME_BYTES} bytes",
    ),
    (lambda n: n in RESERVED_NAMES, "is reserved"),
)


def _name_problem(name: str) -> str | None:
    return next((problem for broken, problem in _RULES if broken(name)), None)


def is_visible_name(name: str) -> bool:
    """Whether a directory entry counts as a model (hidden and reserved names never do)."""
    return not name.startswith(".") and name not in RESERVED_NAMES
