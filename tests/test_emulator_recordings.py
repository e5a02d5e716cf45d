"""Replay recorded answers of the real service (reference/recordings) against the emulator.

The emulator shares code with the product (the ARM evaluator `promote.arm`, the name rules, the reference
finder), so a test of the product against the emulator cannot see a bug in what they share. These recordings
were made by Microsoft's SDK test suites against Azure itself: every Data Factory request they hold is sent to
the emulator in the recorded order, and the emulator's status must be the recorded one, its body of the same
shape (every recorded key present, recursively, with a value of the same JSON kind; a recorded null accepts
anything; `id`, `name`, `type` equal), and an error's code, message and target exactly Azure's. A linked
service's `typeProperties` must be the recorded ones exactly (what ADF does to secrets), `encryptedCredential`
present where ADF added one and absent where it did not. What the
emulator does not do on purpose is listed in SKIPPED and IGNORED with the reason (and in the README).

The ARM evaluator is checked against a value ARM computed in a recorded deployment.
"""

from __future__ import annotations

import email.utils
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from azure.core.rest import HttpRequest

from promote.arm import DeploymentContext, evaluate_template
from tests.conftest import reference_path

RECORDINGS = (
    "azure-sdk-assets-net-datafactory/DataFactoryGlobalParameterTests/GlobalParameter_Create_Exists_Get_List_Delete.json",
    "azure-sdk-assets-net-datafactory/DataFactoryTriggerTests/Trigger_BlobEventsTrigger.json",
    "azure-sdk-assets-net-datafactory/IntegrationRuntimeResourceTests/IntegraionRuntime_Create_Exists_Get_List_Delete.json",
    "azure-sdk-assets-net-datafactory/LinkedServiceResourceTests/LinkedService_AmazonRdsForSqlServer.json",
    "azure-powershell-DataFactoryV2/DataFlowTests/TestDataFlow.json",
    "azure-powershell-DataFactoryV2/RunTests/TestCancelRunNegativeV2.json",
    "azure-powershell-DataFactoryV2/TriggerTests/TestBlobEventTriggerSubscriptions.json",
)

# (recording, method, last path segment) -> why the request is not replayed
SKIPPED: dict[tuple[str, str, str], str] = {
    ("TestBlobEventTriggerSubscriptions", "POST", "subscribeToEvents"): (
        "a legacy `BlobTrigger` answered as subscribed; the emulator models event subscriptions of "
        "BlobEventsTrigger and CustomEventsTrigger only (400 for other types)"
    ),
    ("TestBlobEventTriggerSubscriptions", "POST", "getEventSubscriptionStatus"): "as subscribeToEvents",
    ("TestBlobEventTriggerSubscriptions", "POST", "unsubscribeFromEvents"): "as subscribeToEvents",
}
# key anywhere in a recorded body -> why the emulator's answer may lack it
IGNORED = {
    "encryptedCredential": "its value is ADF's; whether there is one is compared by `assert_secrets_as_recorded`",
}
# What the .NET recorder wrote in place of a secret, in requests and answers alike: what ADF was sent is unknown.
SANITIZED = "Sanitized"


@dataclass
class Exchange:
    method: str
    path: str  # with the query string
    body: Any
    status: int
    answer: Any
    date: float


def _json(value: Any) -> Any:
    if isinstance(value, str):
        return json.loads(value) if value.strip() else None
    return value


def exchanges(path: Path) -> list[Exchange]:
    """The Data Factory requests of a recording, in the order they were made."""
    entries = json.loads(path.read_text())["Entries"]
    found = []
    for entry in entries:
        headers = entry["ResponseHeaders"]
        date = headers.get("Date")
        date = date[0] if isinstance(date, list) else date
        split = urlsplit(entry["RequestUri"])
        if "/providers/Microsoft.DataFactory/" not in split.path:
            continue  # subscription and resource group calls of the test frameworks
        found.append(
            Exchange(
                method=entry["RequestMethod"],
                path=f"{split.path}?{split.query}",
                body=_json(entry.get("RequestBody")),
                status=int(entry["StatusCode"]),
                answer=_json(entry.get("ResponseBody")),
                date=email.utils.parsedate_to_datetime(date).timestamp() if date else 0.0,
            )
        )
    # The PowerShell recorder stores entries grouped by URI; the Date header gives the order. Within one second,
    # what finds an object gone (GET 404, DELETE 204) comes after what removed it.
    return sorted(found, key=lambda e: (e.date, e.status in (404, 204)))


