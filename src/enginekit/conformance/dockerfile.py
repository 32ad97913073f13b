"""A Dockerfile as Docker builds it: the stages of the final image, each instruction with its line,
WORKDIR and the ARG/ENV values in effect, and RUN commands split into words as /bin/sh splits them.

`dockerfile-parse` reads continuation lines, comments, ARG defaults in `FROM` and the ARG/ENV in
effect at each instruction; this module adds which stages make up the final image (`FROM builder`
inherits builder's files, WORKDIR and ENV) and what the image's directories are.
"""

from __future__ import annotations

import io
import json
import posixpath
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from dockerfile_parse import DockerfileParser

APP = "/app"  # the standard's container root, and where relative paths land without a WORKDIR
_SHELLS = {"sh", "bash", "dash", "ash"}
_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::?([-+])([^}]*))?\}|(\w+))")
_PYTHON_IMAGE = re.compile(r"(?:^|/)python:(\d+\.\d+)(?:\D|$)")
_OPTION_VALUES = {"-m", "--mode", "-o", "--owner", "-g", "--group"}  # install's valued options


def expand(value: str, variables: Mapping[str, str]) -> str:
    """`$X`, `${X}`, `${X:-word}` (X, else word) and `${X:+word}` (word if X is set, else
    nothing) as Docker and sh expand them; other unknown names stay as written."""

    def one(match: re.Match[str]) -> str:
        name, operator, word = match.group(1) or match.group(4), match.group(2), match.group(3)
        value = variables.get(name)
        if operator == "+":
            return word if value else ""
        if operator == "-" and not value:
            return word
        return match.group(0) if value is None else value

    return _VARIABLE.sub(one, value)


def exec_form(value: str) -> list[str] | None:
    """The JSON array of an exec-form instruction, or None for the shell form."""
    try:
        parsed = json.loads(value) if value.strip().startswith("[") else None
    except json.JSONDecodeError:
        return None
    return [str(item) for item in parsed] if isinstance(parsed, list) else None


