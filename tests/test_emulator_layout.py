"""The emulator's layout holds: no import circle among its modules (type-checking imports and imports inside
functions included), the parts without HTTP (`store/`, `deployments/`, `control`) import nothing of the HTTP
side, and no module of it imports the Azure SDK on import (the SDK is the client under test, never the server)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = "promote.emulator"
HTTP_SIDE = ("promote.emulator.routing", "promote.emulator.api", "promote.emulator.app", "promote.emulator.server")
WITHOUT_HTTP = ("promote.emulator.store", "promote.emulator.deployments", "promote.emulator.control")


def modules(package: str) -> dict[str, Path]:
    """Every module of a package under the repository root: dotted name -> file."""
    base = ROOT.joinpath(*package.split("."))
    found: dict[str, Path] = {}
    for path in sorted(base.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of `known` that module `name` imports, anywhere in its text. `from P import X` counts as an
    import of P.X when that is a module, else of P; relative imports are resolved."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {m for m in found if m in known and m != name}


def graph(package: str) -> dict[str, set[str]]:
    found = modules(package)
    return {name: imports_of(name, path, set(found)) for name, path in found.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_walker_finds_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_walker_sees_the_emulators_imports() -> None:
    edges = graph(PACKAGE)
    assert "promote.emulator.routing" in edges["promote.emulator.api.resources"]
    assert "promote.emulator.deployments.validation" in edges["promote.emulator.deployments.service"]
    assert "promote.emulator.errors" in edges["promote.emulator.store.values"]  # `from promote.emulator import errors`


def test_no_import_circle_in_the_emulator() -> None:
    assert cycles(graph(PACKAGE)) == []


def test_the_parts_without_http_import_nothing_of_it() -> None:
    edges = graph(PACKAGE)
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in edges.items()
        if module.startswith(WITHOUT_HTTP)
        for target in targets
        if target.startswith(HTTP_SIDE)
    )
    assert wrong == []


def test_the_emulator_does_not_import_the_azure_sdk() -> None:
    """Not at module level: `EmulatorCredential` (the clients' side) imports azure.core when a client calls it."""
    wrong = []
    for name, path in modules(PACKAGE).items():
        for node in _module_level(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                wrong += [f"{name}: {a.name}" for a in node.names if a.name.split(".")[0] == "azure"]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "azure":
                wrong.append(f"{name}: {node.module}")
    assert wrong == []


def _module_level(tree: ast.Module) -> list[ast.stmt]:
    """The statements run on import: the module's body and what its `if` / `try` blocks hold."""
    out: list[ast.stmt] = []
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        out.append(node)
        if isinstance(node, (ast.If, ast.Try)):
            todo += [*node.body, *node.orelse, *getattr(node, "finalbody", [])]
            todo += [s for h in getattr(node, "handlers", []) for s in h.body]
    return out
