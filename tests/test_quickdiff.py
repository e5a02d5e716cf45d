"""promote.quickdiff: the fast path of `promote diff` gives exactly the slow path's answer or error.

Every check compares the two paths on the same inputs: the diff's JSON contract, each change's details, kind,
rename and properties, the unchanged count and the warnings, or else the error's type and text. Inputs: every
pair of consecutive versions of the reference factories, the sample's publish history with and without
environments, randomized edits of the sample, and the edge cases the proof in the module docstring names.
Where the fast path is expected to answer, the test also asserts it did (`fallback is None`).
"""

from __future__ import annotations

import copy
import importlib.util
import itertools
import json
import random
from typing import Any

import pytest

from promote.desired import SideInput, read_side
from promote.environment import Environment, load_environment
from promote.explain import explain
from promote.source import SINGLE_PARAMETERS, SINGLE_TEMPLATE, SourceFiles, read_path
from promote.versiondiff import VersionDiff, diff_versions, slow_diff
from tests.conftest import ROOT
from tests.test_cli_diff import MIRROR, SUBSCRIPTION, mirror_commits
from tests.test_reference_factories import BROKEN, FACTORIES, folder_of

SAMPLE = ROOT / MIRROR
ENVIRONMENTS = ROOT / "environments"


# --------------------------------------------------------------------------------------------------------------
# helpers


def outcome(run: Any) -> tuple[Any, ...]:
    """Everything a user or a later stage can see of a diff, or of the error instead."""
    try:
        result: VersionDiff = run()
    except Exception as exc:
        return ("error", type(exc).__name__, str(exc))
    diff = result.diff
    changes = [(c.key, c.action, c.paths, c.details, c.renamed_from, c.before, c.after) for c in diff.changes]
    return ("diff", diff.to_json(), changes, diff.unchanged, result.warnings)


def compare(before: SideInput, after: SideInput, *, fast: bool | None = True) -> VersionDiff | None:
    """Assert both paths agree; with fast=True also that the fast path answered, with fast=False that it fell
    back (None: either). Returns the fast path's result, None when both raised."""
    expected = outcome(lambda: slow_diff(before, after))
    results: list[VersionDiff] = []

    def run() -> VersionDiff:
        results.append(diff_versions(before, after))
        return results[-1]

    got = outcome(run)
    assert got == expected
    if not results:
        return None
    if fast is True:
        assert results[0].fallback is None
    elif fast is False:
        assert results[0].fallback is not None
    return results[0]


def dump(template: dict[str, Any]) -> bytes:
    """ADF's layout exactly (the sample's file is byte-identical to this of its own parse)."""
    return json.dumps(template, indent="\t").encode()


def side(
    label: str,
    template: dict[str, Any] | bytes,
    parameters: dict[str, Any] | bytes | None = None,
    env: Environment | None = None,
) -> SideInput:
    files = {SINGLE_TEMPLATE: template if isinstance(template, bytes) else dump(template)}
    params = parameters if parameters is not None else sample_parameters()
    files[SINGLE_PARAMETERS] = params if isinstance(params, bytes) else dump(params)
    return SideInput(label, SourceFiles(label, files), None, env)


def sample_template() -> dict[str, Any]:
    return json.loads((SAMPLE / SINGLE_TEMPLATE).read_bytes())


def sample_parameters() -> dict[str, Any]:
    return json.loads((SAMPLE / SINGLE_PARAMETERS).read_bytes())


def resource(template: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in template["resources"] if r["name"].endswith(f"'/{name}')]"))


def environment(name: str, monkeypatch: pytest.MonkeyPatch) -> Environment:
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION)
    return load_environment(ENVIRONMENTS / f"{name}.yaml")


# --------------------------------------------------------------------------------------------------------------
# real histories


