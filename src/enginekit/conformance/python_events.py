"""What server.py does to paths: each call that writes, downloads, lists, links or tests a path,
and each hard-coded root, as an Event with the root it touches, its line and its function.

The server rules are a few lines of logic over these events.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from enum import Enum

from .python_paths import FunctionNode, PathKind, Root, Source, hard_coded_root

# What a call or name does to a path; CACHE is a cache variable or a loader's download_root=.
Kind = Enum("Kind", "HARD_CODED DOWNLOAD CACHE WRITE SCAN LINK EXISTS READ")


@dataclass(frozen=True)
class Event:
    kind: Kind
    line: int
    root: Root | None  # the root of the path it touches, when the file says
    below: bool  # the path lies below the root, not the root itself
    function: FunctionNode | None
    detail: str


_COPIES = ["shutil.copy", "shutil.copy2", "shutil.copyfile", "shutil.copytree", "shutil.move"]
_TESTS = ["os.path.exists", "os.path.lexists", "os.path.isdir", "os.path.isfile"]
# Module functions: what they do to the path they are given, and where (position, keyword).
_FUNCTIONS = {
    **dict.fromkeys(["os.rename", "os.replace", "os.link", *_COPIES], (Kind.WRITE, 1, "dst")),
    "os.symlink": (Kind.LINK, 1, "dst"),
    "os.makedirs": (Kind.WRITE, 0, "name"),
    "os.mkdir": (Kind.WRITE, 0, "path"),
    **dict.fromkeys(_TESTS, (Kind.EXISTS, 0, "path")),
}
_WRITES = ["write_text", "write_bytes", "touch", "mkdir", "hardlink_to"]
# Path methods: what they do, to the path they are called on or to an argument (position, keyword).
_METHODS: dict[str, tuple[Kind, tuple[int, str] | None]] = {
    "symlink_to": (Kind.LINK, None),
    **dict.fromkeys(["exists", "is_dir", "is_file", "is_symlink"], (Kind.EXISTS, None)),
    **dict.fromkeys(_WRITES, (Kind.WRITE, None)),
    **dict.fromkeys(["rename", "replace"], (Kind.WRITE, (0, "target"))),
}
_OPEN = {"open", "io.open", "builtins.open"}
_ANY_ARG_WRITES = {"save", "save_pretrained", "savez", "extractall", "extract"}
_TEMP_IN_DIR = {"mkdtemp", "mkstemp", "NamedTemporaryFile", "TemporaryDirectory"}
# Creating a root itself (as the standard's entrypoint does models/) is not writing into it.
_CREATES_DIRECTORY = {".mkdir()", "os.makedirs", "os.mkdir"}


def is_cache_variable(key: str) -> bool:
    """HF_HOME, TORCH_HOME, XDG_CACHE_HOME, HF_HUB_CACHE, WHISPER_CACHE, NLTK_DATA and the like."""
    upper = key.upper()
    return upper != "ENGINE_HOME" and (
        "CACHE" in upper or upper.endswith("_HOME") or upper == "NLTK_DATA"
    )


def _argument(call: ast.Call, index: int | None, keyword: str) -> ast.expr | None:
    if index is not None and len(call.args) > index:
        return call.args[index]
    return next((k.value for k in call.keywords if k.arg == keyword), None)


def _opens_for_writing(call: ast.Call, mode_index: int) -> bool:
    mode = _argument(call, mode_index, "mode")
    return isinstance(mode, ast.Constant) and any(f in str(mode.value) for f in "wax+")


def collect(source: Source) -> list[Event]:
    """Every event of the file, in line order."""
    collector = _Collector(source)
    for node in ast.walk(source.tree):
        collector.visit(node)
    return sorted(collector.events, key=lambda e: e.line)


class _Collector:
    def __init__(self, source: Source) -> None:
        self.source, self.events = source, list[Event]()

    def add(self, kind: Kind, node: ast.AST, path: PathKind | None, detail: str) -> None:
        line, function = getattr(node, "lineno", 0), self.source.function_of(node)
        root, below = path or (None, False)
        self.events.append(Event(kind, line, root, below, function, detail))

    def add_path(self, kind: Kind, node: ast.AST, path: ast.AST | None, detail: str) -> None:
        """An event for a path the file knows the root of; others are not about the standard."""
        if (of := self.source.kind(path)) is None:
            return
        if not (kind is Kind.WRITE and detail in _CREATES_DIRECTORY and not of.below):
            self.add(kind, node, of, detail)

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in self.source.docstrings and (root := hard_coded_root(node.value)):
                self.add(Kind.HARD_CODED, node, root, repr(node.value))
        elif isinstance(node, ast.Attribute) and node.attr == "models_dir":
            if isinstance(node.ctx, ast.Load):
                self.add(Kind.READ, node, None, "models_dir")
        elif isinstance(node, ast.Assign):
            subscripts = [t for t in node.targets if isinstance(t, ast.Subscript)]
            for target in subscripts:  # os.environ["HF_HOME"] = ...
                if self.source.qualified(target.value) == "os.environ":
                    self._cache_variable(node, target.slice, node.value)
        elif isinstance(node, ast.Call):
            self._call(node, self.source.qualified(node.func))

    def _cache_variable(self, node: ast.AST, key: ast.expr | str | None, value: ast.expr) -> None:
        name = key.value if isinstance(key, ast.Constant) else key
        if isinstance(name, str) and is_cache_variable(name):
            self.add_path(Kind.CACHE, node, value, name)

    def _call(self, call: ast.Call, qualified: str) -> None:
        name = qualified.rpartition(".")[2] if qualified else getattr(call.func, "attr", "")
        if (scanned := self.source.scanned(call)) is not None and not scanned.below:
            self.add(Kind.SCAN, call, scanned, name)  # a model's own files are not discovery
        if qualified in {"os.environ.setdefault", "os.putenv"} and len(call.args) >= 2:
            self._cache_variable(call, call.args[0], call.args[1])
        elif qualified == "os.environ.update":
            for keyword in call.keywords:
                self._cache_variable(call, keyword.arg, keyword.value)
            for arg in (a for a in call.args if isinstance(a, ast.Dict)):
                for key, value in zip(arg.keys, arg.values, strict=True):
                    self._cache_variable(call, key, value)
        self._download(call, name)
        if effect := self._effect(call, qualified, name):
            kind, paths, detail = effect
            for path in paths:
                self.add_path(kind, call, path, detail)

    def _effect(
        self, call: ast.Call, qualified: str, name: str
    ) -> tuple[Kind, list[ast.expr | None], str] | None:
        """What a call does to which paths: link them, test them, or write them."""
        receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
        if qualified in _FUNCTIONS:
            kind, index, keyword = _FUNCTIONS[qualified]
            return kind, [_argument(call, index, keyword)], qualified
        if receiver is not None and name in _METHODS:
            kind, argument = _METHODS[name]
            return kind, [_argument(call, *argument) if argument else receiver], f".{name}()"
        if name == "open":  # open(path, "w") or path.open("w")
            method = receiver is not None and qualified not in _OPEN
            path = receiver if method else _argument(call, 0, "file")
            writes = _opens_for_writing(call, 0 if method else 1)
            return (Kind.WRITE, [path], "open() for writing") if writes else None
        if name in _ANY_ARG_WRITES and name not in self.source.functions:
            return Kind.WRITE, [*call.args, *(k.value for k in call.keywords)], f"{name}()"
        if name in _TEMP_IN_DIR:
            return Kind.WRITE, [_argument(call, None, "dir")], f"{name}(dir=...)"
        return None

    def _download(self, call: ast.Call, name: str) -> None:
        """A library download: a call named like one (not a helper of this file, whose body is
        checked instead), or a cache directory handed to a loader
        (`WhisperModel(name, download_root=...)`, `from_pretrained(..., cache_dir=...)`)."""
        downloads = any(w in name.lower() for w in ("download", "urlretrieve"))
        if downloads and name not in self.source.functions:
            kinds = [self.source.kind(v) for v in [*call.args, *(k.value for k in call.keywords)]]
            found = [k for k in kinds if k is not None]
            external = [k for k in found if k.root is Root.EXTERNAL]
            self.add(Kind.DOWNLOAD, call, next(iter(external + found), None), name)
            return
        for keyword in call.keywords:
            if any(w in (keyword.arg or "").lower() for w in ("download", "cache")):
                self.add_path(Kind.CACHE, call, keyword.value, f"{name}({keyword.arg}=...)")
