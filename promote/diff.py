"""Desired × desired or desired × live → changes per object, with property paths. Pure: no I/O, no Azure.

Why it is shaped this way (see reference/sdk-notes.md, "Diffing whole templates"): diffing whole templates by
list position is slow (15 s for 5,000 resources) and wrong (one inserted resource shifts every index and
produces tens of thousands of spurious changes). So objects are matched by key, compared with `==` first
(C speed, no copies), and only the few that differ are normalised and walked for paths.

Path form (stable; the same syntax environment overrides use to address a property):
- dict keys are joined with `.`: `typeProperties.command`, `headers.Content-Type`; a key holding a dot, a
  bracket or a quote (or empty) is JSON-quoted in brackets: `headers["x.y"]`;
- a list element that is an object with a `name` unique in its list on both sides is addressed by name,
  `activities[name=train_model].typeProperties.command`, so inserting one activity does not renumber the rest;
  a name holding a bracket, a quote or edge spaces is quoted: `activities[name="a]b"]`;
- any other list element is addressed by position, `cases[0].activities[name=x]`;
- when the named elements common to both sides are in another order, the list's own path (`activities`) is
  reported once, with kind `reorder`, instead of one path per shifted element. Order of activities does not
  change how ADF runs them (dependsOn does) but it is what a reviewer sees in ADF Studio, so it counts;
- a list of plain values (annotations, fqdns) that differs is reported as the list's path, once.

Secrets: opaque placeholders (`<keyvault:...>`, `<secure:...>`, see `promote.secrets`) name where a secret comes
from; they are compared as they are and shown only as that source (`<secret from Key Vault kv/name>`). The
views print values only through `PathChange.before` / `.after`, which this module fills with display text that
is already safe (`promote.shown`: masked wherever a value could be a secret, abridged with a digest when long).

Trigger `runtimeState` between two versions is compared: it is read-only to ARM, but it is what Microsoft's
post-deployment script (and `triggers.start: template`) starts, so a reviewer must see `Started -> Stopped`.

Global parameters: a version without them does not manage them (`MANAGED_WHEN_PRESENT`): the diff leaves them
out and says so in `Diff.notes`, and nothing deletes them.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from promote.factory import OBJECT_TYPES, Factory, FactoryObject, ObjectKey
from promote.outline import Fact
from promote.secrets import is_placeholder as is_placeholder
from promote.shown import SECRET, has_placeholder, is_secret_object, is_sensitive_key, shown

Action = Literal["create", "update", "delete"]
ACTIONS: tuple[Action, ...] = ("create", "update", "delete")
PathKind = Literal["add", "remove", "change", "reorder"]


# Kinds a version of the factory manages only when it holds them. ADF's publish leaves global parameters out of
# the templates unless "Include global parameters in ARM template" is on (factories that deploy them apart, with
# the published GlobalParameters.json, never have them), so a version without them says nothing about them: a
# deploy of it leaves the live ones as they are (nothing ever deletes them), and a diff does not list them.
MANAGED_WHEN_PRESENT = frozenset({"globalParameters"})

# --- normalisation rules --------------------------------------------------------------------------
# Each rule removes a difference that ADF itself makes between what was written and what is read back or
# published, where both forms mean exactly the same thing to ADF. A rule that could hide a real change does
# not belong here.

# Top-level keys of `properties` whose empty value means the same as the key being absent. ADF Studio always
# publishes `annotations: []`, while objects written through the REST API or an SDK (and their GET) omit it;
# `parameters: {}` / `variables: {}` are emitted or omitted by different Studio versions. No ADF object treats
# "declared, empty" differently from "not declared".
_EMPTY_TOP_LEVEL: dict[str, type] = {"annotations": list, "parameters": dict, "variables": dict}

# Keys of an activity whose empty value equals absence: Studio writes `dependsOn: []` and `userProperties: []`
# on every activity; SDK-written pipelines leave them out. An activity with no dependencies runs first either
# way. (This `dependsOn` is the activity's control flow inside `properties`, not the ARM resource's
# `dependsOn`, which is never compared at all.)
_EMPTY_IN_ACTIVITY: dict[str, type] = {"dependsOn": list, "userProperties": list}

# Lists whose elements are activities: a pipeline's, ForEach / Until's, If's branches, Switch's cases.
ACTIVITY_LIST_KEYS = frozenset({"activities", "ifTrueActivities", "ifFalseActivities", "defaultActivities"})

# Read-only properties per object type (marked `readOnly` in the 2018-06-01 REST specification): Azure fills
# them on GET and ignores them on PUT, so a difference there is never something a deployment changes. Trigger
# `runtimeState` is the important one: comparing it stops triggers for nothing (users' complaint #2); the plan
# handles runtime state on its own.
READ_ONLY: dict[str, frozenset[str]] = {
    "triggers": frozenset({"runtimeState"}),
    "integrationRuntimes": frozenset({"state"}),
    "managedVirtualNetworks": frozenset({"vNetId", "alias"}),
    "managedVirtualNetworks/managedPrivateEndpoints": frozenset({"isReserved", "provisioningState", "connectionState"}),
}
# What a published template says about a trigger's runtime state is what gets started (Microsoft's script,
# `triggers.start: template`): compared between two versions although it is read-only to ARM. Against a live
# factory `promote.normalise` decides, per the environment's start policy.
_COMPARED_IN_TEMPLATES = {"triggers": frozenset({"runtimeState"})}

# Same rules as promote.environment's path syntax, so a printed path can be pasted into an override.
_BARE_KEY = re.compile(r"[^.\[\]\"']+")
_BARE_NAME = re.compile(r"[^\[\]\"'\s](?:[^\[\]\"']*[^\[\]\"'\s])?")


# --- data -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathChange:
    """One changed path of an updated object, with display text that is already safe to print
    (`promote.shown.shown`: `SECRET` or the secret's source where it could be one, abridged when long).

    `before` / `after` are None on the side where the path is absent, and for an element added to or removed
    from a list by name, or a list reordered (the path says which).
    """

    path: str
    kind: PathKind
    before: str | None = None
    after: str | None = None


@dataclass
class Change:
    """One object that differs. `before` / `after` are the objects' properties as given (not normalised, not
    copied: treat them as read-only); None on the side where the object does not exist."""

    key: ObjectKey
    action: Action
    paths: list[str]
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    details: list[PathChange] = field(default_factory=list)
    renamed_from: str | None = None  # the other side's name when it differs only in letter case
    # What a reviewer needs beyond the paths (`promote.explain` fills them in; empty until then):
    outline: tuple[Fact, ...] = ()  # a create's or a delete's main properties (`promote.outline`)
    referrers: tuple[str, ...] = ()  # a delete: the objects that reference it (`pipelines/p`)
    rename: str | None = None  # one side of a rename (a delete and a create with equal properties): the other
    impact: tuple[str, ...] = ()  # its impact classes (`promote.impact`)
    why: str = ""  # an update of secrets that compare equal: why they are written all the same (`normalise.rotated`)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": self.key.type,
            "name": self.key.name,
            "action": self.action,
            "paths": list(self.paths),
        }
        if self.details:
            doc["details"] = [{k: v for k, v in dataclasses.asdict(d).items() if v is not None} for d in self.details]
        if self.impact:
            doc["impact"] = list(self.impact)
        if self.outline:
            doc["outline"] = {fact.label: fact.text for fact in self.outline}
        if self.referrers:
            doc["referenced_by"] = list(self.referrers)
        if self.rename is not None:
            doc["rename"] = self.rename
        return doc


@dataclass
class Diff:
    """Every changed object between two factories, sorted by `sort_key`; unchanged objects only counted."""

    changes: list[Change]
    unchanged: int
    from_label: str
    to_label: str
    notes: list[str] = field(default_factory=list)  # what was left out of the comparison, and why
    impact: dict[str, int] | None = None  # changes per impact class, once explained (`promote.explain`)

    @property
    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(ACTIONS, 0)
        for change in self.changes:
            counts[change.action] += 1
        return {**counts, "unchanged": self.unchanged}

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def to_json(self) -> dict[str, Any]:
        """The `--format json` contract (docs/architecture.md, "The diff's JSON"); each update also carries its
        `details` (the values the text views show), each explained change its `impact`, `outline`, `referenced_by`
        and `rename` (when it has them) and the diff its `impact` counts, and `notes` appears when something was
        left out of the comparison."""
        doc: dict[str, Any] = {
            "from": self.from_label,
            "to": self.to_label,
            "changes": [change.to_json() for change in self.changes],
            "summary": self.summary,
        }
        if self.impact is not None:
            doc["impact"] = dict(self.impact)
        if self.notes:
            doc["notes"] = list(self.notes)
        return doc


_TYPE_ORDER = {type_: index for index, type_ in enumerate(OBJECT_TYPES.values())}


def sort_key(key: ObjectKey) -> tuple[int, str, str, str]:
    """One total order for changes: kind in `OBJECT_TYPES` order (unknown kinds after, by name), then name
    case-insensitively (ADF names are), then exactly, so that the order never depends on input order."""
    return (_TYPE_ORDER.get(key.type, len(_TYPE_ORDER)), key.type, key.name.casefold(), key.name)


# --- without_noise -----------------------------------------------------------------------------------


def without_noise(properties: Mapping[str, Any], object_type: str | None = None) -> dict[str, Any]:
    """`properties` without the noise ADF adds or drops, as a new structure (scalars shared, input untouched).

    Removed: read-only properties of `object_type` (see READ_ONLY; a trigger's `runtimeState` stays, as the
    template decides what starts), empty `annotations` / `parameters` /
    `variables` at the top, empty `dependsOn` / `userProperties` on activities (any depth), and empty
    `parameters` on references (`{"referenceName": ..., "type": "...Reference", "parameters": {}}`, as Studio
    writes dataset references). Only exactly-empty values of the expected JSON type go: `annotations: {}`
    stays, a non-empty one is compared. Kept: list order, every other key, every value as it is
    (placeholders included).

    Key order needs no rule: dicts compare without it. Called only for objects whose raw properties differ.
    """
    kind = object_type or ""
    read_only = READ_ONLY.get(kind, frozenset()) - _COMPARED_IN_TEMPLATES.get(kind, frozenset())
    out: dict[str, Any] = {}
    for key, value in properties.items():
        if key in read_only or _is_empty_of(value, _EMPTY_TOP_LEVEL.get(key)):
            continue
        out[key] = _normalise_value(value, key)
    return out


def _is_empty_of(value: Any, kind: type | None) -> bool:
    return kind is not None and type(value) is kind and not value


def _normalise_value(value: Any, key: str | None) -> Any:
    if isinstance(value, dict):
        return _normalise_dict(value, None)
    if isinstance(value, list):
        if key in ACTIVITY_LIST_KEYS:
            return [_normalise_dict(item, _EMPTY_IN_ACTIVITY) if isinstance(item, dict) else item for item in value]
        return [_normalise_value(item, None) for item in value]
    return value


def _normalise_dict(value: dict[str, Any], empty_rules: dict[str, type] | None) -> dict[str, Any]:
    if empty_rules is None and _is_reference(value):
        empty_rules = {"parameters": dict}
    out: dict[str, Any] = {}
    for key, item in value.items():
        if empty_rules and _is_empty_of(item, empty_rules.get(key)):
            continue
        out[key] = _normalise_value(item, key)
    return out


def _is_reference(value: dict[str, Any]) -> bool:
    kind = value.get("type")
    return isinstance(value.get("referenceName"), str) and isinstance(kind, str) and kind.endswith("Reference")


# --- diff -----------------------------------------------------------------------------------------


def diff_factories(
    before: Factory,
    after: Factory,
    *,
    from_label: str | None = None,
    to_label: str | None = None,
    source: Literal["before", "after"] = "after",
) -> Diff:
    """Changes that turn `before` into `after`, matched by (type, name), never by position.

    `source` is the side that is a version of the factory whose absent `MANAGED_WHEN_PRESENT` kinds mean "not
    managed here" (the new version, or the desired side against live; the deployed version in `drift`): objects
    of those kinds only the other side has are left out, with a note.

    Names match exactly first; an object left over on each side whose names differ only in letter case is the
    same ADF object (ADF names are case-insensitive: writing `Foo` updates `foo`), so it is an update with
    `renamed_from`, never a delete + create (that would delete the object just written). A real rename is a
    delete and a create.

    Labels default to each factory's `source`, else its name.
    """
    changes: list[Change] = []
    unchanged = 0
    before_objects, after_objects = before.objects, after.objects
    managing = after if source == "after" else before
    other_objects = before_objects if source == "after" else after_objects
    notes = _unmanaged_notes(managing, other_objects)
    if notes:
        unmanaged = {key for key in other_objects if key.type in MANAGED_WHEN_PRESENT}
        held = {key.type for key in managing.objects}
        unmanaged = {key for key in unmanaged if key.type not in held}
        before_objects = {k: v for k, v in before_objects.items() if k not in unmanaged}
        after_objects = {k: v for k, v in after_objects.items() if k not in unmanaged}

    left_before: dict[ObjectKey, FactoryObject] = {}
    for key, old in before_objects.items():
        new = after_objects.get(key)
        if new is None:
            left_before[key] = old
            continue
        change = _compare(old, new, key, None)
        if change is None:
            unchanged += 1
        else:
            changes.append(change)
    left_after = {key: obj for key, obj in after_objects.items() if key not in before_objects}

    for gone, came in _pair_by_case(left_before, left_after):
        if gone is not None and came is not None:
            renamed = _compare(gone, came, came.key, gone.key.name)
            assert renamed is not None  # a name that differs is a change even with equal properties
            changes.append(renamed)
        elif came is not None:
            changes.append(Change(came.key, "create", [], None, came.properties))
        elif gone is not None:
            changes.append(Change(gone.key, "delete", [], gone.properties, None))

    changes.sort(key=lambda change: sort_key(change.key))
    return Diff(
        changes=changes,
        unchanged=unchanged,
        from_label=from_label if from_label is not None else (before.source or before.name),
        to_label=to_label if to_label is not None else (after.source or after.name),
        notes=notes,
    )


def _unmanaged_notes(managing: Factory, other: Mapping[ObjectKey, FactoryObject]) -> list[str]:
    held = {key.type for key in managing.objects}
    kinds = sorted({key.type for key in other if key.type in MANAGED_WHEN_PRESENT and key.type not in held})
    return [
        f'{managing.source or managing.name} holds no global parameters (ADF publishes them only with "Include '
        "global parameters in ARM template\" on): the other side's are left as they are, not compared"
        for _ in kinds
    ]


def _pair_by_case(
    left_before: dict[ObjectKey, FactoryObject], left_after: dict[ObjectKey, FactoryObject]
) -> Iterable[tuple[FactoryObject | None, FactoryObject | None]]:
    """Unmatched objects: pair one-to-one case-insensitive twins; everything else stands alone."""
    groups: dict[tuple[str, str], tuple[list[FactoryObject], list[FactoryObject]]] = {}
    for side, objects in ((0, left_before), (1, left_after)):
        for key, obj in objects.items():
            groups.setdefault((key.type, key.name.casefold()), ([], []))[side].append(obj)
    for olds, news in groups.values():
        if len(olds) == 1 and len(news) == 1:
            yield olds[0], news[0]
        else:  # ambiguous (two names differing only in case on one side): no pairing, stay exact
            yield from ((old, None) for old in olds)
            yield from ((None, new) for new in news)


def _compare(old: FactoryObject, new: FactoryObject, key: ObjectKey, renamed_from: str | None) -> Change | None:
    """None when equal. Raw `==` first: most objects are identical and need no normalising or copying.

    `==` is Python's, where `1 == 1.0 == true`: a value changing only between those forms is not reported.
    Telling them apart would mean a Python-level walk of every object; publish output never flips them.
    """
    before_props, after_props = old.properties, new.properties
    if before_props is after_props or before_props == after_props:
        details: list[PathChange] = []
    else:
        normal_before = without_noise(before_props, key.type)
        normal_after = without_noise(after_props, key.type)
        details = [] if normal_before == normal_after else diff_properties(normal_before, normal_after)
    if not details and renamed_from is None:
        return None
    return Change(
        key=key,
        action="update",
        paths=[detail.path for detail in details],
        before=before_props,
        after=after_props,
        details=details,
        renamed_from=renamed_from,
    )


def diff_properties(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[PathChange]:
    """Changed paths between two (normalised) property trees, in a stable order: dict keys sorted, named list
    elements in the `after` order then removed ones, positions ascending."""
    out: list[PathChange] = []
    _walk(before, after, "", False, out)
    return out


def _walk(old: Any, new: Any, path: str, secret: bool, out: list[PathChange]) -> None:
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        secret = secret or is_secret_object(old) or is_secret_object(new)
        for key in sorted(old.keys() | new.keys()):
            child = _key_path(path, key)
            child_secret = secret or is_sensitive_key(key)
            if key not in new:
                out.append(PathChange(child, "remove", before=shown(old[key], child_secret)))
            elif key not in old:
                out.append(PathChange(child, "add", after=shown(new[key], child_secret)))
            else:
                _walk(old[key], new[key], child, child_secret, out)
        return
    if isinstance(old, list) and isinstance(new, list) and not (_all_scalars(old) and _all_scalars(new)):
        _walk_list(old, new, path, secret, out)
        return
    secret = secret or has_placeholder(old) or has_placeholder(new)
    shown_old, shown_new = shown(old, secret), shown(new, secret)
    if shown_old == shown_new and secret:  # the same source, other text around it: nothing more to show
        shown_old = shown_new = SECRET
    out.append(PathChange(path, "change", shown_old, shown_new))


def _walk_list(old: list[Any], new: list[Any], path: str, secret: bool, out: list[PathChange]) -> None:
    old_named, new_named = _by_name(old), _by_name(new)
    if old_named is not None and new_named is not None:
        common_old = [name for name in old_named if name in new_named]
        common_new = [name for name in new_named if name in old_named]
        if common_old != common_new:
            out.append(PathChange(path, "reorder"))
        for name, item in new_named.items():
            child = f"{path}[name={_format_name(name)}]"
            if name in old_named:
                _walk(old_named[name], item, child, secret, out)
            else:
                out.append(PathChange(child, "add"))
        for name in old_named:
            if name not in new_named:
                out.append(PathChange(f"{path}[name={_format_name(name)}]", "remove"))
        return
    for index in range(max(len(old), len(new))):
        child = f"{path}[{index}]"
        if index >= len(new):
            out.append(PathChange(child, "remove", before=shown(old[index], secret)))
        elif index >= len(old):
            out.append(PathChange(child, "add", after=shown(new[index], secret)))
        else:
            _walk(old[index], new[index], child, secret, out)


def _by_name(items: list[Any]) -> dict[str, Any] | None:
    """Elements by `name` (in list order) when every element is an object with a unique string name."""
    named: dict[str, Any] = {}
    for item in items:
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or name in named:
            return None
        named[name] = item
    return named


def path_text(steps: Iterable[str | int]) -> str:
    """A path given as keys and list positions, in this module's syntax (`a.b[0].c`)."""
    text = ""
    for step in steps:
        text = f"{text}[{step}]" if isinstance(step, int) else _key_path(text, step)
    return text


def _key_path(path: str, key: str) -> str:
    if _BARE_KEY.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def _format_name(name: str) -> str:
    """Bare when unambiguous, else quoted with a quote it lacks (override paths strip either, unescaped)."""
    if _BARE_NAME.fullmatch(name):
        return name
    if '"' not in name and "\\" not in name:
        return f'"{name}"'
    if "'" not in name:
        return f"'{name}'"
    return json.dumps(name, ensure_ascii=False)


def _all_scalars(items: list[Any]) -> bool:
    return all(not isinstance(item, (dict, list)) for item in items)
