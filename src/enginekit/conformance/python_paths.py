"""Which expressions of server.py denote models_dir, external_models_dir or a path below one.

The rules ask "where does this write/download/scan go?". The answer follows a value from
`self.models_dir` through assignments (`model_path = self.models_dir / name`), conversions
(`str(...)`, `Path(...)`, `os.path.join(...)`), f-strings and loop variables, so a violation two
assignments away from the attribute is still seen. Only the root of a path counts: in
`self.external_models_dir / model_path.name` the result is below external_models_dir.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .python_source import Source

__all__ = ["PathKind", "PathKinds", "Root"]


class Root(str, Enum):
    MODELS = "models_dir"
    EXTERNAL = "external_models_dir"


@dataclass(frozen=True)
class PathKind:
    """A path's root and whether it is the root itself (`sub=False`) or something below it."""

    root: Root
    sub: bool

    def below(self) -> PathKind:
        return PathKind(self.root, True)


Pos = tuple[int, int]
_ROOT_NAMES = {"models_dir": Root.MODELS, "external_models_dir": Root.EXTERNAL}
_HARD_CODED = {"/app/models": Root.MODELS, "/app/external_models": Root.EXTERNAL}
_CONVERT = {"Path", "PurePath", "PosixPath", "str", "fspath", "abspath", "realpath", "normpath"}
_SAME = {"resolve", "absolute", "expanduser", "as_posix"}
_BELOW = {"joinpath", "with_name", "with_suffix", "with_stem"}
_SCANS = {"iterdir", "glob", "rglob", "scandir", "walk"}
_UNWRAP = {"sorted", "list", "reversed", "tuple", "set"}


@dataclass(frozen=True)
class _Binding:
    visible_from: Pos
    expr: ast.expr
    mode: str  # "value": the expr's kind; "iterate": an element of it; "below": below it


def hard_coded_root(value: str) -> PathKind | None:
    """`/app/models` is the root itself; `/app/models/x` lies below it."""
    for prefix, root in _HARD_CODED.items():
        if value.rstrip("/") == prefix:
            return PathKind(root, False)
        if value.startswith(prefix + "/"):
            return PathKind(root, True)
    return None


