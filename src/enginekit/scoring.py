"""Comparing a transcription with the text it should be: word error rate and per-word deviations.

Both texts are normalised the same way (case, punctuation, whitespace) before jiwer aligns them, so
"Hello, world!" and "hello world" count as a perfect match.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

import jiwer

__all__ = ["Deviation", "TextComparison", "compare_texts", "normalise"]

_PUNCTUATION = re.compile(r"[^\w\s']|(?<!\w)'|'(?!\w)")


def normalise(text: str) -> str:
    """Lower case, no punctuation (apostrophes inside words stay), single spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(_PUNCTUATION.sub(" ", text).split())


@dataclass(frozen=True)
class Deviation:
    kind: Literal["substituted", "missing", "extra"]
    expected: str | None
    detected: str | None
    position: int


@dataclass(frozen=True)
class TextComparison:
    word_error_rate: float
    reference_words: int
    deviations: list[Deviation]


def compare_texts(expected: str, detected: str) -> TextComparison:
    reference, hypothesis = normalise(expected), normalise(detected)
    if not reference:
        extra = hypothesis.split()
        return TextComparison(
            float(bool(extra)), 0, [Deviation("extra", None, w, 0) for w in extra]
        )
    if not hypothesis:
        words = reference.split()
        return TextComparison(
            1.0, len(words), [Deviation("missing", w, None, i) for i, w in enumerate(words)]
        )
    output = jiwer.process_words(reference, hypothesis)
    ref_words, hyp_words = output.references[0], output.hypotheses[0]
    deviations: list[Deviation] = []
    for chunk in output.alignments[0]:
        expected_part = ref_words[chunk.ref_start_idx : chunk.ref_end_idx]
        detected_part = hyp_words[chunk.hyp_start_idx : chunk.hyp_end_idx]
        if chunk.type == "substitute":
            deviations += [
                Deviation("substituted", e, d, chunk.ref_start_idx + i)
                for i, (e, d) in enumerate(zip(expected_part, detected_part, strict=True))
            ]
        elif chunk.type == "delete":
            deviations += [
                Deviation("missing", e, None, chunk.ref_start_idx + i)
                for i, e in enumerate(expected_part)
            ]
        elif chunk.type == "insert":
            deviations += [Deviation("extra", None, d, chunk.ref_start_idx) for d in detected_part]
    return TextComparison(float(output.wer), len(ref_words), deviations)