@pytest.mark.parametrize("factory", [name for name, v in FACTORIES if len(v) > 1] or ["none"])
def test_consecutive_reference_versions_equal_the_slow_path(factory):
    entries = dict(FACTORIES).get(factory) or pytest.skip("reference templates absent")
    for old, new in itertools.pairwise(entries):
        before = SideInput("A", read_path(folder_of(old)), None, None)
        after = SideInput("B", read_path(folder_of(new)), None, None)
        broken = {old["commit"][:8], new["commit"][:8]} & BROKEN
        # every pair is answered by the fast path (the corpus is publish output), except where the factory was
        # renamed between the two publishes (a documented reason for the slow path)
        result = compare(before, after, fast=None)
        if result is not None:
            assert result.fallback in (None, "factoryName differs"), (old["commit"], new["commit"], result.fallback)
        else:  # only the templates a workflow rewrote (not publish output) fail, on the slow path as well
            assert broken, (old["commit"], new["commit"])
            assert outcome(lambda: slow_diff(before, after))[0] == "error"  # noqa: B023


@pytest.mark.parametrize("factory", [name for name, v in FACTORIES if len(v) > 2] or ["none"])
def test_reference_versions_far_apart_and_backwards_equal_the_slow_path(factory):
    entries = dict(FACTORIES).get(factory) or pytest.skip("reference templates absent")
    files = [read_path(folder_of(entry)) for entry in entries]
    for a, b in [(0, len(files) - 1), (len(files) - 1, 0), (len(files) - 1, len(files) // 2)]:
        compare(SideInput("A", files[a], None, None), SideInput("B", files[b], None, None), fast=None)


@pytest.mark.parametrize("env_name", [None, "staging", "production", "local"])
def test_the_sample_history_takes_the_fast_path_with_and_without_environments(env_name, monkeypatch):
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION)
    commits = mirror_commits()
    for old, new in [*itertools.pairwise(commits), (commits[0], commits[-1]), (commits[-1], commits[1])]:
        before = read_side(old, env_name=env_name, root=ROOT)
        after = read_side(new, env=before.env, root=ROOT)
        compare(before, after)


def test_the_command_runs_the_fast_path(monkeypatch, capsys):
    """`promote diff` itself: the slow path is never called on the sample's history, and prints the same."""
    commits = mirror_commits()
    slow = slow_diff(read_side(commits[4], root=ROOT), read_side(commits[5], root=ROOT))
    expected = explain(slow.diff).to_json()  # the command explains the diff it prints (promote.explain)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the slow path ran")

    monkeypatch.setattr("promote.versiondiff.slow_diff", refuse)
    from promote.cli import main

    assert main(["diff", "--from", commits[4], "--to", commits[5], "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == expected


# --------------------------------------------------------------------------------------------------------------
# the benchmark's shape


def _bench_module() -> Any:
    spec = importlib.util.spec_from_file_location("diff_large", ROOT / "bench" / "diff_large.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_when_most_of_a_large_factory_differs_the_slow_path_runs():
    bench = _bench_module()
    template = bench.generate(200)
    changed = copy.deepcopy(template)
    for r in changed["resources"][::3] + changed["resources"][1::3]:
        r["properties"]["description"] = "changed"
    result = compare(side("A", template), side("B", changed), fast=False)
    assert result is not None and "resources differ" in (result.fallback or "")
    assert len(result.diff.changes) == 134


def test_the_benchmark_case_takes_the_fast_path():
    bench = _bench_module()
    template = bench.generate(400)
    result = compare(side("A", template), side("B", bench.change_three(template)))
    assert result is not None and len(result.diff.changes) == 3
    assert result.diff.unchanged == 397


# --------------------------------------------------------------------------------------------------------------
# randomized edits of the sample


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, (*path, k))] or [path]
    if isinstance(value, list):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, (*path, i))] or [path]
    return [path]


