"""Domain errors of the emulator, each knowing its HTTP status, code, message and target.

The store and the deployment engine raise these; the server renders them in one place as Azure's CloudError
body `{"error": {"code", "message", "target", "details"}}`. Texts that Azure really returns are quoted from
`reference/adf-behaviour.md` (ADF) or from ARM; texts the emulator had to choose are marked "chosen" and listed
in the README, so that nobody mistakes them for Azure's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ARM_NOT_FOUND_FIX = "https://aka.ms/ARMResourceNotFoundFix"


@dataclass
class EmulatorError(Exception):
    """An error answer. `details` are nested CloudError bodies (already dicts); `headers` go on the response."""

    status: int
    code: str
    message: str
    target: str | None = None
    details: list[dict[str, Any]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(f"{self.status} {self.code}: {self.message}")

    def as_error(self) -> dict[str, Any]:
        """The inner `error` object (used as a detail of a failed deployment, too)."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target is not None:
            body["target"] = self.target
        if self.details:
            body["details"] = self.details
        return body

    def body(self) -> dict[str, Any]:
        return {"error": self.as_error()}


# --- ARM (resource manager) errors -------------------------------------------------------------------------


def unauthenticated() -> EmulatorError:
    return EmulatorError(
        401,
        "AuthenticationFailed",
        "Authentication failed. The 'Authorization' header is missing.",
        headers={
            "WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/common", '
            'error="invalid_token", '
            "error_description=\"The authentication failed because of missing 'Authorization' header.\""
        },
    )


def missing_api_version() -> EmulatorError:
    return EmulatorError(
        400,
        "MissingApiVersionParameter",
        "The api-version query parameter (?api-version=) is required for all requests.",
    )


def unsupported_api_version(version: str, resource_type: str, supported: str) -> EmulatorError:
    return EmulatorError(
        400,
        "NoRegisteredProviderFound",
        f"No registered resource provider found for location 'local' and API version '{version}' for type "
        f"'{resource_type}'. The supported api-versions are '{supported}'.",
    )


def invalid_request_content(reason: str) -> EmulatorError:
    return EmulatorError(
        400,
        "InvalidRequestContent",
        f"The request content was invalid and could not be deserialized: '{reason}'.",
    )


def request_too_large() -> EmulatorError:
    return EmulatorError(413, "RequestContentTooLarge", "The request content size exceeds the maximum size of 4 MB.")


def no_route(method: str, path: str) -> EmulatorError:
    """Chosen: what the emulator says for a path it does not serve (ARM says InvalidResourceType)."""
    return EmulatorError(
        404,
        "InvalidResourceType",
        f"The resource type could not be found for '{method} {path}' (not served by the local emulator).",
    )


def method_not_allowed(method: str, path: str) -> EmulatorError:
    """Chosen: a path the emulator serves, with a method the API does not have for it."""
    return EmulatorError(405, "MethodNotAllowed", f"The HTTP method '{method}' is not supported for '{path}'.")


def resource_not_found(resource_type: str, name: str, resource_group: str) -> EmulatorError:
    return EmulatorError(
        404,
        "ResourceNotFound",
        f"The Resource '{resource_type}/{name}' under resource group '{resource_group}' was not found. "
        f"For more details please go to {ARM_NOT_FOUND_FIX}",
    )


def parent_not_found(parent_name: str) -> EmulatorError:
    """ARM's answer to a nested resource whose parent does not exist (also inside a deployment)."""
    return EmulatorError(
        404,
        "ParentResourceNotFound",
        f"Can not perform requested operation on nested resource. Parent resource '{parent_name}' not found.",
    )


def location_required() -> EmulatorError:
    return EmulatorError(400, "LocationRequired", "The location property is required for this definition.")


def precondition_failed(header: str) -> EmulatorError:
    """Chosen text; the status (412) and code are what ARM resource providers answer."""
    return EmulatorError(
        412,
        "PreconditionFailed",
        f"The condition specified using HTTP conditional header(s) '{header}' is not met.",
    )


def throttled(retry_after: float, kind: str = "write") -> EmulatorError:
    seconds = f"{retry_after:g}"
    return EmulatorError(
        429,
        "SubscriptionRequestsThrottled",
        f"Number of '{kind}' requests for subscription exceeded. Please try again after '{seconds}' seconds after "
        "additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information.",
        headers={"Retry-After": seconds},
    )


def injected(status: int, code: str | None, message: str | None) -> EmulatorError:
    """An error a test asked for through the control API."""
    return EmulatorError(
        status,
        code or _default_code(status),
        message or f"Fault injected by the emulator's control API ({status}).",
    )


def _default_code(status: int) -> str:
    return {
        400: "BadRequest",
        404: "NotFound",
        409: "Conflict",
        429: "TooManyRequests",
        500: "InternalServerError",
        502: "BadGateway",
        503: "ServiceUnavailable",
        504: "GatewayTimeout",
    }.get(status, "Error")


def internal(message: str) -> EmulatorError:
    return EmulatorError(500, "InternalServerError", message)


# --- Data Factory errors (texts from adf-behaviour.md unless marked chosen) ---------------------------------


