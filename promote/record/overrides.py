"""Going around a guard for one run: which guard, what it let through, and the person's reason.

A guard (`requires:`, `deletion.max_share`, an impact class the environment wants confirmed) refuses a plan
before approval. A person may go around one for one run with an explicit flag; the plan shows it up front, the
run's journal keeps it, and the record step writes it on the factory (tag `promote-override`, with
`promote-run` saying who applied it) and into the run's entry of the deployment history, so that `status` and
`history` show it long after.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

TAG_OVERRIDE = "promote-override"
GUARDS = ("requires", "deletion.max_share", "impact.confirm")


@dataclass(frozen=True)
class GuardOverride:
    """One guard gone around: `guard` (one of GUARDS), what it would have refused, and why it was not."""

    guard: str
    refused: str  # what the guard says about this plan
    reason: str  # the person's words (`--override-gate`), or the flag that allowed it

    def text(self) -> str:
        return f"{self.guard} overridden ({self.reason}): {self.refused}"


def override_text(overrides: Iterable[GuardOverride]) -> str | None:
    """What the record holds: every override of the run, one sentence each; None when there is none."""
    texts = [o.text() for o in overrides]
    return "; ".join(texts) if texts else None
