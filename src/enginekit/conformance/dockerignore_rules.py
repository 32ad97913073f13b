"""The .dockerignore group: does the engine's models/ really reach the build context?

The matching is the Docker SDK's own (`docker.utils.build.PatternMatcher`, a port of moby's rules:
`**`, `!` exceptions, last match wins, a pattern that matches a parent directory excludes what is
below it). The rule fails exactly when models/ itself is excluded, which is when `COPY .../models/`
ends in the standard's `failed to compute cache key: ... not found`, and names the line to add.
Files excluded below a directory that is sent (`**/*.onnx`) do not break the build; the SDK's
context walk (over a small mirror of models/, so a large .venv is not walked) counts them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from docker.utils.build import PatternMatcher, exclude_paths

from .dockerfile_rules import ModelsCopy, find_models_copy
from .engine_dir import EngineDir
from .findings import Finding, failed, passed, skipped

RULE = "dockerignore.models-in-context"


def excluded(patterns: list[str], path: str) -> bool:
    """Whether the patterns exclude `path` (relative to the context), as the SDK decides."""
    return bool(PatternMatcher(list(patterns)).matches(path))


def left_out(patterns: list[str], models: str, files: list[str]) -> list[str]:
    """Which `files` below `models` the SDK's build-context walk would not send."""
    with tempfile.TemporaryDirectory(prefix="enginekit-context-") as mirror:
        for name in files:
            (Path(mirror) / models / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(mirror) / models / name).touch()
        sent = exclude_paths(mirror, list(patterns))
    return [f for f in files if f"{models}/{f}" not in sent]


def check_dockerignore(engine: EngineDir) -> list[Finding]:
    if not engine.dockerfile.is_file():
        return [skipped(RULE, None, "no Dockerfile (not applicable)")]
    try:
        copy = find_models_copy(engine, engine.parsed_dockerfile)
    except (OSError, ValueError):
        return [skipped(RULE, engine.dockerfile, "Dockerfile not readable")]
    if copy is None:
        return [skipped(RULE, engine.dockerfile, "the Dockerfile does not COPY models/")]
    if copy.whole_engine and not engine.baked_in_files:
        return [skipped(RULE, engine.dockerfile, "no baked-in models to bring into the image")]
    # BuildKit reads <Dockerfile>.dockerignore beside the Dockerfile before the context's own.
    ignore = engine.dockerfile.with_name("Dockerfile.dockerignore")
    ignore = ignore if ignore.is_file() else copy.context / ".dockerignore"
    if not ignore.is_file():
        return [passed(RULE, None, f"no .dockerignore in {copy.context}: models/ is sent")]
    return [_evaluate(engine, copy, ignore)]


def _evaluate(engine: EngineDir, copy: ModelsCopy, ignore: Path) -> Finding:
    # Lines as the SDK reads them (stripped, blank and `#` lines dropped), with their numbers.
    lines = enumerate(ignore.read_text(encoding="utf-8").splitlines(), start=1)
    numbered = [(n, t.strip()) for n, t in lines if t.strip() and not t.strip().startswith("#")]
    patterns, models = [t for _, t in numbered], copy.models
    if not excluded(patterns, models):
        files = [str(p.relative_to(engine.models_dir)) for p in engine.model_files]
        missing = left_out(patterns, models, files) if files else []
        note = f"; {len(missing)} file(s) below it are excluded" if missing else ""
        return passed(RULE, ignore, f"{models}/ reaches the build context{note}")
    # The culprit: the last exclusion that matches models/ (or a directory above it) on its own.
    culprits = [(n, t) for n, t in numbered if not t.startswith("!") and excluded([t], models)]
    line, text = culprits[-1] if culprits else (None, "")
    where = f"line {line} (`{text}`)" if line else "a pattern"
    if copy.whole_engine:
        problem = f"sends no models: {where} excludes {models}/"
    else:
        problem = (
            f'fails with failed to compute cache key: "/{models}": not found; {where} excludes it'
        )
    message = f"`COPY {copy.source}` (Dockerfile line {copy.instruction.line}) {problem}"
    exception = f"!{models}/"
    if not excluded([*patterns, exception], models):
        fix = f"Add `{exception}` at the end of {ignore.name} (after the pattern that excludes it)."
    else:
        fix = f"Remove or narrow the pattern in {ignore.name} that excludes {models}/."
    return failed(RULE, ignore, message, line, fix=fix)
