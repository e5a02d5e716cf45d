"""Generate the ARM deployment template(s) that write a set of factory objects. Pure: dicts in, dicts out.

The resources have ADF's own shape, exactly as ADF Studio publishes them, so anything that reads a published
template reads these too (including the emulator's deployments):

    {"name": "[concat(parameters('factoryName'), '/x')]", "type": "Microsoft.DataFactory/factories/pipelines",
     "apiVersion": "2018-06-01", "properties": {...},
     "dependsOn": ["[concat(variables('factoryId'), '/datasets/y')]"]}

- The factory object itself is never a resource (a PUT of it wipes its git, Purview and key settings); global
  parameters go only as the `globalparameters/default` child.
- `dependsOn` lists only resources of the same template: ARM rejects a dependency on a resource it does not
  hold, and anything outside was written by an earlier deployment or is already live.
- Every string is a literal to ARM, not an expression: a string that starts with `[` and ends with `]` would be
  evaluated (an SQL `[dbo].[proc]` in a stored-procedure activity, a JSON path `['Status']`), so it is written
  `[[...]`, as ADF's own publish does. Object keys get the same treatment (ADF escapes them too). A string that
  starts with `[` but does not end with `]` is left alone: ARM does not treat it as an expression and would
  not remove an added `[`.
- Secrets: the desired state holds opaque placeholders (`<keyvault:vault/secret>`, `<secure:NAME>`) where a
  secure value goes. Each becomes `[parameters('NAME')]` (inside a longer string, `[concat('...',
  parameters('NAME'), '...')]`), declared `securestring`; the deployment's parameter records only where the
  value comes from. A placeholder with no mapping is refused: deploying it would set a password to the text
  `<secure:...>`.
- Limits: ARM takes at most 800 resources, 256 parameters and about 4 MB per template. Objects are cut into
  several templates in write order (wave, kind, name), so a deployment only ever depends on earlier ones.
  Sizes are measured on the JSON as it will be sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promote.errors import InputError, Problem
from promote.factory import ARM_PREFIX, FactoryObject, ObjectKey
from promote.plan.steps import DeploymentParameter

SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
API_VERSION = "2018-06-01"
FACTORY_PARAMETER = "factoryName"
FACTORY_ID = "[concat('Microsoft.DataFactory/factories/', parameters('factoryName'))]"
PLACEHOLDER = re.compile(r"<(?:keyvault|secure):[^<>]*>")

# ARM type suffix where the contract casing differs from what ADF publishes.
_ARM_TYPE = {"globalParameters": "globalparameters"}


@dataclass(frozen=True)
class Limits:
    """ARM's limits for one template and one resource (a little margin under 4 MiB and 1 MiB: ARM measures after
    its own processing). The one statement of them: plans cut templates by them, and `promote validate` refuses
    an object that no template can hold by the same numbers (`object_too_large`)."""

    resources: int = 800
    template_bytes: int = 4_000_000
    parameters: int = 256
    resource_bytes: int = 1_000_000  # "each resource definition to 1 MB"


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class GeneratedTemplate:
    """One template: the objects it writes, in order, the secure parameters it declares, its size."""

    template: dict[str, Any]
    keys: tuple[ObjectKey, ...]
    parameters: tuple[DeploymentParameter, ...]
    size: int


# --------------------------------------------------------------------------------------------------- secure


def secure_parameters_from(mapping: Mapping[str, Any]) -> dict[str, DeploymentParameter]:
    """placeholder -> DeploymentParameter, from what the environment module produces.

    Each value is a `DeploymentParameter`, or `(parameter name, source)` / `(name, source, type)` where source
    is a Key Vault reference (an object with `to_arm()`, ARM's `{"reference": {...}}` form, or the bare
    `{"keyVault": ..., "secretName": ...}`) or an environment variable's name.
    """
    out: dict[str, DeploymentParameter] = {}
    for placeholder, value in mapping.items():
        if isinstance(value, DeploymentParameter):
            out[placeholder] = value
            continue
        name, source, *rest = value
        type_ = str(rest[0]).lower() if rest else "securestring"
        if hasattr(source, "to_arm"):
            out[placeholder] = DeploymentParameter(name, type_, keyvault=source.to_arm())
        elif isinstance(source, Mapping):
            ref = dict(source) if "reference" in source else {"reference": dict(source)}
            out[placeholder] = DeploymentParameter(name, type_, keyvault=ref)
        elif isinstance(source, str):
            out[placeholder] = DeploymentParameter(name, type_, env_var=source)
        else:
            raise TypeError(f"secure parameter {name}: unknown source {type(source).__name__}")
    return out


# --------------------------------------------------------------------------------------------------- strings


def arm_literal(text: str) -> str:
    """A string literal inside an ARM expression: single quotes, doubled inside."""
    return "'" + text.replace("'", "''") + "'"


def escape_string(text: str) -> str:
    """A literal string as ARM must see it: `[[` when ARM would otherwise evaluate it."""
    return "[" + text if text.startswith("[") and text.endswith("]") else text


class _Encoder:
    """Turns desired properties into template properties, recording the secure parameters used."""

    def __init__(self, secure: Mapping[str, DeploymentParameter], key: ObjectKey):
        self.secure = secure
        self.key = key
        self.used: dict[str, DeploymentParameter] = {}
        self.unknown: set[str] = set()

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.string(value)
        if isinstance(value, dict):
            return {escape_string(k) if isinstance(k, str) else k: self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(item) for item in value]
        return value

    def string(self, text: str) -> str:
        if "<" not in text or not PLACEHOLDER.search(text):
            return escape_string(text)
        parts: list[str] = []
        position = 0
        for match in PLACEHOLDER.finditer(text):
            if match.start() > position:
                parts.append(arm_literal(text[position : match.start()]))
            parameter = self.secure.get(match.group(0))
            if parameter is None:
                self.unknown.add(match.group(0))
                parts.append(arm_literal(match.group(0)))
            else:
                self.used[parameter.name] = parameter
                parts.append(f"parameters({arm_literal(parameter.name)})")
            position = match.end()
        if position < len(text):
            parts.append(arm_literal(text[position:]))
        return f"[{parts[0]}]" if len(parts) == 1 else f"[concat({', '.join(parts)})]"


# --------------------------------------------------------------------------------------------------- resources


def arm_type(key: ObjectKey) -> str:
    return ARM_PREFIX + _ARM_TYPE.get(key.type, key.type)


def resource_path(key: ObjectKey) -> str:
    """The part of the resource id below the factory: `pipelines/p`, `managedVirtualNetworks/default/
    managedPrivateEndpoints/x` (nested types interleave with the name's levels)."""
    types = _ARM_TYPE.get(key.type, key.type).split("/")
    names = key.name.split("/", len(types) - 1)
    if len(names) != len(types):
        return f"{key.type}/{key.name}"
    return "/".join(part for pair in zip(types, names, strict=True) for part in pair)


def _name_expression(key: ObjectKey) -> str:
    return f"[concat(parameters('{FACTORY_PARAMETER}'), {arm_literal('/' + key.name)})]"


def _depends_expression(key: ObjectKey) -> str:
    return f"[concat(variables('factoryId'), {arm_literal('/' + resource_path(key))})]"


@dataclass(frozen=True)
class _Encoded:
    obj: FactoryObject
    resource: dict[str, Any]  # without dependsOn
    parameters: dict[str, DeploymentParameter]
    size: int  # upper bound of the resource's JSON size with every dependency it could list


def _encode(
    obj: FactoryObject, dependencies: Iterable[ObjectKey], secure: Mapping[str, DeploymentParameter]
) -> _Encoded:
    encoder = _Encoder(secure, obj.key)
    resource = {
        "name": _name_expression(obj.key),
        "type": arm_type(obj.key),
        "apiVersion": obj.api_version or API_VERSION,
        "properties": encoder.value(obj.properties),
    }
    if encoder.unknown:
        raise InputError(
            [
                Problem(
                    file=obj.file or "<desired state>",
                    object=str(obj.key),
                    message=f"secure value {placeholder} has no deployment parameter",
                    hint="give the parameter a value in the environment file (Key Vault or ${VAR})",
                )
                for placeholder in sorted(encoder.unknown)
            ]
        )
    full = {**resource, "dependsOn": [_depends_expression(dep) for dep in sorted(dependencies)]}
    return _Encoded(obj, resource, dict(encoder.used), _json_size(full))


def _json_size(value: Any) -> int:
    """Bytes of the JSON as a client sends it (Python's default separators, ASCII escapes): an upper bound
    of what ARM measures, which ignores formatting."""
    return len(json.dumps(value).encode("utf-8"))


def _skeleton(factory: str, parameters: Iterable[DeploymentParameter]) -> dict[str, Any]:
    declared: dict[str, Any] = {FACTORY_PARAMETER: {"type": "string", "defaultValue": factory}}
    for parameter in sorted(parameters, key=lambda p: p.name.casefold()):
        declared[parameter.name] = {"type": parameter.type}
    return {
        "$schema": SCHEMA,
        "contentVersion": "1.0.0.0",
        "parameters": declared,
        "variables": {"factoryId": FACTORY_ID},
        "resources": [],
    }


def _declaration_size(parameter: DeploymentParameter) -> int:
    # `"name": {"type": ...}` plus the ", " before it: the braces of the dumped dict count for the separator.
    return _json_size({parameter.name: {"type": parameter.type}})


def split_templates(
    objects: Sequence[FactoryObject],
    dependencies: Mapping[ObjectKey, Iterable[ObjectKey]],
    *,
    factory: str,
    secure: Mapping[str, DeploymentParameter],
    limits: Limits = DEFAULT_LIMITS,
) -> list[GeneratedTemplate]:
    """Templates that write `objects`, cut in the given order (which must put every object after what it
    depends on among `objects`) whenever the next object would break one of `limits`.

    `dependencies[key]` are the keys the object must come after (within `objects`); each template's
    `dependsOn` keeps those in the same template. Raises InputError for an object too large for any template.
    """
    clash = [p for p in secure.values() if p.name.casefold() == FACTORY_PARAMETER.casefold()]
    if clash:
        raise InputError.single("<environment>", f"a secure parameter may not be named {FACTORY_PARAMETER}")
    encoded = [_encode(obj, dependencies.get(obj.key, ()), secure) for obj in objects]
    base = _json_size(_skeleton(factory, ()))
    too_large = [p for item in encoded if (p := object_too_large(item.obj, item.size, len(item.parameters), limits))]
    if too_large:
        raise InputError(too_large)

    groups: list[list[_Encoded]] = []
    current: list[_Encoded] = []
    size = base
    params: dict[str, DeploymentParameter] = {}
    for item in encoded:
        new_params = {n: p for n, p in item.parameters.items() if n not in params}
        grown = size + item.size + 2 + sum(_declaration_size(p) for p in new_params.values())
        fits = (
            len(current) + 1 <= limits.resources
            and grown <= limits.template_bytes
            and 1 + len(params) + len(new_params) <= limits.parameters
        )
        if current and not fits:
            groups.append(current)
            current, size, params = [], base, {}
            new_params = dict(item.parameters)
            grown = size + item.size + 2 + sum(_declaration_size(p) for p in new_params.values())
        if grown > limits.template_bytes or 1 + len(new_params) > limits.parameters:  # declarations tip it over
            raise InputError.single(
                item.obj.file or "<desired state>",
                f"this object alone needs {grown:,} bytes and {1 + len(new_params)} parameters: more than one "
                f"ARM template can hold ({limits.template_bytes:,} bytes, {limits.parameters} parameters)",
                object=str(item.obj.key),
            )
        current.append(item)
        size = grown
        params.update(new_params)
    if current:
        groups.append(current)
    return [_assemble(group, dependencies, factory) for group in groups]


def deployed_size(obj: FactoryObject) -> tuple[int, int]:
    """(bytes, secure parameters) of the object as a deployment writes it, before any `dependsOn`. Secure values
    count as the parameters they become, whether or not the environment maps them yet."""
    encoder = _Encoder({}, obj.key)
    resource = {
        "name": _name_expression(obj.key),
        "type": arm_type(obj.key),
        "apiVersion": obj.api_version or API_VERSION,
        "properties": encoder.value(obj.properties),
    }
    return _json_size(resource), len(encoder.unknown)


def object_too_large(obj: FactoryObject, size: int, parameters: int, limits: Limits = DEFAULT_LIMITS) -> Problem | None:
    """The object alone breaks ARM's limits, so no way of cutting templates can deploy it."""
    base = _json_size(_skeleton("f" * 260, ()))
    if size <= limits.resource_bytes and base + size <= limits.template_bytes and 1 + parameters <= limits.parameters:
        return None
    return Problem(
        obj.file or "<desired state>",
        f"this object needs {size:,} bytes and {parameters} secure parameter(s) as deployed: no ARM template can "
        f"hold it (one resource at most {limits.resource_bytes:,} bytes, one template {limits.template_bytes:,}, "
        f"{limits.parameters - 1} secure parameters)",
        object=str(obj.key),
        hint="split it in ADF Studio (a pipeline into pipelines called by Execute Pipeline, ...)",
    )


def _assemble(
    group: list[_Encoded], dependencies: Mapping[ObjectKey, Iterable[ObjectKey]], factory: str
) -> GeneratedTemplate:
    here = {item.obj.key for item in group}
    parameters: dict[str, DeploymentParameter] = {}
    resources = []
    for item in group:
        parameters.update(item.parameters)
        inside = sorted(dep for dep in dependencies.get(item.obj.key, ()) if dep in here)
        resources.append({**item.resource, "dependsOn": [_depends_expression(dep) for dep in inside]})
    template = _skeleton(factory, parameters.values())
    template["resources"] = resources
    ordered = tuple(sorted(parameters.values(), key=lambda p: p.name.casefold()))
    return GeneratedTemplate(template, tuple(item.obj.key for item in group), ordered, _json_size(template))


def generate_template(
    objects: Sequence[FactoryObject],
    dependencies: Mapping[ObjectKey, Iterable[ObjectKey]],
    *,
    factory: str,
    secure: Mapping[str, DeploymentParameter],
) -> GeneratedTemplate:
    """One template for all `objects`, whatever its size (for tools and tests; plans use `split_templates`)."""
    unlimited = Limits(resources=10**9, template_bytes=10**15, parameters=10**9)
    parts = split_templates(objects, dependencies, factory=factory, secure=secure, limits=unlimited)
    if not parts:
        empty = _skeleton(factory, ())
        return GeneratedTemplate(empty, (), (), _json_size(empty))
    return parts[0]
