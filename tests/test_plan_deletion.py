"""Deletion guards: refusals, protection, disabled deletion, references that stay, and never deleting the source."""

from __future__ import annotations

import random

import pytest

from promote.diff import diff_factories
from promote.errors import EXIT_INPUT, InputError
from promote.factory import Factory, FactoryObject, ObjectKey
from promote.live import LiveState
from promote.plan import DeleteObject, Deploy, StopTrigger, TagFactory, build_plan, ensure_not_refused
from tests.test_plan_support import (
    COMMIT,
    NOW,
    environment,
    factory,
    key,
    live_of,
    obj,
    plan_for,
    realistic,
    without,
)


def _deleted(plan) -> set[ObjectKey]:
    return {s.key for s in plan.steps_of(DeleteObject)}


def _kept(plan) -> dict[ObjectKey, str]:
    return {k.key: k.reason for k in plan.kept}


def test_an_empty_source_is_refused():
    live = live_of(realistic())
    with pytest.raises(InputError) as caught:
        plan_for(Factory(name="adf-dev", objects={}, source="adf_publish@abc:adf-dev"), live)
    assert caught.value.exit_code == EXIT_INPUT == 2
    message = str(caught.value)
    assert "holds no objects" in message and f"all {len(live.factory.objects)} live objects" in message


def test_deleting_more_than_max_share_is_refused_with_the_numbers():
    source = realistic()
    # Six of the 22 objects go.
    desired = without(
        source, "triggers/t_daily", "pipelines/p_top", "pipelines/p_parent", "triggers/t_stopped", "pipelines/p_smoke"
    )
    desired = without(desired, "triggers/t_blob")
    live = live_of(source)
    refused = plan_for(desired, live, environment(max_share=0.2))
    # the plan is made, so that `promote plan` can show it, and says up front that it is refused
    assert [r.guard for r in refused.refusals] == ["deletion.max_share"]
    with pytest.raises(InputError) as caught:
        ensure_not_refused(refused, "environments/staging.yaml")
    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert len(live.factory.objects) == 22
    assert "refusing to delete 6 of the 22 live objects (27%)" in message
    assert "deletion.max_share is 0.2 (20% at most)" in message
    assert "--allow-deletions 6" in message
    assert message.startswith("environments/staging.yaml")
    # At the limit it is allowed.
    at_limit = plan_for(desired, live, environment(max_share=6 / 22))
    assert len(_deleted(at_limit)) == 6 and not at_limit.refusals and not at_limit.overrides


def test_a_one_run_deletion_override_lets_exactly_that_many_through_and_is_recorded():
    source = realistic()
    desired = without(
        source, "triggers/t_daily", "pipelines/p_top", "pipelines/p_parent", "triggers/t_stopped", "pipelines/p_smoke"
    )
    desired = without(desired, "triggers/t_blob")
    live = live_of(source)
    short = plan_for(desired, live, environment(max_share=0.2), allow_deletions=5)
    assert [r.guard for r in short.refusals] == ["deletion.max_share"]
    assert "--allow-deletions 5 allows fewer" in short.refusals[0].message
    allowed = plan_for(desired, live, environment(max_share=0.2), allow_deletions=6)
    assert not allowed.refusals and len(_deleted(allowed)) == 6
    (override,) = allowed.overrides
    assert override.guard == "deletion.max_share" and override.reason == "--allow-deletions 6"
    assert "refusing to delete 6 of the 22 live objects" in override.refused
    # the record step writes it on the factory (who applies it is the run's tag beside it)
    (tag,) = allowed.steps_of(TagFactory)
    tags = tag.tags(allowed.hash, NOW, "someone@host")
    assert tags["promote-override"] == override.text() and tags["promote-run"] == "someone@host"
    assert "--allow-deletions 6" in tag.history_tags(allowed.hash, "someone@host", "adf-staging")["promote-override"]


def test_the_factory_must_exist():
    live = LiveState(factory=Factory("adf-staging", {}), exists=False)
    with pytest.raises(InputError, match="does not exist"):
        plan_for(realistic(), live)


def test_protected_objects_are_never_deleted():
    desired = without(realistic(), "triggers/t_stopped", "pipelines/p_smoke", "linkedServices/ls_keyvault")
    desired = Factory(
        name=desired.name,
        objects={
            k: (
                o if k.name != "ls_sql" else FactoryObject(k, {"type": "AzureSqlDatabase"})  # no Key Vault any more
            )
            for k, o in desired.objects.items()
        },
    )
    plan = plan_for(desired, live_of(realistic()), environment(protected=("pipelines/*", "LINKEDSERVICES/LS_KEY*")))
    assert _deleted(plan) == {key("triggers/t_stopped")}
    kept = {k.key: k for k in plan.kept}
    assert kept[key("pipelines/p_smoke")].reason == "protected"
    assert kept[key("pipelines/p_smoke")].detail == "matches deletion.protected 'pipelines/*'"
    assert kept[key("linkedServices/ls_keyvault")].reason == "protected"  # globs ignore letter case


def test_objects_still_referenced_by_what_stays_are_kept():
    # p_parent goes, but protected p_top still calls it: deleting p_parent would fail in ADF.
    desired = without(realistic(), "pipelines/p_top", "pipelines/p_parent", "triggers/t_daily")
    plan = plan_for(desired, live_of(realistic()), environment(protected=("pipelines/p_top",)))
    kept = {k.key: k for k in plan.kept}
    assert kept[key("pipelines/p_parent")].reason == "referenced"
    assert kept[key("pipelines/p_parent")].detail == "still referenced by pipelines/p_top"
    assert _deleted(plan) == {key("triggers/t_daily")}


