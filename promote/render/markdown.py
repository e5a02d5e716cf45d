"""Markdown for a GitHub job summary or a pull-request comment: a heading, a summary table, the impact counts,
then one collapsible block per changed object with its values or its outline (an object with nothing more to
say is one line)."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

from promote.diff import ACTIONS, Diff
from promote.impact import CLASSES
from promote.inert import inert
from promote.render import GLYPHS, change_body, change_title, plan_line


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
    if diff.impact is not None and diff.has_changes:
        lines += impact_table(diff.impact)
    if diff.notes:
        lines += [*(f"> {html.escape(inert(note), quote=False)}" for note in diff.notes), ""]
    if not diff.has_changes:
        lines += ["No changes.", ""]
        return "\n".join(lines)
    lines += [plan_line(diff), ""]
    for change in diff.changes:
        body = change_body(change)
        if change.action != "update" and not body:
            # Consecutive creates and deletes form one tight list; a details block closes it.
            if lines[-1] == "" and len(lines) > 1 and lines[-2].startswith("- "):
                lines.pop()
            lines += [f"- {_code(change_title(change))}", ""]
            continue
        lines += [
            f"<details><summary>{html.escape(change_title(change), quote=False)}</summary>",
            "",
            *fence(body or ["(no property changes)"]),
            "",
            "</details>",
            "",
        ]
    return "\n".join(lines)


def impact_table(impact: Mapping[str, int]) -> list[str]:
    """The impact counts as a one-row table (every class, in `promote.impact.CLASSES` order)."""
    return [
        "| " + " | ".join(CLASSES) + " |",
        "|" + "---:|" * len(CLASSES),
        "| " + " | ".join(str(impact.get(name, 0)) for name in CLASSES) + " |",
        "",
    ]


def _code(text: str) -> str:
    """An inline code span that survives backticks in the text (longer delimiter, padded)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    if longest == 0:
        return f"`{text}`"
    tick = "`" * (longest + 1)
    return f"{tick} {text} {tick}"


def fence(body: list[str]) -> list[str]:
    """A fenced block longer than any backtick run inside, so values cannot close it early."""
    longest = max((len(run) for line in body for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}text", *body, fence]
