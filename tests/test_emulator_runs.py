"""Pipeline runs in flight, through the real DataFactoryManagementClient: runs the control API starts stay
InProgress until it ends them, runs started by Execute Pipeline activities and `isRecursive` cancels, and
PipelineRuns_QueryByFactory with the filters, operators and orders its REST specification allows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

RG = "rg-promote-test"
NOW = dt.datetime.now(dt.timezone.utc)
WINDOW = {"lastUpdatedAfter": NOW - dt.timedelta(days=1), "lastUpdatedBefore": NOW + dt.timedelta(days=1)}


def _pipeline(adf_client: Any, factory: str, name: str, *calls: str) -> None:
    activities = [
        {
            "name": f"run_{callee}",
            "type": "ExecutePipeline",
            "typeProperties": {
                "pipeline": {"referenceName": callee, "type": "PipelineReference"},
                "parameters": {"from": name},
                "waitOnCompletion": True,
            },
        }
        for callee in calls
    ]
    adf_client.pipelines.create_or_update(RG, factory, name, {"properties": {"activities": activities}})


def _held(emulator: Any, factory: str, pipeline: str, **extra: Any) -> dict[str, Any]:
    body = {"subscriptionId": emulator.subscription, "resourceGroup": RG, "factory": factory, "pipeline": pipeline}
    return emulator.admin("POST", "/runs", json={**body, **extra})


def _query(adf_client: Any, factory: str, *filters: dict[str, Any], **extra: Any) -> list[Any]:
    """Every page of a query's answer."""
    runs: list[Any] = []
    token = None
    while True:
        page = adf_client.pipeline_runs.query_by_factory(
            RG, factory, {**WINDOW, "filters": list(filters), "continuationToken": token, **extra}
        )
        runs += page.value
        token = page.continuation_token
        if not token:
            return runs


def _filter(operand: str, operator: str, *values: str) -> dict[str, Any]:
    return {"operand": operand, "operator": operator, "values": list(values)}


def test_a_run_the_control_api_starts_stays_in_progress_until_it_ends_it(
    emulator: Any, adf_client: Any, emulator_factory: str
) -> None:
    _pipeline(adf_client, emulator_factory, "p")
    run = _held(emulator, emulator_factory, "p", invokedBy={"name": "nightly", "invokedByType": "ScheduleTrigger"})
    emulator.advance(30 * 24 * 3600)  # no clock moves it on
    got = adf_client.pipeline_runs.get(RG, emulator_factory, run["runId"])
    assert (got.status, got.invoked_by.name, got.invoked_by.invoked_by_type) == (
        "InProgress",
        "nightly",
        "ScheduleTrigger",
    )
    ended = emulator.admin("POST", f"/runs/{run['runId']}/end", json={"status": "Failed", "message": "disk full"})
    assert (ended["status"], ended["message"]) == ("Failed", "disk full")
    got = adf_client.pipeline_runs.get(RG, emulator_factory, run["runId"])
    assert (got.status, got.message) == ("Failed", "disk full") and got.run_end is not None


def test_a_run_started_by_create_run_ends_on_the_clock(emulator: Any, adf_client: Any, emulator_factory: str) -> None:
    emulator.settings(run_queue_seconds=0, run_seconds=600)
    _pipeline(adf_client, emulator_factory, "p")
    run_id = adf_client.pipelines.create_run(RG, emulator_factory, "p").run_id
    assert adf_client.pipeline_runs.get(RG, emulator_factory, run_id).status == "InProgress"
    emulator.advance(600)
    assert adf_client.pipeline_runs.get(RG, emulator_factory, run_id).status == "Succeeded"


def test_execute_pipeline_starts_child_runs_and_a_recursive_cancel_stops_them(
    emulator: Any, adf_client: Any, emulator_factory: str
) -> None:
    _pipeline(adf_client, emulator_factory, "leaf")
    _pipeline(adf_client, emulator_factory, "middle", "leaf")
    _pipeline(adf_client, emulator_factory, "top", "middle")
    for recursive in (False, True):
        top = _held(emulator, emulator_factory, "top")["runId"]
        runs = {r.pipeline_name: r for r in _query(adf_client, emulator_factory) if r.status == "InProgress"}
        middle, leaf = runs["middle"], runs["leaf"]
        assert (middle.invoked_by.invoked_by_type, middle.invoked_by.pipeline_run_id) == ("PipelineActivity", top)
        assert (middle.invoked_by.name, middle.parameters) == ("run_middle", {"from": "top"})
        assert leaf.invoked_by.pipeline_run_id == middle.run_id
        adf_client.pipeline_runs.cancel(RG, emulator_factory, top, is_recursive=recursive)
        statuses = [
            adf_client.pipeline_runs.get(RG, emulator_factory, r).status for r in (top, middle.run_id, leaf.run_id)
        ]
        # without isRecursive, ADF cancels the run only: what it started goes on
        assert statuses == (["Cancelled"] * 3 if recursive else ["Cancelled", "InProgress", "InProgress"])
        emulator.admin("POST", f"/runs/{middle.run_id}/end", json={"status": "Succeeded"})  # ends leaf too
        assert adf_client.pipeline_runs.get(RG, emulator_factory, leaf.run_id).status in ("Succeeded", "Cancelled")


