"""The package's layout holds (docs/architecture.md): no import circle anywhere in `promote/` but the ARM function
registry's, and the pure core (source to plan, the record's rules, the views) imports nothing that talks to Azure,
runs a plan or parses a command line. Imports are read from the source, type-checking ones and those inside
functions included (`tests/imports.py`); the emulator's own rules are in `tests/test_emulator_layout.py`."""

from __future__ import annotations

import re

from tests.conftest import ROOT
from tests.imports import cycles, graph

PACKAGE = "promote"
# The function registry: `promote.arm.expressions` imports the functions (importing them registers them), and
# their modules name the evaluator's `Scope` and `Compiled` for the type checker. Kept on purpose.
REGISTRY = ("promote.arm.expressions", "promote.arm.functions")
CORE = (
    "promote.source",
    "promote.build",
    "promote.loader",
    "promote.arm",
    "promote.factory",
    "promote.environment",
    "promote.desired",
    "promote.validate",
    "promote.names",
    "promote.secrets",
    "promote.diff",
    "promote.normalise",
    "promote.quickdiff",
    "promote.collabdiff",
    "promote.live",
    "promote.plan",
    "promote.record",
    "promote.render",
    "promote.untrusted",
    "promote.inert",
    "promote.errors",
)
EDGE = (
    "promote.apply",
    "promote.azure",
    "promote.endpoints",
    "promote.emulator",
    "promote.session",
    "promote.commands",
    "promote.cli",
    "promote.github",
    "promote.init",
)


def _under(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def test_the_walker_sees_the_whole_package() -> None:
    edges = graph(PACKAGE)
    assert "promote.session" in edges["promote.commands.deploy"]
    assert "promote.emulator" in edges["promote.endpoints"]  # imported inside a function
    assert "promote.arm.expressions" in edges["promote.arm.functions.strings"]  # under TYPE_CHECKING
    assert set(REGISTRY) <= {m for c in cycles(edges) for m in c}, "the registry's circle is no longer seen"


def test_no_import_circle_in_promote_but_the_function_registry() -> None:
    circles = [c for c in cycles(graph(PACKAGE)) if not all(_under(m, REGISTRY) for m in c)]
    assert circles == []


def test_the_pure_core_imports_nothing_of_the_edge() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in graph(PACKAGE).items()
        if _under(module, CORE)
        for target in targets
        if _under(target, EDGE)
    )
    assert wrong == []


# ---------------------------------------------------------------------------------------- docs/architecture.md

ARCHITECTURE = ROOT / "docs" / "architecture.md"
_PATH = re.compile(r"`((?:promote|tests|bench|docs|\.github)/[^`*<> ]*|action\.yml)`")


def test_the_architecture_page_names_only_paths_that_exist() -> None:
    named = set(_PATH.findall(ARCHITECTURE.read_text()))
    assert len(named) > 40, "the page's paths are no longer recognised"
    missing = sorted(path for path in named if not (ROOT / path.rstrip("/")).exists())
    assert missing == []


def test_the_architecture_page_places_every_part_of_the_package() -> None:
    """A newcomer finds any module from the page: each module and package directly under `promote/` is named."""
    named = set(_PATH.findall(ARCHITECTURE.read_text()))
    parts = {
        f"promote/{p.name}/" if p.is_dir() else f"promote/{p.name}"
        for p in (ROOT / "promote").iterdir()
        if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and not p.name.startswith("__"))
    }
    unplaced = sorted(parts - {n if n.endswith((".py", "/")) else n + "/" for n in named})
    assert unplaced == [], "add a row for each to docs/architecture.md, 'Where does behaviour X live'"
