"""What a `describe` answers and which model a request names: the engine's models are the
Wyoming voices (TTS) or ASR models (STT); downloadable ones are listed with `installed: false`
and are fetched through the runtime's hotswap path when a request names them."""

from __future__ import annotations

import asyncio

from wyoming.info import (
    AsrModel,
    AsrProgram,
    Attribution,
    Info,
    TtsProgram,
    TtsVoice,
    TtsVoiceSpeaker,
)

from ... import __version__
from ...engine import STTEngine, TTSEngine
from ...errors import InvalidInput
from ...runtime import ModelListing, Runtime

__all__ = ["choose_model", "describe", "language_family", "language_of", "sample_speakers"]


def language_family(code: str) -> str:
    """'en_US', 'en-us' and 'EN' all speak 'en'."""
    return code.replace("_", "-").split("-")[0].lower()


def sample_speakers(runtime: Runtime) -> list[str]:
    """A cloning engine's speakers: the WAV samples in samples/, by file name."""
    manifest = runtime.manifest
    if manifest is None or not manifest.capabilities.supports_speaker_cloning:
        return []
    return sorted(p.name for p in runtime.layout.samples_dir.glob("*.wav") if p.is_file())


async def describe(runtime: Runtime) -> Info:
    listing = await asyncio.to_thread(runtime.catalog.listing)
    speakers = await asyncio.to_thread(sample_speakers, runtime)
    manifest = runtime.manifest
    attribution = Attribution(
        name=manifest.upstream.name if manifest else runtime.display_name,
        url=manifest.upstream.url if manifest else "",
    )
    name, engine = runtime.engine_name, runtime.engine
    description = (manifest.description if manifest else None) or runtime.display_name
    info = Info()
    if isinstance(engine, TTSEngine):
        voices = [_voice(model, attribution, speakers) for model in listing]
        info.tts.append(
            TtsProgram(
                name=name,
                attribution=attribution,
                installed=True,
                description=description,
                version=__version__,
                voices=voices,
                supports_synthesize_streaming=True,
            )
        )
    if isinstance(engine, STTEngine):
        models = [_asr_model(model, attribution) for model in listing]
        info.asr.append(
            AsrProgram(
                name=name,
                attribution=attribution,
                installed=True,
                description=description,
                version=__version__,
                models=models,
                supports_transcript_streaming=True,
            )
        )
    return info


def _voice(model: ModelListing, attribution: Attribution, speakers: list[str]) -> TtsVoice:
    return TtsVoice(
        name=model.name,
        attribution=attribution,
        installed=model.source != "downloadable",
        description=model.display_name,
        version=None,
        languages=list(model.languages),
        speakers=[TtsVoiceSpeaker(name=s) for s in speakers] or None,
    )


def _asr_model(model: ModelListing, attribution: Attribution) -> AsrModel:
    return AsrModel(
        name=model.name,
        attribution=attribution,
        installed=model.source != "downloadable",
        description=model.display_name,
        version=None,
        languages=list(model.languages),
    )


async def choose_model(runtime: Runtime, name: str | None, language: str | None) -> str:
    """The named model; else the loaded one if it speaks `language`; else the first model that
    does (installed first); else the engine's default. The runtime checks the name. During a
    load, "the loaded one" is the one that load leaves."""
    if name:
        return name
    await runtime.loads_settled()
    loaded = runtime.state.current_model if runtime.state.model_loaded else None
    if language is None:
        default = loaded or await asyncio.to_thread(runtime.catalog.default_model)
        if default is None:
            raise InvalidInput("This engine has no models")
        return default
    listing = await asyncio.to_thread(runtime.catalog.listing)
    family = language_family(language)
    speaking = [m for m in listing if family in {language_family(c) for c in m.languages}]
    if loaded is not None and loaded in {m.name for m in speaking}:
        return loaded
    if not speaking:
        languages = sorted({language_family(c) for m in listing for c in m.languages})
        raise InvalidInput(
            f"No model for language {language!r}; languages: {', '.join(languages) or 'none'}"
        )
    installed = [m for m in speaking if m.source != "downloadable"]
    return (installed or speaking)[0].name


def language_of(runtime: Runtime, model: str, requested: str | None) -> str:
    """The language to speak: the request's, else the model's first, else the engine's first."""
    if requested:
        return requested
    catalog = runtime.manifest.catalog_model(model) if runtime.manifest else None
    if catalog is not None and catalog.languages:
        return catalog.languages[0]
    supported = runtime.manifest.supported_languages if runtime.manifest else []
    return supported[0] if supported else "en"
