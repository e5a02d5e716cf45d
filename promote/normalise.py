"""The one normalisation that makes desired and live objects comparable: applied to BOTH sides of a
desired × live diff, never to what is deployed.

`promote.diff.normalise` removes the noise that differs between two *publishes* (empty `annotations`, Studio's
`dependsOn: []`, read-only properties). Against a *live* factory there is more: what ADF does to an object
between the PUT and the GET. Each rule below is one such thing, with the evidence; a rule that could hide a
change a deployment would make does not belong here.

1. Read-only properties (`promote.diff.READ_ONLY`: trigger `runtimeState`, integration runtime `state`,
   managed network `vNetId` / `alias`, private endpoint `provisioningState` / `connectionState` /
   `isReserved`) are dropped: Azure fills them on GET and ignores them on PUT.
2. A secure string's value is opaque. ADF never returns it (`{"type": "SecureString", "value": "**********"}`,
   the REST examples' LinkedServices_Get), so the live value says nothing, and the desired value is a
   placeholder (`<secure:...>`, `<keyvault:...>`) or the publisher's dummy. Both become `SECURE_TOKEN`. The
   `type` stays, so a SecureString turning into an `AzureKeyVaultSecret` (which ADF returns in full: store,
   secretName, secretVersion) is still a change, and a Key Vault reference stays compared field by field.
3. A linked service's `typeProperties.encryptedCredential` is dropped: ADF (re-)encrypts credentials on every
   write (LinkedServices_Get / _Update examples show it appearing and changing), and an encrypted blob
   published from another factory cannot be compared with this factory's anyway.
4. A managed private endpoint's `fqdns` defaults to `[]` (ManagedPrivateEndpoints_Get shows `fqdns: []` for an
   endpoint created without it).
5. A global parameter's `type` is compared in ADF's enum casing (`String`, `Int`, `Float`, `Bool`, `Array`,
   `Object`): Studio publishes `string`, the REST API answers `String` (GlobalParameters_ListByFactory).

Not normalised: list order (activity order is what a reviewer sees), numbers vs strings, anything else.

Trees are shared where nothing changes, so normalising a large factory copies little.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from promote.diff import READ_ONLY
from promote.factory import Factory, FactoryObject

SECURE_TOKEN = "<secure:opaque>"  # a placeholder to promote.diff: compared, never shown
_SECURE_TYPES = frozenset({"securestring"})
_GLOBAL_PARAMETER_TYPES = {t.lower(): t for t in ("String", "Int", "Float", "Bool", "Array", "Object")}


def comparable(properties: dict[str, Any], object_type: str) -> dict[str, Any]:
    """`properties` of an object of `object_type` (contract casing) as compared desired × live.

    Returns the input itself when no rule applies (no copy), else a new tree sharing unchanged parts.
    """
    out = _secure(properties)
    read_only = READ_ONLY.get(object_type)
    if read_only and any(key in out for key in read_only):
        out = {k: v for k, v in out.items() if k not in read_only}
    if object_type == "linkedServices":
        type_properties = out.get("typeProperties")
        if isinstance(type_properties, dict) and "encryptedCredential" in type_properties:
            out = {
                **out,
                "typeProperties": {k: v for k, v in type_properties.items() if k != "encryptedCredential"},
            }
    elif object_type == "managedVirtualNetworks/managedPrivateEndpoints":
        if "fqdns" not in out:
            out = {**out, "fqdns": []}
    elif object_type == "globalParameters":
        out = _global_parameter_types(out)
    return out


def comparable_factory(factory: Factory) -> Factory:
    """A Factory whose objects' properties are `comparable`; objects no rule touches are shared as they are.

    For the desired side of a desired × live diff only: never deploy what this returns (secure values are
    tokens, trigger `runtimeState` is gone).
    """
    objects: dict[Any, FactoryObject] = {}
    for key, obj in factory.objects.items():
        properties = comparable(obj.properties, key.type)
        objects[key] = obj if properties is obj.properties else dataclasses.replace(obj, properties=properties)
    return dataclasses.replace(factory, objects=objects)


def _secure(node: Any) -> Any:
    """The tree with every SecureString value replaced by the token; the same object when there is none."""
    if isinstance(node, dict):
        kind = node.get("type")
        if isinstance(kind, str) and kind.lower() in _SECURE_TYPES and "value" in node:
            if node["value"] == SECURE_TOKEN:
                return node
            return {**node, "value": SECURE_TOKEN}
        changed: dict[str, Any] | None = None
        for key, value in node.items():
            if isinstance(value, (dict, list)):
                new = _secure(value)
                if new is not value:
                    if changed is None:
                        changed = dict(node)
                    changed[key] = new
        return node if changed is None else changed
    if isinstance(node, list):
        changed_list: list[Any] | None = None
        for index, value in enumerate(node):
            if isinstance(value, (dict, list)):
                new = _secure(value)
                if new is not value:
                    if changed_list is None:
                        changed_list = list(node)
                    changed_list[index] = new
        return node if changed_list is None else changed_list
    return node


def _global_parameter_types(properties: dict[str, Any]) -> dict[str, Any]:
    changed: dict[str, Any] | None = None
    for name, spec in properties.items():
        if isinstance(spec, dict) and isinstance(spec.get("type"), str):
            canonical = _GLOBAL_PARAMETER_TYPES.get(spec["type"].lower())
            if canonical is not None and canonical != spec["type"]:
                if changed is None:
                    changed = dict(properties)
                changed[name] = {**spec, "type": canonical}
    return properties if changed is None else changed
