"""`voice` to what the engine can speak with: a speaker sample in samples/ (cloning engines), a
speaker of a multi-speaker model, or the engine's default voice.

OpenAI's voice names (alloy, nova, ...) mean the default voice, unless the operator maps them in
engine.yaml: `engine_config: {openai_voices: {alloy: narrator}}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...engine import TTSEngine
from ...errors import shown, shown_names
from ...runtime import Runtime
from .errors import InvalidParameter
from .wire import Voice

__all__ = ["DEFAULT_VOICE", "OPENAI_VOICES", "ResolvedVoice", "available_voices", "resolve_voice"]

DEFAULT_VOICE = "default"
OPENAI_VOICES = frozenset(
    {"alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer",
     "verse", "marin", "cedar"}
)  # fmt: skip
SAMPLE_SUFFIX = ".wav"


@dataclass(frozen=True)
class ResolvedVoice:
    """What a synthesis request gets for a voice: speaker files and/or parameters."""

    speakers: tuple[str, ...] = ()
    parameters: Mapping[str, Any] = field(default_factory=dict)


def _clones(runtime: Runtime) -> bool:
    manifest = runtime.manifest
    return bool(manifest and manifest.capabilities.supports_speaker_cloning)


def _samples(runtime: Runtime) -> list[str]:
    return sorted(p.stem for p in runtime.layout.samples_dir.glob(f"*{SAMPLE_SUFFIX}"))


def _speakers(runtime: Runtime, engine: TTSEngine) -> Mapping[str, Mapping[str, Any]]:
    """Speakers exist only while a model is loaded."""
    return engine.speakers() if runtime.state.model_loaded else {}


def operator_mapping(runtime: Runtime) -> dict[str, str]:
    config = runtime.manifest.engine_config if runtime.manifest else {}
    mapping = config.get("openai_voices")
    if not isinstance(mapping, dict):
        return {}
    return {str(key): str(value) for key, value in mapping.items()}


def available_voices(runtime: Runtime, engine: TTSEngine) -> list[Voice]:
    """What a client can really pick (OpenAI's names are accepted on top of these)."""
    if _clones(runtime):
        return [Voice(id=name, name=name) for name in _samples(runtime)]
    default = Voice(id=DEFAULT_VOICE, name=f"{runtime.display_name} default voice")
    return [default] + [Voice(id=name, name=name) for name in _speakers(runtime, engine)]


def resolve_voice(runtime: Runtime, engine: TTSEngine, requested: str) -> ResolvedVoice:
    name = operator_mapping(runtime).get(requested, requested)
    if _clones(runtime):
        return _sample_voice(runtime, requested, name)
    speakers = _speakers(runtime, engine)
    if name in speakers:
        return ResolvedVoice(parameters=dict(speakers[name]))
    if name == DEFAULT_VOICE or name in OPENAI_VOICES:
        return ResolvedVoice()
    known = shown_names([DEFAULT_VOICE, *speakers])
    raise InvalidParameter(
        "voice",
        f"Unknown voice {shown(requested)!r}. Available: {known} (or an OpenAI voice name)",
    )


def _sample_voice(runtime: Runtime, requested: str, name: str) -> ResolvedVoice:
    samples = _samples(runtime)
    stem = name.removesuffix(SAMPLE_SUFFIX)
    if stem in samples:
        return ResolvedVoice(speakers=(stem + SAMPLE_SUFFIX,))
    listing = ", ".join(samples) or "none yet; upload one with POST /samples/upload/{id}"
    hint = (
        f" or map {requested!r} to a sample in engine.yaml (engine_config.openai_voices)"
        if requested in OPENAI_VOICES
        else ""
    )
    raise InvalidParameter(
        "voice",
        f"{runtime.display_name} clones voices: name a speaker sample in samples/"
        f"{hint}. Available: {listing}",
    )
