"""The control API: injected faults (status, 429 + Retry-After honoured by the SDK's own retry, delay, dropped
connection), latency, the request log, write counts, settings, reset. Clients are the real SDK clients; the
control API itself is called with `requests`."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

RG = "rg-promote-test"
PIPELINE = {"properties": {"activities": []}}


def test_429_is_honoured_by_the_sdk_retry(emulator: Any, emulator_factory: str) -> None:
    with emulator.adf_client() as setup:
        setup.pipelines.create_or_update(RG, emulator_factory, "p", PIPELINE)
    rule = emulator.fault(method="GET", path=r"/pipelines/p$", status=429, retry_after=1)
    with emulator.adf_client(retry_total=3) as client:
        started = time.monotonic()
        assert client.pipelines.get(RG, emulator_factory, "p").name == "p"
        elapsed = time.monotonic() - started
    assert elapsed >= 1.0  # the SDK waited Retry-After before trying again
    log = [r for r in emulator.requests(method="GET") if r["path"].endswith("/pipelines/p")]
    assert [(r["status"], r["fault"]) for r in log] == [(429, rule["id"]), (200, None)]


def test_429_body_and_header_without_retry(emulator: Any, adf_client: Any, emulator_factory: str) -> None:
    emulator.fault(method="PUT", path="/pipelines/", status=429, retry_after=7)
    with pytest.raises(HttpResponseError) as info:
        adf_client.pipelines.create_or_update(RG, emulator_factory, "p", PIPELINE)
    assert info.value.status_code == 429
    assert info.value.response.headers["Retry-After"] == "7"
    assert info.value.error.code == "SubscriptionRequestsThrottled"


def test_status_fault_on_the_nth_request(emulator: Any, adf_client: Any, emulator_factory: str) -> None:
    emulator.fault(method="put", path="/pipelines/", nth=2, status=500, code="InternalServerError", message="boom")
    adf_client.pipelines.create_or_update(RG, emulator_factory, "a", PIPELINE)
    with pytest.raises(HttpResponseError) as info:
        adf_client.pipelines.create_or_update(RG, emulator_factory, "b", PIPELINE)
    assert (info.value.status_code, info.value.error.code, info.value.error.message) == (
        500,
        "InternalServerError",
        "boom",
    )
    adf_client.pipelines.create_or_update(RG, emulator_factory, "c", PIPELINE)  # fired once only
    names = [p.name for p in adf_client.pipelines.list_by_factory(RG, emulator_factory)]
    assert names == ["a", "c"]  # the failed request never reached the store
    [rule] = emulator.admin("GET", "/faults")["value"]
    assert (rule["matched"], rule["fired"]) == (3, 1)


def test_every_matching_request_until_removed(emulator: Any, adf_client: Any, emulator_factory: str) -> None:
    rule = emulator.fault(path="/datasets", every=True, status=503)
    for _ in range(3):
        with pytest.raises(HttpResponseError):
            list(adf_client.datasets.list_by_factory(RG, emulator_factory))
    emulator.admin("DELETE", f"/faults/{rule['id']}")
    assert list(adf_client.datasets.list_by_factory(RG, emulator_factory)) == []


def test_delay_and_latency(emulator: Any, adf_client: Any, emulator_factory: str) -> None:
    emulator.fault(method="GET", path="/factories/[^/]+$", delay=0.3)
    started = time.monotonic()
    adf_client.factories.get(RG, emulator_factory)
    assert time.monotonic() - started >= 0.3
    emulator.settings(latency_seconds=0.1)
    started = time.monotonic()
    for _ in range(3):
        adf_client.factories.get(RG, emulator_factory)
    assert time.monotonic() - started >= 0.3


def test_dropped_connection(emulator: Any, emulator_factory: str) -> None:
    emulator.fault(method="GET", path="/factories/[^/]+$", drop=True)
    with emulator.adf_client() as client, pytest.raises((ServiceResponseError, ServiceRequestError)):
        client.factories.get(RG, emulator_factory)
    emulator.fault(method="GET", path="/factories/[^/]+$", drop=True)
    with emulator.adf_client(retry_total=2, retry_backoff_factor=0.01) as client:
        assert client.factories.get(RG, emulator_factory).name == emulator_factory  # the SDK retried
    statuses = [r["status"] for r in emulator.requests(method="GET", path="/factories/[^/]+$")]
    assert statuses == [0, 0, 200]  # 0: dropped without an answer


def test_request_log_and_counts(emulator: Any, adf_client: Any, deployments_client: Any, emulator_factory: str) -> None:
    emulator.admin("DELETE", "/requests")
    adf_client.pipelines.create_or_update(RG, emulator_factory, "p", PIPELINE)
    adf_client.pipelines.get(RG, emulator_factory, "p")
    adf_client.pipelines.delete(RG, emulator_factory, "p")
    log = emulator.requests()
    assert [(r["method"], r["path"].rsplit("/", 1)[-1], r["status"]) for r in log] == [
        ("PUT", "p", 200),
        ("GET", "p", 200),
        ("DELETE", "p", 200),
    ]
    assert all(r["query"] == "api-version=2018-06-01" and r["ms"] >= 0 for r in log)
    assert emulator.requests(since=log[1]["seq"])[0]["method"] == "DELETE"

    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": [
            {
                "name": f"{emulator_factory}/q",
                "type": "Microsoft.DataFactory/factories/pipelines",
                "apiVersion": "2018-06-01",
                "properties": {"activities": []},
            }
        ],
    }
    deployments_client.deployments.begin_create_or_update(
        RG, "d", {"properties": {"mode": "Incremental", "template": template}}
    ).result()
    stats = emulator.stats()
    assert stats["requests"]["byMethod"]["PUT"] == 2 and stats["requests"]["writes"] == 3
    assert stats["objectWrites"]["pipelines"] == 3  # put, delete, and one by the deployment
    assert stats["objectWrites"]["factories"] == 1


def test_reset_and_settings(emulator: Any, adf_client: Any, emulator_factory: str) -> None:
    emulator.settings(page_size=1)
    emulator.fault(path="/nothing", status=500)
    adf_client.pipelines.create_or_update(RG, emulator_factory, "p", PIPELINE)
    emulator.admin("POST", "/reset")
    assert emulator.admin("GET", "/settings")["page_size"] == 3
    assert emulator.admin("GET", "/faults")["value"] == []
    assert emulator.requests() == []
    assert list(adf_client.factories.list_by_resource_group(RG)) == []


def test_control_api_refuses_bad_input(emulator: Any) -> None:
    def call(method: str, path: str, **kwargs: Any) -> requests.Response:
        return emulator.session.request(
            method, f"{emulator.endpoint}/_emulator{path}", verify=emulator.ca_file, **kwargs
        )

    assert call("POST", "/faults", json={"path": "/x"}).status_code == 400  # neither status, drop nor delay
    assert call("POST", "/faults", json={"path": "(", "status": 500}).status_code == 400
    assert call("POST", "/faults", json={"path": "/x", "status": 500, "colour": "red"}).status_code == 400
    assert call("POST", "/faults", json={"path": "/x", "answer": {"body": {}}}).status_code == 400  # no status
    assert call("POST", "/faults", json={"path": "/x", "answer": {"status": 200, "x": 1}}).status_code == 400
    assert call("POST", "/faults", json={"path": "/x", "status": 500, "answer": {"status": 200}}).status_code == 400
    assert call("PATCH", "/settings", json={"page_size": 0}).status_code == 400
    assert call("PATCH", "/settings", json={"nope": 1}).status_code == 400
    assert call("DELETE", "/faults/99").status_code == 404
    info = call("GET", "").json()
    assert info["endpoint"] == emulator.endpoint and info["caFile"] == emulator.ca_file


def test_an_answer_fault_answers_exactly_what_it_says(emulator: Any, emulator_factory: str) -> None:
    """What no Azure would say, for the client's defences (tests/test_answers_lead_nowhere.py)."""
    answer = {"status": 202, "body": {"value": [], "nextLink": "https://elsewhere/x"}, "headers": {"Location": "y"}}
    emulator.fault(method="GET", path="/pipelines$", answer=answer)
    url = f"{emulator.endpoint}{emulator.factory_path(emulator_factory)}/pipelines?api-version=2018-06-01"
    got = emulator.session.get(url, headers={"Authorization": "Bearer x"}, verify=emulator.ca_file, timeout=30)
    assert got.status_code == 202 and got.json() == answer["body"] and got.headers["Location"] == "y"
    again = emulator.session.get(url, headers={"Authorization": "Bearer x"}, verify=emulator.ca_file, timeout=30)
    assert again.status_code == 200 and again.json()["value"] == []  # fired once: the real answer again


