"""Real factories, broken at random: every reference collaboration root and published folder with one or two of
its JSON values replaced, removed or renamed, through what `promote build` and `promote diff` run, and the diff's
renderings. The answer may be a build, a diff, or bad input (exit 2); never "a bug in promote" (any other
exception, which the CLI turns into exit 1 with "unexpected ...").

Why random: the build and the diff read files ADF Studio saves and files a hand edit, a merge or a tool breaks;
the fixed cases in test_bad_input.py and test_build_*.py cover the breakages someone thought of. Mutating the
real material found four crashes nobody had (a pipeline's `activities` that is not a list, a linked service's
or an activity's `type` that is a list, a definition making a whole `properties` one parameter). Each case is
seeded: a failure names its seed, the file and the path mutated, and replays exactly.
"""

from __future__ import annotations

import contextlib
import copy
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promote.build import build
from promote.build.default_definition import default_definition
from promote.build.eras import era
from promote.desired import SideInput
from promote.errors import PromoteError
from promote.render import json_view, text
from promote.source import SourceFiles, read_path
from promote.versiondiff import diff_versions
from tests.conftest import REFERENCE, reference_path

# What a value becomes: other JSON kinds, text ARM or ADF would read specially, hostile text.
VALUES: list[Any] = [
    None,
    0,
    -1,
    1.5,
    10**30,
    True,
    "",
    "[",
    "[x",
    "[parameters('nope')]",
    "[concat(",
    "a/b",
    "a'b",
    "\u202e",
    "::error::x",
    "@{",
    [],
    {},
    [[[]]],
    ["x", 1, None],
    {"type": "SecureString"},
    {"referenceName": "nope", "type": "DatasetReference"},
    {"referenceName": 5, "type": "LinkedServiceReference"},
    {"type": "Expression", "value": 3},
    "=",  # a definition's specs
    "=:-:int",
    "|:-x:secureString",
    {"*": "="},
]
# Cases per kind of folder, changes per case. The published folders' diff evaluates whole templates (20 times
# the time of a root's build and diff) and 1,100 changes of them found nothing: a few cases keep that path in.
CASES = {"collaboration": 8, "published": 2}
DEFINITION = "arm-template-parameters-definition.json"
MUTATIONS = 20


def _nodes(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _nodes(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _nodes(value, (*path, index))


# The keys the build and the diff dispatch on: half of the changes fall on one of them, where a wrong kind of
# value reaches the most code.
STRUCTURE = frozenset(
    {
        "type",
        "properties",
        "typeProperties",
        "activities",
        "cases",
        "ifTrueActivities",
        "ifFalseActivities",
        "defaultActivities",
        "referenceName",
        "parameters",
        "linkedServiceName",
        "pipelines",
        "pipeline",
        "connectVia",
        "dataflow",
        "dataset",
        "inputs",
        "outputs",
        "resources",
        "name",
        "dependsOn",
        "value",
        "globalParameters",
    }
)


def mutate(doc: Any, rnd: random.Random) -> tuple[Any, ...]:
    """One random change of `doc` in place; the path changed."""
    found = [node for node in _nodes(doc) if node[0]]
    structural = [node for node in found if node[0][-1] in STRUCTURE]
    path, _ = rnd.choice(structural if structural and rnd.random() < 0.5 else found)
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    key = path[-1]
    roll = rnd.random()
    if roll < 0.6:
        parent[key] = copy.deepcopy(rnd.choice(VALUES))
    elif roll < 0.75 and isinstance(parent, dict):
        del parent[key]
    elif roll < 0.85 and isinstance(parent, dict) and isinstance(key, str):
        parent[key.upper() if key != key.upper() else key.lower()] = parent.pop(key)
    elif isinstance(parent, list):
        parent.insert(key, copy.deepcopy(parent[key]))
    else:
        parent[key] = copy.deepcopy(rnd.choice([found for _, found in _nodes(doc)]))
    return path


def mutated(files: SourceFiles, rnd: random.Random) -> tuple[SourceFiles, str, list[tuple[Any, ...]]] | None:
    """`files` with one file changed once or twice (None when the file chosen is not JSON with a value inside).
    A collaboration root's parameterization definition is one of its files; a root without one may get ADF's
    default definition, changed."""
    name = rnd.choice(sorted(files.files))
    if "pipeline/" in "".join(files.files) and rnd.random() < 0.15:
        name = DEFINITION
    try:
        if name in files.files:
            doc = json.loads(files.files[name].decode("utf-8-sig"))
        else:
            doc = copy.deepcopy(default_definition(era(None)))
    except ValueError:
        return None
    if not isinstance(doc, (dict, list)) or not doc:
        return None
    paths = [mutate(doc, rnd) for _ in range(rnd.choice((1, 1, 2)))]
    changed = {**files.files, name: json.dumps(doc, indent="\t", ensure_ascii=False).encode()}
    return SourceFiles(files.label, changed, files.factory), name, paths


def _folders(kind: str) -> list[Path]:
    if kind == "collaboration":
        base = reference_path("collaboration")
        return sorted({p.parent.parent for p in base.glob("*/*/**/pipeline/*.json")})
    base = reference_path("templates")
    return sorted(p.parent for p in base.glob("*/*/ARMTemplateForFactory.json"))


def run_commands(kind: str, before: SourceFiles, after: SourceFiles) -> None:
    """What `promote build` runs (written to memory) for a collaboration root, and what `promote diff --from A
    --to B` runs with both of its renderings; bad input (`PromoteError`, exit 2) is an answer."""
    if kind == "collaboration":
        with contextlib.suppress(PromoteError):
            build(after)
    with contextlib.suppress(PromoteError):
        result = diff_versions(SideInput(before.label, before, None, None), SideInput(after.label, after, None, None))
        text.render_diff(result.diff)
        json_view.render_diff(result.diff)


@pytest.mark.parametrize(("kind", "seed"), [(kind, seed) for kind, count in CASES.items() for seed in range(count)])
def test_broken_real_folders_get_an_answer_never_a_crash(kind: str, seed: int) -> None:
    rnd = random.Random(f"{kind}-{seed}")
    folders = _folders(kind)
    for _ in range(MUTATIONS):
        folder = rnd.choice(folders)
        before = read_path(folder)
        made = mutated(before, rnd)
        if made is None:
            continue
        after, name, paths = made
        try:
            run_commands(kind, before, after)
        except Exception as exc:  # what the CLI would report as a bug in promote
            pytest.fail(f"seed {seed}: {folder.relative_to(REFERENCE)}/{name} at {paths}: {type(exc).__name__}: {exc}")
