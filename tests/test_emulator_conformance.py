"""Replay Microsoft's published REST examples against the emulator and compare status codes and body shapes.

Every example of Microsoft.DataFactory 2018-06-01 is either replayed here or listed in NOT_COVERED with the
reason (and in promote/emulator/README.md, which this test checks). The method and path of each example come
from reference/specs/OPERATIONS.md; the request (path parameters, If-Match / If-None-Match, body) from the
example itself. Before the request, the state the example presumes is created (its factory, the object it
reads, the objects its body references, as stubs). Requests go through the real clients' pipelines
(`send_request`), with the examples' own subscription and resource group.

Shape: every key of the example's answer must be in the emulator's, recursively, with a value of the same
JSON kind (a null in the example accepts anything); list items are matched by `name` where they have one;
`id`, `name` and `type` of resources must be equal (ids case-insensitively). The few differences that are
Azure's own (values the service computes and the emulator does not) are listed in IGNORED with the reason.

The resource group deployment examples (2021-04-01, 2022-09-01, 2024-03-01, 2026-06-01) all deploy a linked
template (`templateLink`), which the emulator refuses (nothing is downloaded); they are replayed with the
link replaced by an inline template of a factory and a pipeline.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from azure.core.rest import HttpRequest

from promote.factory import references_of
from tests.conftest import REFERENCE, reference_path

SPECS = ("specs", "azure-rest-api-specs@a977c730", "specification")
DF_EXAMPLES = (*SPECS, "datafactory", "resource-manager", "Microsoft.DataFactory", "stable", "2018-06-01", "examples")
RESOURCES = (*SPECS, "resources", "resource-manager", "Microsoft.Resources", "stable")
INDEX = ("specs", "azure-rest-api-specs@index", "specification")
README = Path(__file__).resolve().parents[1] / "promote" / "emulator" / "README.md"

NOT_COVERED: dict[str, str] = {
    "Operations_List": "provider metadata; the promoter never asks",
    "Factories_ConfigureFactoryRepo": "git integration of ADF Studio, not deployment",
    "ExposureControl_GetFeatureValue": "feature flags of ADF Studio",
    "ExposureControl_GetFeatureValueByFactory": "feature flags of ADF Studio",
    "ExposureControl_QueryFeatureValuesByFactory": "feature flags of ADF Studio",
    "Factories_GetGitHubAccessToken": "git integration of ADF Studio",
    "Factories_GetDataPlaneAccess": "data plane tokens; no data plane here",
    "IntegrationRuntimes_GetStatus": "runtime compute state; no compute here",
    "IntegrationRuntimes_ListOutboundNetworkDependenciesEndpoints": "runtime networking; no compute here",
    "IntegrationRuntimes_GetConnectionInfo": "self-hosted node registration; no compute here",
    "IntegrationRuntimes_RegenerateAuthKey": "self-hosted node registration; no compute here",
    "IntegrationRuntimes_ListAuthKeys": "self-hosted node registration; no compute here",
    "IntegrationRuntimes_Start": "managed runtime compute; no compute here",
    "IntegrationRuntimes_Stop": "managed runtime compute; no compute here",
    "IntegrationRuntimes_SyncCredentials": "self-hosted nodes; no compute here",
    "IntegrationRuntimes_GetMonitoringData": "runtime monitoring; no compute here",
    "IntegrationRuntimes_Upgrade": "self-hosted nodes; no compute here",
    "IntegrationRuntimes_RemoveLinks": "shared self-hosted runtimes across factories",
    "IntegrationRuntimes_CreateLinkedIntegrationRuntime": "shared self-hosted runtimes across factories",
    "IntegrationRuntimeObjectMetadata_Refresh": "SSIS catalogue metadata",
    "IntegrationRuntimeObjectMetadata_Get": "SSIS catalogue metadata",
    "IntegrationRuntimeNodes_Get": "self-hosted nodes; no compute here",
    "IntegrationRuntimeNodes_Delete": "self-hosted nodes; no compute here",
    "IntegrationRuntimeNodes_Update": "self-hosted nodes; no compute here",
    "IntegrationRuntimeNodes_GetIpAddress": "self-hosted nodes; no compute here",
    "ActivityRuns_QueryByPipelineRun": "activity-level monitoring; runs are modelled per pipeline only",
    "TriggerRuns_Rerun": "trigger run history is not modelled",
    "TriggerRuns_Cancel": "trigger run history is not modelled",
    "TriggerRuns_QueryByFactory": "trigger run history is not modelled",
    "DataFlowDebugSession_Create": "interactive debugging of ADF Studio",
    "DataFlowDebugSession_QueryByFactory": "interactive debugging of ADF Studio",
    "DataFlowDebugSession_AddDataFlow": "interactive debugging of ADF Studio",
    "DataFlowDebugSession_Delete": "interactive debugging of ADF Studio",
    "DataFlowDebugSession_ExecuteCommand": "interactive debugging of ADF Studio",
    "privateEndPointConnections_ListByFactory": "inbound private link of the factory, not its objects",
    "PrivateEndpointConnection_CreateOrUpdate": "inbound private link of the factory, not its objects",
    "PrivateEndpointConnection_Get": "inbound private link of the factory, not its objects",
    "PrivateEndpointConnection_Delete": "inbound private link of the factory, not its objects",
    "privateLinkResources_Get": "inbound private link of the factory, not its objects",
}

# (example file, path in the answer) -> why the emulator's answer may lack it.
IGNORED: dict[tuple[str, str], str] = {
    ("Datasets_Create.json", "$.properties.schema"): "the example's answer holds a schema its request lacks",
    ("PostDeploymentValidateOnResourceGroup.json", "$.properties.diagnostics"): "warnings about nested deployments",
    ("PostDeploymentValidateOnResourceGroup.json", "$.error.details"): "ARM's preflight of other providers",
    ("*", "$.properties.templateLink"): "the link was replaced by an inline template (nothing is downloaded)",
}
# Examples whose answer names another object (in `id` or `name`) than their request: errors in the examples,
# checked by hand. Their other fields are still compared.
ID_ERRATA = {"DataFlows_Create.json", "DataFlows_Update.json", "Credentials_Get.json", "Credentials_ListByFactory.json"}

STUBS: dict[str, dict[str, Any]] = {
    "pipelines": {"activities": []},
    "datasets": {"type": "Json", "typeProperties": {}},
    "linkedServices": {"type": "AzureBlobStorage", "typeProperties": {}},
    "dataflows": {"type": "MappingDataFlow", "typeProperties": {}},
    "integrationRuntimes": {"type": "SelfHosted"},
    "credentials": {"type": "ManagedIdentity", "typeProperties": {}},
    "triggers": {"type": "ScheduleTrigger", "typeProperties": {}},
}
READ_ONLY = {"provisioningState", "createTime", "version", "runtimeState", "connectionState", "alias", "vNetId"}
ROW = re.compile(r"^\| (\w+) \| (GET|PUT|POST|PATCH|DELETE|HEAD) \| `([^`]+)` \| ([^|]*)\|([^|]*)\|([^|]*)\|")


@dataclass(frozen=True)
class Operation:
    id: str
    method: str
    path: str  # after /providers/Microsoft.DataFactory


def _operations() -> dict[str, Operation]:
    """Example file -> its operation, from the Microsoft.DataFactory table of OPERATIONS.md."""
    text = reference_path("specs", "OPERATIONS.md").read_text()
    section = text.split("### Microsoft.DataFactory", 1)[1].split("\n### ", 1)[0]
    out: dict[str, Operation] = {}
    for line in section.splitlines():
        m = ROW.match(line)
        if m is None:
            continue
        for file in (f.strip() for f in m.group(6).split(",")):
            if file:
                out[file] = Operation(m.group(1), m.group(2), m.group(3))
    return out


def _example_files(*, covered_only: bool = False) -> list[str]:
    """The examples (at collection time: those the emulator serves; the rest is checked to be in the README)."""
    folder = REFERENCE.joinpath(*DF_EXAMPLES)
    if not folder.is_dir():
        return ["(reference material absent)"]
    files = sorted(p.name for p in folder.glob("*.json"))
    if covered_only and (REFERENCE / "specs" / "OPERATIONS.md").is_file():
        operations = _operations()
        files = [f for f in files if f not in operations or operations[f].id not in NOT_COVERED]
    return files


# --- comparing ---------------------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def _id_tail(resource_id: str) -> str:
    """The part of an id after the factory (`/pipelines/p`), or the factory itself: the examples' ids sometimes
    carry another subscription or resource group than their request (copied from a real tenant)."""
    parts = resource_id.split("/")
    lower = [p.lower() for p in parts]
    if "factories" in lower:
        i = lower.index("factories")
        return "/".join(lower[i + 2 :]) or lower[i + 1]
    return resource_id.lower()


def _ignored(example: str, path: str) -> bool:
    return (example, path) in IGNORED or ("*", path) in IGNORED


def assert_shape(actual: Any, expected: Any, example: str, path: str = "$", *, same_resources: bool = True) -> None:
    """`same_resources`: also require equal id, name and type (not for deployments, whose template is ours)."""
    if expected is None:
        return
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{example} {path}: expected an object, got {actual!r}"
        for key, value in expected.items():
            sub = f"{path}.{key}"
            if key not in actual:
                assert _ignored(example, sub), f"{example} {sub}: missing from the emulator's answer"
                continue
            assert_shape(actual[key], value, example, sub, same_resources=same_resources)
        if same_resources and "id" in expected and "type" in expected and isinstance(expected["id"], str):
            assert actual["type"] == expected["type"], f"{example} {path}.type"
            if example not in ID_ERRATA:
                assert actual.get("name") == expected.get("name"), f"{example} {path}.name"
                assert _id_tail(actual["id"]) == _id_tail(expected["id"]), f"{example} {path}.id: {actual['id']}"
        return
    if isinstance(expected, list):
        assert isinstance(actual, list), f"{example} {path}: expected an array"
        named = same_resources and all(isinstance(e, dict) and "name" in e for e in expected) and expected
        if named:
            by_name = {a.get("name"): a for a in actual if isinstance(a, dict)}
            for item in expected:
                assert item["name"] in by_name, f"{example} {path}: no item named {item['name']!r}"
                assert_shape(by_name[item["name"]], item, example, f"{path}[]", same_resources=same_resources)
        else:
            assert len(actual) >= len(expected) or not expected, f"{example} {path}: {len(actual)} items"
            for a, e in zip(actual, expected, strict=False):
                assert_shape(a, e, example, f"{path}[]", same_resources=same_resources)
        return
    assert _kind(actual) == _kind(expected), f"{example} {path}: {actual!r} is not like {expected!r}"


# --- a world for one example ---------------------------------------------------------------------------------


class World:
    """Creates what an example presumes, through the client's pipeline, in the example's resource group."""

    def __init__(self, client: Any, emulator: Any, params: dict[str, Any]) -> None:
        self.client = client
        self.emulator = emulator
        self.params = params
        self.base = f"/subscriptions/{params['subscriptionId']}/resourceGroups/{params.get('resourceGroupName', 'rg')}"
        self.factory_name = params.get("factoryName", "exampleFactoryName")

    def send(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        sep = "&" if "?" in path else "?"
        url = path if "api-version=" in path else f"{path}{sep}api-version=2018-06-01"
        request = HttpRequest(method, url, json=body, headers=headers or {})
        return self.client.send_request(request)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        response = self.send(method, path, body)
        assert response.status_code < 300, f"setup {method} {path}: {response.status_code} {response.text()}"
        return response

    @property
    def factory(self) -> str:
        return f"{self.base}/providers/Microsoft.DataFactory/factories/{quote(self.factory_name)}"

    def ensure_factory(self, body: dict[str, Any] | None = None) -> None:
        self.ok("PUT", self.factory, body or {"location": "East US"})

    def ensure_references(self, value: Any) -> None:
        """A stub for every object `value` references that does not exist yet."""
        for ref in sorted(references_of(value)):
            if ref.type == "integrationRuntimes" and ref.name.lower() == "autoresolveintegrationruntime":
                continue
            path = f"{self.factory}/{ref.type}/{quote(ref.name)}"
            if self.send("GET", path).status_code == 404:
                self.ok("PUT", path, {"properties": STUBS[ref.type]})

    def ensure(self, segment: str, name: str, properties: dict[str, Any]) -> None:
        """An object with these properties, and a stub for every object they reference."""
        self.ensure_references(properties)
        if segment == "managedPrivateEndpoints":
            network = self.params["managedVirtualNetworkName"]
            self.ok("PUT", f"{self.factory}/managedVirtualNetworks/{quote(network)}", {"properties": {}})
            path = f"{self.factory}/managedVirtualNetworks/{quote(network)}/managedPrivateEndpoints/{quote(name)}"
        else:
            path = f"{self.factory}/{segment}/{quote(name)}"
        clean = {k: v for k, v in properties.items() if k not in READ_ONLY}
        self.ok("PUT", path, {"properties": clean})


def _segment(operation_id: str) -> str:
    return {
        "IntegrationRuntimes": "integrationRuntimes",
        "LinkedServices": "linkedservices",
        "Datasets": "datasets",
        "Pipelines": "pipelines",
        "Triggers": "triggers",
        "DataFlows": "dataflows",
        "ManagedVirtualNetworks": "managedVirtualNetworks",
        "ManagedPrivateEndpoints": "managedPrivateEndpoints",
        "CredentialOperations": "credentials",
        "GlobalParameters": "globalParameters",
        "ChangeDataCapture": "adfcdcs",
    }.get(operation_id.split("_", 1)[0], "")


_NAME_PARAMS = (
    "integrationRuntimeName", "linkedServiceName", "datasetName", "pipelineName", "triggerName", "dataFlowName",
    "managedVirtualNetworkName", "managedPrivateEndpointName", "credentialName", "globalParameterName",
    "changeDataCaptureName",
)  # fmt: skip


def _object_name(operation_id: str, params: dict[str, Any]) -> str:
    wanted = {
        "integrationRuntimes": "integrationRuntimeName",
        "linkedservices": "linkedServiceName",
        "datasets": "datasetName",
        "pipelines": "pipelineName",
        "triggers": "triggerName",
        "dataflows": "dataFlowName",
        "managedVirtualNetworks": "managedVirtualNetworkName",
        "managedPrivateEndpoints": "managedPrivateEndpointName",
        "credentials": "credentialName",
        "globalParameters": "globalParameterName",
        "adfcdcs": "changeDataCaptureName",
    }[_segment(operation_id)]
    return params[wanted]


def _prepare(world: World, op: Operation, example: dict[str, Any], file: str) -> dict[str, Any]:
    """Create what the example presumes; returns path substitutions (run ids) for the request."""
    params = example["parameters"]
    ok_body = (example["responses"].get("200") or {}).get("body")
    verb = op.id.split("_", 1)[1] if "_" in op.id else ""
    if op.id.startswith("Factories_"):
        if op.id == "Factories_CreateOrUpdate":
            return {}
        items = ok_body.get("value") if isinstance(ok_body, dict) and "value" in ok_body else [ok_body or {}]
        for item in items:
            name = item.get("name") or world.factory_name
            body = {
                "location": item.get("location", "East US"),
                "tags": item.get("tags") or {},
                "properties": {k: v for k, v in (item.get("properties") or {}).items() if k not in READ_ONLY},
            }
            if item.get("identity"):
                body["identity"] = item["identity"]
            world.ok("PUT", f"{world.base}/providers/Microsoft.DataFactory/factories/{quote(name)}", body)
        return {}
    world.ensure_factory()
    segment = _segment(op.id)
    if op.id in ("PipelineRuns_Get", "PipelineRuns_Cancel", "PipelineRuns_QueryByFactory"):
        runs = (ok_body or {}).get("value", [ok_body or {}]) if isinstance(ok_body, dict) else [{}]
        run_id = ""
        for run in runs:  # the runs the example shows, with their parameters; cancelled ones cancelled
            pipeline = run.get("pipelineName", "examplePipeline")
            dimensions = run.get("runDimension") or {}
            world.ensure("pipelines", pipeline, _run_pipeline(dimensions))
            parameters = {k: _maybe_json(v) for k, v in (run.get("parameters") or {}).items()}
            parameters.update(dimensions)  # each run dimension comes from a parameter of the same name
            run_id = world.ok("POST", f"{world.factory}/pipelines/{pipeline}/createRun", parameters).json()["runId"]
            if run.get("status") == "Cancelled":
                world.ok("POST", f"{world.factory}/pipelineruns/{run_id}/cancel")
        if any(run.get("status") in ("Succeeded", "Failed") for run in runs):
            world.emulator.advance(60)  # let them finish, as the example's have
        return {"runId": run_id}
    if verb in ("ListByFactory", "QueryByFactory") and isinstance(ok_body, dict):
        for item in ok_body.get("value", []):
            world.ensure(segment, item["name"], item.get("properties") or {})
        return {}
    if verb in ("CreateOrUpdate",):
        world.ensure_references(_body(params, op) or {})
        if segment == "managedPrivateEndpoints":
            network = params["managedVirtualNetworkName"]
            world.ok("PUT", f"{world.factory}/managedVirtualNetworks/{quote(network)}", {"properties": {}})
        return {}
    name = _object_name(op.id, params)
    properties = (ok_body or {}).get("properties") if isinstance(ok_body, dict) else None
    if segment == "triggers" and verb in ("SubscribeToEvents", "UnsubscribeFromEvents", "GetEventSubscriptionStatus"):
        properties = {
            "type": "BlobEventsTrigger",
            "typeProperties": {"events": ["Microsoft.Storage.BlobCreated"], "scope": "/s"},
        }
    world.ensure(segment, name, properties or STUBS.get(_TYPE_OF_SEGMENT.get(segment, ""), {"type": "Stub"}))
    if verb in ("UnsubscribeFromEvents", "GetEventSubscriptionStatus"):
        world.ok("POST", f"{world.factory}/triggers/{quote(name)}/subscribeToEvents")
        world.emulator.advance(60)
    return {}


def _run_pipeline(dimensions: dict[str, Any]) -> dict[str, Any]:
    """A pipeline whose runs carry these run dimensions, each from the parameter of the same name."""
    return {
        "activities": [],
        "parameters": {k: {"type": "String"} for k in dimensions},
        "runDimensions": {k: {"value": f"@pipeline().parameters.{k}", "type": "Expression"} for k in dimensions},
    }


def _maybe_json(value: Any) -> Any:
    """Run parameters come back as JSON text; the run was created with the values."""
    try:
        return json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return value


_TYPE_OF_SEGMENT = {
    "integrationRuntimes": "integrationRuntimes",
    "linkedservices": "linkedServices",
    "datasets": "datasets",
    "pipelines": "pipelines",
    "triggers": "triggers",
    "dataflows": "dataflows",
    "credentials": "credentials",
}


def _body(params: dict[str, Any], op: Operation) -> Any:
    """The example's body parameter: the one that is neither in the path nor a header nor a query value."""
    in_path = set(re.findall(r"\{(\w+)\}", op.path)) | {"subscriptionId", "resourceGroupName", "api-version"}
    others = {"ifMatch", "ifNoneMatch", "referencePipelineRunId", "triggerName", "isRecovery", "startActivityName"}
    bodies = [v for k, v in params.items() if k not in in_path | others and isinstance(v, (dict, list))]
    return bodies[0] if bodies else None


