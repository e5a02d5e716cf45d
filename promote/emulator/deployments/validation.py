"""ARM's template validation, before anything is recorded: the request's shape, parameters, limits, expressions,
resource types and names, and the dependency graph. What passes becomes a `Prepared` deployment: every resource
evaluated, placed (the factory or one of its children) and ordered.

The template is evaluated by the product's own evaluator (`promote.arm`): the emulator and the promoter can
never disagree about what a template means. That is also what sharing cannot check; see README.md ("What the
emulator shares with the product").

Key Vault references in the parameters cannot be resolved locally: each becomes an opaque placeholder
(`emulator-keyvault-placeholder:<vault>/<secret>`), so no secret is ever needed, stored or logged.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from promote.arm import DeploymentContext, evaluate_template, parse_template
from promote.emulator import errors
from promote.emulator.deployments.graph import order
from promote.emulator.deployments.model import DEPLOYMENT_TYPE, PlannedResource, Prepared
from promote.emulator.store import FACTORY_TYPE, KIND_BY_TYPE, GroupScope, Kind, Store
from promote.errors import TemplateError
from promote.factory import object_key_from_arm

MAX_RESOURCES = 800
MAX_PARAMETERS = 256
MAX_TEMPLATE_BYTES = 4 * 1024 * 1024
PLACEHOLDER_PREFIX = "emulator-keyvault-placeholder:"
_TYPE_NAMES = {
    "string": "String",
    "securestring": "SecureString",
    "int": "Int",
    "number": "Int",
    "bool": "Bool",
    "object": "Object",
    "secureobject": "SecureObject",
    "array": "Array",
}


def prepare(scope: GroupScope, name: str, body: Any, location: str) -> Prepared:
    """ARM's template validation; raises the error ARM answers (400 InvalidTemplate, 413, ...)."""
    if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
        raise errors.invalid_request_content("The deployment must have a 'properties' object.")
    props: dict[str, Any] = body["properties"]
    for link in ("templateLink", "parametersLink"):
        if props.get(link) is not None:
            where = props[link].get("uri") or props[link].get("id") if isinstance(props[link], dict) else None
            raise errors.EmulatorError(
                400,
                "InvalidContentLink",
                f"The local emulator does not download linked content ('{link}': '{where}'); send the "
                f"template and its parameters inline in 'properties.template' and 'properties.parameters'.",
            )
    template = props.get("template")
    if not isinstance(template, dict):
        raise errors.invalid_request_content("The deployment must have 'properties.template' (an object).")
    text = json.dumps(template, separators=(",", ":"))
    if len(text.encode()) > MAX_TEMPLATE_BYTES:
        raise errors.request_too_large()
    if '"[[' in text:  # a property name escaped as `[[...]`: ARM unescapes names too, as parse_template does
        try:
            template = parse_template(text, f"deployment '{name}'")
        except TemplateError as exc:
            raise errors.invalid_template("; ".join(p.message for p in exc.problems)) from None
    mode = str(props.get("mode") or "Incremental")
    if mode.lower() not in ("incremental", "complete"):
        raise errors.invalid_request_content(f"The deployment mode '{mode}' is not valid: Incremental or Complete.")
    mode = mode.capitalize()

    declared = template.get("parameters") or {}
    if not isinstance(declared, dict):
        raise errors.invalid_template("The template 'parameters' must be an object")
    if len(declared) > MAX_PARAMETERS:
        raise errors.invalid_template(
            f"The number of template parameters limit exceeded. Limit: '{MAX_PARAMETERS}' and actual: "
            f"'{len(declared)}'."
        )
    given = props.get("parameters") or {}
    if not isinstance(given, dict):
        raise errors.invalid_request_content("'properties.parameters' must be an object.")
    declared_lower = {k.lower(): k for k in declared}
    unknown = [k for k in given if k.lower() not in declared_lower]
    if unknown:
        raise errors.invalid_template(
            f"The template parameters '{', '.join(unknown)}' in the parameters file are not valid; they are not "
            "present in the original template and can therefore not be provided at deployment time. The only "
            f"supported parameters for this template are '{', '.join(declared)}'. Please see "
            "https://aka.ms/arm-pass-parameter-values for usage details."
        )
    values, shown = _parameter_values(given, declared, declared_lower)

    raw_resources = template.get("resources") or []
    if isinstance(raw_resources, list) and len(raw_resources) > MAX_RESOURCES:
        raise _too_many(len(raw_resources))
    context = DeploymentContext(
        subscription_id=scope.subscription,
        resource_group=scope.resource_group,
        deployment_name=name,
        location=location,
    )
    try:
        evaluated = evaluate_template(template, values, file=f"deployment '{name}'", context=context)
    except TemplateError as exc:
        raise errors.invalid_template(
            "; ".join(f"{p.object}: {p.message}" if p.object else p.message for p in exc.problems)
        ) from None
    if len(evaluated.resources) > MAX_RESOURCES:
        raise _too_many(len(evaluated.resources))
    for spec_name, spec in evaluated.parameters.items():
        if spec_name not in shown:
            entry: dict[str, Any] = {"type": _TYPE_NAMES.get(spec.type, spec.type)}
            if not spec.secure:
                entry["value"] = evaluated.parameter_values.get(spec_name)
            shown[spec_name] = entry

    planned = [_place(scope, r) for r in evaluated.resources]
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return Prepared(
        scope=scope,
        name=name,
        mode=mode,
        template=template,
        parameters=shown,
        resources=order(planned),
        template_hash=str(int.from_bytes(digest[:8], "big")).zfill(19)[:19],
        on_error=props.get("onErrorDeployment"),
        tags=body.get("tags") if isinstance(body.get("tags"), dict) else None,
    )


