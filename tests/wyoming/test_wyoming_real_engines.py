"""piper and whisper over Wyoming: piper's voices (installed and downloadable), speech from its
packaged voice, and that speech understood by whisper tiny.en over Wyoming, in whatever format
the client sends it."""

from __future__ import annotations

import numpy as np
import pytest
from engines.helpers import FOX, PIPER_VOICE
from wyoming.asr import Transcribe
from wyoming.audio import AudioStart
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeVoice
from wyoming_helpers import (
    WyomingEngine,
    audio_runs,
    pcm16_samples,
    stream,
    talk,
    types,
)

WORDS = ("quick", "brown", "fox", "lazy", "dog")


@pytest.fixture(scope="module")
def fox_speech(piper: WyomingEngine) -> tuple[AudioStart, np.ndarray]:
    events = talk(piper.uri, [Synthesize(FOX, voice=SynthesizeVoice(name=PIPER_VOICE))])
    ((start, pcm),) = audio_runs(events)
    return start, pcm16_samples(pcm)


def test_piper_lists_its_packaged_voice_installed_and_the_catalog_as_downloadable(
    piper: WyomingEngine,
) -> None:
    (event,) = talk(piper.uri, [Describe()])
    (program,) = Info.from_event(event).tts
    voices = {v.name: v for v in program.voices}
    assert voices[PIPER_VOICE].installed and voices[PIPER_VOICE].languages == ["en"]
    assert not voices["de_DE-thorsten-medium"].installed
    assert voices["de_DE-thorsten-medium"].languages == ["de"]
    assert program.voices[0].name == PIPER_VOICE  # installed voices first


def test_piper_speaks_its_voice_as_22050_hz_mono_16_bit(
    fox_speech: tuple[AudioStart, np.ndarray],
) -> None:
    start, samples = fox_speech
    assert (start.rate, start.width, start.channels) == (22050, 2, 1)
    assert 1.5 < len(samples) / start.rate < 6.0
    assert np.sqrt(np.mean(samples**2)) > 0.01


def test_a_language_piper_has_no_installed_voice_for_is_a_clear_error(
    piper: WyomingEngine,
) -> None:
    talk(piper.uri, [Synthesize("Hi.", voice=SynthesizeVoice(name=PIPER_VOICE))])
    # SynthesizeVoice sends a name without its language, so the event is written out
    voice = {"name": PIPER_VOICE, "language": "de"}
    events = talk(piper.uri, [Event("synthesize", {"text": "Hallo.", "voice": voice})])
    assert events[-1].data["text"].startswith("Language 'de' is not spoken by this voice")
    assert piper.health()["currentEngineModel"] == PIPER_VOICE


@pytest.mark.parametrize(
    ("width", "channels"), [(2, 1), (3, 2), (4, 1)], ids=["s16-mono", "s24-stereo", "s32-mono"]
)
def test_piper_speech_sent_to_whisper_over_wyoming_is_understood(
    whisper: WyomingEngine,
    fox_speech: tuple[AudioStart, np.ndarray],
    width: int,
    channels: int,
) -> None:
    start, samples = fox_speech
    events = talk(
        whisper.uri,
        [Transcribe(name="tiny.en", language="en"), *stream(samples, start.rate, width, channels)],
        until={"transcript-stop", "error"},
    )
    assert types(events)[-1] == "transcript-stop", events
    (transcript,) = [e for e in events if e.type == "transcript"]
    text = transcript.data["text"].lower()
    assert all(word in text for word in WORDS), text
    chunks = "".join(e.data["text"] for e in events if e.type == "transcript-chunk")
    assert chunks.strip() == transcript.data["text"]


def test_whisper_lists_tiny_en_installed_and_larger_models_downloadable(
    whisper: WyomingEngine,
) -> None:
    (event,) = talk(whisper.uri, [Describe()])
    (program,) = Info.from_event(event).asr
    models = {m.name: m.installed for m in program.models}
    assert models["tiny.en"] is True and models["large-v3"] is False


def test_whisper_hears_nothing_in_silence(whisper: WyomingEngine) -> None:
    events = talk(
        whisper.uri,
        [Transcribe(name="tiny.en"), *stream(np.zeros(16000, np.float32), 16000)],
        until={"transcript-stop", "error"},
    )
    (transcript,) = [e for e in events if e.type == "transcript"]
    assert transcript.data["text"] == ""
