"""The server.py group: the checklist's five rows plus "nothing is written into models_dir".

An engine that subclasses an enginekit base server satisfies the rows through the base class (its
model store reads models/, downloads into external_models/, links, and lets baked-in models win),
but its own code is still checked for violations. A standalone server.py in the reference style
must show each row in its own code.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .catalog import failed, passed, skipped
from .findings import Finding
from .python_events import Event, EventKind, collect_events
from .python_paths import Root
from .python_source import FunctionNode, Source

__all__ = ["SERVER_RULES", "check_server"]

READS, DOWNLOADS, LINKS, PRECEDENCE, DISCOVERY, READ_ONLY = SERVER_RULES = (
    "server.reads-models-dir",
    "server.downloads-to-external",
    "server.symlink-after-download",
    "server.baked-in-precedence",
    "server.discovery-scans-models-dir",
    "server.models-dir-read-only",
)


# Creating models/ itself (as the standard's entrypoint does) is not writing into it.
_CREATES_DIRECTORY = {".mkdir()", "os.makedirs", "os.mkdir"}


@dataclass
class _Analysis:
    source: Source
    events: list[Event]
    base: str | None  # the enginekit subclass, when there is one

    @property
    def file(self) -> Path:
        return self.source.path

    def of(self, kind: EventKind, root: Root | None = None) -> list[Event]:
        return [e for e in self.events if e.kind is kind and (root is None or e.root is root)]

    def through_base(self, rule: str, what: str) -> Finding:
        return passed(rule, self.file, f"via base class {self.base}: {what}")

    def def_line(self, name: str) -> int | None:
        node = self.source.definition(name)
        return node.lineno if node else None

    def external_download_sites(self) -> list[Event]:
        """Explicit downloads into external_models_dir: library calls, or files written there."""
        downloads = self.of(EventKind.DOWNLOAD, Root.EXTERNAL)
        writes = [e for e in self.of(EventKind.WRITE, Root.EXTERNAL) if e.below_root]
        return sorted(downloads + writes, key=lambda e: e.line)


def check_server(server_py: Path) -> list[Finding]:
    """One or more findings per server rule; a missing or unparsable server.py fails the first."""
    if not server_py.is_file():
        return _unreadable(server_py, "server.py not found", None)
    try:
        source = Source.parse(server_py)
    except SyntaxError as exc:
        return _unreadable(server_py, f"server.py does not parse: {exc.msg}", exc.lineno)
    except (OSError, UnicodeDecodeError) as exc:
        return _unreadable(server_py, f"server.py cannot be read: {exc}", None)
    classes = source.enginekit_classes()
    analysis = _Analysis(source, collect_events(source), classes[0].name if classes else None)
    rules: tuple[Callable[[_Analysis], list[Finding]], ...] = (
        _reads_models_dir,
        _downloads_to_external,
        _symlink_after_download,
        _baked_in_precedence,
        _discovery,
        _read_only,
    )
    return [finding for rule in rules for finding in rule(analysis)]


def _unreadable(server_py: Path, message: str, line: int | None) -> list[Finding]:
    fix = "Add a server.py that Python can parse (see docs/writing-an-engine.md)."
    first = failed(READS, server_py, message, line, fix=fix)
    return [
        first,
        *(skipped(rule, server_py, "server.py not analysed") for rule in SERVER_RULES[1:]),
    ]


def _reads_models_dir(a: _Analysis) -> list[Finding]:
    hard = a.of(EventKind.HARD_CODED, Root.MODELS)
    if hard:
        return [
            failed(READS, a.file, f"hard-coded {e.detail}: use self.models_dir", e.line)
            for e in hard
        ]
    if a.base:
        return [a.through_base(READS, "models are read from self.models_dir")]
    reads = a.of(EventKind.READ_MODELS_DIR)
    if reads:
        return [passed(READS, a.file, "models are read through self.models_dir", reads[0].line)]
    return [
        failed(READS, a.file, "server.py never reads self.models_dir", a.def_line("load_model"))
    ]


def _downloads_to_external(a: _Analysis) -> list[Finding]:
    bad = [
        *((e, f"hard-coded {e.detail}: use self.external_models_dir")
          for e in a.of(EventKind.HARD_CODED, Root.EXTERNAL)),
        *((e, f"{e.detail}() downloads into models_dir")
          for e in a.of(EventKind.DOWNLOAD, Root.MODELS)),
        *((e, f"{e.detail} points into models_dir, so the library downloads there")
          for e in a.of(EventKind.CACHE_VAR, Root.MODELS)),
    ]  # fmt: skip
    if bad:
        return [failed(DOWNLOADS, a.file, message, e.line) for e, message in bad]
    downloads = a.of(EventKind.DOWNLOAD)
    directed = sorted(
        a.of(EventKind.DOWNLOAD, Root.EXTERNAL)
        + a.of(EventKind.CACHE_VAR, Root.EXTERNAL)
        + [e for e in a.of(EventKind.WRITE, Root.EXTERNAL) if e.below_root],
        key=lambda e: e.line,
    )
    if downloads and not directed:
        first = downloads[0]
        message = f"{first.detail}() downloads, but nothing in server.py uses external_models_dir"
        return [failed(DOWNLOADS, a.file, message, first.line)]
    if directed:
        return [passed(DOWNLOADS, a.file, "downloads go to external_models_dir", directed[0].line)]
    if a.base:
        return [a.through_base(DOWNLOADS, "its model store downloads into external_models_dir")]
    return [passed(DOWNLOADS, a.file, "server.py downloads nothing")]


def _symlink_after_download(a: _Analysis) -> list[Finding]:
    sites = a.external_download_sites()
    links = a.of(EventKind.LINK, Root.MODELS)
    if not sites:
        if a.base:
            return [a.through_base(LINKS, "its model store links downloads into models_dir")]
        return [passed(LINKS, a.file, "no downloads into external_models_dir to link")]
    if not links:
        message = f"the download at line {sites[0].line} is never linked into models_dir"
        return [failed(LINKS, a.file, message, sites[0].line)]
    for function, first in _first_per_function(sites).items():
        own = [link for link in links if link.function is function]
        if own and all(link.line < first.line for link in own):
            message = f"the link at line {own[0].line} is made before the download"
            return [failed(LINKS, a.file, message, own[0].line)]
    return [passed(LINKS, a.file, "downloads are linked into models_dir", links[0].line)]


def _baked_in_precedence(a: _Analysis) -> list[Finding]:
    sites = a.external_download_sites()
    if not sites:
        if a.base:
            return [a.through_base(PRECEDENCE, "a baked-in model is never downloaded")]
        return [passed(PRECEDENCE, a.file, "no downloads that could shadow a baked-in model")]
    findings = [
        failed(
            PRECEDENCE,
            a.file,
            f"the download at line {first.line} is not preceded by an exists() check "
            "of the models_dir path",
            first.line,
        )
        for function, first in _first_per_function(sites).items()
        if not _checked_before(a, function, first.line)
    ]
    return findings or [passed(PRECEDENCE, a.file, "models_dir is checked before downloading")]


def _checked_before(a: _Analysis, function: FunctionNode | None, line: int) -> bool:
    """An exists() on a path below models_dir earlier in the function, or in a caller."""
    checks = [e for e in a.of(EventKind.EXISTS, Root.MODELS) if e.below_root]
    if any(c.function is function and c.line < line for c in checks):
        return True
    name = getattr(function, "name", None)
    if name is None:
        return False
    for call in _calls_to(a.source, name):
        caller = a.source.function_of(call)
        if any(c.function is caller and c.line <= call.lineno for c in checks):
            return True
    return False


def _calls_to(source: Source, name: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(source.tree)
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Name) and node.func.id == name)
            or (isinstance(node.func, ast.Attribute) and node.func.attr == name)
        )
    ]


def _first_per_function(events: list[Event]) -> dict[FunctionNode | None, Event]:
    first: dict[FunctionNode | None, Event] = {}
    for event in events:
        first.setdefault(event.function, event)
    return first


def _discovery(a: _Analysis) -> list[Finding]:
    scans = a.of(EventKind.SCAN)
    bad = [e for e in scans if e.root is Root.EXTERNAL and not e.below_root]
    if bad:
        message = "discovers models in external_models_dir; scan models_dir, where they are linked"
        return [failed(DISCOVERY, a.file, message, e.line) for e in bad]
    if a.base:
        return [a.through_base(DISCOVERY, "get_available_models() scans models_dir")]
    good = [e for e in scans if e.root is Root.MODELS and not e.below_root]
    if good:
        return [passed(DISCOVERY, a.file, "discovery scans models_dir", good[0].line)]
    line = a.def_line("get_available_models")
    return [failed(DISCOVERY, a.file, "no discovery scans self.models_dir", line)]


def _read_only(a: _Analysis) -> list[Finding]:
    writes = [
        e
        for e in a.of(EventKind.WRITE, Root.MODELS)
        if e.below_root or e.detail not in _CREATES_DIRECTORY
    ]
    if writes:
        return [
            failed(READ_ONLY, a.file, f"{e.detail} writes into models_dir", e.line) for e in writes
        ]
    return [passed(READ_ONLY, a.file, "nothing but links is written into models_dir")]
