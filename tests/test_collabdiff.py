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
import promote.quickdiff as quickdiff
from promote.build import prepare
from promote.build.output import render
from promote.desired import SideInput
from promote.environment import Environment
from promote.errors import InputError
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


def built(files: SourceFiles, previous=None):
    """Everything a build gives, or its error."""
    try:
        done = prepare(files, previous=previous)
    except InputError as exc:
        return ("error", str(exc))
    rendered = render(done.template, done.era, done.texts)
    return ("build", rendered, done.template.parameters, done.template.groups, done.warnings)


def test_a_build_from_another_revisions_build_is_the_same_build(revisions):
    """`prepare(previous=...)` (what the fast path builds the newer side with) equals building it alone, on every
    pair of revisions, both ways, and on random edits."""
    reused = 0
    for roots in revisions.values():
        for a, b in [*itertools.pairwise(roots), *itertools.pairwise(roots[::-1])]:
            try:
                before = prepare(a)
            except InputError:  # a root ADF itself tolerates (a stale copy): nothing to build from
                continue
            alone = built(b)
            assert built(b, before) == alone
            if alone[0] == "build":
                again = prepare(b, previous=before)
                earlier = {id(r.resource) for r in before.template.resources}
                reused += sum(id(r.resource) in earlier for r in again.template.resources)
    rng = random.Random(7)
    for _ in range(30):
        roots = rng.choice([r for r in revisions.values() if len(r[-1].files) > 20])
        files = dict(roots[-1].files)
        for _ in range(rng.randint(1, 3)):
            _edit(rng, files)
        edited = SourceFiles("edited", files, roots[-1].factory)
        try:
            before = prepare(roots[-1])
        except InputError:
            continue
        assert built(edited, before) == built(edited)
    assert reused > 500  # the newer side takes most of its objects from the older one


def test_identical_revisions_evaluate_nothing(revisions, monkeypatch):
    roots = max(revisions.values(), key=len)
    evaluated: list[int] = []
    real = quickdiff._evaluate  # the end both fast paths share (quickdiff.diff_the_rest) evaluates through it

    def counting(published, resources, values, factory_name):
        evaluated.append(len(resources))
        return real(published, resources, values, factory_name)

    monkeypatch.setattr(quickdiff, "_evaluate", counting)
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


def test_a_warning_of_an_object_taken_from_the_older_build_is_given_again():
    linked = {"name": "ls1", "properties": {"type": "SomeNewStore", "typeProperties": {"encryptedCredential": "x"}}}
    pipeline = {"name": "p", "properties": {"activities": [], "description": "one"}}
    older = {"linkedService/ls1.json": json.dumps(linked).encode(), "pipeline/p.json": json.dumps(pipeline).encode()}
    newer = {**older, "pipeline/p.json": json.dumps({**pipeline, "properties": {"activities": []}}).encode()}
    before = prepare(SourceFiles("older", older, "f"))
    again = built(SourceFiles("newer", newer, "f"), before)
    assert again == built(SourceFiles("newer", newer, "f"))
    assert any("newer/linkedService/ls1.json" in w and "SomeNewStore" in w for w in again[4])


def test_an_object_whose_reference_was_removed_is_built_again_and_refused():
    dataset = {"name": "d", "properties": {"type": "Json", "linkedServiceName": {"referenceName": "ls", "type": "x"}}}
    pipeline = {
        "name": "p",
        "properties": {
            "activities": [
                {"name": "a", "type": "Lookup", "inputs": [{"referenceName": "d", "type": "DatasetReference"}]}
            ]
        },
    }
    older = {"dataset/d.json": json.dumps(dataset).encode(), "pipeline/p.json": json.dumps(pipeline).encode()}
    newer = {"pipeline/p.json": older["pipeline/p.json"]}
    before = prepare(SourceFiles("older", older, "f"))
    alone = built(SourceFiles("newer", newer, "f"))
    assert alone[0] == "error" and "references datasets/d" in alone[1]
    assert built(SourceFiles("newer", newer, "f"), before) == alone


def test_an_object_whose_reference_appears_is_built_again():
    """A reference to the built-in runtime lists nothing in `dependsOn`; once the root holds a file of that name,
    it does: the object reading it is built again."""
    via = {"referenceName": "AutoResolveIntegrationRuntime", "type": "IntegrationRuntimeReference"}
    linked = {"name": "ls", "properties": {"type": "AzureBlobStorage", "typeProperties": {}, "connectVia": via}}
    runtime = {"name": "AutoResolveIntegrationRuntime", "properties": {"type": "Managed", "typeProperties": {}}}
    older = {"linkedService/ls.json": json.dumps(linked).encode()}
    newer = {**older, "integrationRuntime/AutoResolveIntegrationRuntime.json": json.dumps(runtime).encode()}
    before = prepare(SourceFiles("older", older, "f"))
    alone = built(SourceFiles("newer", newer, "f"))
    assert b"integrationRuntimes/AutoResolveIntegrationRuntime" in alone[1]["ARMTemplateForFactory.json"]
    assert built(SourceFiles("newer", newer, "f"), before) == alone


def test_the_header_is_evaluated_once_when_both_builds_declare_the_same_parameters(monkeypatch):
    """A change that leaves every parameter as it was evaluates the parameters once for both sides; a change to a
    parameter (here a linked service's secret, and its default) evaluates each side's, and the diff shows it."""
    headers: list[str] = []
    real = collabdiff.evaluate_template

    def counting(template, values, *, file):
        headers.append(file)
        return real(template, values, file=file)

    monkeypatch.setattr(collabdiff, "evaluate_template", counting)
    linked = {"type": "AzureBlobStorage", "typeProperties": {"connectionString": "DefaultEndpointsProtocol=https"}}
    pipeline = {"activities": [], "description": "one"}
    older = {
        "linkedService/ls.json": json.dumps({"name": "ls", "properties": linked}).encode(),
        "pipeline/p.json": json.dumps({"name": "p", "properties": pipeline}).encode(),
    }
    described = {**older, "pipeline/p.json": json.dumps({"name": "p", "properties": {"activities": []}}).encode()}
    url = {**linked, "typeProperties": {"serviceEndpoint": "https://x.blob.core.windows.net/"}}
    rekeyed = {**older, "linkedService/ls.json": json.dumps({"name": "ls", "properties": url}).encode()}

    result = compare(*sides(SourceFiles("A", older, "f"), SourceFiles("B", described, "f")))
    assert result is not None and [c.key.name for c in result.diff.changes] == ["p"]
    assert len(headers) == 1
    headers.clear()
    result = compare(*sides(SourceFiles("A", older, "f"), SourceFiles("B", rekeyed, "f")))
    assert result is not None and [c.key.name for c in result.diff.changes] == ["ls"]
    assert len(headers) == 2
