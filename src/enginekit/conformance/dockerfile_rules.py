"""The Dockerfile group: models copied, entrypoint copied, executable and set, standard
directories created, and a CMD that serves on ${PORT} and 0.0.0.0.

Read from the parsed instructions of the final image (a builder stage's ENTRYPOINT does not count),
with the line of the instruction that passes or fails.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .catalog import failed, passed, skipped
from .dockerfile_copies import (
    APP,
    ModelsCopy,
    container_path,
    copies,
    find_models_copy,
    find_source,
    likely_context,
)
from .dockerfile_model import CopySpec, Dockerfile, Instruction, exec_form, shell_commands
from .engine_dir import EngineDir
from .findings import Finding

__all__ = ["DOCKERFILE_RULES", "check_dockerfile"]

MODELS, COPY_ENTRY, EXECUTABLE, DIRS, ENTRY, CMD = DOCKERFILE_RULES = (
    "dockerfile.copy-models",
    "dockerfile.copy-entrypoint",
    "dockerfile.entrypoint-executable",
    "dockerfile.standard-dirs",
    "dockerfile.entrypoint",
    "dockerfile.cmd",
)
STANDARD_DIRS = (f"{APP}/models", f"{APP}/external_models", f"{APP}/samples")
_PORT = re.compile(r"^\$(PORT|\{PORT(:?[-=?+][^}]*)?\})$")
_HOST = re.compile(r"^(0\.0\.0\.0|\$\{HOST:?-0\.0\.0\.0\})$")
# `exec "$@"` anywhere on a line that is not a comment (`[ $# -gt 0 ] && exec "$@"` counts).
_EXEC_ARGS = re.compile(r'^(?!\s*#).*\bexec\s+"?\$(@|\{@\})"?', re.MULTILINE)


def _executable_mode(mode: str) -> bool:
    """755, 0775, +x, a+rx, u+x: any mode that sets an execute bit."""
    if re.fullmatch(r"[0-7]{3,4}", mode):
        return int(mode, 8) & 0o111 != 0
    return any("x" in part.partition("+")[2] for part in mode.split(",") if "+" in part)


@dataclass
class _Context:
    engine: EngineDir
    dockerfile: Dockerfile
    models_copy: ModelsCopy | None

    @property
    def file(self) -> Path:
        return self.dockerfile.path

    def entrypoint(self) -> tuple[Instruction | None, list[str] | None]:
        found = self.dockerfile.final("ENTRYPOINT")
        return (found[-1], exec_form(found[-1].value)) if found else (None, None)

    def script_name(self) -> str | None:
        """The entrypoint script's file name, as ENTRYPOINT names it (exec form)."""
        _, words = self.entrypoint()
        names = [posixpath.basename(w) for w in words or [] if "entrypoint" in w.lower()]
        return names[0] if names else None

    def script_copies(self) -> list[tuple[Instruction, CopySpec, str]]:
        name = self.script_name()
        found = []
        for instruction, spec in copies(self.dockerfile, final_only=True):
            for source in spec.sources:
                base = posixpath.basename(source.rstrip("/"))
                if (base == name) if name else ("entrypoint" in base.lower()):
                    found.append((instruction, spec, source))
        return found


def check_dockerfile(engine: EngineDir) -> list[Finding]:
    """Skips every rule while the engine has no Dockerfile: that is "not containerised yet"."""
    path = engine.dockerfile
    if not path.is_file():
        return [skipped(rule, path, "no Dockerfile (not applicable)") for rule in DOCKERFILE_RULES]
    try:
        dockerfile = engine.parsed_dockerfile
    except (OSError, UnicodeDecodeError) as exc:
        return [failed(MODELS, path, f"Dockerfile cannot be read: {exc}")] + [
            skipped(rule, path, "Dockerfile not analysed") for rule in DOCKERFILE_RULES[1:]
        ]
    context = _Context(engine, dockerfile, find_models_copy(engine, dockerfile))
    rules: tuple[Callable[[_Context], Finding], ...] = (
        _copy_models, _copy_entrypoint, _executable, _standard_dirs, _entrypoint, _cmd,
    )  # fmt: skip
    return [rule(context) for rule in rules]


def _copy_models(c: _Context) -> Finding:
    baked = c.engine.baked_in_files
    copy = c.models_copy
    if copy is None:
        if not baked:
            ignored = " (models/ holds only git-ignored files)" if c.engine.model_files else ""
            return skipped(MODELS, c.file, f"no baked-in models in the repository{ignored}")
        rel = c.engine.models_dir.relative_to(likely_context(c.engine)).as_posix()
        message = f"{len(baked)} baked-in model file(s) in models/, but no COPY of models/"
        return failed(MODELS, c.file, message, fix=f"COPY {rel}/ ./models/")
    line = copy.instruction.line
    wanted = APP if copy.whole_engine else f"{APP}/models"
    dest = container_path(copy.spec.dest, copy.instruction.workdir)
    if dest != wanted:
        message = f"models/ is copied to {dest}, but the server reads {APP}/models"
        return failed(MODELS, c.file, message, line, fix=f"COPY {copy.source} {wanted}/")
    return passed(MODELS, c.file, f"models/ is copied to {APP}/models", line)


