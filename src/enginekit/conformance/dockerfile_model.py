"""A Dockerfile read with `dockerfile-parse`: instructions with line numbers, stages, COPY and shell
commands split into words.

The parser handles continuation lines, comments and `ARG` defaults in `FROM`
(`ARG BASE_IMAGE=python:3.11-slim` then `FROM ${BASE_IMAGE}`); this module adds what the rules
need on top: which stages make up the final image, and the words of each command a RUN or CMD runs.
"""

from __future__ import annotations

import io
import json
import posixpath
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from dockerfile_parse import DockerfileParser

__all__ = [
    "CopySpec",
    "Dockerfile",
    "Instruction",
    "exec_form",
    "parse_copy",
    "python_version",
    "shell_commands",
]

_SHELLS = {"sh", "bash", "dash", "ash"}


@dataclass(frozen=True)
class Instruction:
    name: str
    value: str
    line: int  # 1-based, where the instruction starts
    stage: int
    workdir: str | None  # None until the Dockerfile sets one


@dataclass(frozen=True)
class CopySpec:
    flags: dict[str, str]
    sources: list[str]
    dest: str


@dataclass(frozen=True)
class Stage:
    image: str
    alias: str | None
    line: int


def exec_form(value: str) -> list[str] | None:
    """The JSON array of an exec-form instruction, or None for the shell form."""
    text = value.strip()
    if not text.startswith("["):
        return None
    try:
        parsed = json.loads(text)
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
            if token and set(token) <= set("();|&"):
                commands.append([])
            else:
                commands[-1].append(token)
    except ValueError:  # unbalanced quotes: Docker's shell would fail too
        return []
    return [c for c in commands if c]


def parse_copy(value: str) -> CopySpec | None:
    """COPY/ADD arguments: `--flag=value` options, sources, and the destination last."""
    words = exec_form(value)
    if words is None:
        try:
            words = shlex.split(value)
        except ValueError:
            return None
    flags: dict[str, str] = {}
    while words and words[0].startswith("--"):
        key, _, flag_value = words.pop(0)[2:].partition("=")
        flags[key] = flag_value
    if len(words) < 2:
        return None
    return CopySpec(flags, words[:-1], words[-1])


class Dockerfile:
    def __init__(self, path: Path, instructions: list[Instruction], stages: list[Stage]) -> None:
        self.path = path
        self.instructions = instructions
        self.stages = stages

    @classmethod
    def parse(cls, path: Path) -> Dockerfile:
        parser = DockerfileParser(fileobj=io.BytesIO(path.read_bytes()))
        images = list(parser.parent_images)  # ARG defaults already substituted
        instructions: list[Instruction] = []
        stages: list[Stage] = []
        workdir: str | None = None
        for item in parser.structure:
            name = item["instruction"].upper()
            line = int(item["startline"]) + 1
            if name == "FROM":
                alias = _alias(item["value"])
                image = images[len(stages)] if len(stages) < len(images) else item["value"]
                stages.append(Stage(image, alias, line))
                workdir = None
            elif name == "WORKDIR":
                workdir = posixpath.join(workdir or "/", item["value"].strip())
            if name not in {"COMMENT", "FROM"}:
                instructions.append(
                    Instruction(name, item["value"], line, len(stages) - 1, workdir)
                )
        return cls(path, instructions, stages)

    def final_chain(self) -> list[int]:
        """Stage indices the final image is built on, base first (`FROM builder` follows it)."""
        if not self.stages:
            return [-1]
        chain = [len(self.stages) - 1]
        aliases = {s.alias: i for i, s in enumerate(self.stages) if s.alias}
        while self.stages[chain[-1]].image in aliases:
            parent = aliases[self.stages[chain[-1]].image]
            if parent in chain or parent > chain[-1]:
                break
            chain.append(parent)
        return list(reversed(chain))

    def final(self, name: str) -> list[Instruction]:
        """The instructions called `name` that shape the final image, in build order."""
        chain = self.final_chain()
        ordered = sorted(
            (i for i in self.instructions if i.name == name and i.stage in chain),
            key=lambda i: (chain.index(i.stage), i.line),
        )
        return ordered

    def everywhere(self, name: str) -> list[Instruction]:
        return [i for i in self.instructions if i.name == name]

    def base_image(self) -> Stage | None:
        """The external image under the final stage (following `FROM <stage>` links)."""
        chain = self.final_chain()
        return self.stages[chain[0]] if self.stages and chain[0] >= 0 else None


def _alias(value: str) -> str | None:
    words = value.split()
    if len(words) >= 3 and words[-2].lower() == "as":
        return words[-1]
    return None


_PYTHON_IMAGE = re.compile(r"(?:^|/)python:(\d+\.\d+)(?:[^\d]|$)")


def python_version(dockerfile: Dockerfile) -> tuple[str, int] | None:
    """X.Y and the FROM line when the final image is built on an official python:X.Y image."""
    stage = dockerfile.base_image()
    if stage is None:
        return None
    match = _PYTHON_IMAGE.search(stage.image)
    return (match.group(1), stage.line) if match else None
