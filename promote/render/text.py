"""Plain text for a terminal or a log: what a reviewer wants at a glance. No colour: logs keep escapes."""

from __future__ import annotations

from promote.diff import Diff
from promote.impact import counts_text
from promote.inert import inert
from promote.render import change_body, change_title, grouped, objects, plan_line


def render_diff(diff: Diff) -> str:
    """Header (with the impact counts once the diff is explained), then per type each changed object with its
    changed paths and their values, or a create's or delete's outline, indented below, then the plan line.

    ```
    Diff: abc123 -> def456

    Impact: 0 destructive, 0 trigger-affecting, 0 infrastructure, 0 parameter-only, 2 content.

    pipelines:
      ~ pipelines/train_mnist [content]
          ~ activities[name=train].typeProperties.command: "python a.py" -> "python b.py"
      + pipelines/new_pipe [content]
          activities: wait (Wait)

    Changes: 1 to create, 1 to update, 0 to delete, 14 unchanged.
    ```
    """
    lines = [f"Diff: {inert(diff.from_label)} -> {inert(diff.to_label)}", ""]
    if diff.impact is not None and diff.has_changes:
        lines += [counts_text(diff.impact), ""]
    if diff.notes:
        lines += [*(f"Note: {inert(note)}" for note in diff.notes), ""]
    if not diff.has_changes:
        lines.append(f"No changes. {objects(diff.unchanged)} unchanged.")
        return "\n".join(lines) + "\n"
    for type_, changes in grouped(diff):
        lines.append(f"{type_}:")
        for change in changes:
            lines.append(f"  {change_title(change)}")
            lines.extend(f"      {line}" for line in change_body(change))
        lines.append("")
    lines.append(plan_line(diff))
    return "\n".join(lines) + "\n"
