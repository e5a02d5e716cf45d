"""The proof of a saved plan, unit by unit: what differs between an approved plan and its recomputation is named
(field, step, object), and only a plan equal to its recomputation passes. The same cases through the real CLI
against the emulator are in tests/test_apply_proof.py."""

from __future__ import annotations

import dataclasses
import json

import pytest

from promote.errors import EXIT_INPUT, InputError
from promote.plan import Deploy, DeploymentParameter, PlanTarget, Write, from_json, to_json
from promote.plan.planfile import with_hash
from promote.plan.proof import differences, ensure_proven, plan_time, same_source_label
from promote.plan.steps import TagFactory
from tests.test_plan_support import changed, key, live_of, plan_for, realistic


def _plan():
    source = realistic()
    desired = changed(source, "pipelines/p_flow", lambda p: p.update(description="new"))
    return plan_for(desired, live_of(source), full=True)


def _replace_step(plan, index, step):
    steps = list(plan.steps)
    steps[index] = step
    return with_hash(dataclasses.replace(plan, steps=tuple(steps), hash=""))


def _deploy(plan):
    return next((i, s) for i, s in enumerate(plan.steps) if isinstance(s, Deploy))


def test_a_plan_equal_to_its_recomputation_passes_and_survives_its_file():
    plan = _plan()
    assert differences(plan, plan) == []
    ensure_proven(from_json(to_json(plan)), plan)


def test_another_target_is_named_with_both_values():
    plan = _plan()
    target = PlanTarget(plan.target.subscription, plan.target.resource_group, "adf-other")
    other = with_hash(dataclasses.replace(plan, target=target, hash=""))
    found = differences(other, plan)
    assert found == [f"target.factory: the plan says 'adf-other', the recomputation '{plan.target.factory}'"]
    with pytest.raises(InputError) as refused:
        ensure_proven(other, plan, "plan.json")
    assert refused.value.exit_code == EXIT_INPUT
    text = str(refused.value)
    assert "plan.json" in text and "1 difference, each below;" in text and "nothing was written" in text
    assert "target.factory: the plan says 'adf-other'" in text


def test_an_injected_object_is_named_by_its_key_and_resource():
    plan = _plan()
    index, deploy = _deploy(plan)
    resource = {
        "name": "[concat(parameters('factoryName'), '/injected')]",
        "type": "Microsoft.DataFactory/factories/pipelines",
        "apiVersion": "2018-06-01",
        "properties": {"activities": []},
    }
    template = {**deploy.template, "resources": [*deploy.template["resources"], resource]}
    write = Write(key("pipelines/injected"), "create", 0)
    tampered = _replace_step(
        plan, index, dataclasses.replace(deploy, template=template, writes=(*deploy.writes, write))
    )
    found = differences(tampered, plan)
    label = f"step Deploy 1/{deploy.parts} ('{deploy.name}')"
    assert f"{label}: template.resources[pipelines/injected]: in the plan, not in the recomputation" in found
    assert f"{label}: writes[pipelines/injected]: in the plan, not in the recomputation" in found


def test_another_source_of_a_secure_value_is_a_difference():
    plan = _plan()
    index, deploy = _deploy(plan)
    mine = DeploymentParameter("secret", env_var="ADF_SECRET")
    theirs = DeploymentParameter("secret", env_var="GITHUB_TOKEN")
    approved = _replace_step(plan, index, dataclasses.replace(deploy, parameters=(theirs,)))
    recomputed = _replace_step(plan, index, dataclasses.replace(deploy, parameters=(mine,)))
    assert differences(approved, recomputed) == [
        f"step Deploy 1/{deploy.parts} ('{deploy.name}'): parameters[secret].env_var: the plan says 'GITHUB_TOKEN', "
        "the recomputation 'ADF_SECRET'"
    ]


def test_a_dropped_step_a_moved_step_and_another_commit_are_named():
    plan = _plan()
    tag_index = next(i for i, s in enumerate(plan.steps) if isinstance(s, TagFactory))
    dropped = with_hash(dataclasses.replace(plan, steps=plan.steps[:tag_index] + plan.steps[tag_index + 1 :], hash=""))
    assert differences(dropped, plan) == ["step TagFactory: in the recomputation, not in the plan"]
    moved = with_hash(dataclasses.replace(plan, steps=(plan.steps[-1], *plan.steps[:-1]), hash=""))
    assert differences(moved, plan) == ["steps: in another order than the recomputation, or repeated"]
    recorded = _replace_step(plan, tag_index, dataclasses.replace(plan.steps[tag_index], commit="f" * 40))
    assert differences(recorded, plan) == [
        f"step TagFactory: commit: the plan says '{'f' * 40}', the recomputation '{plan.commit}'"
    ]


def test_a_refusal_names_the_first_few_differences_and_counts_the_rest():
    plan = _plan()
    tampered = with_hash(
        dataclasses.replace(
            plan,
            notes=("a", "b", "c", "d", "e", "f", "g"),
            summary={"create": 9},
            hash="",
        )
    )
    with pytest.raises(InputError) as refused:
        ensure_proven(tampered, plan)
    text = str(refused.value)
    assert text.count("in the plan ('") + text.count("the plan says") == 5
    assert text.splitlines()[-1].endswith(f"... and {len(differences(tampered, plan)) - 5} more")


def test_the_source_label_may_name_the_revision_as_given():
    commit = "1a2b3c4d" + "0" * 32
    assert same_source_label("main (1a2b3c4)", "1a2b3c4", commit)
    assert same_source_label("1a2b3c4", "1a2b3c4", commit)
    assert not same_source_label("main (9999999)", "1a2b3c4", commit)
    assert not same_source_label("release-1.0", "1a2b3c4", commit)
    # a plan made from `--ref HEAD` is proven by its recomputation from the commit; another revision's label is not
    plan = _plan()
    given = with_hash(dataclasses.replace(plan, source=f"HEAD ({commit[:8]})", hash=""))
    ensure_proven(from_json(to_json(given)), plan)
    other = with_hash(dataclasses.replace(plan, source="main (9999999)", hash=""))
    with pytest.raises(InputError, match="source: the plan says 'main \\(9999999\\)'"):
        ensure_proven(other, plan)


def test_the_plan_time_is_what_promote_writes_or_refused():
    plan = _plan()
    assert plan_time(plan).strftime("%Y-%m-%dT%H:%M:%SZ") == plan.created
    with pytest.raises(InputError, match="is not a time promote writes"):
        plan_time(dataclasses.replace(plan, created="yesterday"), "plan.json")


def test_the_plan_records_how_it_was_asked_for():
    plan = _plan()
    data = json.loads(to_json(plan))
    assert data["full"] is True and data["rollback"] is False and data["rotate_secrets"] is False
