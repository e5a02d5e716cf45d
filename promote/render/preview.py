"""The pull-request preview: one markdown comment saying whether a change to the collaboration branch is valid and
what it would change in staging, for a workflow to post and update on each push.

It is rendered from what the commands already print as data, so it says exactly what they said:
`promote validate --format json` and `promote diff --env ENV --format json` (docs/architecture.md, "The diff's
JSON"), both run on the pull request's collaboration root. The first line is a marker (`MARKER`) by which a
workflow finds its own comment to update rather than add one per push.

Everything in the files is untrusted (object names, messages, paths come from the pull request): it is shown in
code spans and never as markup, and no line can start with `::` (a workflow command, should the text reach a
log).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from promote.diff import PathChange
from promote.impact import CLASSES
from promote.render import path_line

MARKER = "<!-- adf-promote preview -->"
_GLYPHS = {"create": "+", "update": "~", "delete": "-"}
_MOST_PATHS = 8  # paths listed per updated object; the rest are counted


@dataclass
class Preview:
    """What one comment reports."""

    revision: str  # the pull request's commit (or a label)
    environment: str | None  # whose live factory the diff was made against
    validate: dict[str, Any] | None  # `promote validate --format json`
    diff: dict[str, Any] | None  # `promote diff --format json`
    warnings: list[str] = field(default_factory=list)  # e.g. `promote build`'s


def render_preview(preview: Preview) -> str:
    lines = [MARKER, f"## adf-promote preview of {code(preview.revision)}", ""]
    lines += _validate_section(preview.validate)
    lines += _diff_section(preview.diff, preview.environment)
    if preview.warnings:
        lines += ["### Warnings", ""]
        lines += [f"- {code(w)}" for w in preview.warnings]
        lines.append("")
    return "\n".join(_safe(line) for line in lines).rstrip("\n") + "\n"


def _validate_section(result: dict[str, Any] | None) -> list[str]:
    if result is None:
        return ["### Validate", "", "Not run.", ""]
    problems = [p for p in result.get("problems") or [] if isinstance(p, dict)]
    checked = [str(c) for c in result.get("checked") or []]
    warnings = [str(w) for w in result.get("warnings") or []]
    head = "✅ valid" if not problems else f"❌ {_count(len(problems), 'problem')}"
    lines = ["### Validate", "", f"{head} (checked: {', '.join(code(c) for c in checked) or 'nothing'})", ""]
    if problems:
        lines += ["| file | object | problem |", "|---|---|---|"]
        for p in problems:
            where = str(p.get("file", "")) + (f":{p['line']}" if p.get("line") else "")
            what = str(p.get("message", "")) + (f" ({p['hint']})" if p.get("hint") else "")
            lines.append(f"| {code(where)} | {code(str(p.get('object') or ''))} | {code(what)} |")
        lines.append("")
    if warnings:
        lines += [f"- warning: {code(w)}" for w in warnings]
        lines.append("")
    return lines


def _diff_section(diff: dict[str, Any] | None, environment: str | None) -> list[str]:
    title = f"### Changes to {code(environment)}" if environment else "### Changes"
    if diff is None:
        return [title, "", "Not run.", ""]
    summary = diff.get("summary") or {}
    changes = [c for c in diff.get("changes") or [] if isinstance(c, dict)]
    lines = [title, "", f"{code(str(diff.get('from', '')))} → {code(str(diff.get('to', '')))}", ""]
    lines += [
        "| + create | ~ update | - delete | unchanged |",
        "|---:|---:|---:|---:|",
        f"| {summary.get('create', 0)} | {summary.get('update', 0)} | {summary.get('delete', 0)} | "
        f"{summary.get('unchanged', 0)} |",
        "",
    ]
    impact = diff.get("impact")
    if isinstance(impact, dict):
        lines += [
            "| " + " | ".join(CLASSES) + " |",
            "|" + "---:|" * len(CLASSES),
            "| " + " | ".join(str(impact.get(name, 0)) for name in CLASSES) + " |",
            "",
        ]
    if not changes:
        return [*lines, "No changes.", ""]
    for change in changes:
        glyph = _GLYPHS.get(str(change.get("action")), "?")
        label = f"{glyph} {change.get('type')}/{change.get('name')}"
        line = f"- {code(label)}"
        classes = [str(c) for c in change.get("impact") or []]
        if classes:
            line += f" ({', '.join(classes)})"
        paths = [str(p) for p in change.get("paths") or []]
        if paths:
            shown = ", ".join(code(p) for p in paths[:_MOST_PATHS])
            more = f" and {len(paths) - _MOST_PATHS} more" if len(paths) > _MOST_PATHS else ""
            line += f": {shown}{more}"
        referrers = [str(r) for r in change.get("referenced_by") or []]
        if referrers:
            line += f" (referenced by {', '.join(code(r) for r in referrers[:_MOST_PATHS])})"
        lines.append(line)
        lines += [f"  - {code(text)}" for text in _values(change)[:_MOST_PATHS]]
    lines.append("")
    return lines


def _values(change: dict[str, Any]) -> list[str]:
    """An object's changed values (`path: old -> new`, the diff's own display text, already masked) or its
    outline, as `promote diff` prints them (`promote.render.path_line`)."""
    out = []
    for detail in change.get("details") or []:
        if not isinstance(detail, dict) or detail.get("kind") not in ("add", "remove", "change", "reorder"):
            continue
        values = {k: detail.get(k) for k in ("before", "after")}
        if not isinstance(detail.get("path"), str) or any(
            v is not None and not isinstance(v, str) for v in values.values()
        ):
            continue
        out.append(path_line(PathChange(detail["path"], detail["kind"], values["before"], values["after"])))
    outline = change.get("outline")
    if isinstance(outline, dict):
        out += [f"{label}: {text}" for label, text in outline.items()]
    return out


def code(text: str) -> str:
    """An inline code span that holds any text: a delimiter longer than its backtick runs, line breaks as spaces,
    and the table separator escaped (GitHub splits table cells on `|` even inside code)."""
    text = text.replace("\r", " ").replace("\n", " ").replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    tick = "`" * (longest + 1)
    pad = " " if longest or text.startswith(" ") or text.endswith(" ") else ""
    return f"{tick}{pad}{text}{pad}{tick}"


def _safe(line: str) -> str:
    """No line may start a workflow command (`::name ...::`), whatever the files held."""
    return " " + line if line.lstrip().startswith("::") else line


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
