"""Triggers and pipeline runs through the real DataFactoryManagementClient: runtime state, start / stop, event
subscriptions as long-running operations, querytriggers; runs that queue, progress, succeed, fail, cancel."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

RG = "rg-promote-test"
ENABLED_CANNOT_UPDATE = "Cannot update enabled Trigger; the trigger needs to be disabled first. "


def _pipeline(adf_client: Any, factory: str, name: str = "p", activities: list[Any] | None = None) -> None:
    adf_client.pipelines.create_or_update(RG, factory, name, {"properties": {"activities": activities or []}})


def _schedule(pipeline: str = "p", **extra: Any) -> dict[str, Any]:
    return {
        "properties": {
            "type": "ScheduleTrigger",
            "typeProperties": {"recurrence": {"frequency": "Hour", "interval": 1}},
            "pipelines": [{"pipelineReference": {"referenceName": pipeline, "type": "PipelineReference"}}],
            **extra,
        }
    }


def _blob_events(pipeline: str = "p") -> dict[str, Any]:
    return {
        "properties": {
            "type": "BlobEventsTrigger",
            "typeProperties": {"events": ["Microsoft.Storage.BlobCreated"], "scope": "/subscriptions/s/storage"},
            "pipelines": [{"pipelineReference": {"referenceName": pipeline, "type": "PipelineReference"}}],
        }
    }


def test_runtime_state_is_read_only(adf_client: Any, emulator_factory: str) -> None:
    _pipeline(adf_client, emulator_factory)
    created = adf_client.triggers.create_or_update(RG, emulator_factory, "t", _schedule(runtimeState="Started"))
    assert created.properties.runtime_state == "Stopped"
    adf_client.triggers.begin_start(RG, emulator_factory, "t").result()
    assert adf_client.triggers.get(RG, emulator_factory, "t").properties.runtime_state == "Started"
    adf_client.triggers.begin_stop(RG, emulator_factory, "t").result()
    assert adf_client.triggers.get(RG, emulator_factory, "t").properties.runtime_state == "Stopped"


def test_start_and_stop_answer_200_without_a_body(emulator: Any, adf_client: Any, emulator_factory: str) -> None:
    _pipeline(adf_client, emulator_factory)
    adf_client.triggers.create_or_update(RG, emulator_factory, "t", _schedule())
    emulator.admin("DELETE", "/requests")
    adf_client.triggers.begin_start(RG, emulator_factory, "t").result()
    adf_client.triggers.begin_stop(RG, emulator_factory, "t").result()
    log = emulator.requests(method="POST")
    assert [(r["path"].rsplit("/", 1)[-1], r["status"]) for r in log] == [("start", 200), ("stop", 200)]


def test_started_trigger_cannot_be_updated_or_deleted(adf_client: Any, emulator_factory: str) -> None:
    _pipeline(adf_client, emulator_factory)
    adf_client.triggers.create_or_update(RG, emulator_factory, "t", _schedule())
    adf_client.triggers.begin_start(RG, emulator_factory, "t").result()
    for attempt in (
        lambda: adf_client.triggers.create_or_update(RG, emulator_factory, "t", _schedule(description="new")),
        lambda: adf_client.triggers.delete(RG, emulator_factory, "t"),
    ):
        with pytest.raises(HttpResponseError) as info:
            attempt()
        assert info.value.status_code == 400
        assert info.value.error.code == "TriggerEnabledCannotUpdate"
        assert info.value.error.message == ENABLED_CANNOT_UPDATE
    adf_client.triggers.begin_stop(RG, emulator_factory, "t").result()
    adf_client.triggers.create_or_update(RG, emulator_factory, "t", _schedule(description="new"))
    adf_client.triggers.delete(RG, emulator_factory, "t")


def test_trigger_holds_its_pipeline(adf_client: Any, emulator_factory: str) -> None:
    _pipeline(adf_client, emulator_factory)
    adf_client.triggers.create_or_update(RG, emulator_factory, "t", _schedule())
    with pytest.raises(HttpResponseError) as info:
        adf_client.pipelines.delete(RG, emulator_factory, "p")
    assert info.value.error.message == "The document cannot be deleted since it is referenced by t."


def test_event_subscription_lifecycle(emulator: Any, adf_client: Any, emulator_factory: str) -> None:
    _pipeline(adf_client, emulator_factory)
    adf_client.triggers.create_or_update(RG, emulator_factory, "events", _blob_events())
    status = adf_client.triggers.get_event_subscription_status(RG, emulator_factory, "events")
    assert (status.trigger_name, status.status) == ("events", "Disabled")

    poller = adf_client.triggers.begin_subscribe_to_events(RG, emulator_factory, "events")
    assert adf_client.triggers.get_event_subscription_status(RG, emulator_factory, "events").status == "Provisioning"
    with pytest.raises(HttpResponseError) as info:  # starting while the subscription is provisioning
        adf_client.triggers.begin_start(RG, emulator_factory, "events").result()
    assert (info.value.error.code, info.value.error.message) == (
        "BadRequest",
        "Resource cannot be updated during provisioning",
    )
    assert poller.result().status == "Enabled"  # the SDK polled the Location until the subscription settled
    subscribe = [r for r in emulator.requests() if "subscribeToEvents" in r["path"]]
    assert subscribe[0]["status"] == 202
    adf_client.triggers.begin_start(RG, emulator_factory, "events").result()
    adf_client.triggers.begin_stop(RG, emulator_factory, "events").result()

    poller = adf_client.triggers.begin_unsubscribe_from_events(RG, emulator_factory, "events")
    assert adf_client.triggers.get_event_subscription_status(RG, emulator_factory, "events").status == "Deprovisioning"
    assert poller.result().status == "Disabled"


def test_subscription_settles_when_the_clock_moves(emulator: Any, adf_client: Any, emulator_factory: str) -> None:
    emulator.settings(subscription_seconds=3600)
    _pipeline(adf_client, emulator_factory)
    adf_client.triggers.create_or_update(RG, emulator_factory, "events", _blob_events())
    adf_client.triggers.begin_subscribe_to_events(RG, emulator_factory, "events", polling=False)
    assert adf_client.triggers.get_event_subscription_status(RG, emulator_factory, "events").status == "Provisioning"
    emulator.advance(3600)
    assert adf_client.triggers.get_event_subscription_status(RG, emulator_factory, "events").status == "Enabled"


def test_subscription_calls_need_an_event_trigger(adf_client: Any, emulator_factory: str) -> None:
    _pipeline(adf_client, emulator_factory)
    adf_client.triggers.create_or_update(RG, emulator_factory, "t", _schedule())
    with pytest.raises(HttpResponseError) as info:
        adf_client.triggers.begin_subscribe_to_events(RG, emulator_factory, "t").result()
    assert info.value.status_code == 400


def test_query_triggers(emulator: Any, adf_client: Any, emulator_factory: str) -> None:
    _pipeline(adf_client, emulator_factory)
    for i in range(5):
        adf_client.triggers.create_or_update(RG, emulator_factory, f"t{i}", _schedule())
    rerun = {
        "properties": {
            "type": "RerunTumblingWindowTrigger",
            "typeProperties": {
                "parentTrigger": "t1",
                "requestedStartTime": "2024-01-01T00:00:00Z",
                "requestedEndTime": "2024-01-02T00:00:00Z",
                "rerunConcurrency": 1,
            },
        }
    }
    adf_client.triggers.create_or_update(RG, emulator_factory, "rerun", rerun)
    result = adf_client.triggers.query_by_factory(RG, emulator_factory, {"parentTriggerName": "t1"})
    assert [t.name for t in result.value] == ["rerun"]
    first = adf_client.triggers.query_by_factory(RG, emulator_factory, {})
    assert len(first.value) == 3 and first.continuation_token
    second = adf_client.triggers.query_by_factory(RG, emulator_factory, {"continuationToken": first.continuation_token})
    assert [t.name for t in first.value + second.value] == ["rerun", "t0", "t1", "t2", "t3", "t4"]
    assert second.continuation_token is None


# --- pipeline runs -------------------------------------------------------------------------------------------


def test_run_goes_queued_in_progress_succeeded(emulator: Any, adf_client: Any, emulator_factory: str) -> None:
    emulator.settings(run_queue_seconds=100, run_seconds=100)
    _pipeline(adf_client, emulator_factory)
    run_id = adf_client.pipelines.create_run(RG, emulator_factory, "p", parameters={"when": "now", "n": [1, 2]}).run_id
    run = adf_client.pipeline_runs.get(RG, emulator_factory, run_id)
    assert (run.status, run.pipeline_name, run.parameters) == ("Queued", "p", {"when": "now", "n": "[1,2]"})
    assert run.run_end is None
    emulator.advance(100)
    assert adf_client.pipeline_runs.get(RG, emulator_factory, run_id).status == "InProgress"
    emulator.advance(100)
    run = adf_client.pipeline_runs.get(RG, emulator_factory, run_id)
    assert (run.status, run.message, run.duration_in_ms) == ("Succeeded", "", 200_000)


def test_fail_activity_fails_the_run_with_its_message(emulator: Any, adf_client: Any, emulator_factory: str) -> None:
    fail = {"name": "stop", "type": "Fail", "typeProperties": {"message": "input missing", "errorCode": "500"}}
    _pipeline(adf_client, emulator_factory, activities=[fail])
    run_id = adf_client.pipelines.create_run(RG, emulator_factory, "p").run_id
    emulator.advance(10)
    run = adf_client.pipeline_runs.get(RG, emulator_factory, run_id)
    assert (run.status, run.message) == ("Failed", "input missing")


def test_cancel_and_query_runs(emulator: Any, adf_client: Any, emulator_factory: str) -> None:
    emulator.settings(run_queue_seconds=0, run_seconds=100)
    _pipeline(adf_client, emulator_factory, "a")
    _pipeline(adf_client, emulator_factory, "b")
    ids = [adf_client.pipelines.create_run(RG, emulator_factory, name).run_id for name in ("a", "a", "b", "a", "a")]
    adf_client.pipeline_runs.cancel(RG, emulator_factory, ids[0])
    assert adf_client.pipeline_runs.get(RG, emulator_factory, ids[0]).status == "Cancelled"

    now = dt.datetime.now(dt.timezone.utc)
    window = {"lastUpdatedAfter": now - dt.timedelta(hours=1), "lastUpdatedBefore": now + dt.timedelta(hours=1)}
    query = {**window, "filters": [{"operand": "PipelineName", "operator": "Equals", "values": ["a"]}]}
    first = adf_client.pipeline_runs.query_by_factory(RG, emulator_factory, query)
    assert len(first.value) == 3 and first.continuation_token
    rest = adf_client.pipeline_runs.query_by_factory(
        RG, emulator_factory, {**query, "continuationToken": first.continuation_token}
    )
    assert sorted(r.run_id for r in first.value + rest.value) == sorted(ids[:2] + ids[3:])
    in_progress = adf_client.pipeline_runs.query_by_factory(
        RG,
        emulator_factory,
        {**window, "filters": [{"operand": "Status", "operator": "Equals", "values": ["InProgress"]}]},
    )
    assert len(in_progress.value) == 3 and in_progress.continuation_token  # 4 in progress, page size 3


def test_run_of_a_missing_pipeline(adf_client: Any, emulator_factory: str) -> None:
    with pytest.raises(HttpResponseError) as info:
        adf_client.pipelines.create_run(RG, emulator_factory, "missing")
    assert info.value.status_code == 404
