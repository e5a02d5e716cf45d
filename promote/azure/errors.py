"""What can go wrong when talking to Azure, as domain errors the executor can act on.

Every call of `promote.azure` raises one of these instead of an SDK exception, so that nothing above this
package needs to know azure-core's exception types (or import the SDK to catch them). Each carries what Azure
said — code, message, target, HTTP status — because the executor decides on them: `TriggerEnabledCannotUpdate`
means "stop it first", `The document cannot be deleted since it is referenced by X.` names the referrer, a
failed deployment lists each failed resource with its own error.

This module imports no SDK: the command-line edge maps these to exit codes without paying the import.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from promote.errors import PromoteError
from promote.factory import ObjectKey


class AzureError(PromoteError):
    """Base of every error raised by `promote.azure` (exit code 1 unless the command decides otherwise)."""


class AzureCallError(AzureError):
    """Azure answered an error: ADF's or ARM's `code`, `message`, `target` and the HTTP `status`.

    `status` is None when no answer came at all (connection refused or reset, time-outs after the SDK's retries).
    """

    def __init__(
        self,
        code: str,
        message: str,
        target: str | None = None,
        status: int | None = None,
        *,
        operation: str = "",
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.target = target
        self.status = status
        self.operation = operation
        self.details = list(details or [])
        where = f"{operation}: " if operation else ""
        status_text = f"{status} " if status is not None else ""
        target_text = f" (target {target})" if target else ""
        super().__init__(f"{where}{status_text}{code}: {message.rstrip()}{target_text}")

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def trigger_enabled(self) -> bool:
        """ADF refused to update or delete a started trigger (`TriggerEnabledCannotUpdate`)."""
        return self.code == "TriggerEnabledCannotUpdate"

    @property
    def provisioning(self) -> bool:
        """ADF refused to start an event trigger whose subscription is still changing (retry later)."""
        return "cannot be updated during provisioning" in self.message

    @property
    def referenced_by(self) -> str | None:
        """The referrer named by `The document cannot be deleted since it is referenced by <X>.`, if that is it."""
        marker = "referenced by "
        if "cannot be deleted" not in self.message or marker not in self.message:
            return None
        return self.message.split(marker, 1)[1].rstrip().rstrip(".")


class TemplateRejected(AzureCallError):
    """ARM refused the deployment before running it (InvalidTemplate, parameter errors, quota): nothing written."""


class ConnectionFailed(AzureCallError):
    """No answer from the endpoint after the SDK's retries: DNS, refused or reset connections, read time-outs."""


@dataclass(frozen=True)
class FailedResource:
    """One resource a deployment failed to write, with its own error.

    `resource` is the object's key as text (`pipelines/train_mnist`) when it is a factory object, else ARM's
    `type/name`. Iterating gives `(resource, code, message)`, the shape the executor logs.
    """

    resource: str
    code: str
    message: str
    target: str | None = None
    key: ObjectKey | None = None

    def __iter__(self) -> Iterator[str]:
        yield from (self.resource, self.code, self.message)

    def render(self) -> str:
        return f"{self.resource}: {self.code}: {self.message.rstrip()}"


class DeploymentFailed(AzureError):
    """A resource group deployment ended Failed (or Canceled). Resources written before the failure stay written:
    ARM is not transactional, which is why the executor needs `details` to know where it stopped."""

    def __init__(
        self,
        name: str,
        details: list[FailedResource],
        *,
        code: str = "DeploymentFailed",
        message: str = "",
        state: str = "Failed",
    ) -> None:
        self.name = name
        self.details = list(details)
        self.code = code
        self.message = message
        self.state = state
        lines = [f"deployment {name} {state.lower()}: {code}" + (f": {message.rstrip()}" if message else "")]
        lines += [f"  {d.render()}" for d in self.details]
        super().__init__("\n".join(lines))


class WaitTimeout(AzureError):
    """Something did not reach the wanted state within its time limit (the call itself may still succeed later).

    `last` is the last state seen, `error` the last error when the wait was a retry loop.
    """

    def __init__(self, what: str, seconds: float, last: str | None = None, error: Exception | None = None) -> None:
        self.what = what
        self.seconds = seconds
        self.last = last
        self.error = error
        text = f"{what}: not done within {seconds:g} s"
        if last:
            text += f" (last state: {last})"
        if error is not None:
            text += f" (last error: {error})"
        super().__init__(text)


def error_from_body(body: Any) -> tuple[str, str, str | None, list[dict[str, Any]]]:
    """(code, message, target, details) of a CloudError body `{"error": {...}}` (or a bare error object).

    Tolerates the shapes Azure really sends: ARM's `error`, OData's `odata.error`, a few services' capitalised
    `Code` / `Message`, plain text.
    """
    if isinstance(body, dict):
        inner = body.get("error") or body.get("odata.error") or body
        if isinstance(inner, dict):
            code = inner.get("code") or inner.get("Code") or "Unknown"
            message = inner.get("message") or inner.get("Message") or ""
            if isinstance(message, dict):  # OData: {"lang": ..., "value": ...}
                message = message.get("value", "")
            details = inner.get("details") or []
            return (
                str(code),
                str(message),
                inner.get("target"),
                [d for d in details if isinstance(d, dict)] if isinstance(details, list) else [],
            )
    if isinstance(body, str) and body.strip():
        return "Unknown", body.strip(), None, []
    return "Unknown", "", None, []
