"""The server.py group: the checklist's five rows plus "nothing is written into models_dir".

Each rule is a few lines of logic over the file's events (python_events). An engine that subclasses
an enginekit engine base satisfies the rows through it (its store reads models/, downloads into
external_models/, links, lets baked-in models win, and discovers models in models/), but its own
code is still checked for violations. A standalone server.py must show each row in its own code.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from .findings import Finding, Group, failed, group_rules, passed, unanalysed
from .python_events import Event, Kind, collect
from .python_paths import FunctionNode, Root, Source

SERVER_RULES = group_rules(Group.SERVER)
READS, DOWNLOADS, LINKS, PRECEDENCE, DISCOVERY, READ_ONLY = SERVER_RULES
_DISCOVERY = re.compile(r"^(get_)?(available|list|discover|scan)_?models$|^get_models$")
# What breaks a rule in any style: events of a kind in a root, with a message about each.
_VIOLATIONS = {
    READS: [(Kind.HARD_CODED, Root.MODELS, "hard-coded {}: use self.models_dir")],
    DOWNLOADS: [
        (Kind.HARD_CODED, Root.EXTERNAL, "hard-coded {}: use self.external_models_dir"),
        (Kind.DOWNLOAD, Root.MODELS, "{}() downloads into models_dir"),
        (Kind.CACHE, Root.MODELS, "{} points into models_dir, so the library downloads there"),
    ],
    DISCOVERY: [
        (
            Kind.SCAN,
            Root.EXTERNAL,
            "discovers models in external_models_dir; scan models_dir, where they are linked",
        ),
    ],
    READ_ONLY: [(Kind.WRITE, Root.MODELS, "{} writes into models_dir")],
}


@dataclass
class _Analysis:
    source: Source
    events: list[Event]
    base: str | None  # the enginekit subclass, when there is one

    @property
    def file(self) -> Path:
        return self.source.path

    def of(self, kind: Kind, root: Root | None = None, below: bool | None = None) -> list[Event]:
        found = [e for e in self.events if e.kind is kind and root in {None, e.root}]
        return [e for e in found if below in {None, e.below}]

    def through_base(self, rule: str, what: str) -> list[Finding]:
        return [passed(rule, self.file, f"via base class {self.base}: {what}")]

    def def_line(self, *names: str) -> int | None:
        """The first definition of the first of `names` the file has, to point a finding at."""
        found = [d for name in names for d in self.source.functions.get(name, [])]
        return found[0].lineno if found else None

    def download_sites(self) -> list[Event]:
        """Downloads into external_models_dir by this code: library calls, or files written there.
        A library cache there (Scenario 4) is the library's, linked by the entrypoint."""
        writes = self.of(Kind.WRITE, Root.EXTERNAL, below=True)
        return sorted(self.of(Kind.DOWNLOAD, Root.EXTERNAL) + writes, key=lambda e: e.line)

    def first_per_function(self) -> dict[FunctionNode | None, Event]:
        """The first download site of each function."""
        first: dict[FunctionNode | None, Event] = {}
        for event in self.download_sites():
            first.setdefault(event.function, event)
        return first

    def reach(self, function: FunctionNode) -> set[int]:
        """The function and every function of this file it calls, transitively (as ids)."""
        seen, todo = {id(function)}, [function]
        while todo:
            for node in ast.walk(todo.pop()):
                callee = getattr(node, "func", None)
                name = getattr(callee, "id", None) or getattr(callee, "attr", None)
                for definition in self.source.functions.get(name or "", []):
                    if id(definition) not in seen:
                        seen.add(id(definition))
                        todo.append(definition)
        return seen


def check_server(server_py: Path) -> list[Finding]:
    """One or more findings per server rule; a missing or unparsable server.py fails the first."""
    problem, line = None, None
    try:
        source = Source(server_py)
    except FileNotFoundError:
        problem = "server.py not found"
    except SyntaxError as exc:
        problem, line = f"server.py does not parse: {exc.msg}", exc.lineno
    except (OSError, UnicodeDecodeError) as exc:
        problem = f"server.py cannot be read: {exc}"
    if problem is not None:
        fix = "Add a server.py that Python can parse (see docs/writing-an-engine.md)."
        failure = failed(READS, server_py, problem, line, fix=fix)
        return unanalysed(SERVER_RULES, failure, "server.py not analysed")
    classes = source.enginekit_classes()
    a = _Analysis(source, collect(source), classes[0] if classes else None)
    findings = []
    for rule, verdict in zip(SERVER_RULES, _VERDICTS, strict=True):
        bad = [
            failed(rule, a.file, message.format(e.detail), e.line)
            for kind, root, message in _VIOLATIONS.get(rule, [])
            for e in a.of(kind, root)
        ]
        findings += bad or verdict(a)
    return findings


