"""The .dockerignore group: does the engine's models/ really reach the build context?

The matching is the Docker SDK's own (`docker.utils.build.PatternMatcher`, a port of moby's
.dockerignore rules: `**`, `!` exceptions, last match wins, a pattern that matches a parent
directory excludes what is below it). The rule fails exactly when the models/ directory itself is
excluded, which is when `COPY .../models/` ends in the standard's
`failed to compute cache key: ... not found`, and then names the line to add. Files excluded below
a directory that is sent (`**/*.onnx`) do not break the build; the SDK's context walk
(`exclude_paths`, run over a small mirror of models/ so a large .venv is not walked) counts them.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from docker.utils.build import PatternMatcher, exclude_paths

from .catalog import failed, passed, skipped
from .dockerfile_copies import ModelsCopy, find_models_copy
from .engine_dir import EngineDir
from .findings import Finding

__all__ = ["RULE", "check_dockerignore", "excluded", "left_out", "read_patterns"]

RULE = "dockerignore.models-in-context"


@dataclass(frozen=True)
class Pattern:
    line: int
    text: str


def read_patterns(path: Path) -> list[Pattern]:
    """Lines as the Docker SDK reads them (stripped, blank and `#` lines dropped), with numbers."""
    patterns = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = raw.strip()
        if text and not text.startswith("#"):
            patterns.append(Pattern(number, text))
    return patterns


def excluded(patterns: list[str], path: str) -> bool:
    """Whether the patterns exclude `path` (relative to the context): the SDK's PatternMatcher,
    last matching pattern wins, a pattern matching a parent directory counts."""
    # The SDK annotates PathLike but matches the relative path strings its own walk passes.
    return bool(PatternMatcher(list(patterns)).matches(path))  # type: ignore[arg-type]


def left_out(patterns: list[str], models: str, files: list[str]) -> list[str]:
    """Which `files` below `models` the SDK's build-context walk would not send."""
    with tempfile.TemporaryDirectory(prefix="enginekit-context-") as mirror:
        root = Path(mirror)
        (root / models).mkdir(parents=True)
        for name in files:
            (root / models / name).parent.mkdir(parents=True, exist_ok=True)
            (root / models / name).touch()
        sent = exclude_paths(str(root), list(patterns))
    return [f for f in files if f"{models}/{f}" not in sent]


def check_dockerignore(engine: EngineDir) -> list[Finding]:
    if not engine.dockerfile.is_file():
        return [skipped(RULE, None, "no Dockerfile (not applicable)")]
    try:
        copy = find_models_copy(engine, engine.parsed_dockerfile)
    except (OSError, UnicodeDecodeError):
        return [skipped(RULE, engine.dockerfile, "Dockerfile not readable")]
    if copy is None:
        return [skipped(RULE, engine.dockerfile, "the Dockerfile does not COPY models/")]
    if copy.whole_engine and not engine.baked_in_files:
        return [skipped(RULE, engine.dockerfile, "no baked-in models to bring into the image")]
    # BuildKit reads <Dockerfile>.dockerignore beside the Dockerfile before the context's own.
    ignore = engine.dockerfile.with_name("Dockerfile.dockerignore")
    if not ignore.is_file():
        ignore = copy.context / ".dockerignore"
    if not ignore.is_file():
        return [passed(RULE, None, f"no .dockerignore in {copy.context}: models/ is sent")]
    return [_evaluate(engine, copy, ignore)]


def _evaluate(engine: EngineDir, copy: ModelsCopy, ignore: Path) -> Finding:
    patterns = read_patterns(ignore)
    texts = [p.text for p in patterns]
    models = copy.models_in_context
    if not excluded(texts, models):
        files = [str(p.relative_to(engine.models_dir)) for p in engine.model_files]
        missing = left_out(texts, models, files) if files else []
        note = f"; {len(missing)} file(s) below it are excluded" if missing else ""
        return passed(RULE, ignore, f"{models}/ reaches the build context{note}")
    culprit = _culprit(patterns, models)
    where = f"line {culprit.line} (`{culprit.text}`)" if culprit else "a pattern"
    line = copy.instruction.line
    if copy.whole_engine:
        problem = f"sends no models: {where} excludes {models}/"
    else:
        problem = (
            f'fails with failed to compute cache key: "/{models}": not found; {where} excludes it'
        )
    message = f"`COPY {copy.source}` (Dockerfile line {line}) {problem}"
    fix = _fix(texts, models, ignore)
    return failed(RULE, ignore, message, culprit.line if culprit else None, fix=fix)


def _culprit(patterns: list[Pattern], models: str) -> Pattern | None:
    """The last exclusion that matches models/ (or a directory above it) on its own."""
    matching = [p for p in patterns if not p.text.startswith("!") and excluded([p.text], models)]
    return matching[-1] if matching else None


def _fix(patterns: list[str], models: str, ignore: Path) -> str:
    line = f"!{models}/"
    if not excluded([*patterns, line], models):
        return f"Add `{line}` at the end of {ignore.name} (after the pattern that excludes it)."
    return f"Remove or narrow the pattern in {ignore.name} that excludes {models}/."
