"""Which COPY brings an engine's models/ (or its entrypoint) into the image, and from which context.

A Dockerfile does not say what its build context is. The standard builds from the directory above
`tts/` (`COPY tts/engine/models/ ./models/`), enginekit from the repository root
(`COPY engines/tts/debug-tts/models/ ./models/`), Scenario 1 from the engine itself
(`COPY models/ ./models/`). So a COPY source is tried against the engine directory and each
directory above it: the one where it names the engine's models/ is the context, and the
.dockerignore that matters is the one there.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

from .dockerfile_model import CopySpec, Dockerfile, Instruction, parse_copy
from .engine_dir import EngineDir

__all__ = [
    "APP",
    "ModelsCopy",
    "container_path",
    "copies",
    "find_models_copy",
    "find_source",
    "likely_context",
]

APP = "/app"  # the standard's container root


@dataclass(frozen=True)
class ModelsCopy:
    instruction: Instruction
    spec: CopySpec
    context: Path
    source: str
    whole_engine: bool  # `COPY engines/tts/x/ ./` brings models/ along

    @property
    def models_in_context(self) -> str:
        """engines/tts/x/models, relative to the context root, with forward slashes."""
        return "/".join([*self.source_parts(), *([] if not self.whole_engine else ["models"])])

    def source_parts(self) -> list[str]:
        return [p for p in _clean(self.source).split("/") if p not in {"", "."}]


def copies(dockerfile: Dockerfile, final_only: bool = False) -> list[tuple[Instruction, CopySpec]]:
    """COPY and ADD instructions that read the build context (not `--from=` another stage)."""
    found = []
    for name in ("COPY", "ADD"):
        instructions = dockerfile.final(name) if final_only else dockerfile.everywhere(name)
        for instruction in instructions:
            spec = parse_copy(instruction.value)
            if spec is not None and "from" not in spec.flags:
                found.append((instruction, spec))
    return sorted(found, key=lambda pair: pair[0].line)


def container_path(path: str, workdir: str | None) -> str:
    """An absolute path in the image; relative ones are read against WORKDIR, or /app when the
    Dockerfile sets none (the standard's fragment relies on that)."""
    return posixpath.normpath(posixpath.join(workdir or APP, path))


def find_models_copy(engine: EngineDir, dockerfile: Dockerfile) -> ModelsCopy | None:
    """The first COPY whose source is the engine's models/ or the engine directory itself."""
    models = engine.models_dir.resolve()
    for instruction, spec in copies(dockerfile):
        for source in spec.sources:
            for context in (engine.path, *engine.path.parents):
                target = _resolve(context, source)
                if target in (models, engine.path):
                    whole = target == engine.path
                    return ModelsCopy(instruction, spec, context, source, whole)
    return None


def likely_context(engine: EngineDir) -> Path:
    """Where a build is probably run from before any COPY says so: the nearest directory at or
    above the engine with a .dockerignore, else the directory above its type directory."""
    for directory in (engine.path, *engine.path.parents):
        if (directory / ".dockerignore").is_file():
            return directory
    return engine.path.parent.parent


def find_source(source: str, engine: EngineDir, context: Path | None) -> Path | None:
    """Where a COPY source lies: in the known context, else in the nearest directory above."""
    candidates = [context] if context is not None else [engine.path, *engine.path.parents]
    for root in candidates:
        path = _resolve(root, source)
        if path.exists():
            return path
    return None


def _clean(source: str) -> str:
    """`models/`, `./models/.` and `models/*` all name the directory models."""
    cleaned = source.strip()
    while cleaned.endswith(("/*", "/.", "/")) and len(cleaned) > 1:
        cleaned = cleaned.removesuffix("/*").removesuffix("/.").removesuffix("/")
    return cleaned


def _resolve(root: Path, source: str) -> Path:
    cleaned = _clean(source).lstrip("/")
    return Path(posixpath.normpath(posixpath.join(str(root), cleaned or ".")))
