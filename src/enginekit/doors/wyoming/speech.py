"""Text to speech over Wyoming: `synthesize`, and streaming input (`synthesize-start`,
`synthesize-chunk`s, `synthesize-stop`), each complete sentence spoken as soon as it has arrived.

Audio goes out as the engine yields it: `audio-start` with the first chunk, 16-bit mono
`audio-chunk`s, `audio-stop`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, cast

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.tts import SynthesizeStopped

from ...engine import AudioChunk as EngineChunk
from ...errors import EnginekitError, InvalidInput
from ...runtime import Runtime
from ...runtime.requests import synthesis_request
from .pcm import OUTPUT_WIDTH, pcm16_pieces
from .programs import choose_model, language_of, sample_speakers
from .replies import Send, error_event, optional_text, required_text

__all__ = ["Speech"]

SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
DEFAULT_TEXT_CAP = 10_000
SPEAKER_PARAMETER = "speaker_id"


@dataclass(frozen=True)
class Voice:
    """A request's `voice`: every field optional."""

    name: str | None = None
    language: str | None = None
    speaker: str | None = None

    @classmethod
    def of(cls, data: dict[str, Any], event_type: str) -> Voice:
        voice = data.get("voice") or {}
        if not isinstance(voice, dict):
            raise InvalidInput(f"{event_type}: 'voice' must be an object")
        keys = ("name", "language", "speaker")
        return cls(*(optional_text(voice, key, f"{event_type} voice") for key in keys))


@dataclass
class _TextStream:
    """Streamed text: complete sentences leave at once, the unfinished rest waits."""

    voice: Voice
    cap: int
    pending: str = field(default="")

    def add(self, text: str) -> list[str]:
        *complete, self.pending = SENTENCE_END.split(self.pending + text)
        if len(self.pending) >= self.cap:  # no sentence end in sight: speak what there is
            complete.append(self.pending)
            self.pending = ""
        return [s for s in complete if _speakable(s)]

    def rest(self) -> str | None:
        rest, self.pending = self.pending, ""
        return rest if _speakable(rest) else None


def _speakable(text: str) -> bool:
    """A streamed piece of punctuation alone ('...') is not worth an error event."""
    return any(c.isalnum() for c in text)


class Speech:
    """One connection's TTS events."""

    def __init__(self, runtime: Runtime, send: Send) -> None:
        self._runtime = runtime
        self._send = send
        self._stream: _TextStream | None = None

    def handlers(self) -> dict[str, Callable[[Event], Awaitable[None]]]:
        return {
            "synthesize": self.synthesize,
            "synthesize-start": self.start,
            "synthesize-chunk": self.chunk,
            "synthesize-stop": self.stop,
        }

    async def synthesize(self, event: Event) -> None:
        if self._stream is not None:
            return  # a streaming client's copy of the whole text, sent for older servers
        text = required_text(event.data, "text", event.type)
        await self._speak(text, Voice.of(event.data, event.type))

    async def start(self, event: Event) -> None:
        manifest = self._runtime.manifest
        cap = (manifest.constraints.max_text_length if manifest else None) or DEFAULT_TEXT_CAP
        self._stream = _TextStream(Voice.of(event.data, event.type), cap)

    async def chunk(self, event: Event) -> None:
        stream = self._streaming(event.type)
        for sentence in stream.add(required_text(event.data, "text", event.type)):
            await self._speak_reporting(sentence, stream.voice)

    async def stop(self, event: Event) -> None:
        stream = self._streaming(event.type)
        self._stream = None
        rest = stream.rest()
        if rest is not None:
            await self._speak_reporting(rest, stream.voice)
        await self._send(SynthesizeStopped().event())

    def _streaming(self, event_type: str) -> _TextStream:
        if self._stream is None:
            raise InvalidInput(f"{event_type} without synthesize-start")
        return self._stream

    async def _speak_reporting(self, text: str, voice: Voice) -> None:
        """In a stream, a sentence that fails is reported and the stream goes on."""
        try:
            await self._speak(text, voice)
        except EnginekitError as exc:
            await self._send(error_event(exc))

    async def _speak(self, text: str, voice: Voice) -> None:
        runtime, send = self._runtime, self._send
        speakers, parameters = await self._speaker(voice)
        name = await choose_model(runtime, voice.name, voice.language)
        await runtime.ensure_loaded(name)
        # Nothing awaits from here to the job's start, so no other client's load comes between.
        async with runtime.processing():
            language = language_of(runtime, name, voice.language)
            request = synthesis_request(runtime.rules, text, language, speakers, parameters)
            # An async generator: closed at once when the client goes, which ends the job.
            produced = cast(AsyncGenerator[EngineChunk, None], runtime.synthesize(request))
            started = False
            async with aclosing(produced) as chunks:
                async for chunk in chunks:
                    rate = chunk.sample_rate
                    if not started:
                        await send(AudioStart(rate=rate, width=OUTPUT_WIDTH, channels=1).event())
                        started = True
                    for piece in pcm16_pieces(chunk.samples):
                        await send(AudioChunk(rate, OUTPUT_WIDTH, 1, piece).event())
        await send(AudioStop().event())

    async def _speaker(self, voice: Voice) -> tuple[list[str], dict[str, Any]]:
        """A cloning engine's speaker is a sample (the first one when none is named); an engine
        with a `speaker_id` parameter takes the speaker's number."""
        runtime = self._runtime
        samples = await asyncio.to_thread(sample_speakers, runtime)
        if samples:
            return [voice.speaker or samples[0]], {}
        if voice.speaker is None:
            return [], {}
        declared = runtime.manifest.parameters if runtime.manifest else {}
        if SPEAKER_PARAMETER in declared and voice.speaker.isdigit():
            return [], {SPEAKER_PARAMETER: int(voice.speaker)}
        raise InvalidInput(
            f"Speaker {voice.speaker!r} is not one of this engine's speakers"
            + (" (give the speaker's number)" if SPEAKER_PARAMETER in declared else "")
        )