class PathKinds:
    """Answers `kind(expr)` for one parsed file; bindings are collected once, answers cached."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self._names: dict[tuple[int, str], list[_Binding]] = {}
        self._attrs: dict[str, list[ast.expr]] = {}
        self._cache: dict[int, PathKind | None] = {}
        self._busy: set[int] = set()
        self._handlers: dict[type[ast.AST], Callable[[Any], PathKind | None]] = {
            ast.Constant: lambda e: hard_coded_root(e.value) if isinstance(e.value, str) else None,
            ast.Name: self._name_kind,
            ast.Attribute: self._attribute_kind,
            ast.BinOp: self._operator_kind,
            ast.JoinedStr: self._fstring_kind,
            ast.Call: self._call_kind,
            ast.IfExp: lambda e: self.kind(e.body) or self.kind(e.orelse),
            ast.NamedExpr: lambda e: self.kind(e.value),
        }
        for node in ast.walk(source.tree):
            self._collect(node)

    def _bind(self, target: ast.expr, binding: _Binding) -> None:
        if isinstance(target, ast.Name):
            scope = self._source.function_of(target)
            self._names.setdefault((id(scope), target.id), []).append(binding)
        elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
            if target.value.id == "self" and target.attr not in _ROOT_NAMES:
                self._attrs.setdefault(target.attr, []).append(binding.expr)
        elif isinstance(target, ast.Tuple | ast.List) and isinstance(binding.expr, ast.Tuple):
            for sub_target, value in zip(target.elts, binding.expr.elts, strict=False):
                self._bind(sub_target, _Binding(binding.visible_from, value, binding.mode))

    def _collect(self, node: ast.AST) -> None:
        end = (getattr(node, "end_lineno", 0) or 0, getattr(node, "end_col_offset", 0) or 0)
        if isinstance(node, ast.Assign):
            for target in node.targets:
                self._bind(target, _Binding(end, node.value, "value"))
        elif isinstance(node, ast.AnnAssign | ast.NamedExpr) and node.value is not None:
            self._bind(node.target, _Binding(end, node.value, "value"))
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Div | ast.Add):
            self._bind(node.target, _Binding(end, node.target, "below"))
        elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
            it = node.iter
            self._bind(
                node.target, _Binding((it.end_lineno or 0, it.end_col_offset or 0), it, "iterate")
            )

    def kind(self, expr: ast.AST | None) -> PathKind | None:
        """The root a path expression lies in, or None when it is not (known to be) one."""
        if expr is None:
            return None
        key = id(expr)
        if key in self._cache:
            return self._cache[key]
        if key in self._busy:
            return None
        self._busy.add(key)
        try:
            result = self._kind(expr)
        finally:
            self._busy.discard(key)
        self._cache[key] = result
        return result

    def _kind(self, expr: ast.AST) -> PathKind | None:
        handler = self._handlers.get(type(expr))
        return handler(expr) if handler else None

    def _operator_kind(self, expr: ast.BinOp) -> PathKind | None:
        """`root / name` and `str(root) + "/name"` lie below root."""
        if not isinstance(expr.op, ast.Div | ast.Add):
            return None
        left = self.kind(expr.left)
        return left.below() if left else None

    def _fstring_kind(self, expr: ast.JoinedStr) -> PathKind | None:
        if not expr.values:
            return None
        first = expr.values[0]
        inner = first.value if isinstance(first, ast.FormattedValue) else first
        kind = self.kind(inner)
        return kind.below() if kind and len(expr.values) > 1 else kind

    def _attribute_kind(self, expr: ast.Attribute) -> PathKind | None:
        if expr.attr in _ROOT_NAMES:
            return PathKind(_ROOT_NAMES[expr.attr], False)
        if expr.attr == "parent":
            inner = self.kind(expr.value)
            return PathKind(inner.root, False) if inner and inner.sub else None
        if expr.attr == "path":  # os.DirEntry.path
            return self.kind(expr.value)
        if isinstance(expr.value, ast.Name) and expr.value.id == "self":
            kinds = (self.kind(value) for value in self._attrs.get(expr.attr, []))
            return next((k for k in kinds if k), None)
        return None

    def _call_kind(self, call: ast.Call) -> PathKind | None:
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if isinstance(func, ast.Attribute) and name in _SAME | _BELOW:
            kind = self.kind(func.value)
            return kind.below() if kind and name in _BELOW else kind
        if (
            name == "join"
            and call.args
            and (self._source.qualified(func) or "").endswith("path.join")
        ):
            kind = self.kind(call.args[0])
            return kind.below() if kind and len(call.args) > 1 else kind
        if name in _CONVERT and call.args:
            kind = self.kind(call.args[0])
            return kind.below() if kind and len(call.args) > 1 else kind
        return None

    def _name_kind(self, name: ast.Name) -> PathKind | None:
        """The latest earlier binding in the name's own function, else any in enclosing scopes."""
        pos = (name.lineno, name.col_offset)
        scope = self._source.function_of(name)
        own = True
        while True:
            bindings = self._names.get((id(scope), name.id), [])
            visible = [b for b in bindings if not own or b.visible_from <= pos]
            if visible:
                return self._binding_kind(max(visible, key=lambda b: b.visible_from))
            if scope is None or _is_parameter(scope, name.id):
                break
            scope, own = self._source.function_of(scope), False
        root = _ROOT_NAMES.get(name.id)
        return PathKind(root, False) if root else None

    def _binding_kind(self, binding: _Binding) -> PathKind | None:
        if binding.mode == "below" and isinstance(binding.expr, ast.Name):
            # `p /= x`: the target node sits before the statement's end, so this finds the
            # binding p had before.
            kind = self._name_kind(binding.expr)
            return kind.below() if kind else None
        if binding.mode == "iterate":
            return self.iterated(binding.expr)
        return self.kind(binding.expr)

    def scanned(self, call: ast.Call) -> PathKind | None:
        """The directory a listing scans: `d.iterdir()`, `os.listdir(d)`, `glob.glob(f"{d}/*")`."""
        func = call.func
        if not isinstance(func, ast.Attribute) or func.attr not in _SCANS | {"listdir", "iglob"}:
            return None
        qualified = self._source.qualified(func) or ""
        if qualified.startswith("glob."):
            return self._pattern_directory(call.args[0]) if call.args else None
        if qualified.startswith("os."):
            return self.kind(call.args[0]) if call.args else None
        return self.kind(func.value) if func.attr in _SCANS else None

    def _pattern_directory(self, pattern: ast.expr) -> PathKind | None:
        """The directory of a glob pattern: X in f"{X}/*" or os.path.join(X, "*")."""
        if isinstance(pattern, ast.JoinedStr) and pattern.values:
            first = pattern.values[0]
            return self.kind(first.value if isinstance(first, ast.FormattedValue) else first)
        if isinstance(pattern, ast.Call) and pattern.args:
            joined = (self._source.qualified(pattern.func) or "").endswith("path.join")
            return self.kind(pattern.args[0] if joined else pattern)
        return self.kind(pattern)

    def iterated(self, expr: ast.expr) -> PathKind | None:
        """Loop variables over a scan are paths below the scanned directory."""
        while isinstance(expr, ast.Call) and getattr(expr.func, "id", "") in _UNWRAP and expr.args:
            expr = expr.args[0]
        if not isinstance(expr, ast.Call):
            return None
        scanned = self.scanned(expr)
        if scanned is None or (self._source.qualified(expr.func) or "").endswith("listdir"):
            return None
        return scanned.below()


def _is_parameter(function: ast.AST, name: str) -> bool:
    args = getattr(function, "args", None)
    if args is None:
        return False
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    return any(a is not None and a.arg == name for a in every)
