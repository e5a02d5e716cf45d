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