def test_cancel_leaves_an_ended_run_as_it_is_and_refuses_an_unknown_one(
    emulator: Any, adf_client: Any, emulator_factory: str
) -> None:
    _pipeline(adf_client, emulator_factory, "p")
    run = _held(emulator, emulator_factory, "p")["runId"]
    emulator.admin("POST", f"/runs/{run}/end", json={"status": "Succeeded"})
    adf_client.pipeline_runs.cancel(RG, emulator_factory, run)
    assert adf_client.pipeline_runs.get(RG, emulator_factory, run).status == "Succeeded"
    with pytest.raises(HttpResponseError) as info:
        adf_client.pipeline_runs.cancel(RG, emulator_factory, "someGuid")
    assert (info.value.status_code, info.value.error.code) == (400, "ReferencedPipelineRunNotFound")


def test_query_filters_as_the_specification_defines(emulator: Any, adf_client: Any, emulator_factory: str) -> None:
    for name in ("a", "b", "c"):
        _pipeline(adf_client, emulator_factory, name)
    a1, a2, b1, c1 = (_held(emulator, emulator_factory, n)["runId"] for n in ("a", "a", "b", "c"))
    emulator.admin("POST", f"/runs/{a2}/end", json={"status": "Succeeded"})

    def ids(*filters: dict[str, Any], **extra: Any) -> list[str]:
        return [r.run_id for r in _query(adf_client, emulator_factory, *filters, **extra)]

    in_progress = _filter("Status", "In", "Queued", "InProgress", "Canceling")
    assert sorted(ids(_filter("PipelineName", "In", "a", "b"), in_progress)) == sorted([a1, b1])  # every filter holds
    assert sorted(ids(_filter("PipelineName", "NotIn", "a", "b"))) == [c1]
    assert sorted(ids(_filter("Status", "Equals", "Succeeded"))) == [a2]
    assert sorted(ids(_filter("Status", "NotEquals", "Succeeded"))) == sorted([a1, b1, c1])
    assert sorted(ids(_filter("LatestOnly", "Equals", "true"))) == sorted([a1, a2, b1, c1])
    assert sorted(ids(_filter("RunGroupId", "Equals", b1))) == [b1]
    start = adf_client.pipeline_runs.get(RG, emulator_factory, c1).run_start
    assert ids(_filter("RunStart", "Equals", start.isoformat())) == [c1]
    ordered = _query(adf_client, emulator_factory, orderBy=[{"orderBy": "PipelineName", "order": "DESC"}])
    assert [r.pipeline_name for r in ordered] == ["c", "b", "a", "a"]
    outside = {"lastUpdatedAfter": NOW + dt.timedelta(days=2), "lastUpdatedBefore": NOW + dt.timedelta(days=3)}
    assert adf_client.pipeline_runs.query_by_factory(RG, emulator_factory, outside).value == []


@pytest.mark.parametrize(
    ("query", "wrong"),
    [
        ({"filters": []}, "lastUpdatedAfter"),
        ({**WINDOW, "filters": [_filter("ActivityName", "Equals", "x")]}, "'ActivityName' is not an operand"),
        ({**WINDOW, "filters": [_filter("RunId", "Equals", "x")]}, "'RunId' is not an operand"),
        ({**WINDOW, "filters": [_filter("Status", "Contains", "x")]}, "'Contains' is not a filter operator"),
        ({**WINDOW, "filters": [{"operand": "Status", "operator": "In", "values": []}]}, "needs 'values'"),
        ({**WINDOW, "orderBy": [{"orderBy": "TriggerName", "order": "ASC"}]}, "'TriggerName' is not an order"),
    ],
)
def test_query_refuses_what_the_specification_does_not_allow(
    emulator: Any, emulator_factory: str, query: dict[str, Any], wrong: str
) -> None:
    """Sent raw: the SDK's models would refuse some of these before sending."""
    from azure.core.rest import HttpRequest

    def text(value: Any) -> Any:
        return value.isoformat() if isinstance(value, dt.datetime) else value

    body = {k: text(v) for k, v in query.items()}
    with emulator.adf_client() as client:
        url = f"{emulator.factory_path(emulator_factory)}/queryPipelineRuns?api-version=2018-06-01"
        response = client.send_request(HttpRequest("POST", url, json=body))
    assert response.status_code == 400
    assert wrong in response.json()["error"]["message"]
