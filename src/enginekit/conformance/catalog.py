"""Every rule in one table: its id, group, the checklist requirement it automates and the usual fix.

Rule modules create findings through `passed`, `failed` and `skipped`, so a rule id can only be one
the catalog knows and the fix text lives in one place (docs/conformance.md describes the same ids).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .findings import Finding, Group, Status

__all__ = ["RULES", "RuleInfo", "failed", "passed", "skipped"]


@dataclass(frozen=True)
class RuleInfo:
    id: str
    group: Group
    requirement: str
    fix: str


_ENTRYPOINT = "/app/docker-entrypoint.sh"

RULES: dict[str, RuleInfo] = {
    r.id: r
    for r in (
        RuleInfo(
            "server.reads-models-dir",
            Group.SERVER,
            "Read models from self.models_dir",
            "Build model paths as `self.models_dir / model_name`; never hard-code /app/models "
            "(the same code must also run as a subprocess).",
        ),
        RuleInfo(
            "server.downloads-to-external",
            Group.SERVER,
            "Download to self.external_models_dir",
            "Download into `self.external_models_dir / model_name` and point library caches "
            "(HF_HOME, WHISPER_CACHE, ...) there: models/ is lost when the container stops.",
        ),
        RuleInfo(
            "server.symlink-after-download",
            Group.SERVER,
            "Symlink after download",
            "After downloading, link the model into models/: "
            "`model_path.symlink_to(external_path)`.",
        ),
        RuleInfo(
            "server.baked-in-precedence",
            Group.SERVER,
            "Baked-in models take precedence",
            "Check `if not model_path.exists():` (model_path = self.models_dir / name) "
            "before any download.",
        ),
        RuleInfo(
            "server.discovery-scans-models-dir",
            Group.SERVER,
            "Model discovery scans models_dir",
            "Discover models with `self.models_dir.iterdir()`; mounted and downloaded models "
            "appear there as links.",
        ),
        RuleInfo(
            "server.models-dir-read-only",
            Group.SERVER,
            "Nothing but links is written into models_dir",
            "Write into `self.external_models_dir` and link the result into models/; "
            "models/ holds what the image baked in.",
        ),
        RuleInfo(
            "dockerfile.copy-models",
            Group.DOCKERFILE,
            "Copy baked-in models",
            "COPY the engine's models/ to /app/models, e.g. `COPY tts/engine/models/ ./models/`.",
        ),
        RuleInfo(
            "dockerfile.copy-entrypoint",
            Group.DOCKERFILE,
            "Copy entrypoint script",
            "COPY scripts/docker-entrypoint.sh ./",
        ),
        RuleInfo(
            "dockerfile.entrypoint-executable",
            Group.DOCKERFILE,
            "Make entrypoint executable",
            f"RUN chmod +x {_ENTRYPOINT} (after the COPY), or COPY --chmod=755 ...",
        ),
        RuleInfo(
            "dockerfile.standard-dirs",
            Group.DOCKERFILE,
            "Create standard directories",
            "RUN mkdir -p /app/models /app/external_models /app/samples",
        ),
        RuleInfo(
            "dockerfile.entrypoint",
            Group.DOCKERFILE,
            "Set entrypoint",
            f'ENTRYPOINT ["{_ENTRYPOINT}"] (exec form; the script ends with `exec "$@"`)',
        ),
        RuleInfo(
            "dockerfile.cmd",
            Group.DOCKERFILE,
            "CMD runs server.py on ${PORT} and host 0.0.0.0",
            'CMD ["sh", "-c", "python server.py --port ${PORT:-8766} --host 0.0.0.0"]',
        ),
        RuleInfo(
            "dockerignore.models-in-context",
            Group.DOCKERIGNORE,
            "Exception for baked-in models",
            "Add `!<engine path>/models/` after `**/models/` in the root .dockerignore.",
        ),
        RuleInfo(
            "manifest.schema",
            Group.MANIFEST,
            "engine.yaml is valid against the JSON schema",
            "Correct the field as the schema says (`enginekit schema` prints it).",
        ),
        RuleInfo(
            "manifest.name",
            Group.MANIFEST,
            "name equals the engine's directory name",
            "Set `name:` to the directory name (or rename the directory).",
        ),
        RuleInfo(
            "manifest.engine-type",
            Group.MANIFEST,
            "engine_type matches the parent directory",
            "tts/ -> tts, stt/ -> stt, text_processing/ -> text, audio_analysis/ -> audio.",
        ),
        RuleInfo(
            "manifest.default-model",
            Group.MANIFEST,
            "default_model is one of models[].name",
            "Set `default_model:` to the name of an entry in `models:` (or add that entry).",
        ),
        RuleInfo(
            "manifest.max-text-length",
            Group.MANIFEST,
            "A TTS engine declares constraints.max_text_length",
            "Add `constraints: {max_text_length: N}`: clients chunk text by it.",
        ),
        RuleInfo(
            "manifest.python-version",
            Group.MANIFEST,
            "installation.python_version matches the Dockerfile's base image",
            "Make `installation.python_version` and the `FROM python:X.Y` image agree.",
        ),
    )
}


def _make(
    rule: str, status: Status, file: Path | None, message: str, *, line: int | None, fix: str | None
) -> Finding:
    info = RULES[rule]
    return Finding(rule, info.group, status, file, line, message, fix or info.fix)


def passed(rule: str, file: Path | None, message: str, line: int | None = None) -> Finding:
    return _make(rule, Status.PASS, file, message, line=line, fix=None)


def failed(
    rule: str, file: Path | None, message: str, line: int | None = None, fix: str | None = None
) -> Finding:
    return _make(rule, Status.FAIL, file, message, line=line, fix=fix)


def skipped(rule: str, file: Path | None, message: str) -> Finding:
    return _make(rule, Status.SKIP, file, message, line=None, fix=None)
