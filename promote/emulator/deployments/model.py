"""The plain data of a deployment between validation and running: each resource evaluated and placed, and the
deployment ready to run. No behaviour, so that every part of the engine can import it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from promote.emulator.store import GroupScope, Kind

DEPLOYMENT_TYPE = "Microsoft.Resources/deployments"


@dataclass(eq=False)  # compared by identity: the graph holds them in lists
class PlannedResource:
    """One resource of the template, evaluated and placed: the factory itself (`kind` None) or a child."""

    index: int
    type: str  # as written
    name: str  # evaluated full name: "factory" or "factory/child[/grandchild]"
    api_version: str
    properties: Any
    other: dict[str, Any]
    id: str
    factory: str
    kind: Kind | None
    child: str | None  # the name below the factory ("default/mpe1" for a private endpoint)
    depends_raw: list[str] = field(default_factory=list)  # dependsOn as evaluated
    depends_on: list[PlannedResource] = field(default_factory=list)  # ... resolved (graph.py)
    wave: int = 0  # 0: depends on nothing; else one more than its latest dependency (graph.py)


@dataclass
class Prepared:
    """A validated deployment, ready to run (or to answer validate / what-if)."""

    scope: GroupScope
    name: str
    mode: str
    template: dict[str, Any]
    parameters: dict[str, Any]  # as the deployment shows them: secure values left out
    resources: list[PlannedResource]  # in execution order: wave by wave, template order within a wave
    template_hash: str
    on_error: Any = None
    tags: dict[str, str] | None = None  # the deployment's own tags (ARM keeps them in the history)
