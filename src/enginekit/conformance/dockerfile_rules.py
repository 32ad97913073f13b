"""The Dockerfile group: models copied, entrypoint copied, executable and set, standard
directories created, and a CMD that serves on ${PORT} and 0.0.0.0; read from the final image.

A Dockerfile does not say what its build context is. The standard builds from the directory above
`tts/` (`COPY tts/engine/models/ ./models/`), enginekit from the repository root, Scenario 1 from
the engine itself (`COPY models/ ./models/`). So a COPY source is tried against the engine
directory and each directory above it: the one where it names the engine's models/ is the context.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .dockerfile import APP, CopySpec, Dockerfile, Instruction, exec_form, shell_commands
from .engine_dir import EngineDir
from .findings import Finding, Group, failed, group_rules, passed, skipped, unanalysed

DOCKERFILE_RULES = group_rules(Group.DOCKERFILE)
MODELS, COPY_ENTRY, EXECUTABLE, DIRS, ENTRY, CMD = DOCKERFILE_RULES
STANDARD_DIRS = (f"{APP}/models", f"{APP}/external_models", f"{APP}/samples")
_PORT = re.compile(r"^\$(PORT|\{PORT(:?[-=?+][^}]*)?\})$")
_HOST = re.compile(r"^(0\.0\.0\.0|\$\{HOST:?-0\.0\.0\.0\})$")
# `exec "$@"` anywhere on a line that is not a comment (`[ $# -gt 0 ] && exec "$@"` counts).
_EXEC_ARGS = re.compile(r'^(?!\s*#).*\bexec\s+"?\$(@|\{@\})"?', re.MULTILINE)


@dataclass(frozen=True)
class ModelsCopy:
    """The COPY that brings the engine's models/ into the image, and the context it implies."""

    instruction: Instruction
    spec: CopySpec
    source: str
    context: Path
    models: str  # the engine's models/ relative to the context: engines/tts/x/models
    whole_engine: bool  # `COPY engines/tts/x/ ./` brings models/ along


def _clean(source: str) -> str:
    """`models/`, `./models/.` and `models/*` all name the directory models."""
    cleaned = source.strip()
    while cleaned.endswith(("/*", "/.", "/")) and len(cleaned) > 1:
        cleaned = cleaned.removesuffix("/*").removesuffix("/.").removesuffix("/")
    return cleaned


def _resolve(root: Path, source: str) -> Path:
    return Path(posixpath.normpath(posixpath.join(str(root), _clean(source).lstrip("/") or ".")))


def find_models_copy(engine: EngineDir, dockerfile: Dockerfile) -> ModelsCopy | None:
    """The first COPY whose source is the engine's models/ or the engine directory itself."""
    for instruction, spec in dockerfile.copies():
        for source in spec.sources:
            for context in (engine.path, *engine.path.parents):
                target = _resolve(context, source)
                if target in (engine.models_dir, engine.path):
                    models = engine.models_dir.relative_to(context).as_posix()
                    whole = target == engine.path
                    return ModelsCopy(instruction, spec, source, context, models, whole)
    return None


def _executable_mode(mode: str) -> bool:
    """755, 0775, +x, a+rx, u+x: any mode that sets an execute bit."""
    if re.fullmatch(r"[0-7]{3,4}", mode):
        return int(mode, 8) & 0o111 != 0
    return any("x" in part.partition("+")[2] for part in mode.split(",") if "+" in part)


