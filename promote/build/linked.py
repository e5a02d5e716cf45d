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
    ordered: list[BuiltResource] = []
    remaining: list[BuiltResource] = []
    for resource in resources:  # (by type: no object of the root has the global parameters' type)
        (ordered if resource.key.type == GLOBAL_PARAMETERS.type else remaining).append(resource)
    # Keys as plain (type, lower-case name) tuples: `dependsOn` targets are lower-cased already.
    done: set[tuple[str, str]] = {_folded(r.key) for r in ordered}
    levels = _levels(remaining, done)
    if levels is not None:  # the round each resource is taken in, without running the rounds
        return ordered + [remaining[i] for i in sorted(range(len(remaining)), key=levels.__getitem__)]
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


def _levels(remaining: list[BuiltResource], done: set[tuple[str, str]]) -> list[int] | None:
    """The round of `linked_order` that takes each resource: 0 when everything it depends on is `done`, else one
    more than the latest round among what it depends on (by induction, exactly when the rounds take it). None
    when the rounds must run: a cycle, a dependency on something not there, a key twice."""
    position: dict[tuple[str, str], int] = {}
    for index, resource in enumerate(remaining):
        key = _folded(resource.key)
        if key in position or key in done:
            return None
        position[key] = index
    dependents: list[list[int]] = [[] for _ in remaining]
    missing = [0] * len(remaining)
    for index, resource in enumerate(remaining):
        for target in resource.depends_on:
            if target is None or (target.type, target.name) in done:
                continue
            found = position.get((target.type, target.name))
            if found is None:
                return None
            dependents[found].append(index)
            missing[index] += 1
    levels = [0] * len(remaining)
    ready = [index for index, count in enumerate(missing) if not count]
    for index in ready:  # grows while it is walked: a resource is ready once all it depends on was
        for dependent in dependents[index]:
            levels[dependent] = max(levels[dependent], levels[index] + 1)
            missing[dependent] -= 1
            if not missing[dependent]:
                ready.append(dependent)
    return levels if len(ready) == len(remaining) else None


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
        kept: list[BuiltResource] = []
        for resource in chunk:
            for target in resource.depends_on:
                if target is not None and (target.type, target.name) not in keys:
                    kept.append(_within(resource, keys))
                    break
            else:
                kept.append(resource)
        out.append(kept)
    return out


def _within(resource: BuiltResource, keys: set[tuple[str, str]]) -> BuiltResource:
    """A copy of `resource` whose `dependsOn` keeps only what `keys` holds."""
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