def _replay(world: World, op: Operation, example: dict[str, Any], subs: dict[str, Any], etag: str | None = None) -> Any:
    params = {**example["parameters"], **subs}
    path = re.sub(r"\{(\w+)\}", lambda m: quote(str(params[m.group(1)]), safe=""), op.path)
    prefix = (
        world.base if "resourceGroupName" in example["parameters"] else f"/subscriptions/{params['subscriptionId']}"
    )
    headers = {}
    if params.get("ifMatch"):
        headers["If-Match"] = params["ifMatch"]
    if etag or params.get("ifNoneMatch"):
        headers["If-None-Match"] = etag or params["ifNoneMatch"]
    body = _body(params, op)
    if op.id == "PipelineRuns_QueryByFactory":  # the example's window is in 2018: move it around now
        body = {**body, "lastUpdatedAfter": "2000-01-01T00:00:00Z", "lastUpdatedBefore": "2100-01-01T00:00:00Z"}
    if op.method in ("PUT", "PATCH", "POST") and body is None:
        body = {} if op.id == "Pipelines_CreateRun" else None
    return world.send(op.method, f"{prefix}/providers/Microsoft.DataFactory{path}", body, headers)


@pytest.mark.parametrize("file", _example_files(covered_only=True))
def test_data_factory_example(file: str, emulator: Any, adf_client: Any) -> None:
    folder = reference_path(*DF_EXAMPLES)
    operations = _operations()
    op = operations.get(file)
    assert op is not None, f"{file} is in no operation of OPERATIONS.md"
    if op.id in NOT_COVERED:
        pytest.skip(f"{op.id}: {NOT_COVERED[op.id]}")
    example = json.loads((folder / file).read_text())
    world = World(adf_client, emulator, example["parameters"])
    subs = _prepare(world, op, example, file)
    response = _replay(world, op, example, subs)
    expected = {k: v for k, v in example["responses"].items() if k != "default"}
    status = str(response.status_code)
    assert status in expected, f"{file}: {status} {response.text()} (the example answers {sorted(expected)})"
    body = response.json() if response.text() else None
    if expected[status].get("body") is not None:
        assert body is not None, f"{file}: no body"
        assert_shape(body, expected[status]["body"], file)
    location = (expected[status].get("headers") or {}).get("Location")
    if location:
        ours = response.headers["Location"]
        assert urlsplit(ours).path.lower() == urlsplit(location).path.lower()
        if "200" in expected:  # the long-running operation settles; the Location then answers the example's 200
            emulator.advance(60)
            final = world.send("GET", ours)
            assert final.status_code == 200
            assert_shape(final.json(), expected["200"]["body"], file)
            assert final.json() == expected["200"]["body"]
    if "304" in expected and status == "200" and isinstance(body, dict):
        current = body.get("etag") or body.get("eTag")
        assert _replay(world, op, example, subs, etag=current).status_code == 304


