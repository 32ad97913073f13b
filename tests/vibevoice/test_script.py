"""How request text becomes a VibeVoice script and which sample speaks which turn (the engine's
script.py, pure Python: runs in the main environment, no model needed)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from enginekit.errors import InvalidInput

from .conftest import SOURCE


def _script_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vibevoice_script", SOURCE / "script.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


script = _script_module()
A, B, C = Path("a.wav"), Path("b.wav"), Path("c.wav")


def test_speakers_take_samples_in_the_order_of_their_numbers_whatever_the_numbering() -> None:
    parsed = script.parse_script("Speaker 3: Last number.\nspeaker 1 : First number.")
    assert parsed.text() == "Speaker 1: Last number.\nSpeaker 0: First number."
    assert parsed.samples([A, B]) == [A, B]  # a.wav speaks for Speaker 1, b.wav for Speaker 3


def test_unlabelled_lines_continue_the_turn_above_and_empty_turns_are_dropped() -> None:
    parsed = script.parse_script("Speaker 1: One\ncontinued here.\n\nSpeaker 2:\nSpeaker 1: Two")
    assert parsed.turns == ((1, "One continued here."), (1, "Two"))
    assert parsed.samples([A]) == [A]


def test_plain_text_is_one_turn_with_the_first_sample() -> None:
    parsed = script.parse_script("First line.\n  Second line.  ")
    assert parsed.text() == "Speaker 0: First line. Second line."
    assert parsed.samples([A, B, C]) == [A]


def test_text_before_the_first_label_or_only_empty_turns_is_refused() -> None:
    with pytest.raises(InvalidInput, match="Text before the first 'Speaker N:' line"):
        script.parse_script("A title\nSpeaker 1: Hello.")
    with pytest.raises(InvalidInput, match="nothing to speak"):
        script.parse_script("Speaker 1:\nSpeaker 2:  ")


def test_a_sample_count_that_differs_from_the_speakers_is_refused() -> None:
    parsed = script.parse_script("Speaker 1: Hi.\nSpeaker 2: Hello.\nSpeaker 4: Hey.")
    with pytest.raises(InvalidInput, match=r"3 speakers \(Speaker 1, Speaker 2, Speaker 4\)"):
        parsed.samples([A, B])
