"""Markdown for a GitHub job summary or a pull-request comment: a heading, a summary table, then one
collapsible block per updated object (created and deleted objects are one line each: nothing to expand)."""

from __future__ import annotations

import html
import re

from promote.diff import ACTIONS, Diff
from promote.inert import inert
from promote.render import GLYPHS, object_line, path_line, plan_line


def render_diff(diff: Diff) -> str:
    summary = diff.summary
    lines = [
        f"## ADF diff: {_code(inert(diff.from_label))} → {_code(inert(diff.to_label))}",
        "",
        "| " + " | ".join(f"{GLYPHS[a]} {a}" for a in ACTIONS) + " | unchanged |",
        "|" + "---:|" * (len(ACTIONS) + 1),
        "| " + " | ".join(str(summary[a]) for a in ACTIONS) + f" | {summary['unchanged']} |",
        "",
    ]
    if diff.notes:
        lines += [*(f"> {html.escape(inert(note), quote=False)}" for note in diff.notes), ""]
    if not diff.has_changes:
        lines += ["No changes.", ""]
        return "\n".join(lines)
    lines += [plan_line(diff), ""]
    for change in diff.changes:
        if change.action != "update":
            # Consecutive creates and deletes form one tight list; a details block closes it.
            if lines[-1] == "" and len(lines) > 1 and lines[-2].startswith("- "):
                lines.pop()
            lines += [f"- {_code(object_line(change))}", ""]
            continue
        body = [path_line(detail) for detail in change.details] or ["(no property changes)"]
        lines += [
            f"<details><summary>{html.escape(object_line(change), quote=False)}</summary>",
            "",
            *_fence(body),
            "",
            "</details>",
            "",
        ]
    return "\n".join(lines)


def _code(text: str) -> str:
    """An inline code span that survives backticks in the text (longer delimiter, padded)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    if longest == 0:
        return f"`{text}`"
    tick = "`" * (longest + 1)
    return f"{tick} {text} {tick}"


def _fence(body: list[str]) -> list[str]:
    """A fenced block longer than any backtick run inside, so values cannot close it early."""
    longest = max((len(run) for line in body for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}text", *body, fence]
