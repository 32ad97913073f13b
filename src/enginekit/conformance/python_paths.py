"""server.py parsed, with the question every server rule asks: where does this path point?

Parsing (not text search) lets a docstring mention /app/models while the same string in code fails,
and lets a class that inherits an enginekit engine base satisfy the checklist through that base.
`kind(expr)` follows a value from `self.models_dir` through assignments, `Path(...)`, `str(...)`,
`os.path.join(...)`, f-strings, loop variables, `self.<attribute>` and what the file's own helpers
and properties return, so `target = self._model_path(name)` still lies in models/. Only the root of
a path counts: `self.external_models_dir / model_path.name` lies below external_models_dir.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any, NamedTuple

from ..engine import ENGINE_BASE_CLASSES

#: Taken from the code, so a new engine base class is trusted as soon as it exists.
ENGINEKIT_BASES = frozenset(base.__name__ for base in ENGINE_BASE_CLASSES)
ENGINEKIT_PACKAGE = ENGINE_BASE_CLASSES[0].__module__.rpartition(".")[0]
FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)


class Root(str, Enum):
    MODELS = "models_dir"
    EXTERNAL = "external_models_dir"


class PathKind(NamedTuple):
    """A path's root and whether it is the root itself or something below it."""

    root: Root
    below: bool = False


_ROOT_NAMES = {root.value: root for root in Root}  # self.models_dir, ...
_HARD_CODED = {"/app/models": Root.MODELS, "/app/external_models": Root.EXTERNAL}
_CONVERT = {"Path", "PurePath", "PosixPath", "str", "fspath", "abspath", "realpath", "normpath"}
_SAME = {"resolve", "absolute", "expanduser", "as_posix"}
_BELOW = {"joinpath", "with_name", "with_suffix", "with_stem"}
_SCANS = {"iterdir", "glob", "rglob", "scandir", "walk"}
_UNWRAP = {"sorted", "list", "reversed", "tuple", "set"}


def hard_coded_root(value: str) -> PathKind | None:
    """`/app/models` is the root itself; `/app/models/x` lies below it."""
    for prefix, root in _HARD_CODED.items():
        if value.rstrip("/") == prefix or value.startswith(prefix + "/"):
            return PathKind(root, value.rstrip("/") != prefix)
    return None


def _below(kind: PathKind | None, below: bool = True) -> PathKind | None:
    """A path under `kind` (`root / name`), when `below`; `kind` itself otherwise."""
    return PathKind(kind.root, True) if kind and below else kind


def _dotted(node: ast.AST) -> str | None:
    """ "os.path.join" for the expression os.path.join; None for anything but names/attributes."""
    if isinstance(node, ast.Name):
        return node.id
    inner = _dotted(node.value) if isinstance(node, ast.Attribute) else None
    return f"{inner}.{node.attr}" if inner and isinstance(node, ast.Attribute) else None


class _Binding(NamedTuple):
    visible_from: tuple[int, int]
    expr: ast.expr
    each: bool  # an element of expr (a loop variable), not expr itself


