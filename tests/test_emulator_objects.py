"""Factories and their child objects through the real DataFactoryManagementClient: CRUD, paging, etags, and
ADF's rules on references, integration runtimes, private endpoints and secure strings."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)

from tests.emulator_fixtures import FACTORY

RG = "rg-promote-test"


def _error(exc: HttpResponseError) -> tuple[int, str, str, str | None]:
    return exc.status_code, exc.error.code, exc.error.message, exc.error.target


# --- factories ---------------------------------------------------------------------------------------------


def test_factory_lifecycle(emulator: Any, adf_client: Any) -> None:
    created = adf_client.factories.create_or_update(
        RG,
        FACTORY,
        {
            "location": "westeurope",
            "tags": {"team": "data"},
            "properties": {"repoConfiguration": {"type": "FactoryGitHubConfiguration", "repositoryName": "r"}},
        },
    )
    assert created.name == FACTORY
    assert created.id == emulator.factory_path(FACTORY)
    assert created.provisioning_state == "Succeeded" and created.version == "2018-06-01"
    assert created.repo_configuration is not None

    # PATCH carries tags only: the git configuration stays.
    updated = adf_client.factories.update(RG, FACTORY, {"tags": {"promote.lastGood": "abc123"}})
    assert updated.tags == {"promote.lastGood": "abc123"}
    assert updated.repo_configuration is not None
    assert updated.e_tag != created.e_tag

    # PUT replaces the properties: the git configuration is gone (why the promoter never PUTs the factory).
    replaced = adf_client.factories.create_or_update(RG, FACTORY, {"location": "westeurope"})
    assert replaced.repo_configuration is None and replaced.tags == {}

    assert [f.name for f in adf_client.factories.list_by_resource_group(RG)] == [FACTORY]
    assert adf_client.factories.list_by_resource_group("another-rg").next is not None  # empty, not an error
    assert list(adf_client.factories.list_by_resource_group("another-rg")) == []

    adf_client.factories.delete(RG, FACTORY)
    with pytest.raises(ResourceNotFoundError) as info:
        adf_client.factories.get(RG, FACTORY)
    assert info.value.error.code == "ResourceNotFound"
    assert info.value.error.message == (
        f"The Resource 'Microsoft.DataFactory/factories/{FACTORY}' under resource group '{RG}' was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix"
    )


def test_factory_needs_location_and_a_valid_name(adf_client: Any) -> None:
    with pytest.raises(HttpResponseError) as info:
        adf_client.factories.create_or_update(RG, FACTORY, {"tags": {}})
    assert info.value.error.code == "LocationRequired"
    with pytest.raises(HttpResponseError) as info:
        adf_client.factories.create_or_update(RG, "bad_name!", {"location": "westeurope"})
    assert info.value.error.code == "InvalidResourceName"


def test_deleting_a_factory_deletes_its_objects(adf_client: Any, emulator_factory: str) -> None:
    adf_client.pipelines.create_or_update(RG, emulator_factory, "p", {"properties": {"activities": []}})
    adf_client.factories.delete(RG, emulator_factory)
    adf_client.factories.create_or_update(RG, emulator_factory, {"location": "westeurope"})
    assert list(adf_client.pipelines.list_by_factory(RG, emulator_factory)) == []


def test_child_of_a_missing_factory(adf_client: Any) -> None:
    with pytest.raises(ResourceNotFoundError) as info:
        adf_client.pipelines.create_or_update(RG, "no-such-factory", "p", {"properties": {"activities": []}})
    assert _error(info.value) == (
        404,
        "ParentResourceNotFound",
        "Can not perform requested operation on nested resource. Parent resource 'no-such-factory' not found.",
        None,
    )


# --- every child collection ----------------------------------------------------------------------------------


@dataclass
class Collection:
    """How the SDK reaches one collection, and a valid body for it."""

    name: str
    group: str  # attribute of the client
    body: dict[str, Any]
    changed: dict[str, Any]
    network: bool = False  # private endpoints sit under a managed virtual network
    deletable: bool = True

    def args(self, factory: str, name: str | None = None) -> list[str]:
        out = [RG, factory] + (["default"] if self.network else [])
        return out + ([name] if name is not None else [])


COLLECTIONS = [
    Collection(
        "pipelines",
        "pipelines",
        {"properties": {"activities": []}},
        {"properties": {"activities": [], "description": "x"}},
    ),
    Collection(
        "datasets",
        "datasets",
        {
            "properties": {
                "type": "Json",
                "linkedServiceName": {"referenceName": "ls", "type": "LinkedServiceReference"},
            }
        },
        {
            "properties": {
                "type": "Json",
                "description": "x",
                "linkedServiceName": {"referenceName": "ls", "type": "LinkedServiceReference"},
            }
        },
    ),
    Collection(
        "linkedservices",
        "linked_services",
        {"properties": {"type": "AzureBlobStorage", "typeProperties": {}}},
        {"properties": {"type": "AzureBlobStorage", "description": "x", "typeProperties": {}}},
    ),
    Collection(
        "triggers",
        "triggers",
        {
            "properties": {
                "type": "ScheduleTrigger",
                "typeProperties": {"recurrence": {"frequency": "Hour", "interval": 1}},
            }
        },
        {
            "properties": {
                "type": "ScheduleTrigger",
                "description": "x",
                "typeProperties": {"recurrence": {"frequency": "Hour", "interval": 2}},
            }
        },
    ),
    Collection(
        "dataflows",
        "data_flows",
        {"properties": {"type": "MappingDataFlow", "typeProperties": {"script": ""}}},
        {"properties": {"type": "MappingDataFlow", "typeProperties": {"script": "x"}}},
    ),
    Collection(
        "integrationruntimes",
        "integration_runtimes",
        {"properties": {"type": "SelfHosted"}},
        {"properties": {"type": "SelfHosted", "description": "x"}},
    ),
    Collection(
        "managedvirtualnetworks",
        "managed_virtual_networks",
        {"properties": {}},
        {"properties": {"preventDataExfiltration": True}},
        deletable=False,
    ),
    Collection(
        "managedprivateendpoints",
        "managed_private_endpoints",
        {"properties": {"privateLinkResourceId": "/subscriptions/s/x", "groupId": "blob"}},
        {"properties": {"privateLinkResourceId": "/subscriptions/s/x", "groupId": "blob"}},
        network=True,
    ),
    Collection(
        "globalparameters",
        "global_parameters",
        {"properties": {"env": {"type": "String", "value": "dev"}}},
        {"properties": {"env": {"type": "String", "value": "prod"}}},
    ),
    Collection(
        "credentials",
        "credential_operations",
        {"properties": {"type": "ManagedIdentity", "typeProperties": {"resourceId": "/x"}}},
        {"properties": {"type": "ManagedIdentity", "description": "x", "typeProperties": {"resourceId": "/x"}}},
    ),
    Collection(
        "adfcdcs",
        "change_data_capture",
        {"properties": {"sourceConnectionsInfo": [], "targetConnectionsInfo": [], "policy": {"mode": "Microbatch"}}},
        {
            "properties": {
                "description": "x",
                "sourceConnectionsInfo": [],
                "targetConnectionsInfo": [],
                "policy": {"mode": "Microbatch"},
            }
        },
    ),
]


def _prepare(adf_client: Any, factory: str) -> None:
    adf_client.linked_services.create_or_update(
        RG, factory, "ls", {"properties": {"type": "AzureBlobStorage", "typeProperties": {}}}
    )
    adf_client.managed_virtual_networks.create_or_update(RG, factory, "default", {"properties": {}})


@pytest.mark.parametrize("collection", COLLECTIONS, ids=lambda c: c.name)
def test_collection_crud_and_paging(
    emulator: Any, adf_client: Any, emulator_factory: str, collection: Collection
) -> None:
    _prepare(adf_client, emulator_factory)
    group = getattr(adf_client, collection.group)
    names = ["default"] if collection.group == "global_parameters" else [f"obj{i}" for i in range(7)]
    etags = {}
    for name in names:
        created = group.create_or_update(*collection.args(emulator_factory, name), collection.body)
        assert created.name == name and created.etag
        etags[name] = created.etag
    updated = group.create_or_update(*collection.args(emulator_factory, names[0]), collection.changed)
    assert updated.etag != etags[names[0]]  # every write a new etag
    got = group.get(*collection.args(emulator_factory, names[0]))
    assert got.id.endswith(f"/{names[0]}") and got.etag == updated.etag

    emulator.admin("DELETE", "/requests")
    listed = sorted(o.name for o in group.list_by_factory(*collection.args(emulator_factory)))
    prepared = {"linked_services": {"ls"}, "managed_virtual_networks": {"default"}}.get(collection.group, set())
    expected = sorted(set(names) | prepared)
    assert listed == expected
    pages = emulator.requests(method="GET")
    assert len(pages) == -(-len(expected) // 3)  # page size 3 in the tests: every nextLink followed
    assert all("$skiptoken=" in r["query"] for r in pages[1:])

    if collection.deletable:
        group.delete(*collection.args(emulator_factory, names[0]))
        with pytest.raises(ResourceNotFoundError):
            group.get(*collection.args(emulator_factory, names[0]))
        group.delete(*collection.args(emulator_factory, names[0]))  # gone already: 204, no error


def test_delete_answers_200_then_204(emulator: Any, adf_client: Any, emulator_factory: str) -> None:
    adf_client.pipelines.create_or_update(RG, emulator_factory, "p", {"properties": {"activities": []}})
    adf_client.pipelines.delete(RG, emulator_factory, "p")
    adf_client.pipelines.delete(RG, emulator_factory, "p")
    statuses = [r["status"] for r in emulator.requests(method="DELETE")]
    assert statuses == [200, 204]


def test_raw_json_is_what_azure_returns(emulator: Any, adf_client: Any, emulator_factory: str) -> None:
    """The promoter reads raw JSON: check the envelope exactly (id casing as Azure writes it, etag, properties)."""
    from azure.core.rest import HttpRequest

    adf_client.integration_runtimes.create_or_update(
        RG, emulator_factory, "ir-1", {"properties": {"type": "SelfHosted"}}
    )
    url = f"{emulator.factory_path(emulator_factory)}/integrationRuntimes/ir-1?api-version=2018-06-01"
    body = adf_client.send_request(HttpRequest("GET", url)).json()
    assert set(body) == {"id", "name", "type", "properties", "etag"}
    assert body["type"] == "Microsoft.DataFactory/factories/integrationruntimes"
    assert body["id"].endswith(f"/factories/{emulator_factory}/integrationruntimes/ir-1")
    assert body["properties"] == {"type": "SelfHosted"}


# --- etags ---------------------------------------------------------------------------------------------------


def test_etags(adf_client: Any, emulator_factory: str) -> None:
    body = {"properties": {"activities": []}}
    first = adf_client.pipelines.create_or_update(
        RG, emulator_factory, "p", body, match_condition=MatchConditions.IfMissing
    )
    with pytest.raises(ResourceExistsError) as info:  # If-None-Match: * on an existing object
        adf_client.pipelines.create_or_update(
            RG, emulator_factory, "p", body, match_condition=MatchConditions.IfMissing
        )
    assert info.value.status_code == 412 and info.value.error.code == "PreconditionFailed"
    second = adf_client.pipelines.create_or_update(
        RG, emulator_factory, "p", body, etag=first.etag, match_condition=MatchConditions.IfNotModified
    )
    assert second.etag != first.etag
    with pytest.raises(ResourceModifiedError) as info:  # If-Match with a stale etag
        adf_client.pipelines.create_or_update(
            RG, emulator_factory, "p", body, etag=first.etag, match_condition=MatchConditions.IfNotModified
        )
    assert info.value.status_code == 412
    # GET with If-None-Match: the current etag -> 304, which the SDK returns as None.
    assert (
        adf_client.pipelines.get(
            RG, emulator_factory, "p", etag=second.etag, match_condition=MatchConditions.IfModified
        )
        is None
    )
    assert (
        adf_client.pipelines.get(
            RG, emulator_factory, "p", etag=first.etag, match_condition=MatchConditions.IfModified
        ).etag
        == second.etag
    )


def _precondition_failed(error: HttpResponseError) -> None:
    assert error.status_code == 412
    assert (error.error.code, error.error.message) == (
        "PreconditionFailed",
        "The condition specified using HTTP conditional header(s) 'If-Match' is not met.",
    )


def test_the_factory_has_an_etag_that_every_write_of_it_changes(
    emulator: Any, adf_client: Any, emulator_factory: str
) -> None:
    first = adf_client.factories.get(RG, emulator_factory).e_tag
    assert first and first.startswith('"') and first.endswith('"')  # the factory's eTag is quoted (recordings)
    tagged = adf_client.factories.update(RG, emulator_factory, {"tags": {"owner": "a"}}).e_tag
    adf_client.pipelines.create_or_update(RG, emulator_factory, "p", {"properties": {"activities": []}})
    assert adf_client.factories.get(RG, emulator_factory).e_tag == tagged != first  # a child's write: no change
    replaced = adf_client.factories.create_or_update(RG, emulator_factory, {"location": "westeurope"}).e_tag
    assert replaced not in (first, tagged)


def test_a_tags_update_with_if_match_is_a_compare_and_set(
    emulator: Any, adf_client: Any, emulator_factory: str
) -> None:
    """Two writers read the same etag and both update the tags with If-Match (a lease on the factory): the first
    wins, the second gets 412 with the tags the first wrote left alone."""
    seen = adf_client.factories.get(RG, emulator_factory).e_tag
    won = adf_client.factories.update(RG, emulator_factory, {"tags": {"lease": "runner-1"}}, headers={"If-Match": seen})
    assert won.tags == {"lease": "runner-1"} and won.e_tag != seen
    with pytest.raises(HttpResponseError) as info:
        adf_client.factories.update(RG, emulator_factory, {"tags": {"lease": "runner-2"}}, headers={"If-Match": seen})
    _precondition_failed(info.value)
    assert adf_client.factories.get(RG, emulator_factory).tags == {"lease": "runner-1"}
    # the current etag, with or without its quotes, and `*` (any existing factory) match
    for quoted in (True, False):
        current = adf_client.factories.get(RG, emulator_factory).e_tag
        condition = current if quoted else current.strip('"')
        adf_client.factories.update(RG, emulator_factory, {"tags": {"lease": "next"}}, headers={"If-Match": condition})
    adf_client.factories.update(RG, emulator_factory, {"tags": {"lease": "any"}}, headers={"If-Match": "*"})
    with pytest.raises(HttpResponseError) as info:
        adf_client.factories.update(RG, "adf-nowhere", {"tags": {}}, headers={"If-Match": "*"})
    assert info.value.status_code == 404


def test_a_factory_put_with_if_match(emulator: Any, adf_client: Any, emulator_factory: str) -> None:
    seen = adf_client.factories.get(RG, emulator_factory).e_tag
    body = {"location": "westeurope", "tags": {"v": "1"}}
    done = adf_client.factories.create_or_update(
        RG, emulator_factory, body, etag=seen, match_condition=MatchConditions.IfNotModified
    )
    with pytest.raises(ResourceModifiedError) as info:
        adf_client.factories.create_or_update(
            RG, emulator_factory, body, etag=seen, match_condition=MatchConditions.IfNotModified
        )
    _precondition_failed(info.value)
    assert adf_client.factories.get(RG, emulator_factory).e_tag == done.e_tag
    with pytest.raises(ResourceModifiedError) as info:  # If-Match on a factory that does not exist
        adf_client.factories.create_or_update(
            RG, "adf-new", body, etag=seen, match_condition=MatchConditions.IfNotModified
        )
    assert info.value.status_code == 412


# --- references ----------------------------------------------------------------------------------------------


def test_put_with_a_missing_reference(emulator: Any, adf_client: Any, emulator_factory: str) -> None:
    pipeline = {
        "properties": {
            "activities": [
                {
                    "name": "outer",
                    "type": "IfCondition",
                    "typeProperties": {
                        "ifTrueActivities": [
                            {
                                "name": "call",
                                "type": "ExecutePipeline",
                                "typeProperties": {
                                    "pipeline": {"referenceName": "Child_Pipeline", "type": "PipelineReference"}
                                },
                            }
                        ]
                    },
                }
            ]
        }
    }
    with pytest.raises(HttpResponseError) as info:
        adf_client.pipelines.create_or_update(RG, emulator_factory, "parent", pipeline)
    assert _error(info.value) == (
        400,
        "BadRequest",
        "The document creation or update failed because of invalid reference 'child_pipeline'.",
        f"{emulator.factory_path(emulator_factory)}/pipelines/parent",
    )
    adf_client.pipelines.create_or_update(RG, emulator_factory, "child_pipeline", {"properties": {"activities": []}})
    adf_client.pipelines.create_or_update(RG, emulator_factory, "parent", pipeline)  # case-insensitive, as ADF


def test_delete_of_a_referenced_object(adf_client: Any, emulator_factory: str) -> None:
    adf_client.linked_services.create_or_update(
        RG, emulator_factory, "Store", {"properties": {"type": "AzureBlobStorage", "typeProperties": {}}}
    )
    adf_client.datasets.create_or_update(
        RG,
        emulator_factory,
        "events",
        {
            "properties": {
                "type": "Json",
                "linkedServiceName": {"referenceName": "STORE", "type": "LinkedServiceReference"},
            }
        },
    )
    with pytest.raises(HttpResponseError) as info:
        adf_client.linked_services.delete(RG, emulator_factory, "store")
    assert _error(info.value) == (
        400,
        "BadRequest",
        "The document cannot be deleted since it is referenced by events.",
        f"/Microsoft.DataFactory/factories/{emulator_factory}/linkedservices/Store",
    )
    adf_client.datasets.delete(RG, emulator_factory, "events")
    adf_client.linked_services.delete(RG, emulator_factory, "store")


def test_reference_to_the_built_in_runtime_and_updated_references(adf_client: Any, emulator_factory: str) -> None:
    auto = {"referenceName": "AutoResolveIntegrationRuntime", "type": "IntegrationRuntimeReference"}
    adf_client.linked_services.create_or_update(
        RG,
        emulator_factory,
        "ls",
        {"properties": {"type": "AzureBlobStorage", "typeProperties": {}, "connectVia": auto}},
    )
    adf_client.linked_services.create_or_update(
        RG, emulator_factory, "other", {"properties": {"type": "AzureBlobStorage", "typeProperties": {}}}
    )
    ref = {"type": "Json", "linkedServiceName": {"referenceName": "ls", "type": "LinkedServiceReference"}}
    adf_client.datasets.create_or_update(RG, emulator_factory, "ds", {"properties": ref})
    # Repoint the dataset: the old linked service is free to go, the new one is now held.
    ref["linkedServiceName"] = {"referenceName": "other", "type": "LinkedServiceReference"}
    adf_client.datasets.create_or_update(RG, emulator_factory, "ds", {"properties": ref})
    adf_client.linked_services.delete(RG, emulator_factory, "ls")
    with pytest.raises(HttpResponseError):
        adf_client.linked_services.delete(RG, emulator_factory, "other")


def test_integration_runtime_type_change(adf_client: Any, emulator_factory: str) -> None:
    adf_client.integration_runtimes.create_or_update(
        RG, emulator_factory, "ir-1", {"properties": {"type": "SelfHosted"}}
    )
    with pytest.raises(HttpResponseError) as info:
        adf_client.integration_runtimes.create_or_update(
            RG, emulator_factory, "ir-1", {"properties": {"type": "Managed", "typeProperties": {}}}
        )
    assert _error(info.value)[:3] == (
        400,
        "DataFactoryPropertyUpdateNotSupported",
        "Updating property type is not supported.",
    )
    updated = adf_client.integration_runtimes.update(RG, emulator_factory, "ir-1", {"autoUpdate": "Off"})
    assert updated.properties.type == "SelfHosted"


def test_managed_private_endpoint_rules(adf_client: Any, emulator_factory: str) -> None:
    adf_client.managed_virtual_networks.create_or_update(RG, emulator_factory, "default", {"properties": {}})
    body = {"properties": {"privateLinkResourceId": "/subscriptions/s/storage", "groupId": "blob"}}
    created = adf_client.managed_private_endpoints.create_or_update(RG, emulator_factory, "default", "mpe", body)
    assert created.properties.provisioning_state == "Succeeded"
    assert created.properties.connection_state.status == "Pending"
    adf_client.managed_private_endpoints.create_or_update(RG, emulator_factory, "default", "mpe", body)  # same: fine
    with pytest.raises(HttpResponseError) as info:
        adf_client.managed_private_endpoints.create_or_update(
            RG,
            emulator_factory,
            "default",
            "mpe",
            {"properties": {"privateLinkResourceId": "/subscriptions/s/storage", "groupId": "dfs"}},
        )
    assert _error(info.value)[:3] == (
        400,
        "InvalidResourceRequest",
        "Invalid resource request. Resource type: 'ManagedPrivateEndpoint', Resource name: 'mpe' "
        "'Error: A managed private endpoint to the data source already exist.'.",
    )
    with pytest.raises(ResourceNotFoundError) as info:
        adf_client.managed_private_endpoints.create_or_update(RG, emulator_factory, "nonet", "mpe", body)
    assert info.value.error.code == "ParentResourceNotFound"


def test_secure_strings_are_never_returned(adf_client: Any, emulator_factory: str) -> None:
    body = {
        "properties": {
            "type": "AzureBlobStorage",
            "typeProperties": {"connectionString": {"type": "SecureString", "value": "AccountKey=s3cret"}},
        }
    }
    created = adf_client.linked_services.create_or_update(RG, emulator_factory, "ls", body)
    assert "s3cret" not in str(created.as_dict())
    assert created.as_dict()["properties"]["typeProperties"]["connectionString"] == {
        "type": "SecureString",
        "value": "**********",
    }


KEY = "c3RvcmFnZS1rZXk="  # what ADF takes out of a plain connection string and keeps encrypted


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        # as recorded (reference/recordings, TestDataFlow: `AccountKey=myfakekey;` last, with its `;`)
        (
            f"DefaultEndpointsProtocol=https;AccountName=a;AccountKey={KEY};",
            "DefaultEndpointsProtocol=https;AccountName=a;",
        ),
        # chosen where nothing is recorded: the part goes with the `;` that ends it, wherever it sits
        (
            f"DefaultEndpointsProtocol=https;AccountName=a;AccountKey={KEY};EndpointSuffix=core.windows.net",
            "DefaultEndpointsProtocol=https;AccountName=a;EndpointSuffix=core.windows.net",
        ),
        (
            f"DefaultEndpointsProtocol=https;AccountName=a;AccountKey={KEY}",
            "DefaultEndpointsProtocol=https;AccountName=a;",
        ),
        (f"accountkey={KEY};AccountName=a", "AccountName=a"),
    ],
    ids=["recorded", "middle", "last", "first-lower-case"],
)
def test_an_account_key_in_a_plain_connection_string_is_taken_out_and_not_kept(
    emulator: Any, adf_client: Any, emulator_factory: str, sent: str, kept: str
) -> None:
    body = {"properties": {"type": "AzureBlobStorage", "typeProperties": {"connectionString": sent}}}
    created = adf_client.linked_services.create_or_update(RG, emulator_factory, "ls", body).as_dict()
    read = adf_client.linked_services.get(RG, emulator_factory, "ls").as_dict()
    for answer in (created, read):
        tp = answer["properties"]["typeProperties"]
        assert list(tp) == ["connectionString", "encryptedCredential"]  # appended last, as recorded
        assert tp["connectionString"] == kept
        assert KEY not in json.dumps(answer)
    assert (
        created["properties"]["typeProperties"]["encryptedCredential"]
        == read["properties"]["typeProperties"]["encryptedCredential"]
    )
    with sqlite3.connect(emulator.server.state_dir / "state.db") as db:  # not kept, as a SecureString's value
        assert not [body for (body,) in db.execute("SELECT body FROM objects") if KEY in body]


def test_only_a_linked_service_holding_a_secret_gets_an_encrypted_credential(
    adf_client: Any, emulator_factory: str
) -> None:
    secure = {"connectionString": {"value": f"AccountKey={KEY}", "type": "SecureString"}}
    vault = {"baseUrl": "https://kv.vault.azure.net/"}
    plain = {"url": "https://a.blob.core.windows.net/", "encryptedCredential": "sent-as-is"}
    for name, kind, tp in (
        ("secure", "AzureBlobStorage", secure),
        ("kv", "AzureKeyVault", vault),
        ("plain", "AzureBlobStorage", plain),
    ):
        adf_client.linked_services.create_or_update(
            RG, emulator_factory, name, {"properties": {"type": kind, "typeProperties": tp}}
        )
    got = {
        ls.name: ls.as_dict()["properties"]["typeProperties"]
        for ls in adf_client.linked_services.list_by_factory(RG, emulator_factory)
    }
    assert list(got["secure"]["connectionString"].items()) == [("type", "SecureString"), ("value", "**********")]
    assert set(got["secure"]) == {"connectionString", "encryptedCredential"}
    assert got["kv"] == vault  # a Key Vault linked service holds no secret: none, as recorded
    assert got["plain"] == plain  # nothing taken out: kept as sent


def test_a_deployment_keeps_a_linked_service_as_a_direct_put_does(
    adf_client: Any, deployments_client: Any, emulator_factory: str
) -> None:
    connection = f"DefaultEndpointsProtocol=https;AccountName=a;AccountKey={KEY};EndpointSuffix=core.windows.net"
    typed = {"type": "AzureBlobStorage", "typeProperties": {"connectionString": "[parameters('connection')]"}}
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {"connection": {"type": "string"}},
        "resources": [
            {
                "name": f"{emulator_factory}/deployed",
                "type": "Microsoft.DataFactory/factories/linkedServices",
                "apiVersion": "2018-06-01",
                "properties": typed,
            }
        ],
    }
    deployment = {
        "properties": {"mode": "Incremental", "template": template, "parameters": {"connection": {"value": connection}}}
    }
    deployments_client.deployments.begin_create_or_update(RG, "d", deployment).result()
    direct = {"type": "AzureBlobStorage", "typeProperties": {"connectionString": connection}}
    adf_client.linked_services.create_or_update(RG, emulator_factory, "direct", {"properties": direct})
    got = {
        ls.name: ls.as_dict()["properties"] for ls in adf_client.linked_services.list_by_factory(RG, emulator_factory)
    }
    for props in got.values():
        assert props["typeProperties"].pop("encryptedCredential")
    assert (
        got["deployed"]
        == got["direct"]
        == {
            "type": "AzureBlobStorage",
            "typeProperties": {
                "connectionString": "DefaultEndpointsProtocol=https;AccountName=a;EndpointSuffix=core.windows.net"
            },
        }
    )
    # what-if of the same deployment: nothing to change (the credential is ADF's, not a difference)
    result = deployments_client.deployments.begin_what_if(RG, "w", deployment).result()
    assert [c.change_type for c in result.changes if c.resource_id.endswith("/deployed")] == ["NoChange"]


def test_invalid_json_and_missing_properties(emulator: Any, adf_client: Any, emulator_factory: str) -> None:
    from azure.core.rest import HttpRequest

    url = f"{emulator.factory_path(emulator_factory)}/pipelines/p?api-version=2018-06-01"
    response = adf_client.send_request(
        HttpRequest("PUT", url, content=b"{not json", headers={"Content-Type": "application/json"})
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "InvalidRequestContent"
    response = adf_client.send_request(HttpRequest("PUT", url, json={"name": "p"}))
    assert response.status_code == 400 and response.json()["error"]["code"] == "BadRequest"


OBJECT_CALLS: list[tuple[str, Callable[[Any, str], Any]]] = [
    ("pipelines", lambda c, f: c.pipelines.get(RG, f, "missing")),
    ("datasets", lambda c, f: c.datasets.get(RG, f, "missing")),
]


@pytest.mark.parametrize("call", [c for _, c in OBJECT_CALLS], ids=[n for n, _ in OBJECT_CALLS])
def test_missing_object_is_404(adf_client: Any, emulator_factory: str, call: Callable[[Any, str], Any]) -> None:
    with pytest.raises(ResourceNotFoundError) as info:
        call(adf_client, emulator_factory)
    assert info.value.error.code == "NotFound"
