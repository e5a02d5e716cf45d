"""Pipeline runs in flight: which runs a deploy would cut into, and how they are told apart. Pure: no I/O.

A deploy that changes or deletes a pipeline while it runs can break that run (Microsoft's troubleshooting guide
tells people to wait or to cancel it by hand). So before its first write, a plan that changes or deletes an
existing pipeline looks for runs in progress of the pipelines it affects, and the environment's `runs:` setting
(`promote.environment.RunsPolicy`) decides: wait for them to end, cancel them, or refuse.

Which pipelines are affected (`affected_pipelines`, the rule lives here and nowhere else):

- every existing pipeline the plan changes (an update, a rename in letter case) or deletes: a run in progress
  executes the live definition, and the deploy replaces or removes it under the run;
- every live pipeline that calls one of those through an Execute Pipeline activity, at any depth: a run of the
  caller that has not reached the call yet would start the new child, or fail to find a deleted one.

Not affected: a pipeline the plan creates (it has no runs), one `--full` rewrites unchanged (the run executes
the same definition), other kinds of objects (datasets, linked services: a deploy that changes what a run reads is
a matter for review, not for waiting), and triggers: stopping, changing or deleting a trigger does not stop the
runs it started, and a trigger whose pipelines change is covered by those pipelines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from promote.errors import InputError, Problem

RunPolicy = Literal["wait", "cancel", "fail"]
RUN_POLICIES: tuple[RunPolicy, ...] = ("wait", "cancel", "fail")
RUN_IN_PROGRESS = ("Queued", "InProgress", "Canceling")  # ADF's statuses of a run that has not ended


@dataclass(frozen=True)
class RunInfo:
    """A pipeline run that has not ended: what a deploy that changes its pipeline would cut into.

    `invoked_by_type` is ADF's (`Manual`, `ScheduleTrigger`, `TumblingWindowTrigger`, `BlobEventsTrigger`,
    `PipelineActivity`, ...) and `invoked_by` the trigger's or activity's name; `parent_run_id` the run whose
    Execute Pipeline activity started this one, if any.
    """

    run_id: str
    pipeline: str
    status: str  # Queued | InProgress | Canceling
    run_start: str | None
    last_updated: str | None
    invoked_by: str
    invoked_by_type: str
    parent_run_id: str | None = None


@dataclass(frozen=True)
class RunsSeen:
    """The runs in progress when a plan was made, shown to its reviewer; `note` says why none could be read.

    An observation, not a decision: apply looks again right before the first write, and what it finds then is
    what the environment's setting acts on."""

    runs: tuple[RunInfo, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class AffectedPipeline:
    """A live pipeline whose runs in progress a plan would cut into, and why (`affected_pipelines`)."""

    name: str
    reason: str  # "it changes", "it is deleted", "it calls X"


def affected_pipelines(changed: Mapping[str, str], calls: Mapping[str, Iterable[str]]) -> tuple[AffectedPipeline, ...]:
    """The pipelines `changed` (live name -> "it changes" / "it is deleted") and every live pipeline that calls
    one of them, at any depth (`calls`: live pipeline name -> the pipelines its Execute Pipeline activities name).

    Names are compared ignoring letter case, as ADF does; each caller is named with the nearest changed pipeline
    it reaches (breadth first, names in order, so the answer never depends on input order)."""
    live = {name.casefold(): name for name in calls}
    callers: dict[str, set[str]] = {}
    for caller, callees in calls.items():
        for callee in callees:
            callers.setdefault(callee.casefold(), set()).add(caller.casefold())
    reasons: dict[str, str] = {}
    frontier: list[str] = []
    for name, reason in sorted(changed.items(), key=lambda item: (item[0].casefold(), item[0])):
        folded = name.casefold()
        if folded not in reasons:
            reasons[folded] = reason
            live.setdefault(folded, name)
            frontier.append(folded)
    while frontier:
        following: list[str] = []
        for callee in frontier:
            for caller in sorted(callers.get(callee, ())):
                if caller not in reasons and caller in live:
                    reasons[caller] = f"it calls {live[callee]}"
                    following.append(caller)
        frontier = following
    return tuple(AffectedPipeline(live[folded], reasons[folded]) for folded in sorted(reasons))


def top_most(runs: Sequence[RunInfo]) -> list[RunInfo]:
    """The runs no other of `runs` started: a recursive cancel of these cancels the others with them (cancelling
    a child first would let its parent, still running, go on to its next activity)."""
    ids = {run.run_id for run in runs}
    return [run for run in runs if run.parent_run_id not in ids]


def started_by(run: RunInfo) -> str:
    """Who started a run, for people: `trigger nightly (ScheduleTrigger)`, `run R (activity A)`, `hand`."""
    if run.invoked_by_type == "PipelineActivity":
        parent = f"run {run.parent_run_id}" if run.parent_run_id else "another run"
        return f"{parent} (activity {run.invoked_by})" if run.invoked_by else parent
    if run.invoked_by_type == "Manual" or not run.invoked_by_type:
        return "hand" if run.invoked_by in ("", "Manual") else f"hand ({run.invoked_by})"
    if run.invoked_by_type.endswith("Trigger"):
        return f"trigger {run.invoked_by} ({run.invoked_by_type})"
    return f"{run.invoked_by} ({run.invoked_by_type})" if run.invoked_by else run.invoked_by_type


def run_line(run: RunInfo) -> str:
    """`pipelines/train run 1b2c... (InProgress since 2025-03-01T02:00:00Z, started by trigger nightly ...)`."""
    since = f" since {run.run_start}" if run.run_start else ""
    return f"pipelines/{run.pipeline} run {run.run_id} ({run.status}{since}, started by {started_by(run)})"


def runs_text(runs: Sequence[RunInfo]) -> str:
    """`2 runs in progress: ...; ...` (what a wait reports it waits for)."""
    n = len(runs)
    if not n:
        return "no run in progress"
    shown = "; ".join(f"{run.pipeline} run {run.run_id} ({run.status})" for run in runs[:5])
    more = f"; and {n - 5} more" if n > 5 else ""
    return f"{n} run{'s' if n != 1 else ''} in progress: {shown}{more}"


def duration_text(seconds: float) -> str:
    """`1800 s` as people say it: `30 min`, `90 s`, `2 h`, `1 h 30 min`."""
    whole = round(seconds)
    if whole != seconds or whole < 60 or whole % 60:
        return f"{seconds:g} s"
    minutes = whole // 60
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h" + (f" {rest} min" if rest else "")


SHOWN = 10  # runs named in a refusal


class RunsInFlight(InputError):
    """`runs.in_progress: fail` and runs in progress of the pipelines a deploy changes: refused before anything
    is written (exit 2), naming the runs."""

    def __init__(self, environment: str, runs: Sequence[RunInfo], file: str | None = None) -> None:
        self.runs = tuple(runs)
        file = file or f"environments/{environment}.yaml"
        n = len(runs)
        head = Problem(
            file,
            f"{n} run{'s' if n != 1 else ''} in progress that this deploy would cut into (of pipelines it changes "
            "or deletes, or of their callers): refused, nothing was written",
            object="runs.in_progress: fail",
            hint="wait for the runs to end or cancel them, then deploy again; or set runs.in_progress to wait or "
            "cancel to let the deploy do it",
        )
        shown = [Problem(file, run_line(run)) for run in runs[:SHOWN]]
        more = [Problem(file, f"... and {n - SHOWN} more")] if n > SHOWN else []
        super().__init__([head, *shown, *more])


__all__ = [
    "RUN_IN_PROGRESS",
    "RUN_POLICIES",
    "AffectedPipeline",
    "RunInfo",
    "RunPolicy",
    "RunsInFlight",
    "RunsSeen",
    "affected_pipelines",
    "duration_text",
    "run_line",
    "runs_text",
    "started_by",
    "top_most",
]