def test_disabled_deletion_lists_what_it_would_delete_as_kept():
    desired = without(realistic(), "triggers/t_daily", "pipelines/p_top")
    plan = plan_for(desired, live_of(realistic()), environment(deletion=False, max_share=0))
    assert _deleted(plan) == set()
    assert _kept(plan) == {key("triggers/t_daily"): "deletion-disabled", key("pipelines/p_top"): "deletion-disabled"}
    assert not plan.steps_of(StopTrigger)  # a trigger that stays is not stopped either


def test_global_parameters_are_never_deleted():
    desired = without(realistic(), "globalParameters/default")
    plan = plan_for(desired, live_of(realistic()))
    assert _deleted(plan) == set()
    # a version without them does not manage them (promote.diff.MANAGED_WHEN_PRESENT): the plan says so
    assert any("holds no global parameters" in note for note in plan.notes)


def test_deletes_run_after_every_write():
    desired = without(realistic(), "pipelines/p_smoke")
    desired = factory([*desired.objects.values(), obj("pipelines", "p_new", {"activities": []})])
    plan = plan_for(desired, live_of(realistic()))
    kinds = [type(s).__name__ for s in plan.steps]
    assert kinds.index("Deploy") < kinds.index("DeleteObject")


# --------------------------------------------------------------------------------------------------- property

_TYPES = ["linkedServices", "datasets", "pipelines", "triggers", "dataflows", "integrationRuntimes"]
_REF_KIND = {
    "linkedServices": "LinkedServiceReference",
    "datasets": "DatasetReference",
    "pipelines": "PipelineReference",
    "dataflows": "DataFlowReference",
    "integrationRuntimes": "IntegrationRuntimeReference",
}


def _random_factory(rng: random.Random, names: list[ObjectKey]) -> Factory:
    chosen = [k for k in names if rng.random() < 0.6]
    objects = {}
    for k in chosen:
        targets = [t for t in chosen if t.type in _REF_KIND and t != k and rng.random() < 0.15]
        props = {
            "type": "ScheduleTrigger" if k.type == "triggers" else "X",
            "runtimeState": rng.choice(["Started", "Stopped"]),
            "v": rng.randint(0, 2),
            "refs": [{"referenceName": t.name, "type": _REF_KIND[t.type]} for t in targets],
        }
        # Now and then the same object appears in another letter case on the other side.
        name = k.name.upper() if rng.random() < 0.1 else k.name
        nk = ObjectKey(k.type, name)
        objects[nk] = FactoryObject(nk, props)
    return Factory("f", objects, source="random")


def test_nothing_in_the_desired_factory_is_ever_deleted():
    rng = random.Random(20240501)
    names = [ObjectKey(t, f"{t[:2]}{i}") for t in _TYPES for i in range(6)]
    plans = 0
    for _ in range(300):
        desired = _random_factory(rng, names)
        live_factory = _random_factory(rng, names)
        if not desired.objects:
            continue
        live = LiveState(factory=live_factory, fingerprint="fp")
        env = environment(max_share=1.0, protected=(rng.choice(["", "pipelines/*", "datasets/da1"]),))
        plan = build_plan(
            desired=desired,
            live=live,
            diff=diff_factories(live_factory, desired),
            env=env,
            commit=COMMIT,
            source="random",
            secure_parameters={},
            now=NOW,
            full=rng.random() < 0.3,
        )
        plans += 1
        in_source = {(k.type, k.name.casefold()) for k in desired.objects}
        deleted = [s.key for s in plan.steps_of(DeleteObject)]
        assert not [k for k in deleted if (k.type, k.name.casefold()) in in_source]
        assert not [k for k in deleted if env.deletion.is_protected(k)]
        # Nothing that stays references something deleted.
        gone = {(k.type, k.name.casefold()) for k in deleted}
        # (a live object the plan rewrites stays as its desired version, not as its live one)
        staying = list(desired.objects.values()) + [
            o
            for k, o in live_factory.objects.items()
            if k not in deleted and (k.type, k.name.casefold()) not in in_source
        ]
        for o in staying:
            assert not [r for r in o.references if (r.type, r.name.casefold()) in gone], o.key
        # Every desired change is written, and only once.
        written = [w.key for d in plan.steps_of(Deploy) for w in d.writes]
        assert len(written) == len(set(written))
    assert plans > 250


def test_an_object_only_its_rewritten_referrer_used_is_deleted():
    """v06 of the sample: score_mnist moves from dataset mnist_scores to mnist_predictions in the same commit
    that drops mnist_scores. The live score_mnist still references mnist_scores, but it is rewritten first, so
    mnist_scores must go (after the write), not be kept as "still referenced"."""

    def pipeline(dataset: str) -> dict:
        return {"activities": [{"name": "a", "inputs": [{"referenceName": dataset, "type": "DatasetReference"}]}]}

    live = factory([obj("datasets", "old_ds", {"type": "Binary"}), obj("pipelines", "p", pipeline("old_ds"))])
    desired = factory([obj("datasets", "new_ds", {"type": "Binary"}), obj("pipelines", "p", pipeline("new_ds"))])
    plan = plan_for(desired, live_of(live), environment(max_share=1.0))
    assert [str(d.key) for d in plan.steps_of(DeleteObject)] == ["datasets/old_ds"]
    assert not plan.kept
