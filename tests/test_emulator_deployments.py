"""Resource group deployments through the real DeploymentsMgmtClient: the long-running create, dependsOn order,
ADF's rules inside a deployment, DeploymentFailed with details, ARM's validation errors and limits, Key Vault
references, validate, what-if, history and operations."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

RG = "rg-promote-test"
FACTORY = "adf-deployed"
FAILED = (
    "At least one resource deployment operation failed. Please list deployment operations for details. "
    "Please see https://aka.ms/arm-deployment-operations for usage details."
)


def _resource(kind: str, name: str, properties: dict[str, Any], *depends: str) -> dict[str, Any]:
    return {
        "name": f"[concat(parameters('factoryName'), '/{name}')]",
        "type": f"Microsoft.DataFactory/factories/{kind}",
        "apiVersion": "2018-06-01",
        "properties": properties,
        "dependsOn": [f"[concat(variables('factoryId'), '/{d}')]" for d in depends],
    }


def _template(*resources: dict[str, Any], with_factory: bool = True) -> dict[str, Any]:
    factory = {
        "name": "[parameters('factoryName')]",
        "type": "Microsoft.DataFactory/factories",
        "apiVersion": "2018-06-01",
        "location": "[parameters('location')]",
        "properties": {},
    }
    return {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {
            "factoryName": {"type": "string"},
            "location": {"type": "string", "defaultValue": "[resourceGroup().location]"},
            "storageConnection": {"type": "secureString", "defaultValue": ""},
        },
        "variables": {"factoryId": "[concat('Microsoft.DataFactory/factories/', parameters('factoryName'))]"},
        "resources": ([factory] if with_factory else []) + list(resources),
    }


LINKED = _resource(
    "linkedServices",
    "storage",
    {"type": "AzureBlobStorage", "typeProperties": {"connectionString": "[parameters('storageConnection')]"}},
)
DATASET = _resource(
    "datasets",
    "events",
    {"type": "Json", "linkedServiceName": {"referenceName": "storage", "type": "LinkedServiceReference"}},
    "linkedServices/storage",
)
PIPELINE = _resource(
    "pipelines",
    "ingest",
    {
        "activities": [
            {"name": "copy", "type": "Copy", "inputs": [{"referenceName": "events", "type": "DatasetReference"}]}
        ]
    },
    "datasets/events",
)


def _deployment(template: dict[str, Any], **parameters: Any) -> dict[str, Any]:
    values = {
        "factoryName": {"value": FACTORY},
        **{
            k: v if isinstance(v, dict) and ("value" in v or "reference" in v) else {"value": v}
            for k, v in parameters.items()
        },
    }
    return {"properties": {"mode": "Incremental", "template": template, "parameters": values}}


def test_deployment_writes_in_depends_on_order(emulator: Any, adf_client: Any, deployments_client: Any) -> None:
    # Children written in reverse: only dependsOn makes the order work (each reference must exist when written).
    template = _template(PIPELINE, DATASET, LINKED)
    result = deployments_client.deployments.begin_create_or_update(RG, "deploy-1", _deployment(template)).result()
    assert result.properties.provisioning_state == "Succeeded"
    assert result.name == "deploy-1" and result.type == "Microsoft.Resources/deployments"
    assert {o.id.rsplit("/", 1)[-1] for o in result.properties.output_resources} == {
        FACTORY,
        "storage",
        "events",
        "ingest",
    }

    assert adf_client.factories.get(RG, FACTORY).location == "westeurope"  # resourceGroup().location
    assert adf_client.pipelines.get(RG, FACTORY, "ingest").properties.activities[0].name == "copy"

    first = next(r for r in emulator.requests(method="PUT") if "deployments" in r["path"])
    assert first["status"] == 201  # Accepted, with Azure-AsyncOperation: polled by the SDK
    polls = [r for r in emulator.requests(method="GET") if "/operationStatuses/" in r["path"]]
    assert polls and all(r["status"] == 200 for r in polls)

    operations = list(deployments_client.deployment_operations.list(RG, "deploy-1"))
    targets = [o.properties.target_resource.resource_name for o in operations]
    assert targets == [FACTORY, f"{FACTORY}/storage", f"{FACTORY}/events", f"{FACTORY}/ingest"]
    assert all(o.properties.provisioning_state == "Succeeded" for o in operations)


def _broken(name: str, *depends: str) -> dict[str, Any]:
    """A pipeline whose activity reads a dataset that exists nowhere: ADF refuses it when it is written."""
    activity = {
        "name": "x",
        "type": "Copy",
        "inputs": [{"referenceName": f"Nowhere_{name}", "type": "DatasetReference"}],
    }
    return _resource("pipelines", name, {"activities": [activity]}, *depends)


def test_failing_deployment_keeps_what_it_wrote(emulator: Any, adf_client: Any, deployments_client: Any) -> None:
    template = _template(LINKED, _broken("broken", "linkedServices/storage"), DATASET)
    poller = deployments_client.deployments.begin_create_or_update(RG, "deploy-bad", _deployment(template))
    with pytest.raises(HttpResponseError) as info:
        poller.result()
    error = info.value.error
    assert (error.code, error.message) == ("DeploymentFailed", FAILED)
    assert error.target.endswith("/providers/Microsoft.Resources/deployments/deploy-bad")
    [detail] = error.details
    assert detail.code == "BadRequest"
    assert detail.message == "The document creation or update failed because of invalid reference 'nowhere_broken'."
    assert detail.target.endswith(f"/factories/{FACTORY}/pipelines/broken")

    # ARM is not transactional and a failure stops only what depends on it: the factory, the linked service and
    # the dataset (which does not depend on the broken pipeline) are written.
    assert adf_client.linked_services.get(RG, FACTORY, "storage").name == "storage"
    assert adf_client.datasets.get(RG, FACTORY, "events").name == "events"

    deployment = deployments_client.deployments.get(RG, "deploy-bad")
    assert deployment.properties.provisioning_state == "Failed"
    assert deployment.properties.error.code == "DeploymentFailed"
    operations = list(deployments_client.deployment_operations.list(RG, "deploy-bad"))
    states = {o.properties.target_resource.resource_name: o.properties.provisioning_state for o in operations}
    assert states == {
        FACTORY: "Succeeded",
        f"{FACTORY}/storage": "Succeeded",
        f"{FACTORY}/broken": "Failed",
        f"{FACTORY}/events": "Succeeded",
    }
    failed = next(o.properties for o in operations if o.properties.provisioning_state == "Failed")
    assert failed.status_code == "BadRequest"
    assert failed.status_message["error"]["message"].startswith("The document creation or update failed")


def test_every_failure_is_reported_and_what_depends_on_one_is_not_attempted(
    emulator: Any, adf_client: Any, deployments_client: Any
) -> None:
    """Two independent failures in one deployment; a chain below the first failure; resources that depend on
    nothing that failed. ARM runs in dependency waves: it writes everything it can and reports every failure."""
    caller = _resource(
        "pipelines",
        "caller",
        {
            "activities": [
                {
                    "name": "run",
                    "type": "ExecutePipeline",
                    "typeProperties": {"pipeline": {"referenceName": "first_bad", "type": "PipelineReference"}},
                }
            ]
        },
        "pipelines/first_bad",
    )
    grand = _resource("pipelines", "grandcaller", {"activities": []}, "pipelines/caller")
    template = _template(
        _broken("first_bad"),
        caller,
        grand,
        _broken("second_bad", "linkedServices/storage"),
        LINKED,
        DATASET,
        PIPELINE,
    )
    with pytest.raises(HttpResponseError) as info:
        deployments_client.deployments.begin_create_or_update(RG, "many", _deployment(template)).result()
    details = info.value.error.details
    assert sorted(d.target.rsplit("/", 1)[-1] for d in details) == ["first_bad", "second_bad"]
    assert {d.code for d in details} == {"BadRequest"}

    written = {p.name for p in adf_client.pipelines.list_by_factory(RG, FACTORY)}
    assert written == {"ingest"}  # the independent chain storage -> events -> ingest went through
    operations = list(deployments_client.deployment_operations.list(RG, "many"))
    attempted = [o.properties.target_resource.resource_name.split("/")[-1] for o in operations]
    # Wave by wave, template order within a wave; the callers of a failed pipeline were never attempted.
    assert attempted == [FACTORY, "first_bad", "storage", "second_bad", "events", "ingest"]
    assert "caller" not in attempted and "grandcaller" not in attempted


def test_started_trigger_fails_inside_a_deployment(adf_client: Any, deployments_client: Any) -> None:
    pipeline = _resource("pipelines", "p", {"activities": []})
    trigger = _resource(
        "triggers",
        "hourly",
        {
            "type": "ScheduleTrigger",
            "runtimeState": "Started",
            "typeProperties": {"recurrence": {"frequency": "Hour", "interval": 1}},
            "pipelines": [{"pipelineReference": {"referenceName": "p", "type": "PipelineReference"}}],
        },
        "pipelines/p",
    )
    template = _template(pipeline, trigger)
    deployments_client.deployments.begin_create_or_update(RG, "d1", _deployment(template)).result()
    assert adf_client.triggers.get(RG, FACTORY, "hourly").properties.runtime_state == "Stopped"  # ARM ignores it
    adf_client.triggers.begin_start(RG, FACTORY, "hourly").result()
    with pytest.raises(HttpResponseError) as info:
        deployments_client.deployments.begin_create_or_update(RG, "d2", _deployment(template)).result()
    assert info.value.error.details[0].code == "TriggerEnabledCannotUpdate"


def test_child_without_its_factory(deployments_client: Any) -> None:
    template = _template(LINKED, with_factory=False)
    with pytest.raises(HttpResponseError) as info:
        deployments_client.deployments.begin_create_or_update(RG, "orphan", _deployment(template)).result()
    [detail] = info.value.error.details
    assert detail.code == "ParentResourceNotFound"
    assert detail.message == (
        f"Can not perform requested operation on nested resource. Parent resource '{FACTORY}' not found."
    )


def test_key_vault_reference_becomes_a_placeholder(adf_client: Any, deployments_client: Any) -> None:
    reference = {
        "reference": {
            "keyVault": {"id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.KeyVault/vaults/kv-prod"},
            "secretName": "storage-connection",
        }
    }
    template = _template(LINKED)
    result = deployments_client.deployments.begin_create_or_update(
        RG, "kv", _deployment(template, storageConnection=reference)
    ).result()
    shown = result.properties.parameters["storageConnection"]
    assert "value" not in shown and shown["reference"]["secretName"] == "storage-connection"
    stored = adf_client.linked_services.get(RG, FACTORY, "storage").properties.as_dict()
    assert stored["typeProperties"]["connectionString"] == "emulator-keyvault-placeholder:kv-prod/storage-connection"


def test_secure_parameter_values_are_not_shown(deployments_client: Any) -> None:
    result = deployments_client.deployments.begin_create_or_update(
        RG, "secure", _deployment(_template(LINKED), storageConnection="AccountKey=s3cret")
    ).result()
    assert "s3cret" not in json.dumps(result.as_dict())
    assert result.properties.parameters["storageConnection"] == {"type": "SecureString"}


def test_unknown_parameters_are_refused(deployments_client: Any) -> None:
    with pytest.raises(HttpResponseError) as info:
        deployments_client.deployments.begin_create_or_update(RG, "d", _deployment(_template(), colour="blue", size=2))
    assert info.value.status_code == 400 and info.value.error.code == "InvalidTemplate"
    assert info.value.error.message == (
        "Deployment template validation failed: 'The template parameters 'colour, size' in the parameters file are "
        "not valid; they are not present in the original template and can therefore not be provided at deployment "
        "time. The only supported parameters for this template are 'factoryName, location, storageConnection'. "
        "Please see https://aka.ms/arm-pass-parameter-values for usage details.'."
    )


def test_limits(deployments_client: Any) -> None:
    many = [_resource("pipelines", f"p{i}", {"activities": []}) for i in range(801)]
    with pytest.raises(HttpResponseError) as info:
        deployments_client.deployments.begin_create_or_update(RG, "big", _deployment(_template(*many[:800])))
    assert (
        "The number of template resources limit exceeded. Limit: '800' and actual: '801'." in info.value.error.message
    )

    huge = _template(_resource("pipelines", "p", {"activities": [], "description": "x" * (4 * 1024 * 1024)}))
    with pytest.raises(HttpResponseError) as info:
        deployments_client.deployments.begin_create_or_update(RG, "huge", _deployment(huge))
    assert info.value.status_code == 413
    assert (info.value.error.code, info.value.error.message) == (
        "RequestContentTooLarge",
        "The request content size exceeds the maximum size of 4 MB.",
    )
    assert list(deployments_client.deployments.list_by_resource_group(RG)) == []  # refused: nothing recorded


def test_template_errors(deployments_client: Any) -> None:
    missing = copy.deepcopy(_template(DATASET))  # depends on a linked service the template does not hold
    with pytest.raises(HttpResponseError) as info:
        deployments_client.deployments.begin_create_or_update(RG, "d", _deployment(missing))
    assert "is not defined in the template" in info.value.error.message

    cycle = _template(
        _resource("pipelines", "a", {"activities": []}, "pipelines/b"),
        _resource("pipelines", "b", {"activities": []}, "pipelines/a"),
    )
    with pytest.raises(HttpResponseError) as info:
        deployments_client.deployments.begin_create_or_update(RG, "d", _deployment(cycle))
    assert "Circular dependency detected" in info.value.error.message

    nested = _template()
    nested["resources"].append(
        {
            "name": "inner",
            "type": "Microsoft.Resources/deployments",
            "apiVersion": "2022-09-01",
            "properties": {"mode": "Incremental", "templateLink": {"uri": "https://example.com/t.json"}},
        }
    )
    with pytest.raises(HttpResponseError) as info:
        deployments_client.deployments.begin_create_or_update(RG, "d", _deployment(nested))
    assert "nested deployment" in info.value.error.message

    with pytest.raises(HttpResponseError) as info:
        deployments_client.deployments.begin_create_or_update(
            RG, "d", {"properties": {"mode": "Incremental", "templateLink": {"uri": "https://example.com/t.json"}}}
        )
    assert info.value.error.code == "InvalidContentLink"

    bad_expression = _template(_resource("pipelines", "p", {"activities": [], "description": "[parameters('nope')]"}))
    with pytest.raises(HttpResponseError) as info:
        deployments_client.deployments.begin_create_or_update(RG, "d", _deployment(bad_expression))
    assert info.value.error.code == "InvalidTemplate"
    assert info.value.error.message.startswith("Deployment template validation failed: '")

    no_value = _template()
    with pytest.raises(HttpResponseError) as info:
        deployments_client.deployments.begin_create_or_update(
            RG, "d", {"properties": {"mode": "Incremental", "template": no_value, "parameters": {}}}
        )
    assert info.value.error.code == "InvalidTemplate" and "factoryName" in info.value.error.message


def test_validate(deployments_client: Any) -> None:
    ok = deployments_client.deployments.begin_validate(RG, "v", _deployment(_template(LINKED, DATASET))).result()
    assert ok.properties.provisioning_state == "Succeeded"
    assert len(ok.properties.validated_resources) == 3
    with pytest.raises(HttpResponseError) as info:
        deployments_client.deployments.begin_validate(RG, "v", _deployment(_template(), colour="x")).result()
    assert info.value.status_code == 400 and info.value.error.code == "InvalidTemplate"
    assert list(deployments_client.deployments.list_by_resource_group(RG)) == []


def test_what_if(adf_client: Any, deployments_client: Any) -> None:
    deployments_client.deployments.begin_create_or_update(RG, "d1", _deployment(_template(LINKED))).result()
    adf_client.pipelines.create_or_update(RG, FACTORY, "made-by-hand", {"properties": {"activities": []}})
    changed = copy.deepcopy(LINKED)
    changed["properties"]["description"] = "now described"
    result = deployments_client.deployments.begin_what_if(RG, "w", _deployment(_template(changed, DATASET))).result()
    by_name = {c.resource_id.rsplit("/", 1)[-1]: c for c in result.changes}
    assert by_name["storage"].change_type == "Modify"
    assert [d.path for d in by_name["storage"].delta] == ["properties.description"]
    assert by_name["events"].change_type == "Create"
    assert by_name["made-by-hand"].change_type == "Ignore"  # Incremental: never Delete


def test_history_get_list_delete_and_paging(deployments_client: Any) -> None:
    for i in range(5):
        deployments_client.deployments.begin_create_or_update(RG, f"d{i}", _deployment(_template())).result()
    assert [d.name for d in deployments_client.deployments.list_by_resource_group(RG)] == [f"d{i}" for i in range(5)]
    assert deployments_client.deployments.check_existence(RG, "d3") is True
    deployments_client.deployments.begin_delete(RG, "d3").result()
    assert deployments_client.deployments.check_existence(RG, "d3") is False
    with pytest.raises(ResourceNotFoundError) as info:
        deployments_client.deployments.get(RG, "d3")
    assert (info.value.error.code, info.value.error.message) == (
        "DeploymentNotFound",
        "Deployment 'd3' could not be found.",
    )
    failed = list(deployments_client.deployments.list_by_resource_group(RG, filter="provisioningState eq 'Failed'"))
    assert failed == []
    exported = deployments_client.deployments.export_template(RG, "d1")
    assert exported.template["contentVersion"] == "1.0.0.0"


def test_running_deployment_cannot_be_replaced_but_can_be_cancelled(emulator: Any, deployments_client: Any) -> None:
    emulator.settings(deployment_seconds=30)
    deployments_client.deployments.begin_create_or_update(RG, "slow", _deployment(_template()), polling=False)
    with pytest.raises(HttpResponseError) as info:
        deployments_client.deployments.begin_create_or_update(RG, "slow", _deployment(_template()))
    assert info.value.status_code == 409 and info.value.error.code == "DeploymentActive"
    deployments_client.deployments.cancel(RG, "slow")
    emulator.wait_for_deployments()
    assert deployments_client.deployments.get(RG, "slow").properties.provisioning_state == "Canceled"


def test_complete_mode_deletes_factories_the_template_lacks(adf_client: Any, deployments_client: Any) -> None:
    adf_client.factories.create_or_update(RG, "adf-stray", {"location": "westeurope"})
    body = _deployment(_template())
    body["properties"]["mode"] = "Complete"
    deployments_client.deployments.begin_create_or_update(RG, "complete", body).result()
    assert [f.name for f in adf_client.factories.list_by_resource_group(RG)] == [FACTORY]


def test_older_api_versions_are_served(emulator: Any) -> None:
    with emulator.deployments_client(api_version="2021-04-01") as client:
        result = client.deployments.begin_create_or_update(RG, "old", _deployment(_template())).result()
    assert result.properties.provisioning_state == "Succeeded"
    with emulator.deployments_client(api_version="2019-10-01") as client, pytest.raises(HttpResponseError) as info:
        client.deployments.get(RG, "old")
    assert info.value.error.code == "NoRegisteredProviderFound"


def test_fault_in_the_nth_resource_of_a_deployment(emulator: Any, adf_client: Any, deployments_client: Any) -> None:
    emulator.fault(method="PUT", path=r"/factories/adf-deployed/datasets/", status=500, message="storage hiccup")
    with pytest.raises(HttpResponseError) as info:
        deployments_client.deployments.begin_create_or_update(
            RG, "d", _deployment(_template(LINKED, DATASET, PIPELINE))
        ).result()
    [detail] = info.value.error.details
    assert (detail.code, detail.message) == ("InternalServerError", "storage hiccup")
    assert adf_client.linked_services.get(RG, FACTORY, "storage").name == "storage"


def test_deployment_tags_are_kept(deployments_client: Any) -> None:
    body = {**_deployment(_template()), "tags": {"promote-commit": "abc123"}}
    deployments_client.deployments.begin_create_or_update(RG, "tagged", body).result()
    assert deployments_client.deployments.get(RG, "tagged").tags == {"promote-commit": "abc123"}
    assert [d.tags for d in deployments_client.deployments.list_by_resource_group(RG)] == [{"promote-commit": "abc123"}]


def test_escaped_property_names_are_unescaped(adf_client: Any, deployments_client: Any) -> None:
    """ADF escapes a property name that starts with `[` as `[[...]`; ARM unescapes names as it does values."""
    dataset = _resource(
        "datasets",
        "events",
        {
            "type": "Json",
            "linkedServiceName": {"referenceName": "storage", "type": "LinkedServiceReference"},
            "schema": {"[[':@computed_region']": {"type": "string"}, "plain": "[[not an expression]"},
        },
        "linkedServices/storage",
    )
    deployments_client.deployments.begin_create_or_update(
        RG, "escaped", _deployment(_template(LINKED, dataset))
    ).result()
    stored = adf_client.datasets.get(RG, FACTORY, "events").properties.as_dict()["schema"]
    assert stored == {"[':@computed_region']": {"type": "string"}, "plain": "[not an expression]"}
