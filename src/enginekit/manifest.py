"""`engine.yaml` (schema version 2) as typed models, with errors that name file, field and problem.

One extension over the reference schema: `models[].source`, the model store's download spec, so an
engine can list catalog models that are fetched on first `/load`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from .errors import EnginekitError
from .store.sources import ModelSource

__all__ = [
    "EngineManifest",
    "InstallationInfo",
    "ManifestError",
    "ManifestModel",
    "ParameterSpec",
    "json_schema",
    "load_manifest",
]

EngineType = Literal["tts", "stt", "text", "audio"]
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[a-z]{2})?$")]


class ManifestError(EnginekitError):
    """engine.yaml cannot be read or does not match the schema."""


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Upstream(_Closed):
    name: str = Field(min_length=1)
    url: str
    license: str = Field(min_length=1)


class Variant(_Closed):
    tag: str = Field(min_length=1)
    platforms: list[Literal["linux/amd64", "linux/arm64"]] = Field(min_length=1)
    requires_gpu: bool


class ManifestModel(_Open):
    """A catalog entry; extra keys (size_mb, speed, accuracy, ...) are kept as metadata."""

    name: str = Field(min_length=1)
    display_name: str = Field(min_length=1)
    languages: list[str] | None = None
    path: str | None = None
    source: ModelSource | None = None

    def metadata(self) -> dict[str, Any]:
        """Every key but name, display_name and our source extension, as written in the yaml."""
        return self.model_dump(exclude_unset=True, exclude={"name", "display_name", "source"})


class Constraints(_Open):
    max_text_length: int | None = Field(default=None, ge=1)
    max_audio_duration: int | None = Field(default=None, ge=1)


class Capabilities(_Open):
    supports_model_hotswap: bool | None = None
    supports_speaker_cloning: bool | None = None
    supports_streaming: bool | None = None
    supports_timestamps: bool | None = None
    supports_word_level: bool | None = None
    supports_vad: bool | None = None
    supports_volume_analysis: bool | None = None


class ParameterSpec(_Closed):
    type: Literal["float", "int", "bool", "string"]
    default: Any
    label: str | None = None
    description: str | None = None
    min: float | None = None
    max: float | None = None
    step: float | None = None
    readonly: bool | None = None
    category: str | None = None


class InstallationInfo(_Closed):
    python_version: str | None = Field(default=None, pattern=r"^3\.(1[0-9]|[0-9])$")
    venv_path: str | None = None
    requires_gpu: bool | None = None


class EngineManifest(_Closed):
    schema_version: Literal[2]
    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    display_name: str = Field(min_length=1)
    engine_type: EngineType
    description: str | None = None
    upstream: Upstream
    variants: list[Variant] = Field(min_length=1)
    models: list[ManifestModel] = Field(default_factory=list)
    default_model: str | None = None
    auto_discover_models: bool | None = None
    supported_languages: list[Language] = Field(default_factory=list)
    constraints: Constraints = Field(default_factory=Constraints)
    capabilities: Capabilities = Field(default_factory=Capabilities)
    parameters: dict[str, ParameterSpec] = Field(default_factory=dict)
    engine_config: dict[str, Any] = Field(default_factory=dict)
    installation: InstallationInfo | None = None

    def model_post_init(self, context: Any, /) -> None:
        names = [m.name for m in self.models]
        if self.default_model is not None and names and self.default_model not in names:
            raise ValueError(f"default_model {self.default_model!r} is not among models {names}")

    def catalog_model(self, name: str) -> ManifestModel | None:
        return next((m for m in self.models if m.name == name), None)

    @property
    def requires_gpu(self) -> bool:
        """The reference's rule: installation's flag wins whenever that block exists."""
        if self.installation is not None:
            return bool(self.installation.requires_gpu)
        return any(v.requires_gpu for v in self.variants)


def load_manifest(path: Path) -> EngineManifest:
    """Read and validate engine.yaml; every problem is reported as `file: field: problem`."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{path}: not UTF-8 text: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ManifestError(f"{path}: expected a mapping at the top level")
    try:
        return EngineManifest.model_validate(raw)
    except ValidationError as exc:
        raise ManifestError(f"{path}: " + "; ".join(_describe(e) for e in exc.errors())) from None


def _describe(error: Any) -> str:
    field = ".".join(str(part) for part in error["loc"]) or "(top level)"
    return f"{field}: {error['msg'].removeprefix('Value error, ')}"


def json_schema() -> str:
    """The JSON schema of engine.yaml, as checked in at schemas/engine.schema.json."""
    schema = EngineManifest.model_json_schema()
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    schema["title"] = "enginekit engine.yaml (schema_version 2)"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
