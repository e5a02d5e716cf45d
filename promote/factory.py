"""A factory as data: objects keyed by (type, name), with their evaluated properties and references.

This is the shape every later arrow of the flow works on (diff, plan, emulator). Identity follows DESIGN.md's
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
    """One evaluated object of a factory. `properties` is the evaluated `properties` of the ARM resource."""

    key: ObjectKey
    properties: dict[str, Any]
    depends_on: list[str] = field(default_factory=list)
    references: frozenset[ObjectKey] = frozenset()
    api_version: str = "2018-06-01"
    file: str = ""  # where it came from, for error messages


@dataclass
class Factory:
    """Objects of one factory, keyed by (type, name). `name` is the evaluated factory name."""

    name: str
    objects: dict[ObjectKey, FactoryObject]
    source: str = ""  # a path or `ref:path`, for messages
    parameters: dict[str, Any] = field(default_factory=dict)  # template parameter declarations

    def __len__(self) -> int:
        return len(self.objects)
