"""Audio longer than one Whisper window goes through faster-whisper's batched pipeline behind the
same /transcribe: every sentence comes back, in order, with word timestamps across the whole
recording."""

from __future__ import annotations

from collections.abc import Callable

from enginekit.engine.scoring import normalise

from .helpers import LiveEngine, b64

STORY = (
    "Early in the morning the fishermen pulled their boats onto the sand. "
    "A dog barked at the gulls while the tide went out. "
    "The baker on the corner opened his shutters and the smell of fresh bread filled the street. "
    "At noon the church bell rang twelve times, and the market stalls began to close. "
    "An old man sat on a bench and read yesterday's newspaper, folding it after every page. "
    "In the afternoon a storm rolled in from the west, and the gutters overflowed within minutes. "
    "By evening the lighthouse keeper climbed the spiral stairs and lit the great lamp. "
    "Somewhere a radio played an old song about a sailor who never came home."
)
KEYWORDS = ("fishermen", "dog", "baker", "church", "newspaper", "storm", "lighthouse", "radio")


def test_speech_longer_than_one_window_is_transcribed_whole_with_word_times(
    whisper: LiveEngine, synthesize: Callable[..., bytes]
) -> None:
    wav = synthesize(STORY, noise_scale=0.0, noise_w=0.0)
    reply = whisper.client.post(
        "/transcribe", json={"audioBase64": b64(wav), "language": "en", "wordTimestamps": True}
    )
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert result["duration"] > 30  # more than one window: the batched pipeline's case
    heard = normalise(result["text"])
    positions = [heard.find(keyword) for keyword in KEYWORDS]
    assert all(p >= 0 for p in positions), heard
    assert positions == sorted(positions), heard
    starts = [word["start"] for word in result["words"]]
    assert starts == sorted(starts)
    assert starts[-1] > result["duration"] * 0.8  # the words span the whole recording
