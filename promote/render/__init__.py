"""Views of results for people and machines: text (terminal), markdown (GitHub job summary), JSON.

Each view module has `render_diff(diff) -> str`. Views only arrange what the diff already decided: which
objects changed, which paths, and which values are safe to show (`PathChange.before` / `.after` are already
display text, `<secret>` where a value could be a secret). Nothing here reads `Change.before` / `.after`.

Names, paths and values come from templates and from the live factory: `object_line`, `path_line`,
`change_title` and `fact_line`, which every view uses (the plan's views too, for the objects a deployment
writes and deletes), pass them through `promote.inert.inert` (one line each, no escape sequence, no workflow
command, very long names abridged). So a changed value is rendered in one place for `diff`, `plan` and `drift`,
in text and markdown alike; JSON carries the same display text (`Change.to_json`).
"""

from __future__ import annotations

from collections.abc import Sequence

from promote.diff import Change, Diff, PathChange
from promote.inert import inert
from promote.outline import Fact

GLYPHS = {"create": "+", "update": "~", "delete": "-"}
_PATH_GLYPHS = {"add": "+", "remove": "-", "change": "~", "reorder": "~"}
MOST_REFERRERS = 10  # referrers named after a deleted object; the rest are counted


def object_line(change: Change) -> str:
    """`~ pipelines/train_mnist`, with the other side's name when only its letter case differs."""
    line = f"{GLYPHS[change.action]} {inert(change.key)}"
    if change.renamed_from is not None:
        line += f" (was {inert(f'{change.key.type}/{change.renamed_from}')})"
    return line


def path_line(detail: PathChange) -> str:
    """One changed path, Terraform-like: `~ a.b: "old" -> "new"`, `+ a.c = 1`, `- a.d`, `~ x (reordered)`."""
    glyph = _PATH_GLYPHS[detail.kind]
    path = inert(detail.path)
    before = None if detail.before is None else inert(detail.before)
    after = None if detail.after is None else inert(detail.after)
    if detail.kind == "reorder":
        return f"{glyph} {path} (reordered)"
    if detail.kind == "change" and before is not None and after is not None:
        return f"{glyph} {path}: {before} -> {after}"
    if detail.kind == "add" and after is not None:
        return f"{glyph} {path} = {after}"
    if detail.kind == "remove" and before is not None:
        return f"{glyph} {path} = {before}"
    return f"{glyph} {path}"


def impact_tag(impact: Sequence[str]) -> str:
    """` [destructive, trigger-affecting]` after an object's line; empty before a diff is explained."""
    return f" [{', '.join(impact)}]" if impact else ""


def fact_line(fact: Fact) -> str:
    """One line of an outline: `type: AzureBlobStorage` (the text is already masked, `promote.shown`)."""
    return f"{inert(fact.label)}: {inert(fact.text)}"


def about_line(action: str, referrers: Sequence[str], rename: str | None) -> str:
    """What a create or delete means beyond itself: ` (a rename of pipelines/a; referenced by triggers/t)`."""
    parts = []
    if rename is not None:
        parts.append(f"renamed to {inert(rename)}" if action == "delete" else f"a rename of {inert(rename)}")
    if referrers:
        shown = ", ".join(inert(r) for r in referrers[:MOST_REFERRERS])
        more = len(referrers) - MOST_REFERRERS
        parts.append(f"referenced by {shown}" + (f" and {more} more" if more > 0 else ""))
    return f" ({'; '.join(parts)})" if parts else ""


def change_title(change: Change) -> str:
    """`- datasets/d [destructive] (referenced by pipelines/p)`: the object, its impact, what it means."""
    return object_line(change) + impact_tag(change.impact) + about_line(change.action, change.referrers, change.rename)


def change_body(change: Change) -> list[str]:
    """The lines under an object: each changed path with its values, or a create's or delete's outline."""
    return [path_line(detail) for detail in change.details] + [fact_line(fact) for fact in change.outline]


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`1 object`, `2 objects`; `plural` for nouns that take more than an `s`."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def objects(count: int) -> str:
    """`1 object`, `2 objects`."""
    return counted(count, "object")


def plan_line(diff: Diff) -> str:
    """`Changes: 2 to create, 1 to update, 0 to delete, 14 unchanged.`"""
    s = diff.summary
    return (
        f"Changes: {s['create']} to create, {s['update']} to update, {s['delete']} to delete, "
        f"{s['unchanged']} unchanged."
    )


def grouped(diff: Diff) -> list[tuple[str, list[Change]]]:
    """Changes grouped by object type, keeping the diff's order (types in write order, names sorted)."""
    groups: list[tuple[str, list[Change]]] = []
    for change in diff.changes:
        if not groups or groups[-1][0] != change.key.type:
            groups.append((change.key.type, []))
        groups[-1][1].append(change)
    return groups
