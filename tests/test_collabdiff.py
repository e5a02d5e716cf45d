"""promote.collabdiff: `promote diff` between two collaboration revisions gives exactly the slow path's answer or
error, evaluating only what differs. Inputs: every pair of consecutive collaboration revisions of the reference
factories (and the first against the last, both ways), randomized edits of their files, with and without an
environment, and the cases the proof in the module docstring names."""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

import pytest

import promote.collabdiff as collabdiff
from promote.desired import SideInput
from promote.environment import Environment
from promote.source import SourceFiles, read_path
from tests.conftest import reference_path
from tests.test_quickdiff import compare, environment


def _revisions() -> dict[tuple[str, str], list[SourceFiles]]:
    """(repo, factory) -> its collaboration roots in commit order."""
    manifest = reference_path("collaboration", "manifest.json")
    from bench.build_fidelity import collaboration_root

    out: dict[tuple[str, str], list[tuple[int, SourceFiles]]] = {}
    for entry in json.loads(manifest.read_text()):
        files = read_path(collaboration_root(entry))
        factory = entry["published"][0]["factory_name"]
        key = (entry["repo"], factory)
        out.setdefault(key, []).append((entry["collab_commit_time"], SourceFiles(files.label, files.files, factory)))
    return {key: [files for _, files in sorted(found, key=lambda f: f[0])] for key, found in out.items()}


@pytest.fixture(scope="module")
def revisions():
    return _revisions()


def sides(a: SourceFiles, b: SourceFiles, env: Environment | None = None) -> tuple[SideInput, SideInput]:
    return SideInput("A", a, env, None), SideInput("B", b, env, None)


def test_consecutive_collaboration_revisions_equal_the_slow_path(revisions):
    answered = 0
    for (repo, _), roots in revisions.items():
        pairs = [*itertools.pairwise(roots)]
        if len(roots) > 2:
            pairs += [(roots[0], roots[-1]), (roots[-1], roots[0])]
        for a, b in pairs:
            result = compare(*sides(a, b), fast=None)
            if result is not None and result.fallback is None:
                answered += 1
            elif result is not None:  # a fallback must have a reason; the answer was the slow path's anyway
                assert result.fallback, repo
    assert answered >= 60  # the fast path answers nearly every real pair


def test_identical_revisions_evaluate_nothing(revisions, monkeypatch):
    roots = max(revisions.values(), key=len)
    evaluated: list[int] = []
    real = collabdiff._evaluate

    def counting(published, resources, values, factory_name):
        evaluated.append(len(resources))
        return real(published, resources, values, factory_name)

    monkeypatch.setattr(collabdiff, "_evaluate", counting)
    result = compare(*sides(roots[-1], roots[-1]))
    assert result is not None and not result.diff.changes
    assert evaluated == [0, 0]


def _edit(rng: random.Random, files: dict[str, bytes]) -> str:
    """One edit a person makes in ADF Studio or by hand: a value changed, an object removed or copied."""
    objects = sorted(p for p in files if p.split("/")[0] in ("pipeline", "dataset", "linkedService", "trigger"))
    path = rng.choice(objects)
    doc = json.loads(files[path])
    roll = rng.random()
    if roll < 0.5:
        leaves = _leaves(doc["properties"])
        if not leaves:
            return "nothing"
        where, value = rng.choice(leaves)
        _set(doc["properties"], where, _changed(value))
        files[path] = json.dumps(doc, indent="\t", ensure_ascii=False).encode()
        return f"value {path} {where}"
    if roll < 0.7:
        del files[path]
        return f"removed {path}"
    if roll < 0.85:
        folder = path.split("/")[0]
        name = f"copy{rng.randint(0, 999)}"
        files[f"{folder}/{name}.json"] = json.dumps({**doc, "name": name}, indent="\t").encode()
        return f"copied {path}"
    doc["properties"]["description"] = "[parameters('x')] is text"  # a string that reads like an expression
    files[path] = json.dumps(doc, indent="\t").encode()
    return f"description {path}"


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, (*path, i))]
    return [(path, value)]


def _set(root: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        root = root[step]
    root[path[-1]] = value


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    return "changed"


@pytest.mark.parametrize("seed", range(12))
def test_random_edits_of_a_collaboration_root_equal_the_slow_path(revisions, seed):
    rng = random.Random(seed)
    roots = rng.choice([r for r in revisions.values() if len(r[-1].files) > 20])
    base = roots[-1]
    files = dict(base.files)
    done = [_edit(rng, files) for _ in range(rng.randint(1, 3))]
    print("edits:", done)  # shown when the test fails
    edited = SourceFiles("edited", files, base.factory)
    compare(*sides(base, edited), fast=None)
    compare(*sides(edited, base), fast=None)


@pytest.mark.parametrize("env_name", ["staging", "production"])
def test_an_environment_applies_as_in_the_slow_path(revisions, env_name, monkeypatch):
    """The project's own environments (their parameters and overrides name the sample's objects: fitted against
    these roots they warn, and both paths must warn alike)."""
    env = environment(env_name, monkeypatch)
    for roots in revisions.values():
        for a, b in itertools.pairwise(roots):
            compare(*sides(a, b, env), fast=None)
