"""What server.py does to the model directories, as a list of events the rules can reason about.

Each call that writes, downloads, lists, links or tests a path becomes one Event with the root it
touches (models_dir or external_models_dir, via PathKinds) and its line, so the rules themselves
are a few lines of logic over data instead of AST pattern matching.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from enum import Enum

from .python_paths import PathKind, PathKinds, Root, hard_coded_root
from .python_source import FunctionNode, Source

__all__ = ["Event", "EventKind", "collect_events"]


class EventKind(str, Enum):
    HARD_CODED = "hard-coded path"
    DOWNLOAD = "download"
    CACHE_VAR = "cache variable"
    WRITE = "write"
    SCAN = "scan"
    LINK = "symlink"
    EXISTS = "existence check"
    READ_MODELS_DIR = "models_dir read"


@dataclass(frozen=True)
class Event:
    kind: EventKind
    node: ast.AST
    kind_of_path: PathKind | None
    function: FunctionNode | None
    detail: str

    @property
    def line(self) -> int:
        return int(getattr(self.node, "lineno", 0))

    @property
    def root(self) -> Root | None:
        return self.kind_of_path.root if self.kind_of_path else None

    @property
    def below_root(self) -> bool:
        """A path inside the directory rather than the directory itself."""
        return bool(self.kind_of_path and self.kind_of_path.sub)


_RECEIVER_WRITES = {"write_text", "write_bytes", "touch", "mkdir", "hardlink_to"}
# Where the destination is: (position, keyword).
_DESTINATION_WRITES = {
    "os.rename": (1, "dst"), "os.replace": (1, "dst"), "os.link": (1, "dst"),
    "os.makedirs": (0, "name"), "os.mkdir": (0, "path"), "shutil.copy": (1, "dst"),
    "shutil.copy2": (1, "dst"), "shutil.copyfile": (1, "dst"), "shutil.copytree": (1, "dst"),
    "shutil.move": (1, "dst"),
}  # fmt: skip
_OPEN_FUNCTIONS = {"open", "io.open", "builtins.open"}
_ANY_ARG_WRITES = {"save", "save_pretrained", "savez", "extractall", "extract"}
_TEMP_IN_DIR = {"mkdtemp", "mkstemp", "NamedTemporaryFile", "TemporaryDirectory"}
_EXISTS_METHODS = {"exists", "is_dir", "is_file", "is_symlink"}
_EXISTS_FUNCTIONS = {"os.path.exists", "os.path.lexists", "os.path.isdir", "os.path.isfile"}
_DOWNLOAD_WORDS = ("download", "urlretrieve")


def is_cache_variable(key: str) -> bool:
    """HF_HOME, TORCH_HOME, XDG_CACHE_HOME, HF_HUB_CACHE, WHISPER_CACHE, NLTK_DATA and the like."""
    upper = key.upper()
    return upper != "ENGINE_HOME" and (
        "CACHE" in upper or upper.endswith("_HOME") or upper == "NLTK_DATA"
    )


def _is_cache_keyword(name: str | None) -> bool:
    """download_root=, cache_dir=, cache_folder=, download_dir= and the like."""
    lowered = (name or "").lower()
    return "download" in lowered or "cache" in lowered


class _Collector:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.paths = PathKinds(source)
        self.events: list[Event] = []

    def add(self, kind: EventKind, node: ast.AST, path: ast.AST | None, detail: str) -> None:
        of_path = self.paths.kind(path) if path is not None else None
        if kind in {EventKind.HARD_CODED, EventKind.READ_MODELS_DIR} or of_path is not None:
            self.events.append(Event(kind, node, of_path, self.source.function_of(node), detail))

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in self.source.docstrings and hard_coded_root(node.value):
                self.add(EventKind.HARD_CODED, node, node, repr(node.value))
        elif isinstance(node, ast.Attribute) and node.attr == "models_dir":
            if isinstance(node.ctx, ast.Load):
                self.add(EventKind.READ_MODELS_DIR, node, None, "models_dir")
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                self._environ_item(node, target, node.value)
        elif isinstance(node, ast.Call):
            self._call(node)

    def _environ_item(self, node: ast.AST, target: ast.expr, value: ast.expr) -> None:
        if (
            not isinstance(target, ast.Subscript)
            or self.source.qualified(target.value) != "os.environ"
        ):
            return
        key = target.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            self._cache_variable(node, key.value, value)

    def _cache_variable(self, node: ast.AST, key: str, value: ast.expr) -> None:
        if is_cache_variable(key):
            self.add(EventKind.CACHE_VAR, node, value, key)

    def _call(self, call: ast.Call) -> None:
        qualified = self.source.qualified(call.func) or ""
        name = qualified.rpartition(".")[2] if qualified else getattr(call.func, "attr", "")
        scanned = self.paths.scanned(call)
        if scanned is not None:
            self.events.append(
                Event(EventKind.SCAN, call, scanned, self.source.function_of(call), name)
            )
        self._environment_call(call, qualified)
        self._download(call, name)
        self._write(call, qualified, name)
        self._link_or_check(call, qualified, name)

    def _environment_call(self, call: ast.Call, qualified: str) -> None:
        if qualified in {"os.environ.setdefault", "os.putenv"} and len(call.args) >= 2:
            key = call.args[0]
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                self._cache_variable(call, key.value, call.args[1])
        elif qualified == "os.environ.update":
            for keyword in call.keywords:
                if keyword.arg:
                    self._cache_variable(call, keyword.arg, keyword.value)
            for arg in call.args:
                if isinstance(arg, ast.Dict):
                    for entry, value in zip(arg.keys, arg.values, strict=True):
                        if isinstance(entry, ast.Constant) and isinstance(entry.value, str):
                            self._cache_variable(call, entry.value, value)

    def _download(self, call: ast.Call, name: str) -> None:
        """A library download: a call named like one (not a helper of this file, whose body is
        checked instead), or a download/cache directory handed to a loader
        (`WhisperModel(name, download_root=...)`, `from_pretrained(..., cache_dir=...)`)."""
        by_name = any(word in name.lower() for word in _DOWNLOAD_WORDS)
        if by_name and name not in self.source.local_functions:
            values = [*call.args, *(k.value for k in call.keywords)]
        else:
            values = [k.value for k in call.keywords if _is_cache_keyword(k.arg)]
            if not values:
                return
        kinds = [k for k in map(self.paths.kind, values) if k is not None]
        if not by_name and not kinds:
            return
        target = next((k for k in kinds if k.root is Root.EXTERNAL), kinds[0] if kinds else None)
        function = self.source.function_of(call)
        self.events.append(Event(EventKind.DOWNLOAD, call, target, function, name))

    def _write(self, call: ast.Call, qualified: str, name: str) -> None:
        func = call.func
        receiver = func.value if isinstance(func, ast.Attribute) else None
        if qualified in _DESTINATION_WRITES:
            index, keyword = _DESTINATION_WRITES[qualified]
            self.add(EventKind.WRITE, call, _argument(call, index, keyword), qualified)
        elif name == "open":
            builtin = qualified in _OPEN_FUNCTIONS
            if _writes(call, mode_index=1 if builtin else 0):
                target = _argument(call, 0, "file") if builtin else receiver
                self.add(EventKind.WRITE, call, target, "open() for writing")
        elif receiver is not None and name in _RECEIVER_WRITES:
            self.add(EventKind.WRITE, call, receiver, f".{name}()")
        elif receiver is not None and name in {"rename", "replace"}:
            self.add(EventKind.WRITE, call, _argument(call, 0, "target"), f".{name}()")
        elif name in _ANY_ARG_WRITES and name not in self.source.local_functions:
            for value in [*call.args, *(k.value for k in call.keywords)]:
                self.add(EventKind.WRITE, call, value, f"{name}()")
        elif name in _TEMP_IN_DIR:
            self.add(EventKind.WRITE, call, _keyword(call, "dir"), f"{name}(dir=...)")

    def _link_or_check(self, call: ast.Call, qualified: str, name: str) -> None:
        func = call.func
        receiver = func.value if isinstance(func, ast.Attribute) else None
        if name == "symlink_to" and receiver is not None:
            self.add(EventKind.LINK, call, receiver, ".symlink_to()")
        elif qualified == "os.symlink":
            self.add(EventKind.LINK, call, _argument(call, 1, "dst"), "os.symlink()")
        elif (
            receiver is not None
            and name in _EXISTS_METHODS
            and not qualified.startswith("os.path.")
        ):
            self.add(EventKind.EXISTS, call, receiver, f".{name}()")
        elif qualified in _EXISTS_FUNCTIONS:
            self.add(EventKind.EXISTS, call, _argument(call, 0, "path"), qualified)


def _argument(call: ast.Call, index: int, keyword: str) -> ast.expr | None:
    if len(call.args) > index:
        return call.args[index]
    return _keyword(call, keyword)


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _writes(call: ast.Call, mode_index: int) -> bool:
    """open(path, mode) or path.open(mode) with a mode that writes, appends or creates."""
    mode = _keyword(call, "mode")
    if mode is None and len(call.args) > mode_index:
        mode = call.args[mode_index]
    if not (isinstance(mode, ast.Constant) and isinstance(mode.value, str)):
        return False
    return any(flag in mode.value for flag in "wax+")


def collect_events(source: Source) -> list[Event]:
    collector = _Collector(source)
    for node in ast.walk(source.tree):
        collector.visit(node)
    return sorted(collector.events, key=lambda e: e.line)
