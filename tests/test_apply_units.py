"""The executor's batching and its deployment parameters, without Azure."""

from __future__ import annotations

import pytest

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


def test_steps_run_together_print_each_result_under_its_own_step_and_report_in_plan_order(tmp_path):
    """Deletes of one wave run concurrently: each one's title and result come out as one block, whatever order
    they end in, and the run's summary lists them in plan order."""
    import threading

    from promote.apply.executor import Executor
    from promote.record.journal import Journal
    from tests.fake_factory import FakeFactory
    from tests.test_plan_support import factory, live_of, obj, plan_for

    gone = [obj("datasets", f"ds_{i}", {"type": "Json", "typeProperties": {}}) for i in range(4)]
    fake = FakeFactory.holding(factory(gone))
    plan = plan_for(factory([obj("datasets", "kept", {"type": "Json"})]), live_of(factory(gone)), _lenient())
    deletes = [i for i, s in enumerate(plan.steps) if isinstance(s, DeleteObject)]
    assert len(deletes) == 4
    # the first delete ends last: it waits until every other one has ended
    others_done = threading.Event()
    ended: list[str] = []
    real_delete = fake.delete_object

    def delete(key: ObjectKey) -> bool:
        if key.name == "ds_0":
            assert others_done.wait(10)
        result = real_delete(key)
        ended.append(key.name)
        if len(ended) == 3:
            others_done.set()
        return result

    fake.delete_object = delete  # type: ignore[method-assign]
    lines: list[str] = []
    outcome = Executor(fake, plan, Journal("staging", "c", plan.hash), parameters={}, progress=lines.append).run()
    assert outcome.ok, outcome.error
    assert ended[-1] == "ds_0"
    total = len(plan.steps)
    for index in deletes:
        heading = next(i for i, line in enumerate(lines) if line.startswith(f"[{index + 1}/{total}] delete"))
        assert lines[heading + 1] == "      deleted", lines
    assert f"[{deletes[0] + 1}-{deletes[-1] + 1}/{total}] 4 steps at once, each shown when it ends:" in lines
    assert [r.index for r in outcome.done] == sorted(r.index for r in outcome.done)


def _lenient():
    """An environment that lets every deletion through (the test deletes most of a small factory)."""
    import dataclasses

    from promote.environment import DeletionPolicy
    from tests.test_plan_support import environment

    return dataclasses.replace(environment(), deletion=DeletionPolicy(max_share=1.0))
