"""A plan as markdown, for a GitHub job summary: the same steps and words as the text view
(`plan_text.describe`), with a summary table, one section per phase and each deployment's objects folded."""

from __future__ import annotations

import html
import re

from promote.plan.steps import PHASE_TITLES, Deploy, Phase, Plan
from promote.render.markdown import fence, impact_table
from promote.render.plan_text import (
    KEPT_HEADING,
    RUNS_IN_FLIGHT,
    attention,
    describe,
    empty_phase_text,
    finishes_text,
    inert_plan_lines,
    kept_line,
    running_untouched,
)


def _code(text: str) -> str:
    """An inline code span that survives backticks in the text."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if longest else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cell(text: str) -> str:
    """An inline code span inside a table cell: GitHub splits cells on `|` even inside code."""
    return _code(text.replace("|", "\\|"))


def _text(text: str) -> str:
    """Plain text made inert for markdown (names can hold `*`, `_`, `<`)."""
    return re.sub(r"([\\`*_\[\]<>|#])", r"\\\1", text)


def _item(detail: str) -> str:
    """A step's detail as a list item below it; a detail indented in the text view (the runs a step names under
    its own detail) nests one level deeper."""
    nested = len(detail) - len(detail.lstrip(" ")) > 0
    return f"{'     ' if nested else '   '}- {_text(detail.lstrip(' '))}"


def render_plan(plan: Plan) -> str:
    t = plan.target
    s = plan.summary
    lines = [
        f"## Deployment plan: {_code(plan.environment)} → {_code(t.factory)}",
        "",
        "| | |",
        "|---|---|",
        f"| target factory | {_cell(t.factory)} (resource group {_cell(t.resource_group)}, subscription "
        f"{_cell(t.subscription)}) |",
        f"| published factory | {_cell(plan.factory)}, commit {_cell(plan.commit)} from {_cell(plan.source)} |",
        f"| plan made at | {_cell(plan.created)} |",
        f"| plan hash | {_cell(plan.hash[:16])} |",
        *([f"| finishes | {_text(finishes_text(plan.finishes))} |"] if plan.finishes else []),
        "",
        *(["**Full deployment: every object is written.**", ""] if plan.full else []),
        "| + create | ~ update | - delete | unchanged |",
        "|---:|---:|---:|---:|",
        f"| {s.get('create', 0)} | {s.get('update', 0)} | {s.get('delete', 0)} | {s.get('unchanged', 0)} |",
        "",
        *(impact_table(plan.impact) if plan.impact else []),
    ]
    icons = {"Apply will be refused": "❌", "Warnings": "⚠️", "Gate": "✅", RUNS_IN_FLIGHT: "⏳", KEPT_HEADING: "🛡️"}
    for heading, items in attention(plan):
        lines += [f"### {icons.get(heading, '⚠️')} {_text(heading)}", ""]
        lines += [f"- {_text(item)}" for item in items]
        lines.append("")
    number = 0
    for phase in Phase:
        lines += [f"### {PHASE_TITLES[phase]}", ""]
        steps = [step for step in plan.steps if step.phase == phase]
        if not steps:
            lines += [f"_{_text(empty_phase_text(plan, phase))}_", ""]
        for step in steps:
            number += 1
            text = describe(step)
            if isinstance(step, Deploy):
                lines += [
                    f"<details><summary>{number}. {html.escape(text.title, quote=False)}</summary>",
                    "",
                    *fence(text.details),
                    "",
                    "</details>",
                    "",
                ]
                continue
            lines.append(f"{number}. {_text(text.title)}")
            lines.extend(_item(detail) for detail in text.details)
        if steps and not isinstance(steps[-1], Deploy):
            lines.append("")
        if phase == Phase.STOP_TRIGGERS and steps and running_untouched(plan):
            lines += [f"Keep running, untouched: {_text(', '.join(running_untouched(plan)))}", ""]
        if phase == Phase.DELETE and plan.kept:
            lines += ["**Kept, not deleted:**", ""]
            lines += [f"- {_text(kept_line(kept))}" for kept in plan.kept]
            lines.append("")
    if plan.notes:
        lines += ["### Notes", ""]
        lines += [f"- {_text(note)}" for note in plan.notes]
        lines.append("")
    return inert_plan_lines(lines)
