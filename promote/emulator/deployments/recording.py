"""How a deployment and its operations are shown: the deployment's body in each state, and one operation per
resource attempted, in ARM's shapes (reference/recordings: `DeploymentOperationCollectionTests`, the azure-cli
deployment recordings). Pure functions of the prepared deployment and the clock's readings.
"""

from __future__ import annotations

import uuid
from typing import Any

from promote.emulator import errors
from promote.emulator.deployments.model import DEPLOYMENT_TYPE, PlannedResource, Prepared
from promote.emulator.store import GroupScope, iso

_STATUS_TEXT = {
    400: "BadRequest",
    404: "NotFound",
    409: "Conflict",
    412: "PreconditionFailed",
    500: "InternalServerError",
}


def deployment_id(scope: GroupScope, name: str) -> str:
    return f"{scope.prefix}/providers/{DEPLOYMENT_TYPE}/{name}"


def render_deployment(
    prepared: Prepared,
    state: str,
    started: float,
    now: float,
    correlation: str,
    location: str,
    written: list[str] | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The deployment as GET answers it, in `state` (Accepted, Running, Succeeded, Failed, Canceled)."""
    types = sorted({r.type.split("/", 1)[1] for r in prepared.resources})
    properties: dict[str, Any] = {
        "templateHash": prepared.template_hash,
        "parameters": prepared.parameters,
        "mode": prepared.mode,
        "provisioningState": state,
        "timestamp": iso(now),
        "duration": duration(now - started),
        "correlationId": correlation,
        "providers": [
            {
                "namespace": "Microsoft.DataFactory",
                "resourceTypes": [{"resourceType": t, "locations": [location]} for t in types],
            }
        ]
        if types
        else [],
        "dependencies": [
            {
                "dependsOn": [{"id": d.id, "resourceType": d.type, "resourceName": d.name} for d in r.depends_on],
                "id": r.id,
                "resourceType": r.type,
                "resourceName": r.name,
            }
            for r in prepared.resources
            if r.depends_on
        ],
    }
    if state == "Succeeded":
        properties["outputs"] = {}
        properties["outputResources"] = [{"id": i} for i in written or []]
    if error is not None:
        properties["error"] = error
    if prepared.on_error is not None:
        properties["onErrorDeployment"] = prepared.on_error
    rendered: dict[str, Any] = {
        "id": deployment_id(prepared.scope, prepared.name),
        "name": prepared.name,
        "type": DEPLOYMENT_TYPE,
        "properties": properties,
    }
    if prepared.tags is not None:
        rendered["tags"] = prepared.tags
    return rendered


def operation_record(
    scope: GroupScope,
    name: str,
    seq: int,
    resource: PlannedResource,
    started: float,
    now: float,
    failure: errors.EmulatorError | None,
) -> tuple[str, dict[str, Any]]:
    """(operation id, body) of the deployment operation that wrote (or failed to write) one resource."""
    op_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{scope.key}/{name}/{seq}/{started}").hex[:16].upper()
    properties: dict[str, Any] = {
        "provisioningOperation": "Create",
        "provisioningState": "Failed" if failure else "Succeeded",
        "timestamp": iso(now),
        "duration": duration(now - started),
        "trackingId": str(uuid.uuid4()),
        "serviceRequestId": str(uuid.uuid4()),
        "statusCode": status_text(failure.status) if failure else "OK",
        "targetResource": {"id": resource.id, "resourceType": resource.type, "resourceName": resource.name},
    }
    if failure is not None:
        properties["statusMessage"] = {"status": "Failed", "error": failure.as_error()}
    body = {"id": f"{deployment_id(scope, name)}/operations/{op_id}", "operationId": op_id, "properties": properties}
    return op_id, body


def duration(seconds: float) -> str:
    return f"PT{max(seconds, 0):.7f}S"


def status_text(status: int) -> str:
    return _STATUS_TEXT.get(status, str(status))
