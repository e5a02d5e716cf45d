"""Impact classes: what kind of attention each change needs, so a reviewer of a long plan sees it at a glance.

The classes, and the rule of each (a change belongs to every class whose rule it meets, except that
`parameter-only` and `content` are given only to a change none of the first three fits, so their counts say how
much needs no more than a read):

- `destructive`: a delete, and a rename: ADF has no rename, Studio publishes a delete and a create of the same
  type, and `promote` pairs them when the created object's properties equal the deleted one's (the run history,
  monitoring and anything outside the factory that names the old object lose it). A change of letter case
  only is the same ADF object, an update, not destructive.
- `trigger-affecting`: any change to a trigger (created, changed, deleted, started or stopped through its
  `runtimeState`), and any change to a pipeline that a started trigger runs, directly or through Execute
  Pipeline at any depth. "Started" is a fact of a live factory (`promote diff --env`, `plan`, `drift`); a diff
  of two versions has no started triggers, so there only changes to triggers themselves count.
- `infrastructure`: integration runtimes, managed virtual networks and their private endpoints, credentials;
  and a linked service's connection: created or deleted, or changed in its `type`, its `connectVia` (the
  integration runtime it connects through) or anything under `typeProperties` (where and as whom it
  connects). Its description, annotations and parameters are not infrastructure.
- `parameter-only`: an update that changes nothing but values of parameters: `parameters.<name>.defaultValue`
  of a pipeline, dataset, linked service or data flow, and the values of global parameters (`<name>.value`, or
  a global parameter added or removed).
- `content`: everything else (activities, queries, mappings, descriptions, ...).

Pure: no I/O. `explain` (`promote.explain`) gives each change its classes; `counts` totals them for the views.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from promote.factory import FactoryObject, ObjectKey

if TYPE_CHECKING:
    from promote.diff import Change

DESTRUCTIVE = "destructive"
TRIGGER_AFFECTING = "trigger-affecting"
INFRASTRUCTURE = "infrastructure"
PARAMETER_ONLY = "parameter-only"
CONTENT = "content"
CLASSES: tuple[str, ...] = (DESTRUCTIVE, TRIGGER_AFFECTING, INFRASTRUCTURE, PARAMETER_ONLY, CONTENT)

INFRASTRUCTURE_TYPES = frozenset(
    {"integrationRuntimes", "managedVirtualNetworks", "managedVirtualNetworks/managedPrivateEndpoints", "credentials"}
)
_CONNECTION_PATH = re.compile(r"^(?:type|connectVia|typeProperties)(?:$|[.\[])")
_SEGMENT = r"(?:[^.\[\]]+|\[\"(?:[^\"\\]|\\.)*\"\])"  # one key of a diff path (`promote.diff`)
_PARAMETER_VALUE = re.compile(rf"^parameters\.{_SEGMENT}\.defaultValue$")
_GLOBAL_VALUE = re.compile(rf"^{_SEGMENT}\.value$")
_GLOBAL_PARAMETER = re.compile(rf"^{_SEGMENT}$")


def classify(change: Change, *, runs_started: frozenset[str] = frozenset(), rename: bool = False) -> tuple[str, ...]:
    """The classes of one change, in `CLASSES` order. `runs_started`: pipelines (case-folded names) a started
    trigger runs (`started_runs`); `rename`: the change is one side of a delete + create pair (`renames`)."""
    found: list[str] = []
    kind = change.key.type
    if change.action == "delete" or rename:
        found.append(DESTRUCTIVE)
    if kind == "triggers" or (kind == "pipelines" and change.key.name.casefold() in runs_started):
        found.append(TRIGGER_AFFECTING)
    if kind in INFRASTRUCTURE_TYPES or (
        kind == "linkedServices"
        and (change.action != "update" or any(_CONNECTION_PATH.match(path) for path in change.paths))
    ):
        found.append(INFRASTRUCTURE)
    if not found:
        found.append(PARAMETER_ONLY if _parameters_only(change) else CONTENT)
    return tuple(found)


def _parameters_only(change: Change) -> bool:
    if change.action != "update" or not change.paths or change.renamed_from is not None:
        return False
    if change.key.type == "globalParameters":
        return all(
            _GLOBAL_VALUE.match(d.path) or (_GLOBAL_PARAMETER.match(d.path) and d.kind in ("add", "remove"))
            for d in change.details
        )
    return all(_PARAMETER_VALUE.match(path) for path in change.paths)


def counts(classes: Iterable[Sequence[str]]) -> dict[str, int]:
    """How many changes are in each class (every class present, zero or not, in `CLASSES` order)."""
    out = dict.fromkeys(CLASSES, 0)
    for found in classes:
        for name in found:
            out[name] += 1
    return out


def counts_text(totals: Mapping[str, int]) -> str:
    """`Impact: 1 destructive, 0 trigger-affecting, 2 infrastructure, 0 parameter-only, 3 content.`"""
    return "Impact: " + ", ".join(f"{totals.get(name, 0)} {name}" for name in CLASSES) + "."


def to_confirm(totals: Mapping[str, int], wanted: Iterable[str]) -> tuple[str, ...]:
    """The classes an environment wants confirmed (`confirm:`) that a plan holds changes of, in `CLASSES` order."""
    asked = set(wanted)
    return tuple(name for name in CLASSES if name in asked and totals.get(name, 0))


def changes_text(totals: Mapping[str, int], classes: Iterable[str]) -> str:
    """`2 destructive changes and 1 infrastructure change`."""
    parts = [f"{totals.get(n, 0)} {n} change{'' if totals.get(n, 0) == 1 else 's'}" for n in classes]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def started_runs(started: Iterable[str], objects: Iterable[Mapping[ObjectKey, FactoryObject]]) -> frozenset[str]:
    """Pipelines (case-folded names) that the `started` triggers run, directly or through Execute Pipeline at any
    depth, as the trigger and pipeline definitions of every mapping in `objects` say (live and desired: a
    trigger's new pipelines and a pipeline's new children count as much as the old ones)."""
    from promote.plan.order import closure  # the plan package reads this module: imported where it is used

    on = {name.casefold() for name in started}
    mappings = list(objects)
    direct: set[str] = set()
    for mapping in mappings:
        for key, obj in mapping.items():
            if key.type == "triggers" and key.name.casefold() in on:
                direct |= _pipelines_of(obj)
    if not direct:  # nothing started runs anything: no pipeline needs walking
        return frozenset()
    calls: dict[str, set[str]] = {}
    for mapping in mappings:
        for key, obj in mapping.items():
            if key.type == "pipelines":
                calls.setdefault(key.name.casefold(), set()).update(_pipelines_of(obj))
    return frozenset(closure(direct, calls))


def _pipelines_of(obj: FactoryObject) -> set[str]:
    from promote.plan.order import dependencies_of

    return {dep.name.casefold() for dep in dependencies_of(obj) if dep.type == "pipelines"}