def object_not_found(object_id: str, *, global_parameter: bool = False) -> EmulatorError:
    """A child object (pipeline, dataset, ...) that does not exist: ADF's text and target, as recorded
    (reference/recordings: data flow, integration runtime; a global parameter says only
    `EntityGetFailedOnNotFound`)."""
    message = (
        "EntityGetFailedOnNotFound"
        if global_parameter
        else "The document could not be retrieved because it does not exist."
    )
    return EmulatorError(404, "NotFound", message, target=object_id)


def run_not_found(run_id: str) -> EmulatorError:
    """Chosen text: GET of a pipeline run that does not exist."""
    return EmulatorError(404, "NotFound", f"The pipeline run '{run_id}' was not found.")


def referenced_run_not_found(run_id: str) -> EmulatorError:
    """Cancel of a pipeline run that does not exist (reference/recordings: TestCancelRunNegativeV2)."""
    return EmulatorError(
        400,
        "ReferencedPipelineRunNotFound",
        f"Referenced pipeline run id {run_id} does not exist.",
        target="pipelinerun",
    )


def trigger_enabled_cannot_update() -> EmulatorError:
    # The message really ends with a space (adf-behaviour.md).
    return EmulatorError(
        400,
        "TriggerEnabledCannotUpdate",
        "Cannot update enabled Trigger; the trigger needs to be disabled first. ",
    )


def referenced_by(referrer: str, target: str) -> EmulatorError:
    return EmulatorError(
        400,
        "BadRequest",
        f"The document cannot be deleted since it is referenced by {referrer}.",
        target=target,
    )


def invalid_reference(name: str, target: str) -> EmulatorError:
    return EmulatorError(
        400,
        "BadRequest",
        f"The document creation or update failed because of invalid reference '{name.lower()}'.",
        target=target,
    )


def ir_type_change() -> EmulatorError:
    return EmulatorError(400, "DataFactoryPropertyUpdateNotSupported", "Updating property type is not supported.")


def mpe_already_exists(name: str) -> EmulatorError:
    return EmulatorError(
        400,
        "InvalidResourceRequest",
        f"Invalid resource request. Resource type: 'ManagedPrivateEndpoint', Resource name: '{name}' "
        "'Error: A managed private endpoint to the data source already exist.'.",
    )


def subscription_in_progress() -> EmulatorError:
    return EmulatorError(400, "BadRequest", "Resource cannot be updated during provisioning")


def not_an_event_trigger(name: str) -> EmulatorError:
    """Chosen text: event subscription calls on a trigger that is not a Blob or Custom events trigger."""
    return EmulatorError(400, "BadRequest", f"Trigger '{name}' is not an event trigger; it has no event subscription.")


def invalid_name(kind: str, name: str, problem: str) -> EmulatorError:
    """Chosen text: a name that breaks ADF's naming rules (promote.names)."""
    return EmulatorError(400, "InvalidResourceName", f"The {kind} name '{name}' is invalid: it {problem}.")


def bad_body(reason: str) -> EmulatorError:
    """Chosen text: a body that parses as JSON but is not the shape the operation needs."""
    return EmulatorError(400, "BadRequest", reason)


# --- Deployment errors ---------------------------------------------------------------------------------------


def invalid_template(reason: str, *, code: str = "InvalidTemplate") -> EmulatorError:
    return EmulatorError(400, code, f"Deployment template validation failed: '{reason}'.")


def deployment_not_found(name: str) -> EmulatorError:
    return EmulatorError(404, "DeploymentNotFound", f"Deployment '{name}' could not be found.")


def deployment_active(name: str) -> EmulatorError:
    return EmulatorError(
        409,
        "DeploymentActive",
        f"Unable to edit or replace deployment '{name}': previous deployment is still active (state: Running). "
        "Please see https://aka.ms/arm-deploy for usage details.",
    )


def deployment_quota(count: int) -> EmulatorError:
    return EmulatorError(
        400,
        "DeploymentQuotaExceeded",
        f"Creating the deployment would exceed the quota of '800'. The current deployment count is '{count}'. "
        "Please delete some deployments before creating a new one, or see https://aka.ms/800LimitFix for "
        "information on managing deployment limits.",
    )


def deployment_interrupted(deployment_id: str) -> EmulatorError:
    """Chosen: a deployment whose emulator stopped (killed, crashed) while running it. Azure never loses a
    deployment; the emulator cannot resume one (secure parameter values are never stored), so it ends it."""
    return EmulatorError(
        500,
        "DeploymentInterrupted",
        "The local emulator that was running this deployment stopped (killed or crashed) before the deployment "
        "ended. The resources it had written stay written; the others were not written. Deploy again.",
        target=deployment_id,
    )


DEPLOYMENT_FAILED_MESSAGE = (
    "At least one resource deployment operation failed. Please list deployment operations for details. "
    "Please see https://aka.ms/arm-deployment-operations for usage details."
)


def deployment_failed(details: list[dict[str, Any]], deployment_id: str) -> EmulatorError:
    """A deployment that ended Failed: one detail per failed resource (its own error), the deployment as target
    (reference/recordings README: ARM's current shape; older services had no target)."""
    return EmulatorError(400, "DeploymentFailed", DEPLOYMENT_FAILED_MESSAGE, target=deployment_id, details=details)