def _set(root: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        root = root[step]
    root[path[-1]] = value


def _get(root: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        root = root[step]
    return root


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "_x"
    return "x"


def _name_of(r: dict[str, Any]) -> str:
    return r["name"].split("'/")[1].split("'")[0]


def _mutate(rng: random.Random, template: dict[str, Any], parameters: dict[str, Any]) -> str:
    """One random edit in place; returns what it did."""
    resources = template["resources"]
    kind = rng.choice(
        ["reorder", "property", "property", "rename", "case", "add", "remove", "default", "value", "empty", "keys"]
    )
    target = rng.choice(resources)
    name = _name_of(target)
    if kind == "reorder":
        rng.shuffle(resources)
    elif kind == "property":
        path = rng.choice(_leaves(target["properties"]))
        if path:
            _set(target["properties"], path, _changed(_get(target["properties"], path)))
        else:
            target["properties"]["description"] = "added"
    elif kind == "rename":
        target["name"] = f"[concat(parameters('factoryName'), '/{name}_renamed')]"
    elif kind == "case":
        target["name"] = f"[concat(parameters('factoryName'), '/{name.swapcase()}')]"
    elif kind == "add":
        clone = copy.deepcopy(target)
        clone["name"] = f"[concat(parameters('factoryName'), '/{name}_copy{rng.randrange(1000)}')]"
        resources.insert(rng.randrange(len(resources) + 1), clone)
    elif kind == "remove" and len(resources) > 1:
        resources.remove(target)
    elif kind == "default":  # a parameter default in the template: the objects using it are evaluated
        declared = [n for n, s in template["parameters"].items() if isinstance(s.get("defaultValue"), str)]
        chosen = rng.choice(declared)
        template["parameters"][chosen]["defaultValue"] += "-changed"
    elif kind == "value":  # the published value beside the template
        chosen = rng.choice(sorted(parameters["parameters"]))
        entry = parameters["parameters"][chosen]
        if isinstance(entry.get("value"), str):
            entry["value"] += "-changed"
            return f"value:{chosen}"
    elif kind == "empty":  # noise normalisation removes: different text, unchanged object
        target["properties"].setdefault("annotations", [])
        if not target["properties"]["annotations"]:
            del target["properties"]["annotations"]
    elif kind == "keys":  # the same object with its keys in another order
        target["properties"] = dict(reversed(list(target["properties"].items())))
    return kind


_LAYOUTS = ["adf", "adf", "adf", "adf", "spaces", "crlf", "bom", "compact"]
_FORMAT = {"adf": "tabs", "bom": "tabs", "spaces": "spaces", "crlf": "crlf", "compact": "compact"}


def _encode(template: dict[str, Any], layout: str) -> bytes:
    if layout == "spaces":
        return json.dumps(template, indent=4).encode()
    if layout == "crlf":
        return dump(template).replace(b"\n", b"\r\n")
    if layout == "bom":
        return b"\xef\xbb\xbf" + dump(template)
    if layout == "compact":
        return json.dumps(template).encode()
    return dump(template)


@pytest.mark.parametrize("seed", range(120))
def test_random_edits_of_the_sample_equal_the_slow_path(seed):
    rng = random.Random(seed)
    template, parameters = sample_template(), sample_parameters()
    old_layout, new_layout = rng.choice(_LAYOUTS), rng.choice(_LAYOUTS)
    before = side("A", _encode(template, old_layout), parameters)
    new_template, new_parameters = copy.deepcopy(template), copy.deepcopy(parameters)
    done = [_mutate(rng, new_template, new_parameters) for _ in range(rng.randint(0, 3))]
    after = side("B", _encode(new_template, new_layout), new_parameters)
    # Refused: the layout without one resource per block, sides formatted differently (no resource could be
    # the same), another factoryName. Every other edit is handled by the fast path.
    formats = {_FORMAT[old_layout], _FORMAT[new_layout]}
    expect_fast = len(formats) == 1 and "compact" not in formats and "value:factoryName" not in done
    print("edits:", done, "layouts:", old_layout, new_layout)  # shown when the test fails
    compare(before, after, fast=expect_fast)


# --------------------------------------------------------------------------------------------------------------
# what the proof relies on, and the fallbacks


def test_identical_versions_evaluate_nothing_and_count_everything():
    template = sample_template()
    result = compare(side("A", template), side("B", template))
    assert result is not None and result.diff.changes == [] and result.diff.unchanged == len(template["resources"])


def test_a_parameter_value_change_evaluates_the_objects_that_use_it():
    template = sample_template()
    changed = copy.deepcopy(template)
    changed["parameters"]["ls_batch_mnist_properties_typeProperties_poolName"]["defaultValue"] = "other-pool"
    params = sample_parameters()
    params["parameters"].pop("ls_batch_mnist_properties_typeProperties_poolName", None)
    result = compare(side("A", template, params), side("B", changed, params))
    assert result is not None
    assert [(c.key.type, c.key.name, c.paths) for c in result.diff.changes] == [
        ("linkedServices", "ls_batch_mnist", ["typeProperties.poolName"])
    ]


def test_a_lookup_the_scan_cannot_read_is_evaluated():
    """`parameters(concat(...))` might name a changed parameter: that object is evaluated, not assumed equal."""
    template = sample_template()
    resource(template, "ls_keyvault")["properties"]["description"] = (
        "[parameters(concat('ls_keyvault_properties_', 'typeProperties_baseUrl'))]"
    )
    changed = copy.deepcopy(template)
    changed["parameters"]["ls_keyvault_properties_typeProperties_baseUrl"]["defaultValue"] = "https://other/"
    params = sample_parameters()
    params["parameters"].pop("ls_keyvault_properties_typeProperties_baseUrl", None)
    result = compare(side("A", template, params), side("B", changed, params))
    assert result is not None
    assert {(c.key.name, tuple(c.paths)) for c in result.diff.changes} == {
        ("ls_keyvault", ("description", "typeProperties.baseUrl"))
    }


def test_a_parameter_only_one_side_declares_fails_as_the_slow_path_does():
    template = sample_template()
    resource(template, "ingest_mnist")["properties"]["description"] = "[parameters('added_later')]"
    changed = copy.deepcopy(template)
    changed["parameters"]["added_later"] = {"type": "string", "defaultValue": "x"}
    compare(side("A", template), side("B", changed), fast=False)  # both raise: not declared in A


def test_a_condition_is_evaluated_even_when_identical():
    template = sample_template()
    resource(template, "ingest_mnist")["condition"] = False
    changed = copy.deepcopy(template)
    resource(changed, "train_mnist")["properties"]["description"] = "changed"
    result = compare(side("A", template), side("B", changed))
    assert result is not None and result.diff.unchanged == len(template["resources"]) - 2


def test_escaped_property_names_on_one_side_only():
    template = sample_template()
    changed = copy.deepcopy(template)
    resource(changed, "train_mnist")["properties"]["[[odd]"] = 1
    compare(side("A", template), side("B", changed))
    compare(side("B", changed), side("A", template))
    both = copy.deepcopy(changed)
    resource(both, "ingest_mnist")["properties"]["description"] = "changed"
    compare(side("A", changed), side("B", both))


def test_differences_normalisation_removes_count_as_unchanged():
    template = sample_template()
    changed = copy.deepcopy(template)
    emptied = [r for r in changed["resources"] if r["properties"].get("annotations") == []]
    for r in emptied:
        del r["properties"]["annotations"]
    result = compare(side("A", template), side("B", changed))
    assert emptied and result is not None and result.diff.changes == []


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        ("compact", "not one block per line"),
        ("spaces", "indented or end their lines differently"),
        ("crlf", "indented or end their lines differently"),
        ("factory", "factoryName differs"),
        ("content", "contentVersion differs"),
        ("utf16", "not UTF-8"),
        ("linked", "linked templates only"),
        ("duplicate", "defined twice"),
    ],
)
def test_fallbacks_say_why_and_answer_as_the_slow_path(edit, reason):
    template = sample_template()
    changed = copy.deepcopy(template)
    after: SideInput
    if edit == "compact":
        after = side("B", json.dumps(changed).encode())
    elif edit == "spaces":
        after = side("B", json.dumps(changed, indent=4).encode())
    elif edit == "crlf":
        after = side("B", dump(changed).replace(b"\n", b"\r\n"))
    elif edit == "factory":
        changed["parameters"]["factoryName"]["defaultValue"] = "other-factory"
        params = sample_parameters()
        params["parameters"]["factoryName"]["value"] = "other-factory"
        after = side("B", changed, params)
    elif edit == "content":
        changed["contentVersion"] = "2.0.0.0"
        after = side("B", changed)
    elif edit == "utf16":
        after = side("B", json.dumps(changed, indent="\t").encode("utf-16"))
    elif edit == "linked":
        after = SideInput("B", read_path(SAMPLE), None, None)
        files = {k: v for k, v in after.files.files.items() if k.startswith("linkedTemplates/")}
        if not files:
            pytest.skip("the sample publishes no linkedTemplates")
        after = SideInput("B", SourceFiles("B", files), None, None)
    else:
        changed["resources"].append(copy.deepcopy(changed["resources"][0]))
        after = side("B", changed)
    result = diff_versions(side("A", template), after) if edit != "duplicate" else None
    if result is not None:
        assert reason in (result.fallback or "")
    compare(side("A", template), after, fast=False)