def test_every_example_is_replayed_or_listed(reference_dir: Path) -> None:
    """The README's list of examples not covered is complete, and every example maps to an operation."""
    operations = _operations()
    files = _example_files()
    assert set(files) <= set(operations), set(files) - set(operations)
    readme = README.read_text()
    for file in files:
        if operations[file].id in NOT_COVERED:
            assert file in readme, f"{file} is not covered and not listed in promote/emulator/README.md"
    assert set(NOT_COVERED) <= {op.id for op in operations.values()}


# --- deployments ---------------------------------------------------------------------------------------------


def _inline_template(factory: str) -> dict[str, Any]:
    """A factory and two pipelines, the second depending on both others (two dependencies, as the examples)."""

    def pipeline(name: str, *depends: str) -> dict[str, Any]:
        return {
            "name": f"{factory}/{name}",
            "type": "Microsoft.DataFactory/factories/pipelines",
            "apiVersion": "2018-06-01",
            "properties": {"activities": []},
            "dependsOn": [f"[resourceId('Microsoft.DataFactory/factories', '{factory}')]", *depends],
        }

    return {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": [
            {
                "name": factory,
                "type": "Microsoft.DataFactory/factories",
                "apiVersion": "2018-06-01",
                "location": "eastus",
                "properties": {},
            },
            pipeline("first"),
            pipeline("second", f"[resourceId('Microsoft.DataFactory/factories/pipelines', '{factory}', 'first')]"),
        ],
    }


