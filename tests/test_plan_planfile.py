"""The plan file: JSON round trip, content hash, tamper and version refusal, staleness."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest

from promote.environment import SmokePipeline
from promote.errors import EXIT_INPUT, InputError
from promote.plan import (
    FORMAT_VERSION,
    Deploy,
    ensure_finishes,
    ensure_fresh,
    from_json,
    is_stale,
    plan_hash,
    to_json,
)
from promote.plan.steps import RunPipeline, TagFactory
from promote.secrets import secret_tag_values, secret_tags
from tests.test_plan_support import NOW, changed, environment, live_of, plan_for, realistic, without


def _busy_plan():
    """A plan with every step kind: stops, a split write, deletes, starts, smoke, tags, kept, notes."""
    source = realistic()
    desired = changed(source, "triggers/t_blob", lambda p: p["typeProperties"].update(blobPathBeginsWith="/x/"))
    desired = without(desired, "triggers/t_stopped", "pipelines/p_smoke")
    from promote.plan import Limits

    env = environment(
        smoke=(SmokePipeline("p_flow", {"day": "2024-05-01", "n": 3}, timeout=300),),
        protected=("pipelines/p_smoke",),
    )
    return plan_for(
        desired, live_of(source, tags={"promote-commit": "0" * 40}), env, full=True, limits=Limits(resources=5)
    )


def test_round_trip_is_exact():
    plan = _busy_plan()
    kinds = {type(s).__name__ for s in plan.steps}
    assert kinds == {
        "RecordTriggers",
        "MarkRunInProgress",
        "StopTrigger",
        "Deploy",
        "DeleteObject",
        "StartTrigger",
        "RunPipeline",
        "TagFactory",
    }
    assert plan.kept
    text = to_json(plan)
    again = from_json(text)
    assert again == plan
    assert to_json(again) == text
    assert again.hash == plan.hash == plan_hash(plan)
    assert json.loads(text)["format"] == FORMAT_VERSION


def test_hash_is_the_content():
    plan = _busy_plan()
    assert len(plan.hash) == 64
    assert plan_for(realistic(), live_of(realistic())).hash != plan.hash
    # The same inputs give the same plan, byte for byte.
    assert to_json(_busy_plan()) == to_json(plan)
    later = plan_for(realistic(), live_of(realistic()), now=NOW + timedelta(seconds=1))
    assert later.hash != plan_for(realistic(), live_of(realistic())).hash


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d["steps"].pop(),
        lambda d: d["steps"].append({"kind": "DeleteObject", "key": {"type": "pipelines", "name": "p_top"}, "wave": 0}),
        lambda d: next(s for s in d["steps"] if s["kind"] == "Deploy")["template"]["resources"].pop(),
        lambda d: d.update(environment="production"),
        lambda d: d["kept"].clear(),
    ],
)
def test_an_edited_plan_is_refused(tamper):
    data = json.loads(to_json(_busy_plan()))
    tamper(data)
    with pytest.raises(InputError) as caught:
        from_json(json.dumps(data), file="plan.json")
    assert caught.value.exit_code == EXIT_INPUT
    assert "the plan file was edited after it was made" in str(caught.value)
    assert str(caught.value).startswith("plan.json")


def test_unknown_format_versions_are_refused():
    data = json.loads(to_json(_busy_plan()))
    data["format"] = FORMAT_VERSION + 1
    with pytest.raises(InputError, match=rf"plan format {FORMAT_VERSION + 1} is not supported"):
        from_json(json.dumps(data))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "invalid JSON"),
        ("[]", "top level is not an object"),
        (json.dumps({"format": FORMAT_VERSION}), "missing field"),
    ],
)
def test_text_that_is_not_a_plan_is_refused(text, message):
    with pytest.raises(InputError, match=message):
        from_json(text)


def test_unknown_fields_and_step_kinds_are_refused():
    data = json.loads(to_json(_busy_plan()))
    data["steps"][0]["surprise"] = 1
    with pytest.raises(InputError, match="unknown field"):
        from_json(json.dumps(data))
    data = json.loads(to_json(_busy_plan()))
    data["steps"][0]["kind"] = "FormatDisk"
    with pytest.raises(InputError, match="unknown step kind"):
        from_json(json.dumps(data))


def test_writing_a_plan_whose_hash_is_stale_is_a_bug():
    plan = _busy_plan()
    with pytest.raises(ValueError):
        to_json(dataclasses.replace(plan, environment="other"))


def test_staleness():
    plan = _busy_plan()
    assert not is_stale(plan, plan.live_fingerprint)
    assert is_stale(plan, plan.live_fingerprint + "x")
    ensure_fresh(plan, plan.live_fingerprint)
    with pytest.raises(InputError, match="saved plan is stale") as caught:
        ensure_fresh(plan, "other")
    assert caught.value.exit_code == 2


def test_a_plan_is_stale_when_the_run_it_would_finish_is_another():
    """A plan made before a run was killed (it finishes none) or for a run finished since: refused, exit 2,
    naming the run and telling the person to make a new plan. The factory's objects need not show it."""
    plan = _busy_plan()
    ensure_finishes(plan, None)
    with pytest.raises(InputError, match="saved plan is stale: run r1, interrupted, is still unfinished") as caught:
        ensure_finishes(plan, "r1", "plan.json")
    assert caught.value.exit_code == 2 and "make a new plan" in str(caught.value)
    finishing = from_json(to_json(_with_finishes(plan, "r1")))  # kept in the file
    assert finishing.finishes == "r1" and finishing.hash != plan.hash
    ensure_finishes(finishing, "r1")
    for now, says in ((None, "no run is left unfinished now"), ("r2", "the unfinished run is r2 now")):
        with pytest.raises(InputError, match=f"it finishes the interrupted run r1 .*{says}") as caught:
            ensure_finishes(finishing, now, "plan.json")
        assert caught.value.exit_code == 2 and "make a new plan" in str(caught.value)


