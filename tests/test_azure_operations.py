"""The calls apply makes, through the real SDK clients against the in-process emulator: triggers with time
limits, the SDK's retries honouring Retry-After, deployments failing with per-resource details, ADF's refusals
surfaced with their code and message, pipeline runs, factory tags and creation."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from promote.azure import operations as ops
from promote.azure.connection import Connection
from promote.azure.errors import AzureCallError, DeploymentFailed, TemplateRejected, WaitTimeout
from promote.azure.reader import read_live, subscription_status_raw
from promote.factory import ObjectKey
from tests.emulator_fixtures import FACTORY, EmulatorHandle
from tests.test_azure_live import LINKED, blob_trigger, connection, pipeline, schedule, seed

ENABLED_CANNOT_UPDATE = "Cannot update enabled Trigger; the trigger needs to be disabled first. "


@pytest.fixture
def conn(emulator: EmulatorHandle) -> Iterator[Connection]:
    c = connection(emulator)
    yield c
    c.close()


def states(conn: Connection) -> dict[str, tuple[str, str | None]]:
    return {n: (s.runtime_state, s.subscription_status) for n, s in read_live(conn).triggers.items()}


# --------------------------------------------------------------------------------------------------- triggers


def test_stop_and_start_many_triggers_concurrently(emulator: EmulatorHandle, conn: Connection) -> None:
    names = [f"t{i:02d}" for i in range(12)]
    seed(emulator, [pipeline("p")] + [schedule(n, "p") for n in names])
    started = ops.start_triggers(conn, names)
    assert started.ok and sorted(started.succeeded) == names
    assert {s for s, _ in states(conn).values()} == {"Started"}
    stopped = ops.stop_triggers(conn, names)
    assert stopped.ok
    assert {s for s, _ in states(conn).values()} == {"Stopped"}


def test_a_batch_tries_every_trigger_and_reports_each_failure(emulator: EmulatorHandle, conn: Connection) -> None:
    seed(emulator, [pipeline("p"), schedule("good", "p")])
    result = ops.start_triggers(conn, ["good", "missing"])
    assert result.succeeded == ["good"]
    assert list(result.failed) == ["missing"]
    assert result.failed["missing"].status == 404


def test_subscribe_waits_for_enabled_and_unsubscribe_for_disabled(emulator: EmulatorHandle, conn: Connection) -> None:
    seed(emulator, [pipeline("p"), blob_trigger("blob", "p")])
    assert ops.subscribe_trigger(conn, "blob", time_limit=5) == "Enabled"
    assert subscription_status_raw(conn, "blob") == "Enabled"
    assert ops.unsubscribe_trigger(conn, "blob", time_limit=5) == "Disabled"


def test_subscribe_gives_up_at_its_time_limit(emulator: EmulatorHandle, conn: Connection) -> None:
    emulator.settings(subscription_seconds=30)
    seed(emulator, [pipeline("p"), blob_trigger("blob", "p")])
    began = time.monotonic()
    with pytest.raises(WaitTimeout) as info:
        ops.subscribe_trigger(conn, "blob", time_limit=0.3)
    assert time.monotonic() - began < 2
    assert info.value.last == "Provisioning"


def test_start_retries_while_the_subscription_is_provisioning(emulator: EmulatorHandle, conn: Connection) -> None:
    """ADF answers `Resource cannot be updated during provisioning` (400) to a start while the subscription
    changes; start_trigger retries that with backoff and succeeds once it is done."""
    emulator.settings(subscription_seconds=0.3)
    seed(emulator, [pipeline("p"), blob_trigger("blob", "p")])
    ops.request_subscription(conn, "blob")
    ops.start_trigger(conn, "blob", time_limit=5)
    assert states(conn)["blob"] == ("Started", "Enabled")
    answers = [r["status"] for r in emulator.requests(method="POST", path="/triggers/blob/start$")]
    assert answers[0] == 400 and answers[-1] == 200


def test_start_during_provisioning_has_a_time_limit(emulator: EmulatorHandle, conn: Connection) -> None:
    emulator.settings(subscription_seconds=30)
    seed(emulator, [pipeline("p"), blob_trigger("blob", "p")])
    ops.request_subscription(conn, "blob")
    with pytest.raises(WaitTimeout) as info:
        ops.start_trigger(conn, "blob", time_limit=0.3)
    assert isinstance(info.value.error, AzureCallError) and info.value.error.provisioning


def test_other_start_errors_are_not_retried(emulator: EmulatorHandle, conn: Connection) -> None:
    seed(emulator, [pipeline("p")])
    with pytest.raises(AzureCallError) as info:
        ops.start_trigger(conn, "nope", time_limit=5)
    assert info.value.status == 404
    assert len(emulator.requests(method="POST", path="/triggers/nope/start$")) == 1


# --------------------------------------------------------------------------------------------------- SDK retries


def test_throttling_retry_after_is_honoured(emulator: EmulatorHandle) -> None:
    seed(emulator, [pipeline("p")])
    emulator.fault(method="GET", path="/pipelines$", status=429, retry_after=0.4)
    conn = connection(emulator, retry_total=2)
    try:
        live = read_live(conn)
    finally:
        conn.close()
    assert ObjectKey("pipelines", "p") in live.factory.objects
    log = emulator.requests(method="GET", path="/pipelines$")
    assert [r["status"] for r in log] == [429, 200]
    assert log[1]["time"] - log[0]["time"] >= 0.35  # the SDK waited as told


def test_a_500_is_retried_then_succeeds(emulator: EmulatorHandle) -> None:
    seed(emulator, [pipeline("p"), schedule("t", "p")])
    emulator.fault(method="POST", path="/triggers/t/start$", status=500)
    conn = connection(emulator, retry_total=2)
    try:
        ops.start_trigger(conn, "t")
    finally:
        conn.close()
    assert [r["status"] for r in emulator.requests(method="POST", path="/triggers/t/start$")] == [500, 200]


def test_retries_are_bounded(emulator: EmulatorHandle) -> None:
    seed(emulator, [pipeline("p"), schedule("t", "p")])
    emulator.fault(method="POST", path="/triggers/t/stop$", status=503, every=True)
    conn = connection(emulator, retry_total=2)
    try:
        with pytest.raises(AzureCallError) as info:
            ops.stop_trigger(conn, "t")
    finally:
        conn.close()
    assert info.value.status == 503
    assert len(emulator.requests(method="POST", path="/triggers/t/stop$")) == 3  # 1 + retry_total


def test_a_dropped_connection_is_a_connection_error(emulator: EmulatorHandle, conn: Connection) -> None:
    seed(emulator, [pipeline("p")])
    emulator.fault(method="GET", path="/pipelines$", drop=True, every=True)
    with pytest.raises(AzureCallError) as info:
        read_live(conn)
    assert info.value.status is None


# --------------------------------------------------------------------------------------------------- deployments


def template(*resources: dict[str, Any], parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": parameters or {"factoryName": {"type": "string"}},
        "resources": list(resources),
    }


def resource(type_: str, name: str, properties: dict[str, Any], depends_on: list[str] | None = None) -> dict[str, Any]:
    return {
        "name": f"[concat(parameters('factoryName'), '/{name}')]",
        "type": f"Microsoft.DataFactory/factories/{type_}",
        "apiVersion": "2018-06-01",
        "properties": properties,
        "dependsOn": depends_on or [],
    }


WAIT = {"activities": [{"name": "w", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 1}}]}
BROKEN = {
    "activities": [
        {
            "name": "copy",
            "type": "Copy",
            "inputs": [{"referenceName": "missing_ds", "type": "DatasetReference"}],
            "typeProperties": {},
        }
    ]
}


def test_deploy_writes_incrementally_with_tags(emulator: EmulatorHandle, conn: Connection) -> None:
    ops.ensure_factory(conn)
    seed(emulator, [pipeline("kept")])
    result = ops.deploy_template(
        conn, "promote-staging-1", template(resource("pipelines", "p1", WAIT)), {"factoryName": {"value": FACTORY}}
    )
    assert result.state == "Succeeded"
    assert any(r.endswith("/pipelines/p1") for r in result.output_resources)
    names = {k.name for k in read_live(conn).factory.objects}
    assert names == {"kept", "p1"}  # Incremental: what the template lacks stays
    body = emulator.requests(method="PUT", path="/deployments/promote-staging-1$")
    assert len(body) == 1


def test_failed_deployment_lists_each_failed_resource(emulator: EmulatorHandle, conn: Connection) -> None:
    ops.ensure_factory(conn)
    tpl = template(
        resource("pipelines", "p1", WAIT),
        resource(
            "pipelines",
            "p2",
            BROKEN,
            ["[concat('Microsoft.DataFactory/factories/', parameters('factoryName'), '/pipelines/p1')]"],
        ),
    )
    with pytest.raises(DeploymentFailed) as info:
        ops.deploy_template(conn, "promote-fail", tpl, {"factoryName": {"value": FACTORY}})
    error = info.value
    assert error.name == "promote-fail" and error.code == "DeploymentFailed"
    assert [tuple(d) for d in error.details] == [
        (
            "pipelines/p2",
            "BadRequest",
            "The document creation or update failed because of invalid reference 'missing_ds'.",
        )
    ]
    assert error.details[0].key == ObjectKey("pipelines", "p2")
    # ARM is not transactional: what was written before the failure stays
    assert ObjectKey("pipelines", "p1") in read_live(conn).factory.objects


def _several_failures() -> dict[str, Any]:
    """p1 fine; bad1 and bad2 fail; after_bad1 depends on bad1 (never attempted); after_p1 depends on p1."""
    p1 = "[concat('Microsoft.DataFactory/factories/', parameters('factoryName'), '/pipelines/p1')]"
    bad1 = "[concat('Microsoft.DataFactory/factories/', parameters('factoryName'), '/pipelines/bad1')]"
    return template(
        resource("pipelines", "bad1", BROKEN),
        resource("pipelines", "p1", WAIT),
        resource("pipelines", "after_bad1", WAIT, [bad1]),
        resource("pipelines", "bad2", BROKEN, [p1]),
        resource("pipelines", "after_p1", WAIT, [p1]),
    )


def test_a_deployment_with_several_failures_lists_every_one(emulator: EmulatorHandle, conn: Connection) -> None:
    ops.ensure_factory(conn)
    with pytest.raises(DeploymentFailed) as info:
        ops.deploy_template(conn, "promote-many", _several_failures(), {"factoryName": {"value": FACTORY}})
    error = info.value
    assert sorted(d.key for d in error.details if d.key) == [
        ObjectKey("pipelines", "bad1"),
        ObjectKey("pipelines", "bad2"),
    ]
    assert {d.code for d in error.details} == {"BadRequest"}
    assert "pipelines/bad1: BadRequest" in str(error) and "pipelines/bad2: BadRequest" in str(error)
    written = {k.name for k in read_live(conn).factory.objects}
    assert written == {"p1", "after_p1"}  # ARM went on with what did not depend on a failure


def test_several_failures_are_listed_from_the_error_when_the_operations_cannot_be_read(
    emulator: EmulatorHandle, conn: Connection
) -> None:
    ops.ensure_factory(conn)
    emulator.fault(method="GET", path=r"/deployments/promote-many/operations$", status=403, times=None)
    with pytest.raises(DeploymentFailed) as info:
        ops.deploy_template(conn, "promote-many", _several_failures(), {"factoryName": {"value": FACTORY}})
    assert {r["status"] for r in emulator.requests(path="/promote-many/operations$")} == {403}
    assert sorted(d.resource for d in info.value.details) == ["pipelines/bad1", "pipelines/bad2"]
    assert all(d.key is not None and d.target and d.target.endswith(d.resource) for d in info.value.details)


def test_started_trigger_in_a_deployment_fails_with_adf_code(emulator: EmulatorHandle, conn: Connection) -> None:
    seed(emulator, [pipeline("p"), schedule("t", "p")])
    ops.start_trigger(conn, "t")
    trigger = schedule("t", "p")["properties"]
    with pytest.raises(DeploymentFailed) as info:
        ops.deploy_template(
            conn, "promote-trigger", template(resource("triggers", "t", trigger)), {"factoryName": {"value": FACTORY}}
        )
    assert [(d.resource, d.code, d.message) for d in info.value.details] == [
        ("triggers/t", "TriggerEnabledCannotUpdate", ENABLED_CANNOT_UPDATE)
    ]


def test_invalid_template_is_rejected_before_anything_is_written(emulator: EmulatorHandle, conn: Connection) -> None:
    ops.ensure_factory(conn)
    with pytest.raises(TemplateRejected) as info:
        ops.deploy_template(
            conn,
            "promote-bad",
            template(resource("pipelines", "p1", WAIT)),
            {"factoryName": {"value": FACTORY}, "undeclared": {"value": 1}},
        )
    assert info.value.code == "InvalidTemplate" and info.value.status == 400
    assert "'undeclared'" in info.value.message
    assert read_live(conn).factory.objects == {}


def test_deployment_wait_has_a_time_limit(emulator: EmulatorHandle, conn: Connection) -> None:
    ops.ensure_factory(conn)
    emulator.settings(deployment_seconds=30)
    began = time.monotonic()
    with pytest.raises(WaitTimeout):
        ops.deploy_template(
            conn,
            "promote-slow",
            template(resource("pipelines", "p1", WAIT)),
            {"factoryName": {"value": FACTORY}},
            time_limit=0.3,
        )
    assert time.monotonic() - began < 3
    emulator.admin("POST", "/reset")  # cancels the running deployment (its poller thread then ends)


def _held_deployment(emulator: EmulatorHandle, name: str) -> int:
    """Start deployment `name` (p1 only) through the SDK without waiting; its write of p1 waits in a hold."""
    rule = emulator.hold("PUT", rf"/factories/{FACTORY}/pipelines/p1$")
    with emulator.deployments_client() as client:
        body = {
            "properties": {
                "mode": "Incremental",
                "template": template(resource("pipelines", "p1", WAIT)),
                "parameters": {"factoryName": {"value": FACTORY}},
            }
        }
        client.deployments.begin_create_or_update(emulator.resource_group, name, body, polling=False)
    emulator.wait_until_held(rule)
    return rule


def test_the_deployment_wait_says_what_it_waits_for(emulator: EmulatorHandle) -> None:
    conn = connection(emulator, progress_interval=0.05, deployment_timeout=600)
    ops.ensure_factory(conn)
    rule = emulator.hold("PUT", rf"/factories/{FACTORY}/pipelines/p1$")
    said: list[str] = []

    def progress(text: str) -> None:
        said.append(text)
        emulator.release(rule)  # the deployment goes on once the wait has said what it waits for

    result = ops.deploy_template(
        conn,
        "promote-held",
        template(resource("pipelines", "p1", WAIT)),
        {"factoryName": {"value": FACTORY}},
        progress=progress,
    )
    conn.close()
    assert result.state == "Succeeded"
    assert said and re.fullmatch(
        r"waiting for deployment promote-held \((Accepted|Running), \d+ s of at most 600 s\)", said[0]
    ), said


def test_the_deployment_wait_ends_at_the_connections_bound(emulator: EmulatorHandle) -> None:
    conn = connection(emulator, deployment_timeout=0.3)
    ops.ensure_factory(conn)
    emulator.hold("PUT", rf"/factories/{FACTORY}/pipelines/p1$")  # never released: the reset ends it
    with pytest.raises(WaitTimeout) as info:
        ops.deploy_template(
            conn, "promote-stuck", template(resource("pipelines", "p1", WAIT)), {"factoryName": {"value": FACTORY}}
        )
    conn.close()
    assert str(info.value) == "deployment promote-stuck: not done within 0.3 s (last state: Running)"
    emulator.admin("POST", "/reset")


def test_settle_cancels_what_an_earlier_run_left_running_and_says_what_it_waits_for(
    emulator: EmulatorHandle,
) -> None:
    conn = connection(emulator, progress_interval=0.05, deployment_timeout=600)
    ops.ensure_factory(conn)
    rule = _held_deployment(emulator, "promote-local-left")
    said: list[str] = []

    def progress(text: str) -> None:
        said.append(text)
        emulator.release(rule)  # the write in flight ends; the cancel stops the deployment after it

    assert ops.settle_deployments(conn, "promote-local-", progress=progress) == ["promote-local-left"]
    records = ops.list_deployments(conn, "promote-local-")
    conn.close()
    assert [(r.name, r.state) for r in records] == [("promote-local-left", "Canceled")]
    assert said[0].startswith("waiting for deployment promote-local-left to stop (Running, ")
    assert said[0].endswith(" s of at most 600 s)")


def test_settle_gives_up_at_the_connections_bound(emulator: EmulatorHandle) -> None:
    conn = connection(emulator, deployment_timeout=0.3)
    ops.ensure_factory(conn)
    _held_deployment(emulator, "promote-local-stuck")  # never released: the reset ends it
    with pytest.raises(WaitTimeout) as info:
        ops.settle_deployments(conn, "promote-local-")
    conn.close()
    assert str(info.value) == "deployment promote-local-stuck to stop: not done within 0.3 s (last state: Running)"
    emulator.admin("POST", "/reset")


def test_list_deployments_by_prefix_oldest_first(emulator: EmulatorHandle, conn: Connection) -> None:
    ops.ensure_factory(conn)
    for name in ("promote-staging-a", "other-x", "promote-staging-b"):
        ops.deploy_template(
            conn, name, template(resource("pipelines", "p1", WAIT)), {"factoryName": {"value": FACTORY}}
        )
    records = ops.list_deployments(conn, "promote-staging-")
    assert [r.name for r in records] == ["promote-staging-a", "promote-staging-b"]
    assert {r.state for r in records} == {"Succeeded"}


# --------------------------------------------------------------------------------------------------- objects


DATASET_DS = {
    "type": "datasets",
    "name": "ds",
    "properties": {"type": "Json", "linkedServiceName": {"referenceName": "ls", "type": "LinkedServiceReference"}},
}


def test_delete_of_a_referenced_object_surfaces_adf_error(emulator: EmulatorHandle, conn: Connection) -> None:
    seed(emulator, [LINKED, DATASET_DS, pipeline("p1", "ds")])
    with pytest.raises(AzureCallError) as info:
        ops.delete_object(conn, ObjectKey("datasets", "ds"))
    error = info.value
    assert (error.status, error.code) == (400, "BadRequest")
    assert error.message == "The document cannot be deleted since it is referenced by p1."
    assert error.target == f"/Microsoft.DataFactory/factories/{FACTORY}/datasets/ds"
    assert error.referenced_by == "p1"


def test_delete_in_order_and_of_what_is_already_gone(emulator: EmulatorHandle, conn: Connection) -> None:
    seed(emulator, [LINKED, DATASET_DS, pipeline("p1", "ds")])
    assert ops.delete_object(conn, ObjectKey("pipelines", "p1")) is True
    assert ops.delete_object(conn, ObjectKey("datasets", "ds")) is True
    assert ops.delete_object(conn, ObjectKey("datasets", "ds")) is False  # already gone: fine
    assert [str(k) for k in read_live(conn).factory.objects] == ["linkedServices/ls"]


def test_delete_of_a_started_trigger_is_refused(emulator: EmulatorHandle, conn: Connection) -> None:
    seed(emulator, [pipeline("p"), schedule("t", "p")])
    ops.start_trigger(conn, "t")
    with pytest.raises(AzureCallError) as info:
        ops.delete_object(conn, ObjectKey("triggers", "t"))
    assert info.value.trigger_enabled and info.value.message == ENABLED_CANNOT_UPDATE


def test_delete_of_a_private_endpoint(emulator: EmulatorHandle, conn: Connection) -> None:
    seed(
        emulator,
        [
            {"type": "managedVirtualNetworks", "name": "default", "properties": {}},
            {
                "type": "managedVirtualNetworks/managedPrivateEndpoints",
                "name": "default/mpe1",
                "properties": {"privateLinkResourceId": "/subscriptions/s/blob", "groupId": "blob"},
            },
        ],
    )
    assert ops.delete_object(conn, ObjectKey("managedVirtualNetworks/managedPrivateEndpoints", "default/mpe1"))
    assert [str(k) for k in read_live(conn).factory.objects] == ["managedVirtualNetworks/default"]


# --------------------------------------------------------------------------------------------------- factory


REPO = {
    "type": "FactoryGitHubConfiguration",
    "accountName": "contoso",
    "repositoryName": "adf",
    "collaborationBranch": "main",
    "rootFolder": "/",
}


def factory_body(emulator: EmulatorHandle) -> dict[str, Any]:
    url = (
        f"{emulator.endpoint}/subscriptions/{emulator.subscription}/resourceGroups/{emulator.resource_group}"
        f"/providers/Microsoft.DataFactory/factories/{FACTORY}?api-version=2018-06-01"
    )
    response = emulator.session.get(url, headers={"Authorization": "Bearer t"}, verify=emulator.ca_file, timeout=10)
    response.raise_for_status()
    return response.json()


def test_set_factory_tags_keeps_the_factory_settings(
    emulator: EmulatorHandle, conn: Connection, adf_client: Any
) -> None:
    adf_client.factories.create_or_update(
        emulator.resource_group,
        FACTORY,
        {"location": "westeurope", "tags": {"cost-center": "42"}, "properties": {"repoConfiguration": REPO}},
    )
    emulator.admin("DELETE", "/requests")
    tags = ops.set_factory_tags(conn, {"promote-commit": "abc123", "promote-environment": "staging"})
    assert tags == {"cost-center": "42", "promote-commit": "abc123", "promote-environment": "staging"}
    body = factory_body(emulator)
    assert body["properties"]["repoConfiguration"] == REPO
    assert body["tags"] == tags
    assert ops.set_factory_tags(conn, {"promote-environment": None}) == {
        "cost-center": "42",
        "promote-commit": "abc123",
    }
    factory_writes = [r["method"] for r in emulator.requests(path=f"/factories/{FACTORY}$") if r["method"] != "GET"]
    assert factory_writes == ["PATCH", "PATCH"]  # never a PUT of the factory


def test_ensure_factory_creates_only_a_missing_factory(
    emulator: EmulatorHandle, conn: Connection, adf_client: Any
) -> None:
    assert ops.ensure_factory(conn, "northeurope") is True
    assert factory_body(emulator)["location"] == "northeurope"
    assert ops.ensure_factory(conn) is False
    puts = emulator.requests(method="PUT", path=f"/factories/{FACTORY}$")
    assert len(puts) == 1


def test_ensure_factory_leaves_an_existing_factory_alone(
    emulator: EmulatorHandle, conn: Connection, adf_client: Any
) -> None:
    adf_client.factories.create_or_update(
        emulator.resource_group, FACTORY, {"location": "westeurope", "properties": {"repoConfiguration": REPO}}
    )
    emulator.admin("DELETE", "/requests")
    assert ops.ensure_factory(conn) is False
    assert emulator.requests(method="PUT") == []
    assert factory_body(emulator)["properties"]["repoConfiguration"] == REPO


# --------------------------------------------------------------------------------------------------- runs


def test_run_pipeline_succeeds(emulator: EmulatorHandle, conn: Connection) -> None:
    seed(emulator, [pipeline("p")])
    result = ops.run_pipeline(conn, "p", {"x": 1}, timeout=10)
    assert result.succeeded and result.status == "Succeeded" and not result.timed_out


def test_run_pipeline_reports_a_failure(emulator: EmulatorHandle, conn: Connection) -> None:
    fail = {
        "name": "fail",
        "type": "Fail",
        "typeProperties": {"message": "model accuracy below threshold", "errorCode": "42"},
    }
    seed(emulator, [{"type": "pipelines", "name": "smoke", "properties": {"activities": [fail]}}])
    result = ops.run_pipeline(conn, "smoke", timeout=10)
    assert (result.status, result.message) == ("Failed", "model accuracy below threshold")
    assert not result.succeeded


def test_run_pipeline_is_cancelled_at_its_time_limit(emulator: EmulatorHandle, conn: Connection) -> None:
    emulator.settings(run_seconds=30)
    seed(emulator, [pipeline("p")])
    began = time.monotonic()
    result = ops.run_pipeline(conn, "p", timeout=0.3)
    assert time.monotonic() - began < 3
    assert result.timed_out and result.status == "Cancelled" and not result.succeeded
    assert emulator.requests(method="POST", path=f"/pipelineruns/{result.run_id}/cancel$")


def test_run_of_a_missing_pipeline_is_an_error(emulator: EmulatorHandle, conn: Connection) -> None:
    ops.ensure_factory(conn)
    with pytest.raises(AzureCallError) as info:
        ops.run_pipeline(conn, "nope", timeout=5)
    assert info.value.status == 404


def test_deployment_tags_are_kept_in_the_history(emulator: EmulatorHandle, conn: Connection) -> None:
    ops.ensure_factory(conn)
    ops.deploy_template(
        conn,
        "promote-tagged",
        template(resource("pipelines", "p1", WAIT)),
        {"factoryName": {"value": FACTORY}},
        {"promote-commit": "abc123"},
    )
    assert ops.list_deployments(conn, "promote-tagged")[0].tags == {"promote-commit": "abc123"}


# --------------------------------------------------------------------------------------------------- runs in flight


def _held_run(emulator: EmulatorHandle, pipeline_name: str, **extra: Any) -> str:
    body = {"subscriptionId": emulator.subscription, "resourceGroup": emulator.resource_group, "factory": FACTORY}
    return str(emulator.admin("POST", "/runs", json={**body, "pipeline": pipeline_name, **extra})["runId"])


def _caller(name: str, callee: str) -> dict[str, Any]:
    execute = {
        "name": f"run_{callee}",
        "type": "ExecutePipeline",
        "typeProperties": {"pipeline": {"referenceName": callee, "type": "PipelineReference"}},
    }
    return {"type": "pipelines", "name": name, "properties": {"activities": [execute]}}


def test_runs_in_progress_are_those_of_the_named_pipelines_not_ended(
    emulator: EmulatorHandle, conn: Connection
) -> None:
    seed(emulator, [pipeline("a"), pipeline("b"), pipeline("other")])
    scheduled = _held_run(emulator, "a", invokedBy={"name": "nightly", "invokedByType": "ScheduleTrigger"})
    more = [_held_run(emulator, "a") for _ in range(3)]  # with the page size of 3: the answer has two pages
    ended = _held_run(emulator, "b")
    emulator.admin("POST", f"/runs/{ended}/end", json={"status": "Succeeded"})
    b_run = _held_run(emulator, "b")
    _held_run(emulator, "other")
    runs = ops.runs_in_progress(conn, ["a", "b"])
    assert sorted(r.run_id for r in runs) == sorted([scheduled, *more, b_run])
    assert {r.status for r in runs} == {"InProgress"}
    first = next(r for r in runs if r.run_id == scheduled)
    assert (first.pipeline, first.invoked_by, first.invoked_by_type) == ("a", "nightly", "ScheduleTrigger")
    assert first.run_start and first.parent_run_id is None
    queries = emulator.requests(method="POST", path="/queryPipelineRuns$")
    assert len(queries) == 2 and {q["status"] for q in queries} == {200}  # one query, two pages
    assert ops.runs_in_progress(conn, []) == []


def test_runs_in_progress_include_runs_another_run_started(emulator: EmulatorHandle, conn: Connection) -> None:
    seed(emulator, [pipeline("child"), _caller("parent", "child")])
    parent = _held_run(emulator, "parent")
    [child] = ops.runs_in_progress(conn, ["child"])
    assert (child.invoked_by_type, child.invoked_by, child.parent_run_id) == ("PipelineActivity", "run_child", parent)


def test_runs_in_progress_asks_for_many_pipelines_in_chunks(emulator: EmulatorHandle, conn: Connection) -> None:
    names = [f"p{i:03d}" for i in range(150)]
    seed(emulator, [pipeline(n) for n in names])
    first, last = _held_run(emulator, "p000"), _held_run(emulator, "p149")
    # both runs may start in the same second: their order is then the run ids', so compare the set
    assert sorted(r.run_id for r in ops.runs_in_progress(conn, names)) == sorted([first, last])
    assert len(emulator.requests(method="POST", path="/queryPipelineRuns$")) == 2  # 100 names, then 50


def test_cancel_run_stops_the_run_and_what_it_started(emulator: EmulatorHandle, conn: Connection) -> None:
    seed(emulator, [pipeline("child"), _caller("parent", "child")])
    parent = _held_run(emulator, "parent")
    ops.cancel_run(conn, parent)
    assert ops.runs_in_progress(conn, ["parent", "child"]) == []
    [cancel] = emulator.requests(method="POST", path=f"/pipelineruns/{parent}/cancel$")
    assert "isRecursive=true" in cancel["query"]

    parent = _held_run(emulator, "parent")
    ops.cancel_run(conn, parent, recursive=False)
    assert [r.pipeline for r in ops.runs_in_progress(conn, ["parent", "child"])] == ["child"]
    [cancel] = emulator.requests(method="POST", path=f"/pipelineruns/{parent}/cancel$")
    assert "isRecursive=false" in cancel["query"]


def test_cancel_run_of_an_unknown_run_is_adfs_error(emulator: EmulatorHandle, conn: Connection) -> None:
    ops.ensure_factory(conn)
    with pytest.raises(AzureCallError) as info:
        ops.cancel_run(conn, "00000000-0000-0000-0000-000000000000")
    assert (info.value.status, info.value.code) == (400, "ReferencedPipelineRunNotFound")


def test_waiting_for_runs_cancels_the_top_most_run_of_each_tree_and_waits_until_they_have_ended(
    emulator: EmulatorHandle, conn: Connection
) -> None:
    seed(emulator, [pipeline("child"), _caller("parent", "child"), pipeline("other")])
    parent = _held_run(emulator, "parent")
    other = _held_run(emulator, "other")
    heard: list[str] = []
    waited = ops.wait_for_runs(conn, ["parent", "child"], time_limit=30, cancel=True, progress=heard.append)
    assert {r.pipeline for r in waited} == {"parent", "child"}
    assert ops.runs_in_progress(conn, ["parent", "child"]) == []
    cancels = emulator.requests(method="POST", path="/cancel$")
    assert [c["path"].rsplit("/", 2)[1] for c in cancels] == [parent]  # the child went with it
    assert heard[0] == f"cancelled run {parent} of parent (and the runs it started)"
    assert [r.run_id for r in ops.runs_in_progress(conn, ["other"])] == [other]  # not named: left alone


def test_waiting_for_runs_says_what_it_waits_for_and_gives_up_at_its_limit(emulator: EmulatorHandle) -> None:
    seed(emulator, [pipeline("p")])
    held = _held_run(emulator, "p")  # it never ends by itself: the limit is certain to pass
    heard: list[str] = []
    conn = connection(emulator, progress_interval=0)
    try:
        with pytest.raises(WaitTimeout) as info:
            ops.wait_for_runs(conn, ["p"], time_limit=0.3, progress=heard.append)
    finally:
        conn.close()
    assert info.value.last == f"1 run in progress: p run {held} (InProgress)"
    assert heard and heard[0].startswith(
        f"waiting for the runs in progress of 1 pipeline to end (1 run in progress: p run {held} (InProgress), "
    )
    assert heard[0].endswith("of at most 0.3 s)")
    assert emulator.requests(method="POST", path="/cancel$") == []  # waited for, never cancelled