def _copy_entrypoint(c: _Context) -> Finding:
    found = c.script_copies()
    if not found:
        name = c.script_name() or "docker-entrypoint.sh"
        return failed(COPY_ENTRY, c.file, f"no COPY brings in the entrypoint script ({name})")
    instruction, _spec, source = found[0]
    context = c.models_copy.context if c.models_copy else None
    if find_source(source, c.engine, context) is None:
        where = f"in {context}" if context else "in the engine directory or above"
        message = f"COPY source {source} not found {where}"
        return failed(COPY_ENTRY, c.file, message, instruction.line)
    return passed(COPY_ENTRY, c.file, f"entrypoint copied from {source}", instruction.line)


def _executable(c: _Context) -> Finding:
    found = c.script_copies()
    for instruction, spec, _source in found:
        if _executable_mode(spec.flags.get("chmod", "")):
            return passed(EXECUTABLE, c.file, "COPY --chmod makes it executable", instruction.line)
    name = c.script_name()
    copy_line = found[0][0].line if found else 0
    for run in c.dockerfile.final("RUN"):
        for words in shell_commands(run.value):
            if _chmods_executable(words, name):
                if run.line < copy_line:
                    message = f"chmod at line {run.line} runs before the COPY at line {copy_line}"
                    return failed(EXECUTABLE, c.file, message, run.line)
                return passed(EXECUTABLE, c.file, "made executable with chmod", run.line)
    return failed(
        EXECUTABLE, c.file, "the entrypoint script is never made executable", copy_line or None
    )


def _chmods_executable(words: list[str], name: str | None) -> bool:
    if not words or posixpath.basename(words[0]) != "chmod":
        return False
    args = [w for w in words[1:] if not w.startswith("-")]
    if not args or not _executable_mode(args[0]):
        return False
    targets = [posixpath.basename(a) for a in args[1:]]
    return any((t == name) if name else ("entrypoint" in t.lower()) for t in targets)


def _standard_dirs(c: _Context) -> Finding:
    created: set[str] = set()
    without_p: list[str] = []
    first_line: int | None = None
    for run in c.dockerfile.final("RUN"):
        for words in shell_commands(run.value):
            if not words or posixpath.basename(words[0]) != "mkdir":
                continue
            first_line = first_line or run.line
            flags = [w for w in words[1:] if w.startswith("-")]
            paths = {container_path(w, run.workdir) for w in words[1:] if not w.startswith("-")}
            if any(f == "--parents" or (not f.startswith("--") and "p" in f) for f in flags):
                created |= paths
            else:
                without_p += sorted(paths)
    missing = [d for d in STANDARD_DIRS if d not in created]
    if not missing:
        return passed(DIRS, c.file, "mkdir -p creates the standard directories", first_line)
    message = "not created with mkdir -p: " + ", ".join(missing)
    if without_p:
        message += f" (mkdir without -p: {', '.join(without_p)})"
    if any("{" in p for p in without_p + sorted(created)):
        message += "; RUN uses /bin/sh, which does not expand {a,b}"
    return failed(DIRS, c.file, message, first_line)


def _entrypoint(c: _Context) -> Finding:
    instruction, words = c.entrypoint()
    if instruction is None:
        return failed(ENTRY, c.file, "no ENTRYPOINT")
    if words is None:
        message = "ENTRYPOINT in shell form: CMD is not passed to the script, signals get lost"
        return failed(ENTRY, c.file, message, instruction.line)
    if c.script_name() is None:
        message = f"ENTRYPOINT runs {words[0] if words else 'nothing'}, not the entrypoint script"
        return failed(ENTRY, c.file, message, instruction.line)
    script = _script_file(c)
    if script is not None and not _EXEC_ARGS.search(
        script.read_text(encoding="utf-8", errors="replace")
    ):
        message = f'{script.name} never runs the CMD: it lacks `exec "$@"`'
        return failed(
            ENTRY, c.file, message, instruction.line, fix='End the script with exec "$@".'
        )
    return passed(ENTRY, c.file, "ENTRYPOINT runs the entrypoint script", instruction.line)


def _script_file(c: _Context) -> Path | None:
    found = c.script_copies()
    if not found:
        return None
    context = c.models_copy.context if c.models_copy else None
    path = find_source(found[0][2], c.engine, context)
    return path if path is not None and path.is_file() else None


def _cmd(c: _Context) -> Finding:
    found = c.dockerfile.final("CMD")
    if not found:
        return failed(CMD, c.file, "no CMD")
    cmd = found[-1]
    words = exec_form(cmd.value)
    shell = words is None or "-c" in words[1:-1]
    tokens = [w for command in shell_commands(cmd.value) for w in command]
    problems = _cmd_problems(tokens, shell)
    if problems:
        return failed(CMD, c.file, "CMD " + "; ".join(problems), cmd.line)
    return passed(CMD, c.file, "CMD runs server.py on ${PORT} and 0.0.0.0", cmd.line)


def _cmd_problems(tokens: list[str], shell: bool) -> list[str]:
    if not any(posixpath.basename(t) == "server.py" for t in tokens):
        return ["does not run server.py"]
    port, host = _option(tokens, "--port"), _option(tokens, "--host")
    problems = []
    if port is None or not _PORT.match(port):
        problems.append(f"passes --port {port or '(none)'}, not ${{PORT}}")
    elif not shell:
        problems.append("is in exec form without a shell, so ${PORT} is not expanded (use sh -c)")
    if host is None or not _HOST.match(host):
        problems.append(f"passes --host {host or '(none)'}, not 0.0.0.0 (unreachable from outside)")
    return problems


def _option(tokens: list[str], name: str) -> str | None:
    for index, token in enumerate(tokens):
        if token == name and index + 1 < len(tokens):
            return tokens[index + 1]
        if token.startswith(name + "="):
            return token.partition("=")[2]
    return None
