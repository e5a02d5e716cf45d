"""A factory as data: objects keyed by (type, name), with their evaluated properties and references.

This is the shape every later arrow of the flow works on (diff, plan, emulator). Identity follows docs/architecture.md's
contract: `type` is the ARM type after `factories/` in a fixed casing (`pipelines`, `linkedServices`,
`managedVirtualNetworks/managedPrivateEndpoints`, ...) and `name` is the name below the factory
(`default/mpe1` for a private endpoint).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ARM_PREFIX = "Microsoft.DataFactory/factories/"

# ARM type suffix (lower case) -> contract casing. Order is also the write order of kinds with no references.
OBJECT_TYPES: dict[str, str] = {
    "integrationruntimes": "integrationRuntimes",
    "managedvirtualnetworks": "managedVirtualNetworks",
    "managedvirtualnetworks/managedprivateendpoints": "managedVirtualNetworks/managedPrivateEndpoints",
    "credentials": "credentials",
    "linkedservices": "linkedServices",
    "datasets": "datasets",
    "dataflows": "dataflows",
    "pipelines": "pipelines",
    "triggers": "triggers",
    "globalparameters": "globalParameters",
    "adfcdcs": "adfcdcs",
}

# Reference object `type` values -> the object type they point at.
REFERENCE_KINDS: dict[str, str] = {
    "PipelineReference": "pipelines",
    "DatasetReference": "datasets",
    "LinkedServiceReference": "linkedServices",
    "DataFlowReference": "dataflows",
    "IntegrationRuntimeReference": "integrationRuntimes",
    "CredentialReference": "credentials",
    "TriggerReference": "triggers",
}


@dataclass(frozen=True, order=True)
class ObjectKey:
    type: str
    name: str

    def __str__(self) -> str:
        return f"{self.type}/{self.name}"

    @property
    def arm_type(self) -> str:
        return ARM_PREFIX + self.type


@dataclass
class FactoryObject:
    """One evaluated object of a factory. `properties` is the evaluated `properties` of the ARM resource.

    `properties` is treated as immutable (it shares subtrees with the parsed template): to change an object,
    replace it with `dataclasses.replace(obj, properties=new)`. `references`, what the object points at, is
    computed from `properties` on first use and cached: walking every object of a 5,000-object factory costs
    more than evaluating it, and a diff never needs it.
    """

    key: ObjectKey
    properties: dict[str, Any]
    depends_on: list[str] = field(default_factory=list)
    api_version: str = "2018-06-01"
    file: str = ""  # where it came from, for error messages
    _references: frozenset[ObjectKey] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def references(self) -> frozenset[ObjectKey]:
        if self._references is None:
            self._references = references_of(self.properties)
        return self._references


@dataclass
class Factory:
    """Objects of one factory, keyed by (type, name). `name` is the evaluated factory name."""

    name: str
    objects: dict[ObjectKey, FactoryObject]
    source: str = ""  # a path or `ref:path`, for messages
    parameters: dict[str, Any] = field(default_factory=dict)  # template parameter declarations

    def __len__(self) -> int:
        return len(self.objects)


def object_key_from_arm(arm_type: str, full_name: str) -> ObjectKey | None:
    """(type, name) of an ARM resource of a factory, or None when it is not a factory child object.

    `full_name` is the evaluated ARM name `factory/child[/grandchild]`; the key's name drops the factory part
    (`default/mpe1` for a private endpoint). Type matching is case-insensitive, as ARM's is.
    """
    lower = arm_type.lower()
    prefix = ARM_PREFIX.lower()
    if not lower.startswith(prefix):
        return None
    kind = OBJECT_TYPES.get(lower[len(prefix) :])
    if kind is None:
        return None
    _, _, name = full_name.partition("/")
    return ObjectKey(kind, name)


def references_of(properties: Any) -> frozenset[ObjectKey]:
    """Every object this one points at, wherever the reference sits.

    A reference is any mapping `{"referenceName": X, "type": "<Kind>Reference"}`: in activities nested at any
    depth (If Condition, Switch, ForEach, Until), `connectVia`, Key Vault `store`, tumbling-window
    `referenceTrigger`, data flow sources, sinks and flowlets. Walking the whole tree instead of known paths is
    what keeps a new activity type from hiding a reference. Expressions (`{"value": "@...", "type":
    "Expression"}`) are not references: ADF cannot check them either.
    """
    found: set[ObjectKey] = set()
    stack: list[Any] = [properties]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            node_type = node.get("type")
            kind = REFERENCE_KINDS.get(node_type) if isinstance(node_type, str) else None
            name = node.get("referenceName")
            if kind is not None and isinstance(name, str):
                found.add(ObjectKey(kind, name))
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, (dict, list)))
    return frozenset(found)
