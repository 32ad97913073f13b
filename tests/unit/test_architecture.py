"""The shape the design promises: no import cycle in enginekit (TYPE_CHECKING imports count), a
runtime that knows nothing of HTTP, engines that hold no HTTP code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
ENGINES = SRC.parent / "engines"
WEB_FRAMEWORKS = ("fastapi", "starlette", "uvicorn")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """Every enginekit module `path` imports anywhere in it, as the module it names."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = f"{base}.{node.module}" if node.level and node.module else base
            target = target if node.level else (node.module or "")
            # `from pkg import submodule` imports the submodule itself
            submodules = {f"{target}.{a.name}" for a in node.names} & modules
            found.update(submodules or {target})
    return {m for m in found if m in modules and m != name}


def import_graph() -> dict[str, set[str]]:
    paths = sorted(SRC.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imported_modules(p, modules) for p in paths}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return [*visiting[visiting.index(node) :], node]
        if node in done:
            return None
        visiting.append(node)
        for child in sorted(graph[node]):
            if cycle := visit(child):
                return cycle
        visiting.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        if cycle := visit(start):
            return cycle
    return None


def test_enginekit_has_no_import_cycle() -> None:
    graph = import_graph()
    # the walk really sees relative imports, TYPE_CHECKING ones included
    assert {"enginekit.engine", "enginekit.store"} <= graph["enginekit.runtime.runtime"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_sees_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def third_party_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("layer", ["engine", "runtime", "store"])
def test_the_inner_layers_know_nothing_of_http(layer: str) -> None:
    """Front doors depend on the runtime, never the other way round."""
    graph = import_graph()
    for path in sorted((SRC / "enginekit" / layer).rglob("*.py")):
        assert not third_party_imports(path) & set(WEB_FRAMEWORKS), path
        outer = {m for m in graph[module_name(path)] if m.split(".")[1] in ("doors", "server")}
        assert not outer, (path, outer)


def test_no_engine_server_imports_a_web_framework() -> None:
    servers = sorted(ENGINES.glob("*/*/server.py"))
    assert len(servers) >= 4
    for server in servers:
        assert not third_party_imports(server) & set(WEB_FRAMEWORKS), server
