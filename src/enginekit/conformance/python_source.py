"""A parsed server.py with the facts every rule needs: parents, scopes, imports, docstrings, bases.

Parsing (not text search) is what lets a docstring that mentions /app/models pass while the same
string in code fails, and lets a class that inherits an enginekit base satisfy the checklist through
that base.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ENGINEKIT_BASES", "FunctionNode", "Source", "dotted_name"]

ENGINEKIT_BASES = frozenset(
    {"BaseEngineServer", "BaseTTSServer", "BaseQualityServer", "BaseSTTServer"}
)
FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def dotted_name(node: ast.AST) -> str | None:
    """ "os.path.join" for the expression os.path.join; None for anything but names/attributes."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = dotted_name(node.value)
        return f"{inner}.{node.attr}" if inner else None
    return None


@dataclass
class Source:
    path: Path
    tree: ast.Module
    parents: dict[ast.AST, ast.AST] = field(default_factory=dict)
    imports: dict[str, str] = field(default_factory=dict)
    docstrings: set[int] = field(default_factory=set)
    local_functions: set[str] = field(default_factory=set)

    @classmethod
    def parse(cls, path: Path) -> Source:
        """Raises SyntaxError (with a line number) for code Python itself would reject."""
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        source = cls(path, tree)
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                source.parents[child] = node
            source._note(node)
        return source

    def _note(self, node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                self.imports[local] = alias.name if alias.asname else local
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                self.imports[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            self.local_functions.add(node.name)
        if isinstance(node, _DOCUMENTED) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                self.docstrings.add(id(first.value))

    def qualified(self, node: ast.AST) -> str | None:
        """The dotted name with its first part replaced by what it was imported as."""
        name = dotted_name(node)
        if name is None:
            return None
        head, _, rest = name.partition(".")
        full = self.imports.get(head, head)
        return f"{full}.{rest}" if rest else full

    def function_of(self, node: ast.AST) -> FunctionNode | None:
        """The innermost function (or lambda) around a node; None at module or class level."""
        current = self.parents.get(node)
        while current is not None and not isinstance(current, _SCOPES):
            current = self.parents.get(current)
        return current

    def enginekit_classes(self) -> list[ast.ClassDef]:
        """Classes deriving, directly or through classes of this file, from an enginekit base."""
        classes = [n for n in ast.walk(self.tree) if isinstance(n, ast.ClassDef)]
        derived: dict[str, ast.ClassDef] = {}
        changed = True
        while changed:
            changed = False
            for cls in classes:
                if cls.name not in derived and any(self._is_base(b, derived) for b in cls.bases):
                    derived[cls.name] = cls
                    changed = True
        return list(derived.values())

    def _is_base(self, base: ast.expr, derived: dict[str, ast.ClassDef]) -> bool:
        if isinstance(base, ast.Name) and base.id in derived:
            return True
        full = self.qualified(base) or ""
        module, _, name = full.rpartition(".")
        in_package = module == "enginekit.server" or module.startswith("enginekit.server.")
        return name in ENGINEKIT_BASES and in_package

    def definition(self, name: str) -> FunctionNode | None:
        """The first function defined under this name, for pointing a finding at it."""
        for node in ast.walk(self.tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
                return node
        return None