def _reads(a: _Analysis) -> list[Finding]:
    if a.base:
        return a.through_base(READS, "models are read from self.models_dir")
    if reads := a.of(Kind.READ):
        return [passed(READS, a.file, "models are read through self.models_dir", reads[0].line)]
    line = a.def_line("load", "load_model")
    return [failed(READS, a.file, "server.py never reads self.models_dir", line)]


def _downloads(a: _Analysis) -> list[Finding]:
    directed = sorted(a.download_sites() + a.of(Kind.CACHE, Root.EXTERNAL), key=lambda e: e.line)
    if directed:
        return [passed(DOWNLOADS, a.file, "downloads go to external_models_dir", directed[0].line)]
    if downloads := a.of(Kind.DOWNLOAD):
        message = f"{downloads[0].detail}() downloads, but nothing in server.py uses "
        return [failed(DOWNLOADS, a.file, message + "external_models_dir", downloads[0].line)]
    if a.base:
        return a.through_base(DOWNLOADS, "its model store downloads into external_models_dir")
    return [passed(DOWNLOADS, a.file, "server.py downloads nothing")]


def _links(a: _Analysis) -> list[Finding]:
    sites, links = a.download_sites(), a.of(Kind.LINK, Root.MODELS)
    if not sites and a.base:
        return a.through_base(LINKS, "its model store links downloads into models_dir")
    if not sites:
        return [passed(LINKS, a.file, "no downloads into external_models_dir to link")]
    if not links:
        message = f"the download at line {sites[0].line} is never linked into models_dir"
        return [failed(LINKS, a.file, message, sites[0].line)]
    for function, first in a.first_per_function().items():
        own = [link for link in links if link.function is function]
        if own and all(link.line < first.line for link in own):
            message = f"the link at line {own[0].line} is made before the download"
            return [failed(LINKS, a.file, message, own[0].line)]
    return [passed(LINKS, a.file, "downloads are linked into models_dir", links[0].line)]


def _precedence(a: _Analysis) -> list[Finding]:
    sites = a.download_sites()
    if not sites and a.base:
        return a.through_base(PRECEDENCE, "a baked-in model is never downloaded")
    if not sites:
        return [passed(PRECEDENCE, a.file, "no downloads that could shadow a baked-in model")]
    checks = a.of(Kind.EXISTS, Root.MODELS, below=True)

    def checked_before(function: FunctionNode | None, line: int) -> bool:
        """An exists() on a path below models_dir earlier in the function, or in a caller."""
        if any(c.function is function and c.line < line for c in checks):
            return True
        callers = a.source.calls_to(getattr(function, "name", "")) if function else []
        return any(
            c.function is a.source.function_of(call) and c.line <= call.lineno
            for call in callers
            for c in checks
        )

    message = "the download at line {} is not preceded by an exists() check of the models_dir path"
    findings = [
        failed(PRECEDENCE, a.file, message.format(first.line), first.line)
        for function, first in a.first_per_function().items()
        if not checked_before(function, first.line)
    ]
    return findings or [passed(PRECEDENCE, a.file, "models_dir is checked before downloading")]


def _discovery(a: _Analysis) -> list[Finding]:
    """A discovery method (get_available_models, list_models, ...) must scan models_dir itself,
    directly or through the file's helpers: a hard-coded or config-driven list misses mounted and
    downloaded models."""
    if a.base:
        return a.through_base(DISCOVERY, "the runtime's catalog scans models_dir")
    good = a.of(Kind.SCAN, Root.MODELS)
    for name, methods in a.source.functions.items():
        for method in methods if _DISCOVERY.match(name) else []:
            reached = a.reach(method)
            if not any(id(e.function) in reached or _inside(a.source, e, method) for e in good):
                message = f"{name}() does not scan self.models_dir (a fixed or configured list)"
                return [failed(DISCOVERY, a.file, message, method.lineno)]
    if good:
        return [passed(DISCOVERY, a.file, "discovery scans models_dir", good[0].line)]
    line = a.def_line("get_available_models")
    return [failed(DISCOVERY, a.file, "no discovery scans self.models_dir", line)]


def _inside(source: Source, event: Event, function: FunctionNode) -> bool:
    """Whether an event lies in `function` (a lambda or comprehension inside it counts)."""
    scope = event.function
    while scope is not None and scope is not function:
        scope = source.function_of(scope)
    return scope is function


def _read_only(a: _Analysis) -> list[Finding]:
    return [passed(READ_ONLY, a.file, "nothing but links is written into models_dir")]


_VERDICTS = (_reads, _downloads, _links, _precedence, _discovery, _read_only)