def _what_if_template(existing: str, new: str) -> dict[str, Any]:
    """One factory that exists and gains a tag (Modify with a delta), one that does not exist yet (Create)."""

    def factory(name: str, tags: dict[str, str]) -> dict[str, Any]:
        return {
            "name": name,
            "type": "Microsoft.DataFactory/factories",
            "apiVersion": "2018-06-01",
            "location": "eastus",
            "tags": tags,
            "properties": {},
        }

    return {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": [
            factory(existing, {"myNewTag": "my tag value"}),
            factory(new, {"myOtherNewTag": "another new tag value"}),
        ],
    }


def _deployment_examples() -> list[tuple[str, str]]:
    out = []
    for version in ("2021-04-01", "2022-09-01", "2024-03-01"):
        folder = REFERENCE.joinpath(*RESOURCES, version, "examples")
        for name in (
            "PutDeploymentResourceGroup.json",
            "PutDeploymentWithOnErrorDeploymentLastSuccessful.json",
            "PutDeploymentWithOnErrorDeploymentSpecificDeployment.json",
            "PutDeploymentResourceGroupTemplateSpecsWithId.json",
            "PostDeploymentWhatIfOnResourceGroup.json",
        ):
            out.append((version, str(folder / name)))
    folder = REFERENCE.joinpath(
        *INDEX,
        "resources",
        "resource-manager",
        "Microsoft.Resources",
        "deployments",
        "stable",
        "2026-06-01",
        "examples",
    )
    for name in (
        "PutDeploymentResourceGroup.json",
        "PostDeploymentWhatIfOnResourceGroup.json",
        "PostDeploymentValidateOnResourceGroup.json",
    ):
        out.append(("2026-06-01", str(folder / name)))
    return out