@dataclass
class _Context:
    engine: EngineDir
    dockerfile: Dockerfile

    @property
    def file(self) -> Path:
        return self.dockerfile.path

    @cached_property
    def models_copy(self) -> ModelsCopy | None:
        return find_models_copy(self.engine, self.dockerfile)

    def source(self, source: str) -> Path | None:
        """Where a COPY source lies: in the known context, else in the nearest directory above."""
        copy, engine = self.models_copy, self.engine.path
        roots = [copy.context] if copy else [engine, *engine.parents]
        return next((p for p in (_resolve(r, source) for r in roots) if p.exists()), None)

    @cached_property
    def entrypoint(self) -> tuple[Instruction | None, list[str] | None]:
        found = self.dockerfile.final("ENTRYPOINT")
        return (found[-1], exec_form(found[-1].value)) if found else (None, None)

    @cached_property
    def script_name(self) -> str | None:
        """The script ENTRYPOINT runs (exec form), when it names an *entrypoint*."""
        words = self.entrypoint[1] or []
        return next((posixpath.basename(w) for w in words if "entrypoint" in w.lower()), None)

    def is_script(self, path: str) -> bool:
        """The file ENTRYPOINT names, else anything called *entrypoint*."""
        base = posixpath.basename(path.rstrip("/"))
        return base == self.script_name if self.script_name else "entrypoint" in base.lower()

    @cached_property
    def script_copies(self) -> list[tuple[Instruction, CopySpec, str]]:
        return [
            (instruction, spec, source)
            for instruction, spec in self.dockerfile.copies(final_only=True)
            for source in spec.sources
            if self.is_script(source)
        ]


def check_dockerfile(engine: EngineDir) -> list[Finding]:
    """Skips every rule while the engine has no Dockerfile: that is "not containerised yet"."""
    path = engine.dockerfile
    if not path.is_file():
        return [skipped(rule, path, "no Dockerfile (not applicable)") for rule in DOCKERFILE_RULES]
    try:
        c = _Context(engine, engine.parsed_dockerfile)
    except (OSError, ValueError) as exc:
        problem = failed(MODELS, path, f"Dockerfile cannot be read: {exc}")
        return unanalysed(DOCKERFILE_RULES, problem, "Dockerfile not analysed")
    rules = (_copy_models, _copy_entrypoint, _executable, _standard_dirs, _entrypoint, _cmd)
    return [rule(c) for rule in rules]


def _copy_models(c: _Context) -> Finding:
    baked, copy = c.engine.baked_in_files, c.models_copy
    if copy is None and not baked:
        ignored = " (models/ holds only git-ignored files)" if c.engine.model_files else ""
        return skipped(MODELS, c.file, f"no baked-in models in the repository{ignored}")
    if copy is None:
        roots = (c.engine.path, *c.engine.path.parents)
        found = (d for d in roots if (d / ".dockerignore").is_file())
        context = next(found, c.engine.path.parent.parent)
        rel = c.engine.models_dir.relative_to(context).as_posix()
        message = f"{len(baked)} baked-in model file(s) in models/, but no COPY of models/"
        return failed(MODELS, c.file, message, fix=f"COPY {rel}/ ./models/")
    wanted = APP if copy.whole_engine else f"{APP}/models"
    dest, line = copy.instruction.path(copy.spec.dest), copy.instruction.line
    if dest != wanted:
        message = f"models/ is copied to {dest}, but the server reads {APP}/models"
        return failed(MODELS, c.file, message, line, fix=f"COPY {copy.source} {wanted}/")
    return passed(MODELS, c.file, f"models/ is copied to {APP}/models", line)


def _copy_entrypoint(c: _Context) -> Finding:
    if not c.script_copies:
        name = c.script_name or "docker-entrypoint.sh"
        return failed(COPY_ENTRY, c.file, f"no COPY brings in the entrypoint script ({name})")
    instruction, _spec, source = c.script_copies[0]
    if c.source(source) is None:
        where = "in the engine directory or above"
        where = f"in {c.models_copy.context}" if c.models_copy else where
        message = f"COPY source {source} not found {where}"
        return failed(COPY_ENTRY, c.file, message, instruction.line)
    return passed(COPY_ENTRY, c.file, f"entrypoint copied from {source}", instruction.line)


def _executable(c: _Context) -> Finding:
    for instruction, spec, _source in c.script_copies:
        if _executable_mode(spec.flags.get("chmod", "")):
            return passed(EXECUTABLE, c.file, "COPY --chmod makes it executable", instruction.line)
    copy_line = c.script_copies[0][0].line if c.script_copies else 0
    chmods = [
        run
        for run in c.dockerfile.final("RUN")
        for words in shell_commands(run.expanded)
        if posixpath.basename(words[0]) == "chmod" and _makes_executable(c, words[1:])
    ]
    if not chmods:
        message = "the entrypoint script is never made executable"
        return failed(EXECUTABLE, c.file, message, copy_line or None)
    if (run := chmods[0]).line < copy_line:
        message = f"chmod at line {run.line} runs before the COPY at line {copy_line}"
        return failed(EXECUTABLE, c.file, message, run.line)
    return passed(EXECUTABLE, c.file, "made executable with chmod", run.line)


