"""A transcript in each of OpenAI's response formats: json, text, srt, vtt, verbose_json, and the
SSE events of `stream=true`."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Literal

from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from ...engine import Transcript, TranscriptSegment
from .events import SSE_MEDIA_TYPE, ending_in_an_error_event, sse_event
from .wire import (
    Granularity,
    TranscriptFormat,
    VerboseSegment,
    VerboseTranscription,
    VerboseWord,
)

__all__ = ["render", "srt", "stream_events", "timestamp", "vtt"]

Task = Literal["transcribe", "translate"]
SEEK_FRAMES_PER_SECOND = 100  # Whisper's mel frames: `seek` counts 10 ms steps


def timestamp(seconds: float, decimal: str) -> str:
    """HH:MM:SS,mmm (SubRip) or HH:MM:SS.mmm (WebVTT)."""
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


def _cues(segments: Sequence[TranscriptSegment]) -> list[TranscriptSegment]:
    return [s for s in segments if s.text.strip()]


def srt(segments: Sequence[TranscriptSegment]) -> str:
    """Cues numbered from 1, a blank line after each."""
    return "".join(
        f"{number}\n{timestamp(s.start, ',')} --> {timestamp(s.end, ',')}\n{s.text.strip()}\n\n"
        for number, s in enumerate(_cues(segments), start=1)
    )


def vtt(segments: Sequence[TranscriptSegment]) -> str:
    cues = "".join(
        f"{timestamp(s.start, '.')} --> {timestamp(s.end, '.')}\n{s.text.strip()}\n\n"
        for s in _cues(segments)
    )
    return f"WEBVTT\n\n{cues}"


def verbose(
    transcript: Transcript, task: Task, granularities: Sequence[Granularity]
) -> VerboseTranscription:
    """Segments unless only words were asked for (OpenAI's default is segments); words only when
    asked for."""
    segments = [
        VerboseSegment(
            id=index, seek=round(s.start * SEEK_FRAMES_PER_SECOND), start=s.start, end=s.end,
            text=s.text, tokens=s.tokens, temperature=s.temperature or 0.0,
            avg_logprob=s.avg_logprob or 0.0, compression_ratio=s.compression_ratio or 0.0,
            no_speech_prob=s.no_speech_prob or 0.0,
        )
        for index, s in enumerate(transcript.segments)
    ]  # fmt: skip
    words = [VerboseWord(word=w.word, start=w.start, end=w.end) for w in transcript.words]
    return VerboseTranscription(
        task=task,
        language=transcript.language,
        duration=transcript.duration,
        text=transcript.text,
        segments=segments if "segment" in granularities or not granularities else None,
        words=words if "word" in granularities else None,
    )


def render(
    transcript: Transcript,
    response_format: TranscriptFormat,
    task: Task,
    granularities: Sequence[Granularity],
) -> Response:
    if response_format == "json":
        return JSONResponse({"text": transcript.text})
    if response_format == "verbose_json":
        return JSONResponse(verbose(transcript, task, granularities).model_dump(exclude_none=True))
    if response_format == "srt":
        return PlainTextResponse(srt(transcript.segments))
    if response_format == "vtt":
        return PlainTextResponse(vtt(transcript.segments), media_type="text/vtt")
    return PlainTextResponse(transcript.text + "\n")


async def _events(
    first: TranscriptSegment | None, rest: AsyncGenerator[TranscriptSegment, None]
) -> AsyncGenerator[bytes, None]:
    pieces: list[str] = []
    try:
        segment = first
        while segment is not None:
            if piece := segment.text.strip():
                yield sse_event("transcript.text.delta", delta=(" " if pieces else "") + piece)
                pieces.append(piece)
            segment = await anext(rest, None)
    finally:
        await rest.aclose()  # a client gone mid-stream ends the engine's job now
    yield sse_event("transcript.text.done", text=" ".join(pieces))


def stream_events(
    first: TranscriptSegment | None, rest: AsyncGenerator[TranscriptSegment, None]
) -> StreamingResponse:
    """`stream=true`: one delta per segment as the engine recognises it, then the whole
    text."""
    events = ending_in_an_error_event(_events(first, rest))
    return StreamingResponse(events, media_type=SSE_MEDIA_TYPE)