def assert_like(actual: Any, recorded: Any, where: str) -> None:
    if recorded is None:
        return
    if isinstance(recorded, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        for key, value in recorded.items():
            if key not in actual:
                assert value is None or key in IGNORED, f"{where}.{key}: missing from the emulator's answer"
                continue
            assert_like(actual[key], value, f"{where}.{key}")
        if isinstance(recorded.get("id"), str) and "type" in recorded:
            assert actual["id"].lower() == recorded["id"].lower(), f"{where}.id"
            assert (actual.get("name"), actual["type"]) == (recorded.get("name"), recorded["type"]), where
        return
    if isinstance(recorded, list):
        assert isinstance(actual, list) and len(actual) == len(recorded), f"{where}: {actual!r}"
        for n, (a, r) in enumerate(zip(actual, recorded, strict=True)):
            assert_like(a, r, f"{where}[{n}]")
        return
    assert type(actual) is type(recorded) or {type(actual), type(recorded)} <= {int, float}, (
        f"{where}: {actual!r} is not like {recorded!r}"
    )


@pytest.mark.parametrize("recording", RECORDINGS, ids=lambda r: Path(r).stem)
def test_recorded_traffic_is_answered_as_azure_did(recording: str, emulator: Any, adf_client: Any) -> None:
    emulator.settings(subscription_seconds=0)  # the recorded subscription answered Enabled at once
    name = Path(recording).stem
    for n, exchange in enumerate(exchanges(reference_path("recordings", recording))):
        last = urlsplit(exchange.path).path.rsplit("/", 1)[-1]
        if (name, exchange.method, last) in SKIPPED:
            continue
        where = f"{name} #{n} {exchange.method} {urlsplit(exchange.path).path.split('/factories/')[-1]}"
        request = (
            HttpRequest(exchange.method, exchange.path, json=exchange.body)
            if exchange.body is not None
            else HttpRequest(exchange.method, exchange.path)
        )
        response = adf_client.send_request(request)
        assert response.status_code == exchange.status, f"{where}: {response.status_code} {response.text()}"
        answer = _json(response.text())
        if exchange.status >= 400:
            expected = exchange.answer["error"]
            got = answer["error"]
            assert (got["code"], got["message"]) == (expected["code"], expected["message"]), where
            if expected.get("target") is not None:
                assert str(got.get("target")).lower() == expected["target"].lower(), where
            continue
        assert_like(answer, exchange.answer, where)
        if "/linkedservices/" in exchange.path.lower() and isinstance(exchange.answer, dict):
            assert_secrets_as_recorded(answer, exchange, where)


def assert_secrets_as_recorded(answer: Any, exchange: Exchange, where: str) -> None:
    """A linked service's `typeProperties` exactly as recorded, key order included (the key taken out of a plain
    connection string, a SecureString masked with `type` first), but for `encryptedCredential`: its value is
    ADF's, and whether there is one is compared unless the request's secret was replaced by the recorder."""
    recorded = exchange.answer["properties"]["typeProperties"]
    got = answer["properties"]["typeProperties"]
    assert json.dumps(_without_credential(got)) == json.dumps(_without_credential(recorded)), where
    sent = json.dumps((exchange.body or {}).get("properties", {}).get("typeProperties"))
    if json.dumps(SANITIZED) not in sent:
        assert ("encryptedCredential" in got) == ("encryptedCredential" in recorded), f"{where}: encryptedCredential"


def _without_credential(type_properties: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in type_properties.items() if k != "encryptedCredential"}


def test_every_recording_of_data_factory_traffic_is_replayed() -> None:
    folder = reference_path("recordings")
    recorded = {
        str(p.relative_to(folder))
        for p in folder.rglob("*.json")
        if "/providers/Microsoft.DataFactory/" in p.read_text()
    }
    assert recorded == set(RECORDINGS)


def test_the_shared_evaluator_computes_what_arm_computed() -> None:
    """A recorded deployment of Microsoft's storage quickstart, whose `storageAccountName` defaults to
    `format('store{0}', uniqueString(resourceGroup().id))`: ARM answered the value it computed."""
    path = reference_path(
        "recordings", "azure-sdk-assets-net-resources", "DeploymentOperationCollectionTests", "List().json"
    )
    put = next(
        e
        for e in json.loads(path.read_text())["Entries"]
        if e["RequestMethod"] == "PUT" and "deployments/" in e["RequestUri"]
    )
    segments = urlsplit(put["RequestUri"]).path.split("/")
    subscription, resource_group = segments[2], segments[4]
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {
            "storageAccountName": {
                "type": "string",
                "defaultValue": "[format('store{0}', uniqueString(resourceGroup().id))]",
            }
        },
        "resources": [],
    }
    context = DeploymentContext(subscription_id=subscription, resource_group=resource_group)
    evaluated = evaluate_template(template, {}, file="quickstart", context=context)
    assert (
        evaluated.parameter_values["storageAccountName"]
        == put["ResponseBody"]["properties"]["parameters"]["storageAccountName"]["value"]
    )
