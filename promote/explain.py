"""A diff explained for its reviewer: what each created or deleted object is, what referenced a deleted one,
which delete and create are a rename, and each change's impact classes with their counts.

`diff_factories` answers "what differs"; this pass answers "what does it mean", from the changes themselves and
what the caller knows of the factory they go to. Every command that shows a diff or a plan explains it first
(`promote diff`, `plan`, `deploy`, `apply`, `rollback`, `drift`), so the views have one source for these facts
and a saved plan records them.

Pure: no I/O. The diff is completed in place (and returned), since its changes are made for this one caller.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from promote.diff import Change, Diff, without_noise
from promote.factory import Factory, FactoryObject, ObjectKey
from promote.impact import classify, counts, started_runs
from promote.live import LiveState
from promote.outline import outline
from promote.plan.order import KeyIndex, dependencies_of


def explain(
    diff: Diff,
    *,
    referrers_in: Mapping[ObjectKey, FactoryObject] | None = None,
    runs_started: Iterable[str] = (),
) -> Diff:
    """Fill in each change's `outline` (creates and deletes), `referrers` (deletes), `rename` and `impact`, and
    the diff's `impact` counts.

    `referrers_in`: the factory the deleted objects are referenced in (the live factory, for a plan, `diff
    --env` and `drift`); without it (a diff of two versions), the old side of the changed objects, which holds
    every referrer a valid new version can have lost (an unchanged object cannot still reference a deleted
    one). `runs_started`: pipelines a started trigger runs (`promote.impact.started_runs`).
    """
    started = frozenset(name.casefold() for name in runs_started)
    pairs = renames(diff.changes)
    deleted = [change.key for change in diff.changes if change.action == "delete"]
    referenced = referrers(deleted, referrers_in if referrers_in is not None else _old_sides(diff.changes))
    for change in diff.changes:
        if change.action == "create":
            change.outline = outline(change.key.type, change.after)
        elif change.action == "delete":
            change.outline = outline(change.key.type, change.before)
            change.referrers = tuple(str(key) for key in referenced.get(change.key, ()))
        other = pairs.get(change.key)
        change.rename = str(other) if other is not None else None
        change.impact = classify(change, runs_started=started, rename=other is not None)
    diff.impact = counts(change.impact for change in diff.changes)
    return diff


def explain_live(diff: Diff, live: LiveState, desired: Factory) -> Diff:
    """`explain` for a diff between `desired` and the live factory (either way round: a deploy's or drift's):
    deletes' referrers in the live factory, and the pipelines that its started triggers run, by the live and the
    desired definitions."""
    started = [name for name, state in live.triggers.items() if state.runtime_state == "Started"]
    runs = started_runs(started, (live.factory.objects, desired.objects))
    return explain(diff, referrers_in=live.factory.objects, runs_started=runs)


def renames(changes: Iterable[Change]) -> dict[ObjectKey, ObjectKey]:
    """Deletes and creates of the same type whose properties are equal (after ADF's noise is removed), paired
    one to one in the diff's order: each side mapped to the other."""
    deletes: dict[str, list[Change]] = {}
    creates: list[Change] = []
    for change in changes:
        if change.action == "delete" and change.before is not None:
            deletes.setdefault(change.key.type, []).append(change)
        elif change.action == "create" and change.after is not None:
            creates.append(change)
    pairs: dict[ObjectKey, ObjectKey] = {}
    for create in creates:
        candidates = deletes.get(create.key.type)
        if not candidates:
            continue
        assert create.after is not None
        wanted = without_noise(create.after, create.key.type)
        for gone in candidates:
            assert gone.before is not None
            if without_noise(gone.before, gone.key.type) == wanted:
                candidates.remove(gone)
                pairs[create.key] = gone.key
                pairs[gone.key] = create.key
                break
    return pairs


def referrers(
    deleted: Iterable[ObjectKey], objects: Mapping[ObjectKey, FactoryObject]
) -> dict[ObjectKey, list[ObjectKey]]:
    """For each deleted key, the other objects in `objects` that reference it (names compared as ADF does,
    case-insensitively), sorted. Walks the objects only when something is deleted."""
    wanted = list(deleted)
    if not wanted:
        return {}
    index = KeyIndex(wanted)
    out: dict[ObjectKey, list[ObjectKey]] = {}
    for key, obj in sorted(objects.items()):
        hits = {index.find(dep) for dep in dependencies_of(obj)}
        for hit in sorted(h for h in hits if h is not None and not _same(h, key)):
            out.setdefault(hit, []).append(key)
    return out


def _same(a: ObjectKey, b: ObjectKey) -> bool:
    return a.type == b.type and a.name.casefold() == b.name.casefold()


def _old_sides(changes: Iterable[Change]) -> dict[ObjectKey, FactoryObject]:
    return {c.key: FactoryObject(c.key, c.before) for c in changes if c.before is not None}
