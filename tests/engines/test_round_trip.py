"""The round trip of issue 4: English sentences spoken by piper and transcribed by whisper, each
through its own HTTP API on its own real uvicorn, scored by corpus word error rate."""

from __future__ import annotations

import base64

import jiwer

from enginekit.engine.scoring import normalise

from .helpers import LiveEngine, generate_body

MAX_CORPUS_WER = 0.15

SENTENCES = (
    "The weather is lovely today, so we walked to the park.",
    "Can you tell me where the nearest train station is?",
    "Mary and John visited their grandmother in London last summer.",
    "She bought three apples, two oranges and a loaf of bread.",
    "The meeting starts at 9 o'clock tomorrow morning.",
    "Our company hired 12 new engineers this year.",
    "Dr. Smith said the results would be ready on Friday.",
    "Why did the children laugh so loudly at the end of the film?",
    "It's raining again; don't forget your umbrella!",
    "Please remember to turn off the lights when you leave the room.",
    "My phone number has seven digits, and I never forget it.",
    "Would you like a cup of tea or a glass of water?",
    "Reading books every evening helps me relax and sleep well.",
    "The river flows quietly through the old stone bridge.",
)


def test_piper_to_whisper_round_trip_word_error_rate(
    piper: LiveEngine, whisper: LiveEngine
) -> None:
    references, hypotheses, lines = [], [], []
    for sentence in SENTENCES:
        spoken = piper.client.post("/generate", json=generate_body(sentence))
        assert spoken.status_code == 200, spoken.text
        heard = whisper.client.post(
            "/transcribe",
            json={"audioBase64": base64.b64encode(spoken.content).decode(), "language": "en"},
        )
        assert heard.status_code == 200, heard.text
        text = heard.json()["text"]
        references.append(normalise(sentence))
        hypotheses.append(normalise(text))
        lines.append(f"  {sentence!r} -> {text!r}")
    wer = jiwer.wer(references, hypotheses)
    report = f"corpus WER {wer:.4f} over {len(SENTENCES)} sentences\n" + "\n".join(lines)
    print(f"\npiper -> whisper round trip: {report}")
    assert wer <= MAX_CORPUS_WER, report
