"""Plain text for a terminal or a log: what a reviewer wants at a glance. No colour: logs keep escapes."""

from __future__ import annotations

from promote.diff import Diff
from promote.inert import inert
from promote.render import grouped, object_line, objects, path_line, plan_line


def render_diff(diff: Diff) -> str:
    """Header, then per type each changed object with its changed paths indented below, then the plan line.

    ```
    Diff: abc123 -> def456

    pipelines:
      ~ pipelines/train_mnist
          ~ activities[name=train].typeProperties.command: "python a.py" -> "python b.py"
      + pipelines/new_pipe

    Changes: 1 to create, 1 to update, 0 to delete, 14 unchanged.
    ```
    """
    lines = [f"Diff: {inert(diff.from_label)} -> {inert(diff.to_label)}", ""]
    if diff.notes:
        lines += [*(f"Note: {inert(note)}" for note in diff.notes), ""]
    if not diff.has_changes:
        lines.append(f"No changes. {objects(diff.unchanged)} unchanged.")
        return "\n".join(lines) + "\n"
    for type_, changes in grouped(diff):
        lines.append(f"{type_}:")
        for change in changes:
            lines.append(f"  {object_line(change)}")
            lines.extend(f"      {path_line(detail)}" for detail in change.details)
        lines.append("")
    lines.append(plan_line(diff))
    return "\n".join(lines) + "\n"