def _with_finishes(plan, run_id):
    from promote.plan.planfile import with_hash

    return with_hash(dataclasses.replace(plan, finishes=run_id, hash=""))


def test_bookkeeping_steps_carry_what_apply_needs():
    plan = _busy_plan()
    (tag,) = plan.steps_of(TagFactory)
    tags = tag.tags(plan.hash, NOW, "someone@host")
    assert {k: v for k, v in tags.items() if v is not None} == {
        "promote-environment": "staging",
        "promote-commit": plan.commit,
        "promote-plan": plan.hash,
        "promote-time": "2024-05-01T12:30:45Z",
        "promote-previous-commit": "0" * 40,
        # where the deployed secrets come from (digests of paths and sources, no value): promote.secrets
        **{k: v for k, v in secret_tags(secret_tag_values(realistic())).items() if v is not None},
        "promote-run": "someone@host",
        "promote-good": plan.commit[:12],
    }
    # the run-in-progress marker goes with the record: every tag it can hold is removed (and what an earlier,
    # larger record of secrets left)
    secrets_removed = {k for k, v in secret_tags(secret_tag_values(realistic())).items() if v is None}
    assert {k for k, v in tags.items() if v is None} == {"promote-run-id", "promote-started", "promote-override"} | {
        f"promote-started-{i}" for i in range(2, 11)
    } | secrets_removed
    # the run's entry in the deployment history: what ran, how it ended, on which factory, by whom
    assert tag.history_tags(plan.hash, "someone@host", "adf-staging") == {
        "promote-result": "succeeded",
        "promote-kind": "deploy",
        "promote-factory": "adf-staging",
        "promote-commit": plan.commit,
        "promote-plan": plan.hash,
        "promote-run": "someone@host",
    }
    (smoke,) = plan.steps_of(RunPipeline)
    assert smoke == RunPipeline("p_flow", {"day": "2024-05-01", "n": 3}, 300.0, 0)
    assert all(d.commit == plan.commit for d in plan.steps_of(Deploy))


def test_a_plan_is_stale_once_the_factory_records_another_deployment():
    from promote.record.tags import RecordBasis

    plan = _busy_plan()
    assert plan.record_basis == RecordBasis(commit="0" * 40)
    ensure_fresh(plan, plan.live_fingerprint, "plan.json", RecordBasis(commit="0" * 40))
    applied_since = RecordBasis(commit="1" * 40, plan="f" * 64, good=("1" * 12,))
    assert is_stale(plan, plan.live_fingerprint, applied_since)
    with pytest.raises(InputError, match="records another deployment since the plan was made") as caught:
        ensure_fresh(plan, plan.live_fingerprint, "plan.json", applied_since)
    assert caught.value.exit_code == 2
    assert "commit 11111111" in str(caught.value) and "commit 00000000" in str(caught.value)