def _makes_executable(c: _Context, args: list[str]) -> bool:
    """`chmod +x SCRIPT` (options aside): a mode with an execute bit, then the script."""
    args = [a for a in args if not a.startswith("-")]
    return bool(args) and _executable_mode(args[0]) and any(map(c.is_script, args[1:]))


def _standard_dirs(c: _Context) -> Finding:
    def is_directory(source: str) -> bool:
        found = c.source(source)
        return source.rstrip().endswith(("/", "/.", "*")) or bool(found and found.is_dir())

    made = c.dockerfile.directories(is_directory)
    if not (missing := [d for d in STANDARD_DIRS if d not in made]):
        line = max(made[d] for d in STANDARD_DIRS)
        return passed(DIRS, c.file, "the image has the standard directories", line)
    message = "not created in the image: " + ", ".join(missing)
    if braces := [d for d in made if "{" in d]:
        message += f" ({braces[0]} is a literal name: RUN uses /bin/sh, which does not expand {{}})"
    mkdirs = [i.line for i in c.dockerfile.final("RUN") if "mkdir" in i.value]
    return failed(DIRS, c.file, message, mkdirs[0] if mkdirs else None)


def _entrypoint(c: _Context) -> Finding:
    instruction, words = c.entrypoint
    if instruction is None:
        return failed(ENTRY, c.file, "no ENTRYPOINT")
    if words is None:
        message = "ENTRYPOINT in shell form: CMD is not passed to the script, signals get lost"
        return failed(ENTRY, c.file, message, instruction.line)
    if not any("entrypoint" in w.lower() for w in words):
        message = f"ENTRYPOINT runs {words[0] if words else 'nothing'}, not the entrypoint script"
        return failed(ENTRY, c.file, message, instruction.line)
    script = c.source(c.script_copies[0][2]) if c.script_copies else None
    if script and script.is_file():
        text = script.read_text(encoding="utf-8", errors="replace")
        if text and not _EXEC_ARGS.search(text):
            message = f'{script.name} never runs the CMD: it lacks `exec "$@"`'
            fix = 'End the script with exec "$@".'
            return failed(ENTRY, c.file, message, instruction.line, fix=fix)
    return passed(ENTRY, c.file, "ENTRYPOINT runs the entrypoint script", instruction.line)


def _cmd(c: _Context) -> Finding:
    if not (found := c.dockerfile.final("CMD")):
        return failed(CMD, c.file, "no CMD")
    tokens = [w for command in shell_commands(found[-1].value) for w in command]
    if not any(posixpath.basename(t) == "server.py" for t in tokens):
        return failed(CMD, c.file, "CMD does not run server.py", found[-1].line)
    words, problems = exec_form(found[-1].value), []
    port, host = _option(tokens, "--port"), _option(tokens, "--host")
    if port is None or not _PORT.match(port):
        problems.append(f"passes --port {port or '(none)'}, not ${{PORT}}")
    elif words is not None and "-c" not in words[1:-1]:
        problems.append("is in exec form without a shell, so ${PORT} is not expanded (use sh -c)")
    if host is None or not _HOST.match(host):
        problems.append(f"passes --host {host or '(none)'}, not 0.0.0.0 (unreachable from outside)")
    if problems:
        return failed(CMD, c.file, "CMD " + "; ".join(problems), found[-1].line)
    return passed(CMD, c.file, "CMD runs server.py on ${PORT} and 0.0.0.0", found[-1].line)


def _option(tokens: list[str], name: str) -> str | None:
    """The value of `--name VALUE` or `--name=VALUE`, the first one given."""
    for token, value in zip(tokens, [*tokens[1:], None], strict=True):
        if token == name and value is not None:
            return value
        if token.startswith(name + "="):
            return token.partition("=")[2]
    return None
