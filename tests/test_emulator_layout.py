"""The emulator's layout holds: no import circle among its modules (type-checking imports and imports inside
functions included), the parts without HTTP (`store/`, `deployments/`, `control`) import nothing of the HTTP
side, and no module of it imports the Azure SDK on import (the SDK is the client under test, never the server)."""

from __future__ import annotations

import ast

from tests.imports import cycles, graph, modules

PACKAGE = "promote.emulator"
HTTP_SIDE = ("promote.emulator.routing", "promote.emulator.api", "promote.emulator.app", "promote.emulator.server")
WITHOUT_HTTP = ("promote.emulator.store", "promote.emulator.deployments", "promote.emulator.control")


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