def shell_commands(value: str) -> list[list[str]]:
    """The simple commands of a RUN/CMD, each as words: `a && b; c | d` gives [a], [b], [c], [d].

    Exec form is one command, unless it is `sh -c SCRIPT`, whose script is split in turn.
    """
    words = exec_form(value)
    if words is not None:
        if words and posixpath.basename(words[0]) in _SHELLS and "-c" in words[1:-1]:
            return shell_commands(words[words.index("-c") + 1])
        return [words]
    lexer = shlex.shlex(value, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    try:
        for token in lexer:
            if set(token) <= set("();|&"):
                commands.append([])
            else:
                commands[-1].append(token)
    except ValueError:  # unbalanced quotes: Docker's shell would fail too
        return []
    return [c for c in commands if c]


class CopySpec(NamedTuple):
    flags: dict[str, str]
    sources: list[str]
    dest: str


@dataclass(frozen=True)
class Instruction:
    name: str
    value: str  # as written: CMD keeps its ${PORT} for the shell
    line: int  # 1-based, where the instruction starts
    stage: int  # -1 before the first FROM
    workdir: str | None  # None until a WORKDIR (of this stage or the one it is built on)
    variables: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def expanded(self) -> str:
        return expand(self.value, self.variables)

    def path(self, path: str) -> str:
        """An absolute path in the image: relative ones against WORKDIR, or /app without one."""
        return posixpath.normpath(posixpath.join(self.workdir or APP, path))

    def copy(self) -> CopySpec | None:
        """COPY/ADD arguments: `--flag=value` options, sources, and the destination last."""
        words = exec_form(self.expanded)
        try:
            words = shlex.split(self.expanded) if words is None else words
        except ValueError:
            return None
        flags = {}
        while words and words[0].startswith("--"):
            key, _, flag_value = words.pop(0)[2:].partition("=")
            flags[key] = flag_value
        return CopySpec(flags, words[:-1], words[-1]) if len(words) >= 2 else None


class Stage(NamedTuple):
    image: str
    alias: str | None
    line: int


@dataclass
class Dockerfile:
    path: Path
    instructions: list[Instruction]
    stages: list[Stage]

    @classmethod
    def parse(cls, path: Path) -> Dockerfile:
        """Raises OSError when unreadable, ValueError when dockerfile-parse rejects it."""
        parser = DockerfileParser(fileobj=io.BytesIO(path.read_bytes()))
        images = list(parser.parent_images)  # ARG defaults already substituted
        dockerfile = cls(path, [], [])
        ends: dict[str, tuple[str | None, dict[str, str]]] = {}  # stage alias: (WORKDIR, ENV)
        workdir: str | None = None
        env: dict[str, str] = {}
        for item, context in zip(parser.structure, parser.context_structure, strict=True):
            name, value, line = item["instruction"].upper(), item["value"], item["startline"] + 1
            stages = dockerfile.stages
            if name == "FROM":
                if stages:
                    ends[stages[-1].alias or ""] = (workdir, env)
                words = value.split()
                alias = words[-1] if len(words) >= 3 and words[-2].lower() == "as" else None
                image = images[len(stages)] if len(stages) < len(images) else value
                workdir, env = ends.get(image, (None, {}))
                stages.append(Stage(image, alias, line))
                continue
            variables = {**context.args, **env, **context.envs}
            if name == "WORKDIR":
                workdir = posixpath.join(workdir or "/", expand(value.strip(), variables))
            elif name == "ENV":
                env = {**env, **context.envs}
            if name != "COMMENT":
                instruction = Instruction(name, value, line, len(stages) - 1, workdir, variables)
                dockerfile.instructions.append(instruction)
        return dockerfile

    @cached_property
    def chain(self) -> list[int]:
        """Stage indices the final image is built on, base first (`FROM builder` follows it)."""
        if not self.stages:
            return [-1]
        chain = [len(self.stages) - 1]
        aliases = {s.alias: i for i, s in enumerate(self.stages) if s.alias}
        while (parent := aliases.get(self.stages[chain[-1]].image)) is not None:
            if parent >= chain[-1]:
                break
            chain.append(parent)
        return chain[::-1]

    def final(self, *names: str) -> list[Instruction]:
        """The instructions called `names` that shape the final image, in build order (a stage
        is only ever built on an earlier one, so that is the order of the lines)."""
        return [i for i in self.instructions if i.name in names and i.stage in self.chain]

    def copies(self, final_only: bool = False) -> list[tuple[Instruction, CopySpec]]:
        """COPY and ADD instructions that read the build context (not `--from=` another stage)."""
        found = self.final("COPY", "ADD") if final_only else self.instructions
        specs = ((i, i.copy()) for i in found if i.name in {"COPY", "ADD"})
        return [(i, spec) for i, spec in specs if spec is not None and "from" not in spec.flags]

    def python_version(self) -> tuple[str, int] | None:
        """X.Y and the FROM line when the final image is built on an official python:X.Y image."""
        stage = self.stages[self.chain[0]] if self.stages else None
        match = _PYTHON_IMAGE.search(stage.image) if stage else None
        return (match.group(1), stage.line) if match and stage else None

    def directories(self, is_directory: Callable[[str], bool]) -> dict[str, int]:
        """Every directory the final image's instructions create, with the line that creates it
        first: WORKDIR, VOLUME, COPY/ADD destinations, `mkdir` and `install -d` (after `cd`) in
        RUN. A directory below one counts for its parents (`mkdir -p /app/models/v2`)."""
        made: dict[str, int] = {}
        for i in self.final("WORKDIR", "VOLUME", "COPY", "ADD", "RUN"):
            paths: list[str] = []
            if i.name == "WORKDIR" and i.workdir:
                paths = [i.workdir]
            elif i.name == "VOLUME":
                paths = [i.path(volume) for volume in exec_form(i.expanded) or i.expanded.split()]
            elif i.name in {"COPY", "ADD"} and (spec := i.copy()) is not None:
                into = spec.dest.endswith("/") or len(spec.sources) > 1 or "from" in spec.flags
                into = into or is_directory(spec.sources[0])
                paths = [i.path(spec.dest) if into else posixpath.dirname(i.path(spec.dest))]
            elif i.name == "RUN":
                paths = _run_directories(i)
            for path in paths:  # and every directory above it
                for directory in [path, *map(str, PurePosixPath(path).parents)]:
                    made.setdefault(directory, i.line)
        return made


def _run_directories(run: Instruction) -> list[str]:
    """The directories `mkdir` and `install -d` make in one RUN, following its `cd`s."""
    cwd, found = run.workdir or APP, []
    for words in shell_commands(run.expanded):
        program, args = posixpath.basename(words[0]), words[1:]
        if program == "cd" and args:
            cwd = posixpath.normpath(posixpath.join(cwd, args[0]))
        elif program == "mkdir" or (program == "install" and {"-d", "--directory"} & set(args)):
            values = {i + 1 for i, a in enumerate(args) if a in _OPTION_VALUES}
            paths = [a for i, a in enumerate(args) if not a.startswith("-") and i not in values]
            found += [posixpath.normpath(posixpath.join(cwd, p)) for p in paths]
    return found