class Source:
    """server.py, parsed; SyntaxError (with a line number) for code Python itself would reject."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        self.parents: dict[ast.AST, ast.AST] = {}
        self.imports: dict[str, str] = {}
        self.docstrings: set[int] = set()
        self.functions: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
        self._names: dict[tuple[int, str], list[_Binding]] = {}
        self._attrs: dict[str, list[ast.expr]] = {}
        self._cache: dict[int, PathKind | None] = {}
        self._handlers: dict[type[ast.AST], Callable[[Any], PathKind | None]] = {
            ast.Name: self._name_kind,
            ast.Attribute: self._attribute_kind,
            ast.Call: self._call_kind,
        }
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
        for node in ast.walk(self.tree):
            self._note(node)

    def _note(self, node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                head = alias.name.split(".")[0]
                self.imports[alias.asname or head] = alias.name if alias.asname else head
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                self.imports[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, _DEFS):
            self.functions.setdefault(node.name, []).append(node)
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, *_DEFS)) and body and _is_text(body[0]):
            self.docstrings.add(id(body[0].value))
        self._note_binding(node)

    def _note_binding(self, node: ast.AST) -> None:
        end = (getattr(node, "end_lineno", 0) or 0, getattr(node, "end_col_offset", 0) or 0)
        if isinstance(node, ast.Assign):
            for target in node.targets:
                self._bind(target, _Binding(end, node.value, False))
        elif isinstance(node, ast.AnnAssign | ast.NamedExpr) and node.value is not None:
            self._bind(node.target, _Binding(end, node.value, False))
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Div | ast.Add):
            # `p /= x` binds p to `p / x`, whose p is the binding before the statement
            value = ast.BinOp(node.target, node.op, node.value)
            self._bind(node.target, _Binding(end, value, False))
        elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
            visible = (node.iter.end_lineno or 0, node.iter.end_col_offset or 0)
            self._bind(node.target, _Binding(visible, node.iter, True))

    def _bind(self, target: ast.expr, binding: _Binding) -> None:
        if isinstance(target, ast.Name):
            key = (id(self.function_of(target)), target.id)
            self._names.setdefault(key, []).append(binding)
        elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
            if target.value.id == "self" and target.attr not in _ROOT_NAMES:
                self._attrs.setdefault(target.attr, []).append(binding.expr)
        elif isinstance(target, ast.Tuple | ast.List) and isinstance(binding.expr, ast.Tuple):
            for sub_target, value in zip(target.elts, binding.expr.elts, strict=False):
                self._bind(sub_target, binding._replace(expr=value))

    def qualified(self, node: ast.AST) -> str:
        """The dotted name with its first part replaced by what it was imported as ("" if none)."""
        head, _, rest = (_dotted(node) or "").partition(".")
        full = self.imports.get(head, head)
        return f"{full}.{rest}" if rest else full

    def function_of(self, node: ast.AST) -> FunctionNode | None:
        """The innermost function (or lambda) around a node; None at module or class level."""
        current = self.parents.get(node)
        while current is not None and not isinstance(current, FunctionNode):
            current = self.parents.get(current)
        return current

    def enginekit_classes(self) -> list[str]:
        """Classes deriving, directly or through classes of this file, from an enginekit base."""
        pending = [n for n in ast.walk(self.tree) if isinstance(n, ast.ClassDef)]
        derived: list[str] = []

        def trusted(base: ast.expr) -> bool:
            module, _, name = self.qualified(base).rpartition(".")
            if isinstance(base, ast.Name) and base.id in derived:
                return True
            return name in ENGINEKIT_BASES and f"{module}.".startswith(f"{ENGINEKIT_PACKAGE}.")

        while new := [c for c in pending if any(map(trusted, c.bases))]:
            derived += [c.name for c in new]
            pending = [c for c in pending if c not in new]
        return derived

    def calls_to(self, name: str) -> list[ast.Call]:
        """Calls of `name(...)` or `<anything>.name(...)`, for following a helper to its callers."""
        calls = [n for n in ast.walk(self.tree) if isinstance(n, ast.Call)]
        return [c for c in calls if name in (getattr(c.func, "id", 0), getattr(c.func, "attr", 0))]

    def kind(self, expr: ast.AST | None) -> PathKind | None:
        """The root a path expression lies in, or None when it is not (known to be) one."""
        if expr is None:
            return None
        key = id(expr)
        if key not in self._cache:
            self._cache[key] = None  # a cycle (p = p.resolve(), recursion) knows nothing
            self._cache[key] = self._kind(expr)
        return self._cache[key]

    def _kind(self, expr: ast.AST) -> PathKind | None:
        if isinstance(expr, ast.Constant):
            return hard_coded_root(expr.value) if isinstance(expr.value, str) else None
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Div | ast.Add):
            return _below(self.kind(expr.left))  # `root / name`, `str(root) + "/name"`
        if isinstance(expr, ast.JoinedStr) and expr.values:
            return _below(self._first_value(expr), len(expr.values) > 1)
        if isinstance(expr, ast.IfExp):
            return self.kind(expr.body) or self.kind(expr.orelse)
        if isinstance(expr, ast.NamedExpr | ast.Await):
            return self.kind(expr.value)
        handler = self._handlers.get(type(expr))
        return handler(expr) if handler else None

    def _first_value(self, string: ast.JoinedStr) -> PathKind | None:
        """Where an f-string starts: X in f"{X}/name"."""
        first = string.values[0]
        return self.kind(first.value if isinstance(first, ast.FormattedValue) else first)

    def _attribute_kind(self, expr: ast.Attribute) -> PathKind | None:
        if expr.attr in _ROOT_NAMES:
            return PathKind(_ROOT_NAMES[expr.attr])
        if expr.attr == "parent":
            inner = self.kind(expr.value)
            return PathKind(inner.root) if inner and inner.below else None
        if expr.attr == "path":  # os.DirEntry.path
            return self.kind(expr.value)
        if isinstance(expr.value, ast.Name) and expr.value.id == "self":
            assigned = (self.kind(value) for value in self._attrs.get(expr.attr, []))
            return next((k for k in assigned if k), None) or self.returned(expr.attr)  # property
        return None

    def _call_kind(self, call: ast.Call) -> PathKind | None:
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if isinstance(func, ast.Attribute) and name in _SAME | _BELOW:
            return _below(self.kind(func.value), name in _BELOW)
        joins = name == "join" and self.qualified(func).endswith("path.join")
        if (joins or name in _CONVERT) and call.args:
            return _below(self.kind(call.args[0]), len(call.args) > 1)
        receiver = getattr(getattr(func, "value", None), "id", "")
        own = isinstance(func, ast.Name) or receiver in {"self", "cls"}
        return self.returned(name) if own else None

    def returned(self, function: str) -> PathKind | None:
        """What a helper (or property) of this file returns: `return self.models_dir / name`."""
        returns = (
            self.kind(node.value)
            for definition in self.functions.get(function, [])
            for node in ast.walk(definition)
            if isinstance(node, ast.Return) and self.function_of(node) is definition
        )
        return next((k for k in returns if k), None)

    def _name_kind(self, name: ast.Name) -> PathKind | None:
        """The latest earlier binding in the name's own function, else any in enclosing scopes."""
        pos, scope, own = (name.lineno, name.col_offset), self.function_of(name), True
        while True:
            bindings = self._names.get((id(scope), name.id), [])
            visible = [b for b in bindings if not own or b.visible_from <= pos]
            if visible:
                latest = max(visible, key=lambda b: b.visible_from)
                return self.iterated(latest.expr) if latest.each else self.kind(latest.expr)
            if scope is None or _is_parameter(scope, name.id):
                break
            scope, own = self.function_of(scope), False
        return PathKind(_ROOT_NAMES[name.id]) if name.id in _ROOT_NAMES else None

    def scanned(self, call: ast.Call) -> PathKind | None:
        """The directory a listing scans: `d.iterdir()`, `os.listdir(d)`, `glob.glob(f"{d}/*")`."""
        func = call.func
        if not isinstance(func, ast.Attribute) or func.attr not in _SCANS | {"listdir", "iglob"}:
            return None
        qualified = self.qualified(func)
        if qualified.startswith("glob."):
            return self._pattern_directory(call.args[0]) if call.args else None
        if qualified.startswith("os."):
            return self.kind(call.args[0]) if call.args else None
        return self.kind(func.value) if func.attr in _SCANS else None

    def _pattern_directory(self, pattern: ast.expr) -> PathKind | None:
        """The directory of a glob pattern: X in f"{X}/*" or os.path.join(X, "*")."""
        if isinstance(pattern, ast.JoinedStr) and pattern.values:
            return self._first_value(pattern)
        if isinstance(pattern, ast.Call) and pattern.args:
            joined = self.qualified(pattern.func).endswith("path.join")
            return self.kind(pattern.args[0] if joined else pattern)
        return self.kind(pattern)

    def iterated(self, expr: ast.expr) -> PathKind | None:
        """Loop variables over a scan are paths below the scanned directory."""
        while isinstance(expr, ast.Call) and getattr(expr.func, "id", "") in _UNWRAP and expr.args:
            expr = expr.args[0]
        if not isinstance(expr, ast.Call) or self.qualified(expr.func).endswith("listdir"):
            return None
        return _below(self.scanned(expr))


def _is_text(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)


def _is_parameter(function: ast.AST, name: str) -> bool:
    args = getattr(function, "args", None)
    if args is None:
        return False
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    return any(a is not None and a.arg == name for a in every)