def test_bad_json_is_reported_as_the_slow_path_reports_it():
    good = dump(sample_template())
    broken_changed = good.replace(b'"type": "Microsoft.DataFactory/factories/pipelines",', b'"type": ,', 1)
    compare(side("A", good), side("B", broken_changed), fast=False)
    # the same broken resource on both sides: the old side's parse finds it
    compare(side("A", broken_changed), side("B", broken_changed), fast=False)
    invalid_utf8 = good.replace(b"Data Factory name", b"Data \xff Factory name", 1)
    compare(side("A", invalid_utf8), side("B", invalid_utf8), fast=False)


def test_an_unsupported_function_in_a_changed_object_is_the_slow_paths_error():
    template = sample_template()
    changed = copy.deepcopy(template)
    resource(changed, "ingest_mnist")["properties"]["description"] = "[utcNow()]"
    compare(side("A", template), side("B", changed), fast=False)


def test_documented_gap_an_error_inside_an_identical_object_is_not_evaluated():
    """The module docstring's one exception: the old version is equally broken there; validate reports it."""
    template = sample_template()
    resource(template, "ingest_mnist")["properties"]["description"] = "[utcNow()]"
    before, after = side("A", template), side("B", template)
    assert outcome(lambda: slow_diff(before, after))[0] == "error"
    result = diff_versions(before, after)
    assert result.fallback is None and result.diff.changes == []


