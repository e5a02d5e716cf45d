"""linkedTemplates/: the same resources as ARMTemplateForFactory.json, split the way ADF splits them.

ADF writes the linked form on every publish, for factories too large for one template (4 MB). What the
reference publishes show (every pair with a collaboration folder, 2019-2025):

- order: global parameters first, then rounds: each round takes, in the single template's order, every
  resource whose dependencies were all taken in earlier rounds. So a part never depends on a later one;
- parts of 20 resources (`ArmTemplate_0.json`, `ArmTemplate_1.json`, ...), each a template declaring
  `factoryName` and the parameters its resources use, in the order they first use them;
- a master (`ArmTemplate_master.json`) with one incremental deployment per part, named
  `<factory>_ArmTemplate_<n>`, each depending on the one before, linking `concat(containerUri,
  '/ArmTemplate_<n>.json', containerSasToken)` and passing the part's parameters on;
- `ArmTemplateParameters_master.json`: the parameters file plus empty `containerUri` and `containerSasToken`.
"""

from __future__ import annotations

from typing import Any

from promote.build.eras import Era
from promote.build.template import (
    CONTENT_VERSION,
    FACTORY_ID,
    GLOBAL_PARAMETERS,
    TEMPLATE_SCHEMA,
    BuiltResource,
    BuiltTemplate,
    declarations,
)
from promote.build.texts import Texts
from promote.factory import ObjectKey

PART_SIZE = 20


def linked_order(resources: list[BuiltResource]) -> list[BuiltResource]:
    """The resources in ADF's linked order (module docstring)."""
    ordered = [r for r in resources if r.key == GLOBAL_PARAMETERS]
    remaining = [r for r in resources if r.key != GLOBAL_PARAMETERS]
    # Keys as plain (type, lower-case name) tuples: `dependsOn` targets are lower-cased already.
    done: set[tuple[str, str]] = {_folded(r.key) for r in ordered}
    needs = {id(r): [(d.type, d.name) for d in r.depends_on if d is not None] for r in remaining}
    while remaining:
        taken = [r for r in remaining if all(d in done for d in needs[id(r)])]
        if not taken:  # a cycle (ADF refuses those): keep the rest in order rather than loop
            taken = remaining
        done.update(_folded(r.key) for r in taken)
        chosen = {id(r) for r in taken}
        ordered.extend(taken)
        remaining = [r for r in remaining if id(r) not in chosen]
    return ordered


def _folded(key: ObjectKey) -> tuple[str, str]:
    return (key.type, key.name.lower())


def parts(built: BuiltTemplate) -> list[list[BuiltResource]]:
    """The parts, each resource's `dependsOn` keeping only what its own part holds: the parts deploy one after
    the other, so ADF drops the rest (every reference pair with several parts)."""
    ordered = linked_order(built.resources)
    chunks = [ordered[i : i + PART_SIZE] for i in range(0, len(ordered), PART_SIZE)] or [[]]
    out = []
    for chunk in chunks:
        keys = {_folded(r.key) for r in chunk}
        out.append([_within(resource, keys) for resource in chunk])
    return out


def _within(resource: BuiltResource, keys: set[tuple[str, str]]) -> BuiltResource:
    if all(target is None or (target.type, target.name) in keys for target in resource.depends_on):
        return resource
    entries = resource.resource.get("dependsOn") or []
    kept = [
        (entry, target)
        for entry, target in zip(entries, resource.depends_on, strict=True)
        if target is None or (target.type, target.name) in keys
    ]
    return BuiltResource(
        resource.key,
        {**resource.resource, "dependsOn": [entry for entry, _ in kept]},
        tuple(target for _, target in kept),
        resource.file,
        resource.parameters,
        resource.expressions,
    )


def master(built: BuiltTemplate, chunks: list[list[BuiltResource]], era: Era, texts: Texts) -> dict[str, Any]:
    """ArmTemplate_master.json for `chunks` (the parts, in order)."""
    prefix = f"{built.factory_name}_" if era.has("deployment_names_with_factory") else ""
    sas = (
        texts.container_sas_token
        if era.has("descriptions_lower_case")
        else texts.container_sas_token.replace("Sas token", "Sas Token")
    )
    resources = []
    for index, chunk in enumerate(chunks):
        name = f"{prefix}ArmTemplate_{index}"
        passed = {p.name: {"value": f"[parameters('{p.name}')]"} for p in built.parameters_of(chunk)}
        resources.append(
            {
                "name": name,
                "type": "Microsoft.Resources/deployments",
                "apiVersion": era.deployment_api_version,
                "properties": {
                    "mode": "incremental",
                    "templateLink": {
                        "uri": f"[concat(parameters('containerUri'), '/ArmTemplate_{index}.json', "
                        "parameters('containerSasToken'))]",
                        "contentVersion": CONTENT_VERSION,
                    },
                    "parameters": passed,
                },
                "dependsOn": [f"[resourceId('Microsoft.Resources/deployments', '{prefix}ArmTemplate_{index - 1}')]"]
                if index
                else [],
            }
        )
    return {
        "$schema": TEMPLATE_SCHEMA,
        "contentVersion": CONTENT_VERSION,
        "parameters": {
            **declarations(built.parameters),
            "containerUri": {"type": "string", "metadata": texts.container_uri},
            "containerSasToken": {"type": "string", "metadata": sas},
        },
        "variables": {"factoryId": FACTORY_ID},
        "resources": resources,
    }
