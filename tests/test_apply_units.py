"""The executor's batching, the journal and the lock, without Azure."""

from __future__ import annotations

import json

import pytest

from promote.apply import journal as journals
from promote.apply.executor import batches, deployment_parameters
from promote.errors import InputError
from promote.factory import ObjectKey
from promote.plan.steps import (
    DeleteObject,
    DeploymentParameter,
    RecordTriggers,
    StartTrigger,
    StopTrigger,
    TagFactory,
    TriggerRecord,
)


def test_batches_group_consecutive_steps_of_one_kind_and_wave_only():
    steps = (
        RecordTriggers(()),
        StopTrigger("a", "ScheduleTrigger", ("x",), wave=0),
        StopTrigger("b", "ScheduleTrigger", ("x",), wave=0),
        StopTrigger("c", "ScheduleTrigger", ("x",), wave=1),
        DeleteObject(ObjectKey("pipelines", "p"), wave=0),
        DeleteObject(ObjectKey("pipelines", "q"), wave=0),
        StartTrigger("a", "ScheduleTrigger", "r", wave=0),
        TagFactory("env", "abc"),
    )
    grouped = [[i for i, _ in batch] for batch in batches(steps)]
    assert grouped == [[0], [1, 2], [3], [4, 5], [6], [7]]


def test_deployment_parameters_resolve_variables_now_and_refuse_missing_ones(monkeypatch):
    from tests.test_plan_support import environment, factory, live_of, obj, plan_for

    secret = obj("linkedServices", "ls", {"type": "AzureBlobStorage", "typeProperties": {"k": "<secure:key>"}})
    desired = factory([secret])
    plan = plan_for(desired, live_of(factory([])), environment(), secure_parameters={"<secure:key>": ("key", "MY_VAR")})
    assert plan.deployments[0].parameters == (DeploymentParameter("key", env_var="MY_VAR"),)
    resolved = deployment_parameters(plan, {"MY_VAR": "s3cret"})
    assert resolved[plan.deployments[0].name]["key"] == {"value": "s3cret"}
    with pytest.raises(InputError, match="environment variable MY_VAR is not set"):
        deployment_parameters(plan, {})


def test_a_journal_survives_a_round_trip_and_is_archived(tmp_path):
    path = journals.journal_path(tmp_path, "staging")
    journal = journals.Journal("staging", "c0ffee", "h4sh", last_good_commit="bada55")
    journal.path = path
    journal.triggers_before = [TriggerRecord("t", "ScheduleTrigger", "Started")]
    journal.step_done(0, "record trigger states")
    loaded = journals.load(path)
    assert loaded is not None and loaded.unfinished
    assert loaded.triggers_before == journal.triggers_before
    assert loaded.done == [0] and loaded.last_good_commit == "bada55"
    loaded.finish(journals.SUCCEEDED)
    journals.archive(loaded)
    assert not path.exists()
    (archived,) = (tmp_path / ".promote" / "runs" / "staging").iterdir()
    assert json.loads(archived.read_text())["status"] == "succeeded"


def test_the_marker_on_the_factory_spreads_names_over_tags_and_reads_back():
    from promote.apply.marker import MAX_TAGS, TAG_VALUE_LIMIT, cleared, fits, marker_tags, read_marker

    names = [f"trigger_{i:03d}_nightly" for i in range(40)]
    tags = marker_tags("run1", names)
    assert all(v is None or len(v) <= TAG_VALUE_LIMIT for v in tags.values())
    run_id, records = read_marker({k: v for k, v in tags.items() if v is not None})
    assert run_id == "run1" and sorted(r.name for r in records) == sorted(names)
    assert all(r.started for r in records)
    assert set(cleared({**{k: "x" for k in tags}, "promote-commit": "c"})) == set(tags)
    assert fits(names) and not fits([f"t{i:0200d}" for i in range(MAX_TAGS + 1)])
    assert read_marker({"promote-commit": "c"}) is None