# --------------------------------------------------------------------------------------------------------------
# environments


def test_overrides_apply_as_in_the_slow_path(monkeypatch):
    env = environment("production", monkeypatch)
    template = sample_template()
    changed = copy.deepcopy(template)
    resource(changed, "train_mnist")["properties"]["description"] = "changed"
    resource(changed, "ingest_mnist")["properties"]["description"] = "changed"
    result = compare(side("A", template, env=env), side("B", changed, env=env))
    assert result is not None
    assert sorted(c.key.name for c in result.diff.changes) == ["ingest_mnist", "train_mnist"]


def test_an_override_of_an_object_one_side_lacks_warns_as_the_slow_path(monkeypatch):
    env = environment("production", monkeypatch)
    template = sample_template()
    older = copy.deepcopy(template)
    older["resources"] = [r for r in older["resources"] if _name_of(r) != "nightly_training"]
    result = compare(side("A", older, env=env), side("B", template, env=env))
    assert result is not None and any("override of triggers/nightly_training" in w for w in result.warnings)


def test_an_override_whose_path_fails_is_the_slow_paths_error(monkeypatch):
    env = environment("production", monkeypatch)
    template = sample_template()
    changed = copy.deepcopy(template)
    train = resource(changed, "train_mnist")["properties"]["activities"]
    for activity in train:
        if activity["name"] == "train_model":
            activity["name"] = "train_renamed"
    compare(side("A", template, env=env), side("B", changed, env=env), fast=False)
    compare(side("A", changed, env=env), side("B", changed, env=env), fast=False)


def test_an_environment_value_hides_a_published_value_change(monkeypatch):
    env = environment("production", monkeypatch)
    template = sample_template()
    changed = copy.deepcopy(template)
    changed["parameters"]["ls_batch_mnist_properties_typeProperties_poolName"]["defaultValue"] = "other-pool"
    result = compare(side("A", template, env=env), side("B", changed, env=env))
    assert result is not None and result.diff.changes == []


def test_sides_read_with_different_environments_fall_back(monkeypatch):
    template = sample_template()
    compare(
        side("A", template, env=environment("production", monkeypatch)),
        side("B", template, env=environment("staging", monkeypatch)),
        fast=False,
    )
