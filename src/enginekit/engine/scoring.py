"""Comparing a transcription with the text it should be: word error rate and per-word deviations.

Both texts are normalised the same way (case, punctuation, whitespace) before jiwer aligns them, so
"Hello, world!" and "hello world" count as a perfect match.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import jiwer

from .types import (
    AnalysisDetails,
    AnalysisResult,
    InfoBlockItem,
    PronunciationRule,
    QualityField,
    Transcript,
)

__all__ = [
    "Deviation",
    "TextComparison",
    "apply_rules",
    "compare_texts",
    "normalise",
    "score_transcript",
]

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


DEVIATION_LABELS = {"substituted": "wordMismatch", "missing": "missingWord", "extra": "extraWord"}


def apply_rules(text: str, rules: Sequence[PronunciationRule]) -> str:
    """What the speaker was asked to say, after the client's pronunciation rules."""
    for rule in (r for r in rules if r.is_active):
        if rule.is_regex:
            text = re.sub(rule.pattern, rule.replacement, text)
        else:
            text = text.replace(rule.pattern, rule.replacement)
    return text


def score_transcript(
    transcript: Transcript,
    expected_text: str | None,
    rules: Sequence[PronunciationRule],
    top_label: str,
) -> AnalysisResult:
    """The STT engines' /analyze: word confidence without an expected text, else 1 - WER with
    one info item per deviating word."""
    probabilities = [w.probability for w in transcript.words]
    confidence = round(100 * sum(probabilities) / len(probabilities)) if probabilities else 0
    fields = [
        QualityField(key="transcription", value=transcript.text, type="text"),
        QualityField(key="confidence", value=confidence, type="percent"),
        QualityField(key="language", value=transcript.language, type="string"),
        QualityField(key="duration", value=transcript.duration, type="seconds"),
    ]
    if not expected_text:
        details = AnalysisDetails(top_label=top_label, fields=fields)
        return AnalysisResult(quality_score=confidence, details=details)
    comparison = compare_texts(apply_rules(expected_text, rules), transcript.text)
    error_rate = min(comparison.word_error_rate, 1.0)
    fields.append(
        QualityField(key="wordErrorRate", value=round(100 * error_rate, 1), type="percent")
    )
    deviations = [
        InfoBlockItem(
            text=DEVIATION_LABELS[d.kind],
            severity="warning" if d.kind == "substituted" else "error",
            details={"expected": d.expected, "detected": d.detected, "position": d.position},
        )
        for d in comparison.deviations
    ]
    details = AnalysisDetails(
        top_label=top_label,
        fields=fields,
        info_blocks={"textDeviations": deviations} if deviations else {},
    )
    return AnalysisResult(quality_score=round(100 * (1 - error_rate)), details=details)