@pytest.mark.parametrize(("version", "path"), _deployment_examples(), ids=lambda v: Path(v).name if "/" in v else v)
def test_deployment_example(version: str, path: str, emulator: Any, deployments_client: Any, adf_client: Any) -> None:
    file = reference_path(str(Path(path).relative_to(REFERENCE)))
    example = json.loads(file.read_text())
    params = example["parameters"]
    name = Path(path).name
    factory = "adf-example"
    body = copy.deepcopy(params["parameters"])
    link = body["properties"].pop("templateLink")
    assert link  # every example links its template; the emulator takes it inline instead
    body["properties"]["template"] = _inline_template(factory)
    base = f"/subscriptions/{params['subscriptionId']}/resourcegroups/{params['resourceGroupName']}"
    url = f"{base}/providers/Microsoft.Resources/deployments/{params['deploymentName']}"

    def send(method: str, target: str, payload: Any = None) -> Any:
        sep = "&" if "?" in target else "?"
        full = target if "api-version=" in target else f"{target}{sep}api-version={version}"
        return deployments_client.send_request(HttpRequest(method, full, json=payload))

    responses = example["responses"]
    if name.startswith("PutDeployment"):
        if "LastSuccessful" in name:  # the example names the last successful deployment: make there be one
            previous = {"properties": {"mode": "Incremental", "template": _inline_template(factory)}}
            assert send("PUT", f"{base}/providers/Microsoft.Resources/deployments/earlier", previous).status_code == 201
            emulator.wait_for_deployments()
        response = send("PUT", url, body)
        assert str(response.status_code) in responses
        assert_shape(response.json(), responses[str(response.status_code)]["body"], name, same_resources=False)
        status_url = response.headers["Azure-AsyncOperation"]
        assert send("GET", status_url).json()["status"] in ("Running", "Succeeded")
        emulator.wait_for_deployments()
        assert send("GET", status_url).json() == {"status": "Succeeded"}
        final = send("GET", url).json()
        assert final["properties"]["provisioningState"] == "Succeeded"
        assert_shape(final, responses["200"]["body"], name, same_resources=False)
    elif name.startswith("PostDeploymentWhatIf"):
        existing = f"{base}/providers/Microsoft.DataFactory/factories/{factory}?api-version=2018-06-01"
        assert adf_client.send_request(HttpRequest("PUT", existing, json={"location": "eastus"})).status_code == 200
        body["properties"]["template"] = _what_if_template(factory, "adf-example-new")
        response = send("POST", f"{url}/whatIf", body)
        assert response.status_code == 202 and "Location" in response.headers
        final = send("GET", response.headers["Location"])
        assert final.status_code == 200
        assert_shape(final.json(), responses["200"]["body"], name, same_resources=False)
    else:  # validate: a valid deployment (200), then one with a parameter the template lacks (400)
        response = send("POST", f"{url}/validate", body)
        assert response.status_code == 200
        assert_shape(response.json(), responses["200"]["body"], name, same_resources=False)
        body["properties"]["parameters"] = {"unknown": {"value": 1}}
        response = send("POST", f"{url}/validate", body)
        assert response.status_code == 400
        assert_shape(response.json(), responses["400"]["body"], name, same_resources=False)
