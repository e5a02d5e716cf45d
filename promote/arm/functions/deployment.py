"""ARM functions that read what the template declares and where it is deployed: `parameters()`, `variables()`,
`resourceGroup()`, `subscription()`, `deployment()`, and the resource id family (`resourceId()` ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from promote.arm.errors import ExpressionError
from promote.arm.functions.registry import arm_function
from promote.arm.values import want_str

if TYPE_CHECKING:
    from promote.arm.expressions import Scope


@arm_function("parameters", 1)
def _parameters(scope: Scope, args: list[Any]) -> Any:
    return scope.parameter(want_str("parameters", args[0]))


@arm_function("variables", 1)
def _variables(scope: Scope, args: list[Any]) -> Any:
    return scope.variable(want_str("variables", args[0]))


@arm_function("resourceGroup", 0)
def _resource_group(scope: Scope, args: list[Any]) -> dict[str, Any]:
    return scope.resource_group()


@arm_function("subscription", 0)
def _subscription(scope: Scope, args: list[Any]) -> dict[str, Any]:
    return scope.subscription()


@arm_function("deployment", 0)
def _deployment(scope: Scope, args: list[Any]) -> dict[str, Any]:
    return scope.deployment()


def _type_and_names(fn: str, args: list[Any]) -> tuple[list[str], str, list[str]]:
    """Split resourceId-style arguments into (leading scope args, resource type, names), checking the count."""
    texts = [want_str(fn, a) for a in args]
    at = next((i for i, a in enumerate(texts) if "/" in a), None)
    if at is None:
        raise ExpressionError(
            f"{fn}() needs a resource type with its provider namespace (like 'Microsoft.DataFactory/factories')"
        )
    rtype, names = texts[at], texts[at + 1 :]
    segments = [s for s in rtype.split("/") if s]
    wanted = len(segments) - 1
    given = sum(len(n.split("/")) for n in names)  # 'factory/pipeline' counts as two names, as ARM accepts
    if wanted < 1 or given != wanted:
        raise ExpressionError(f"{fn}(): resource type '{rtype}' needs {wanted} name(s), got {given}")
    flat = [part for n in names for part in n.split("/")]
    return texts[:at], "/".join(segments), flat


def _provider_path(rtype: str, names: list[str]) -> str:
    segments = rtype.split("/")
    path = f"providers/{segments[0]}"
    for kind, name in zip(segments[1:], names, strict=True):
        path += f"/{kind}/{name}"
    return path


@arm_function("resourceId", 2, None)
def _resource_id(scope: Scope, args: list[Any]) -> str:
    leading, rtype, names = _type_and_names("resourceId", args)
    if len(leading) > 2:
        raise ExpressionError("resourceId() takes at most a subscription id and a resource group before the type")
    ctx = scope.require_context("resourceId") if len(leading) < 2 else None
    sub = leading[0] if len(leading) == 2 else ctx.subscription_id  # type: ignore[union-attr]
    rg = leading[-1] if leading else ctx.resource_group  # type: ignore[union-attr]
    return f"/subscriptions/{sub}/resourceGroups/{rg}/{_provider_path(rtype, names)}"


@arm_function("subscriptionResourceId", 2, None)
def _subscription_resource_id(scope: Scope, args: list[Any]) -> str:
    leading, rtype, names = _type_and_names("subscriptionResourceId", args)
    if len(leading) > 1:
        raise ExpressionError("subscriptionResourceId() takes at most a subscription id before the type")
    sub = leading[0] if leading else scope.require_context("subscriptionResourceId").subscription_id
    return f"/subscriptions/{sub}/{_provider_path(rtype, names)}"


@arm_function("tenantResourceId", 2, None)
def _tenant_resource_id(scope: Scope, args: list[Any]) -> str:
    leading, rtype, names = _type_and_names("tenantResourceId", args)
    if leading:
        raise ExpressionError("tenantResourceId() takes the resource type first")
    return f"/{_provider_path(rtype, names)}"


@arm_function("extensionResourceId", 3, None)
def _extension_resource_id(scope: Scope, args: list[Any]) -> str:
    base = want_str("extensionResourceId", args[0]).rstrip("/")
    leading, rtype, names = _type_and_names("extensionResourceId", args[1:])
    if leading:
        raise ExpressionError("extensionResourceId() takes a resource id, then the extension's type")
    return f"{base}/{_provider_path(rtype, names)}"
