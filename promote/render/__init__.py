"""Views of results for people and machines: text (terminal), markdown (GitHub job summary), JSON.

Each view module has `render_diff(diff) -> str`. Views only arrange what the diff already decided: which
objects changed, which paths, and which values are safe to show (`PathChange.before` / `.after` are already
display text, `<secret>` where a value could be a secret). Nothing here reads `Change.before` / `.after`.

Names, paths and values come from templates and from the live factory: `object_line` and `path_line`, which
every view uses, pass them through `promote.inert.inert` (one line each, no escape sequence, no workflow
command, very long names abridged).
"""

from __future__ import annotations

from promote.diff import Change, Diff, PathChange
from promote.inert import inert

GLYPHS = {"create": "+", "update": "~", "delete": "-"}
_PATH_GLYPHS = {"add": "+", "remove": "-", "change": "~", "reorder": "~"}


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


def objects(count: int) -> str:
    """`1 object`, `2 objects`."""
    return f"{count} object{'' if count == 1 else 's'}"


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
