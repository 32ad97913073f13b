"""Speech to text over Wyoming: an optional `transcribe {name, language}`, then `audio-start`,
`audio-chunk`s in any rate, width and channel count, and `audio-stop`; the answer is
`transcript-start`, one `transcript-chunk` per segment, `transcript`, `transcript-stop`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from wyoming.asr import Transcript, TranscriptChunk, TranscriptStart, TranscriptStop
from wyoming.event import Event

from ...engine import Transcript as EngineTranscript
from ...engine import TranscriptionRequest
from ...errors import InvalidInput, PayloadTooLarge
from ...runtime import Runtime
from ...runtime.requests import check_duration
from .pcm import PcmFormat, PcmStream
from .programs import choose_model
from .replies import Send, optional_text

__all__ = ["Hearing"]


class Hearing:
    """One connection's STT events; a `transcribe` applies to the next audio stream only. A
    refused stream (bad format, past the upload limit or the engine's longest audio) is one
    error; its further chunks are dropped, so nothing of it is kept."""

    def __init__(self, runtime: Runtime, send: Send) -> None:
        self._runtime = runtime
        self._send = send
        self._limit = runtime.settings.server.max_upload_bytes
        self._model: str | None = None
        self._language: str | None = None
        self._audio: PcmStream | None = None
        self._refused = False  # the current stream was refused: its other events are ignored

    def handlers(self) -> dict[str, Callable[[Event], Awaitable[None]]]:
        return {
            "transcribe": self.transcribe,
            "audio-start": self.audio_start,
            "audio-chunk": self.audio_chunk,
            "audio-stop": self.audio_stop,
        }

    async def transcribe(self, event: Event) -> None:
        self._model = optional_text(event.data, "name", event.type)
        self._language = optional_text(event.data, "language", event.type)

    async def audio_start(self, event: Event) -> None:
        self._audio, self._refused = None, True
        PcmFormat.of(event.data, event.type)  # refuse a bad format before any audio
        self._audio, self._refused = PcmStream(self._runtime.stt().input_sample_rate), False

    async def audio_chunk(self, event: Event) -> None:
        if self._refused:
            return
        audio = self._receiving(event.type)
        self._refused = True  # until the chunk is taken
        audio.add(event.payload or b"", PcmFormat.of(event.data, event.type))
        if audio.bytes_received > self._limit:
            raise PayloadTooLarge(self._limit)
        check_duration(self._runtime.rules, audio.seconds)
        self._refused = False

    async def audio_stop(self, event: Event) -> None:
        if self._refused:
            self._audio, self._refused = None, False
            return
        audio = self._receiving(event.type)
        samples, rate = audio.finish()
        self._audio = None
        model, language, self._model, self._language = self._model, self._language, None, None
        if not len(samples):
            await self._answer(EngineTranscript(text="", language=language or "", duration=0.0))
            return
        runtime = self._runtime
        name = await choose_model(runtime, model, language)
        await runtime.ensure_loaded(name)
        # Nothing awaits from here to the job's start, so no other client's load comes between.
        async with runtime.processing():
            request = TranscriptionRequest(audio=samples, sample_rate=rate, language=language)
            transcript = await runtime.transcribe(request)
        await self._answer(transcript)

    def _receiving(self, event_type: str) -> PcmStream:
        if self._audio is None:
            self._refused = event_type == "audio-chunk"  # one error per stray stream
            raise InvalidInput(f"{event_type} without audio-start")
        return self._audio

    async def _answer(self, transcript: EngineTranscript) -> None:
        language = transcript.language or None
        await self._send(TranscriptStart(language=language).event())
        for index, segment in enumerate(s for s in transcript.segments if s.text):
            text = segment.text if index == 0 else f" {segment.text}"
            await self._send(TranscriptChunk(text=text).event())
        await self._send(Transcript(text=transcript.text, language=language).event())
        await self._send(TranscriptStop().event())