def _place(scope: GroupScope, r: Any) -> PlannedResource:
    """Classify one evaluated resource: the factory, a child object, or something the emulator refuses."""
    base = f"{scope.prefix}/providers"
    lower = r.type.lower()
    if lower == DEPLOYMENT_TYPE.lower():
        raise errors.invalid_template(
            f"The template resource '{r.name}' is a nested deployment ({DEPLOYMENT_TYPE}); the local emulator "
            "does not run nested or linked deployments: deploy each template directly"
        )
    kind: Kind | None
    child: str | None
    if lower == FACTORY_TYPE.lower():
        _check_segments(r.type, r.name)
        resource_id, factory, kind, child = f"{base}/{FACTORY_TYPE}/{r.name}", r.name, None, None
    else:
        key = object_key_from_arm(r.type, r.name)
        if key is None:
            raise errors.invalid_template(
                f"The template resource '{r.name}' of type '{r.type}' is not supported by the local emulator "
                "(it serves Microsoft.DataFactory/factories and their child objects)"
            )
        _check_segments(r.type, r.name)
        kind, child = KIND_BY_TYPE[key.type], key.name
        factory = r.name.split("/", 1)[0]
        resource_id = Store.object_id(scope, scope.resource_group, factory, kind, child)
    return PlannedResource(
        index=r.index,
        type=r.type,
        name=r.name,
        api_version=r.api_version,
        properties=r.properties,
        other=r.other,
        id=resource_id,
        factory=factory,
        kind=kind,
        child=child,
        depends_raw=list(r.depends_on),
    )


def _parameter_values(
    given: dict[str, Any], declared: dict[str, Any], declared_lower: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Plain values for the evaluator, and the parameters as the deployment shows them (no secret values)."""
    values: dict[str, Any] = {}
    shown: dict[str, Any] = {}
    for key, entry in given.items():
        name = declared_lower[key.lower()]
        spec = declared[name] if isinstance(declared.get(name), dict) else {}
        type_ = str(spec.get("type", "string")).lower()
        secure = type_ in ("securestring", "secureobject")
        if isinstance(entry, dict) and isinstance(entry.get("reference"), dict):
            reference = entry["reference"]
            vault = str((reference.get("keyVault") or {}).get("id", "")).rstrip("/").rsplit("/", 1)[-1]
            secret = reference.get("secretName")
            if not vault or not secret:
                raise errors.invalid_template(
                    f"The Key Vault reference of parameter '{key}' needs 'keyVault.id' and 'secretName'"
                )
            values[name] = f"{PLACEHOLDER_PREFIX}{vault}/{secret}"
            shown[name] = {"type": _TYPE_NAMES.get(type_, "SecureString"), "reference": reference}
        elif isinstance(entry, dict) and "value" in entry:
            values[name] = entry["value"]
            shown[name] = {"type": _TYPE_NAMES.get(type_, "String")}
            if not secure:
                shown[name]["value"] = entry["value"]
        else:
            raise errors.invalid_template(
                f"The value of deployment parameter '{key}' is not valid: give it as {{\"value\": ...}} or as a "
                'Key Vault {"reference": ...}'
            )
    return values, shown


def _too_many(count: int) -> errors.EmulatorError:
    return errors.invalid_template(
        f"The number of template resources limit exceeded. Limit: '{MAX_RESOURCES}' and actual: '{count}'."
    )


def _check_segments(type_: str, name: str) -> None:
    """ARM's rule: a nested resource's name has one segment fewer than its type."""
    if len(type_.strip("/").split("/")) != len(name.strip("/").split("/")) + 1:
        raise errors.invalid_template(
            f"The template resource '{name}' for type '{type_}' has incorrect segment lengths. A nested resource "
            "type must have identical number of segments as its resource name. A root resource type must have "
            "segment length one greater than its resource name. Please see https://aka.ms/arm-template/#resources "
            "for usage details"
        )
