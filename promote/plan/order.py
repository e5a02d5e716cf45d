"""Dependency order: who references whom, write waves, delete waves, and the one total order of steps.

gitops-engine's rule, kept here and nowhere else: steps sort by (phase, wave, kind, name). A write wave is an
object's level in the dependency graph of the objects being written (an object comes after everything it
references that is also written); delete waves are the same computation over the objects being deleted,
mirrored, and kinds run in reverse too, so deletion is exactly the reverse of creation without a second
algorithm.

Dependencies come from the object itself, never from names or positions: every `{"referenceName", "type":
"...Reference"}` anywhere in its properties (pipelines, datasets, linked services incl. a Key Vault `store`,
data flows and flowlets, integration runtimes via `connectVia`, credentials, tumbling-window trigger
dependencies), a managed integration runtime's `ManagedVirtualNetworkReference`, a private endpoint's parent
network, and, for objects read from a template, its own ARM `dependsOn`.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Mapping
from typing import Any, TypeVar

from promote.factory import REFERENCE_KINDS, FactoryObject, ObjectKey
from promote.plan import steps as s

# Write order of kinds, used only to break ties between objects of the same wave (references decide the rest).
# Networks before their endpoints and before the integration runtimes that run inside them; global parameters
# first because pipelines read them (through expressions, which no reference check sees).
WRITE_TYPE_ORDER: tuple[str, ...] = (
    "globalParameters",
    "managedVirtualNetworks",
    "managedVirtualNetworks/managedPrivateEndpoints",
    "integrationRuntimes",
    "credentials",
    "linkedServices",
    "datasets",
    "dataflows",
    "adfcdcs",
    "pipelines",
    "triggers",
)
_RANK = {type_: index for index, type_ in enumerate(WRITE_TYPE_ORDER)}
_BY_LOWER = {type_.lower(): type_ for type_ in WRITE_TYPE_ORDER}

# Reference kinds beyond the ones `promote.factory` resolves: a managed integration runtime names its network.
_K = TypeVar("_K", bound=Hashable)
_KINDS: dict[str, str] = {**REFERENCE_KINDS, "ManagedVirtualNetworkReference": "managedVirtualNetworks"}
_MPE = "managedVirtualNetworks/managedPrivateEndpoints"
_FACTORIES = re.compile(r"(?i)factories/[^/]+/(.+)$")


def type_rank(type_: str) -> int:
    """Position of a kind in the write order; unknown kinds after every known one."""
    return _RANK.get(type_, len(_RANK))


def write_key(wave: int, key: ObjectKey) -> tuple[int, int, str, str]:
    """Order of objects within the write phase: wave, kind, name (case-insensitively first, as ADF compares
    names, then exactly, so the order never depends on input order)."""
    return (wave, type_rank(key.type), key.name.casefold(), key.name)


def delete_key(wave: int, key: ObjectKey) -> tuple[int, int, str, str]:
    """Order within the delete phase: the mirrored wave, kinds in reverse write order, then name."""
    return (wave, -type_rank(key.type), key.name.casefold(), key.name)


# --------------------------------------------------------------------------------------------------- keys


class KeyIndex:
    """Resolves a reference to the object's actual key, ignoring letter case as ADF does (`LS_Blob` and
    `ls_blob` are one object); a reference to something not in the index resolves to itself."""

    def __init__(self, keys: Iterable[ObjectKey]):
        self._by_folded: dict[tuple[str, str], ObjectKey] = {}
        for key in sorted(keys):
            self._by_folded.setdefault((key.type, key.name.casefold()), key)

    def find(self, key: ObjectKey) -> ObjectKey | None:
        return self._by_folded.get((key.type, key.name.casefold()))

    def resolve(self, key: ObjectKey) -> ObjectKey:
        return self.find(key) or key

    def __contains__(self, key: object) -> bool:
        return isinstance(key, ObjectKey) and self.find(key) is not None


def _references(properties: Any) -> set[ObjectKey]:
    """Every `{"referenceName": X, "type": "<Kind>Reference"}` below `properties`, including network refs."""
    found: set[ObjectKey] = set()
    stack: list[Any] = [properties]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            kind = node.get("type")
            name = node.get("referenceName")
            if isinstance(kind, str) and isinstance(name, str) and kind in _KINDS:
                found.add(ObjectKey(_KINDS[kind], name))
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, (dict, list)))
    return found


def key_from_resource_path(text: str) -> ObjectKey | None:
    """`.../factories/<f>/pipelines/p` (an evaluated ARM `dependsOn` entry or resource id) -> its key."""
    match = _FACTORIES.search(text.strip())
    if not match:
        return None
    parts = match.group(1).split("/")
    if len(parts) == 2:
        kind = _BY_LOWER.get(parts[0].lower())
        return ObjectKey(kind, parts[1]) if kind else None
    nested = [part.lower() for part in parts[0::2]]
    if len(parts) == 4 and nested == ["managedvirtualnetworks", "managedprivateendpoints"]:
        return ObjectKey(_MPE, f"{parts[1]}/{parts[3]}")
    return None


def dependencies_of(obj: FactoryObject) -> set[ObjectKey]:
    """Keys this object needs to exist before it can be written (unresolved: names as written)."""
    deps = set(obj.references) | _references(obj.properties)
    if obj.key.type == _MPE and "/" in obj.key.name:
        deps.add(ObjectKey("managedVirtualNetworks", obj.key.name.split("/", 1)[0]))
    for entry in obj.depends_on:
        key = key_from_resource_path(entry) if isinstance(entry, str) else None
        if key is not None:
            deps.add(key)
    deps.discard(obj.key)
    return deps


def dependency_graph(
    objects: Mapping[ObjectKey, FactoryObject], within: Iterable[ObjectKey]
) -> dict[ObjectKey, frozenset[ObjectKey]]:
    """For each key of `within` (all present in `objects`), its dependencies that are also in `within`,
    matched case-insensitively. Self-references (a trigger depending on its own past windows) are dropped."""
    nodes = set(within)
    index = KeyIndex(nodes)
    graph: dict[ObjectKey, frozenset[ObjectKey]] = {}
    for key in nodes:
        deps = {index.find(dep) for dep in dependencies_of(objects[key])}
        graph[key] = frozenset(dep for dep in deps if dep is not None and dep != key)
    return graph


# --------------------------------------------------------------------------------------------------- waves


def strongly_connected(graph: Mapping[ObjectKey, Iterable[ObjectKey]]) -> list[list[ObjectKey]]:
    """Tarjan's components, iteratively (a 5,000-object chain must not hit the recursion limit). Components
    come out dependencies first: every component appears after all components it depends on."""
    index_of: dict[ObjectKey, int] = {}
    low: dict[ObjectKey, int] = {}
    on_stack: set[ObjectKey] = set()
    stack: list[ObjectKey] = []
    out: list[list[ObjectKey]] = []
    counter = 0
    for root in sorted(graph):
        if root in index_of:
            continue
        work: list[tuple[ObjectKey, list[ObjectKey]]] = []
        index_of[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        work.append((root, sorted(graph.get(root, ()))))
        while work:
            node, pending = work[-1]
            if pending:
                child = pending.pop()
                if child not in graph:
                    continue
                if child not in index_of:
                    index_of[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, sorted(graph.get(child, ()))))
                elif child in on_stack:
                    low[node] = min(low[node], index_of[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index_of[node]:
                component: list[ObjectKey] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                out.append(sorted(component))
    return out


def waves(graph: Mapping[ObjectKey, Iterable[ObjectKey]]) -> dict[ObjectKey, int]:
    """Each node's level: 0 with no dependencies in the graph, else 1 + the highest level among them (the
    longest dependency chain below it). Members of a reference cycle share one level: ADF lets existing
    objects reference each other in a loop (two pipelines calling each other), and no order can serve one."""
    level: dict[ObjectKey, int] = {}
    for component in strongly_connected(graph):
        members = set(component)
        below = [level[dep] for node in component for dep in graph.get(node, ()) if dep not in members]
        wave = 1 + max(below) if below else 0
        for node in component:
            level[node] = wave
    return level


def cycles(graph: Mapping[ObjectKey, Iterable[ObjectKey]]) -> list[list[ObjectKey]]:
    """Components of more than one node: objects that reference each other in a loop."""
    return [component for component in strongly_connected(graph) if len(component) > 1]


def mirrored(levels: Mapping[ObjectKey, int]) -> dict[ObjectKey, int]:
    """Delete waves from write waves: the last written goes first."""
    top = max(levels.values(), default=0)
    return {key: top - wave for key, wave in levels.items()}


def closure(start: Iterable[_K], edges: Mapping[_K, Iterable[_K]]) -> set[_K]:
    """Everything reachable from `start` through `edges`, `start` included."""
    seen = set(start)
    todo = list(seen)
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


# --------------------------------------------------------------------------------------------------- steps


def step_order(step: Any) -> tuple[int, int, int, str, str]:
    """The one total order of a plan's steps: phase, then wave, then kind, then name.

    Stops and deletes run mirrored (dependents first, kinds in reverse); a deployment sorts as its first
    object, which keeps deployments in the order they were cut; smoke pipelines keep the configured order.
    """
    phase = int(step.phase)
    if isinstance(step, s.StopTrigger):
        return (phase, step.wave, 0, step.name.casefold(), step.name)
    if isinstance(step, s.StartTrigger):
        return (phase, step.wave, 0, step.name.casefold(), step.name)
    if isinstance(step, s.Deploy):
        first = step.writes[0]
        return (phase, *write_key(first.wave, first.key))
    if isinstance(step, s.DeleteObject):
        return (phase, *delete_key(step.wave, step.key))
    if isinstance(step, s.RunPipeline):
        return (phase, step.position, 0, step.pipeline.casefold(), step.pipeline)
    if isinstance(step, s.MarkRunInProgress):  # after the record it writes from
        return (phase, 1, 0, "", "")
    return (phase, 0, 0, "", "")
