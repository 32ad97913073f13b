"""Model names: the one gate before a name becomes a path."""

from __future__ import annotations

import pytest

from enginekit.errors import InvalidModelName
from enginekit.store import validate_model_name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("..", "relative directory"),
        (".", "relative directory"),
        ("../etc", "separator"),
        ("a/b", "separator"),
        ("a\\b", "separator"),
        ("a\x00b", "NUL"),
        (".hidden", "hidden"),
        ("x" * 256, "longer than 255 bytes"),
        ("é" * 128, "longer than 255 bytes"),
        ("lost+found", "reserved"),
    ],
)
def test_unsafe_names_are_refused_with_the_reason(name: str, reason: str) -> None:
    with pytest.raises(InvalidModelName, match=reason) as caught:
        validate_model_name(name)
    assert "Allowed:" in caught.value.detail


@pytest.mark.parametrize("name", ["en_US-joe-medium", "tiny.en", "x" * 255, "模型", "v2.0.2"])
def test_plain_names_pass_unchanged(name: str) -> None:
    assert validate_model_name(name) == name
