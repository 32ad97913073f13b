"""Door input to typed engine requests, with the contract's validation order (engine-api.md §4.1,
§5): every door (origin contract, OpenAI, Wyoming) builds its requests here, so the rules exist
once."""

from __future__ import annotations

import base64
import binascii
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..audio import decode_audio, wav_duration
from ..engine import (
    AnalysisRequest,
    PronunciationRule,
    QualityThresholds,
    SynthesisRequest,
)
from ..errors import InvalidInput, NotFound, PayloadTooLarge
from ..manifest import EngineManifest
from .parameters import check_parameters
from .samples import check_inside, check_speaker_file

__all__ = [
    "WAV_HEADER_BYTES",
    "RequestRules",
    "analysis_request",
    "audio_bytes",
    "check_duration",
    "check_wav",
    "synthesis_request",
    "wav_audio",
]

WAV_HEADER_BYTES = 44


@dataclass(frozen=True)
class RequestRules:
    """What validation needs to know about an engine. `confine_audio_paths`: /analyze reads
    `audioPath` only inside samples/ too (an engine reachable from other machines)."""

    manifest: EngineManifest | None
    display_name: str
    samples_dir: Path
    max_audio_bytes: int = 100 * 1024 * 1024
    confine_audio_paths: bool = False


def synthesis_request(
    rules: RequestRules,
    text: str,
    language: str,
    speakers: str | Sequence[str],
    parameters: Mapping[str, Any],
) -> SynthesisRequest:
    """Blank text, blank language, length, speaker files, cloning, then declared parameters."""
    manifest, display_name, samples_dir = rules.manifest, rules.display_name, rules.samples_dir
    if not text.strip():
        raise InvalidInput("Text cannot be empty")
    if not language.strip():
        raise InvalidInput("Language cannot be empty")
    limit = manifest.constraints.max_text_length if manifest else None
    if limit and len(text) > limit:
        raise InvalidInput(
            f"Text too long ({len(text)} chars). {display_name} max is {limit} chars. "
            "Use text segmentation to split into smaller chunks."
        )
    entries = [speakers] if isinstance(speakers, str) else list(speakers)
    named = [entry for entry in entries if entry.strip()]
    for entry in named:
        check_speaker_file(samples_dir, entry)
    cloning = manifest is not None and manifest.capabilities.supports_speaker_cloning
    if cloning and not (speakers.strip() if isinstance(speakers, str) else speakers):
        raise InvalidInput(
            f"{display_name} requires speaker samples for voice cloning. "
            "Upload samples via /samples/upload and include sample IDs in tts_speaker_wav."
        )
    check_parameters(manifest, dict(parameters))
    return SynthesisRequest(
        text=text,
        language=language,
        speakers=tuple(samples_dir / entry for entry in named),
        parameters=dict(parameters),
    )


def audio_bytes(
    rules: RequestRules, audio_base64: str | None, audio_path: str | None, confined: bool
) -> bytes:
    """The audio of an /analyze or /transcribe body (§5 steps 2-3). `confined`: `audio_path` is
    taken relative to samples/ and must stay inside it; otherwise (the reference's /analyze on
    a loopback engine) any server-local regular file. Blocking: call it off the event loop."""
    if audio_base64:
        audio = _decode_base64(audio_base64)
    elif audio_path:
        shown = _shown(audio_path)
        if confined:
            audio_path = str(rules.samples_dir / audio_path)
            check_inside(rules.samples_dir, audio_path)
        audio = _read_regular_file(audio_path, shown, rules.max_audio_bytes)
    else:
        raise InvalidInput("Either audio_base64 or audio_path must be provided")
    if not audio:
        raise InvalidInput("Audio data is empty")
    return audio


def wav_audio(
    rules: RequestRules, audio_base64: str | None, audio_path: str | None, confined: bool
) -> bytes:
    """The WAV of an /analyze or /transcribe body, checked as the contract says (blocking)."""
    audio = audio_bytes(rules, audio_base64, audio_path, confined)
    check_wav(rules, audio)
    return audio


def check_wav(rules: RequestRules, audio: bytes) -> None:
    """The contract's WAV checks (§5 steps 4-5), then constraints.max_audio_duration."""
    if len(audio) < WAV_HEADER_BYTES:
        raise InvalidInput("Audio data too small to be valid WAV")
    if audio[0:4] != b"RIFF" or audio[8:12] != b"WAVE":
        raise InvalidInput("Invalid audio format: expected WAV file")
    seconds = wav_duration(audio)
    if seconds is not None:
        check_duration(rules, seconds)


def check_duration(rules: RequestRules, seconds: float) -> None:
    """constraints.max_audio_duration, for audio from any door."""
    limit = rules.manifest.constraints.max_audio_duration if rules.manifest else None
    if limit and seconds > limit:
        raise InvalidInput(
            f"Audio too long ({seconds:.1f} s). {rules.display_name} max is {limit} s. "
            "Split the audio into shorter parts."
        )


def analysis_request(
    audio: bytes,
    *,
    sample_rate: int | None,
    language: str,
    thresholds: QualityThresholds,
    expected_text: str | None,
    pronunciation_rules: Sequence[PronunciationRule],
) -> AnalysisRequest:
    samples, rate = decode_audio(audio, sample_rate)
    return AnalysisRequest(
        audio=samples,
        sample_rate=rate,
        language=language,
        thresholds=thresholds,
        expected_text=expected_text,
        pronunciation_rules=tuple(pronunciation_rules),
    )


SHOWN_INPUT_CHARS = 120


def _shown(text: str) -> str:
    """A client's string as an error quotes it: a short prefix, never the whole input."""
    return text if len(text) <= SHOWN_INPUT_CHARS else text[:SHOWN_INPUT_CHARS] + "..."


def _decode_base64(text: str) -> bytes:
    """Non-strict like the reference: characters outside the alphabet are dropped."""
    try:
        return base64.b64decode(text)
    except binascii.Error as exc:
        raise InvalidInput(f"Invalid base64 audio: {exc}") from exc
    except ValueError:  # non-ASCII characters
        raise InvalidInput("Invalid base64 audio: only ASCII characters are allowed") from None


def _read_regular_file(path: str, shown: str, limit: int) -> bytes:
    """A regular file only (never a FIFO, a device such as /dev/zero, or a directory), at most
    `limit` bytes; opened without blocking so a FIFO cannot hang the reader."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except (FileNotFoundError, NotADirectoryError):
        raise NotFound(f"Audio file not found: {shown}") from None
    except ValueError:
        raise InvalidInput("Invalid audio path: it contains a NUL character") from None
    except OSError as exc:
        raise InvalidInput(f"Cannot read audio file {shown}: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise InvalidInput(f"Audio path is not a regular file: {shown}")
    with os.fdopen(descriptor, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(limit)
    return data
