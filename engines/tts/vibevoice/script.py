"""The text of a request as a VibeVoice script: turns of numbered speakers, each with its sample.

Text with "Speaker N:" lines is a dialogue: the speakers' numbers, in ascending order, take the
samples of `ttsSpeakerWav` in order (Speaker 1 the first, Speaker 2 the second, whatever the
numbering starts at), so the counts must match. A line without a label continues the turn above
it. Text with no such line is one turn spoken with the first sample. The script handed to the
processor numbers the speakers 0.. densely, one turn a line, as the processor expects.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from enginekit.errors import InvalidInput

__all__ = ["Script", "parse_script"]

LABEL = re.compile(r"^\s*speaker\s+(\d+)\s*:(.*)$", re.IGNORECASE)


@dataclass(frozen=True)
class Script:
    turns: tuple[tuple[int, str], ...]  # (speaker number as written, text)
    dialogue: bool

    @property
    def speakers(self) -> list[int]:
        return sorted({number for number, _ in self.turns})

    def text(self) -> str:
        index = {number: position for position, number in enumerate(self.speakers)}
        return "\n".join(f"Speaker {index[number]}: {text}" for number, text in self.turns)

    def samples(self, given: Sequence[Path]) -> list[Path]:
        """One sample per speaker, in the order of their numbers; a 400 when counts differ."""
        if not self.dialogue:
            return list(given[:1])
        speakers = self.speakers
        if len(given) != len(speakers):
            names = ", ".join(f"Speaker {n}" for n in speakers)
            raise InvalidInput(
                f"The text has {len(speakers)} speaker{'s' if len(speakers) > 1 else ''} "
                f"({names}) but ttsSpeakerWav names {len(given)} sample"
                f"{'s' if len(given) != 1 else ''}: give one sample per speaker, in the order "
                "of their numbers"
            )
        return list(given)


def parse_script(text: str) -> Script:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not any(LABEL.match(line) for line in lines):
        return Script(((0, " ".join(lines)),), dialogue=False)
    turns: list[tuple[int, str]] = []
    for line in lines:
        label = LABEL.match(line)
        if label:
            turns.append((int(label[1]), label[2].strip()))
        elif turns:
            number, said = turns[-1]
            turns[-1] = (number, f"{said} {line}".strip())
        else:
            raise InvalidInput(
                f"Text before the first 'Speaker N:' line: {line[:60]!r}; start the dialogue "
                "with a speaker label, or send plain text without labels"
            )
    spoken = tuple((number, said) for number, said in turns if said)
    if not spoken:
        raise InvalidInput("Every 'Speaker N:' line is empty: nothing to speak")
    return Script(spoken, dialogue=True)