def test_seed_writes_through_the_rules(emulator: Any, adf_client: Any) -> None:
    objects = [
        {"type": "linkedServices", "name": "ls", "properties": {"type": "AzureBlobStorage", "typeProperties": {}}},
        {
            "type": "datasets",
            "name": "ds",
            "properties": {
                "type": "Json",
                "linkedServiceName": {"referenceName": "ls", "type": "LinkedServiceReference"},
            },
        },
    ]
    body = {"subscriptionId": emulator.subscription, "resourceGroup": RG, "factory": "adf-seeded", "objects": objects}
    assert emulator.admin("POST", "/seed", json=body) == {"written": 2}
    assert [d.name for d in adf_client.datasets.list_by_factory(RG, "adf-seeded")] == ["ds"]
    broken = {
        **body,
        "objects": [
            {
                "type": "datasets",
                "name": "d2",
                "properties": {
                    "type": "Json",
                    "linkedServiceName": {"referenceName": "nope", "type": "LinkedServiceReference"},
                },
            }
        ],
    }
    response = emulator.session.post(f"{emulator.endpoint}/_emulator/seed", json=broken, verify=emulator.ca_file)
    assert response.status_code == 400 and "invalid reference 'nope'" in response.json()["error"]["message"]


def test_a_hold_keeps_a_request_in_flight_until_released(emulator: Any, emulator_factory: str) -> None:
    import threading

    rule = emulator.hold("GET", rf"/factories/{emulator_factory}$", status=503, code="ServiceUnavailable")
    answers: list[int] = []

    def read() -> None:
        with emulator.adf_client() as client:
            try:
                client.factories.get(RG, emulator_factory)
            except HttpResponseError as exc:
                answers.append(exc.status_code)

    reader = threading.Thread(target=read)
    reader.start()
    emulator.wait_until_held(rule)
    assert answers == []  # in flight: nothing answered while held
    emulator.release(rule)
    reader.join(30)
    assert answers == [503]  # after the hold, the rest of the rule applies
    [shown] = [r for r in emulator.admin("GET", "/faults")["value"] if r["id"] == rule]
    assert (shown["held"], shown["released"], shown["fired"]) == (0, True, 1)


def test_a_reset_releases_what_is_held(emulator: Any, emulator_factory: str) -> None:
    import threading

    rule = emulator.hold("GET", rf"/factories/{emulator_factory}$")
    answers: list[int] = []

    def read() -> None:
        with emulator.adf_client() as client:
            try:
                client.factories.get(RG, emulator_factory)
            except HttpResponseError as exc:
                answers.append(exc.status_code)

    reader = threading.Thread(target=read)
    reader.start()
    emulator.wait_until_held(rule)
    emulator.admin("POST", "/reset")
    reader.join(30)
    assert answers == [404]  # released by the reset, it found the state emptied
