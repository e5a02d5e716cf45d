"""One run against one environment: lock, journal, apply the plan, and on failure roll back.

The executor carries out one plan. This module is what makes a run safe to start and safe to lose:

- one run per environment (`lock`), with a journal beside it (`journal`);
- a run that finds the journal of an interrupted one inherits its record of trigger states, so that what was
  running before the first attempt runs again at the end, whatever the killed run had stopped;
- a failure after anything was touched rolls back: the plan from the last good commit against the live
  factory, applied by the same executor, then every trigger put back as step 1 recorded it.

Planning is passed in (`make_plan`, `plan_for_commit`) because it needs git and the environment file, which
this module does not know about.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promote.apply import journal as journals
from promote.apply.executor import Executor, Outcome, Progress, deployment_parameters, describe
from promote.apply.journal import Journal
from promote.apply.lock import environment_lock
from promote.errors import EXIT_OK, EXIT_ROLLBACK_FAILED, EXIT_ROLLED_BACK
from promote.live import LiveState
from promote.plan.planfile import with_hash
from promote.plan.steps import TAG_COMMIT, Plan, RunPipeline, TriggerRecord

SUCCEEDED = journals.SUCCEEDED
ROLLED_BACK = journals.ROLLED_BACK
ROLLBACK_FAILED = journals.ROLLBACK_FAILED


@dataclass
class Engine:
    """What a run needs from the outside world: the connection and the functions that act on it."""

    root: Path
    environment: str
    start_policy: str  # "previous" | "template"
    conn: Any
    ops: Any  # promote.azure.operations
    read_live: Callable[[Any], LiveState]
    read_triggers: Callable[[Any], dict[str, Any]]  # only the triggers' states (cheaper than read_live)
    progress: Progress = print
    environ: dict[str, str] | None = None


@dataclass
class RunReport:
    """What a run did, undid and left: printed at the end of every run and kept in the journal."""

    status: str
    plan: Plan | None = None
    outcome: Outcome | None = None
    rollback_plan: Plan | None = None
    rollback_outcome: Outcome | None = None
    rollback_target: str | None = None
    restored: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    recovered_run: str | None = None

    @property
    def exit_code(self) -> int:
        return {SUCCEEDED: EXIT_OK, ROLLED_BACK: EXIT_ROLLED_BACK}.get(self.status, EXIT_ROLLBACK_FAILED)

    def render(self) -> str:
        lines = []
        if self.recovered_run:
            lines.append(f"Recovered the interrupted run {self.recovered_run}.")
        if self.plan is not None and self.outcome is not None:
            lines.append(f"Plan {self.plan.hash[:12]} for commit {self.plan.commit[:8]}: {self.status}.")
            lines += [f"  done: {describe(r.step)}" for r in self.outcome.done]
            if self.outcome.error is not None:
                lines.append(f"  failed: {self.outcome.error}")
        if self.rollback_plan is not None and self.rollback_outcome is not None:
            lines.append(f"Rolled back to {self.rollback_target[:8] if self.rollback_target else '?'}:")
            lines += [f"  undone: {describe(r.step)}" for r in self.rollback_outcome.done]
            if self.rollback_outcome.error is not None:
                lines.append(f"  rollback failed: {self.rollback_outcome.error}")
        if self.status != SUCCEEDED and self.rollback_plan is None and not self.problems:
            lines.append("Nothing had been written: no object needed rolling back.")
        if self.restored:
            lines.append(f"Triggers restored: {', '.join(self.restored)}")
        lines += [f"  left: {p}" for p in self.problems]
        return "\n".join(lines)


def run(
    engine: Engine,
    make_plan: Callable[[LiveState, Journal | None], Plan],
    plan_for_commit: Callable[[str, LiveState], Plan],
    *,
    kind: str = "deploy",
) -> RunReport:
    """Plan (inside the lock, against the live factory), apply, and roll back on failure."""
    path = journals.journal_path(engine.root, engine.environment)
    with environment_lock(engine.root, engine.environment):
        previous = journals.load(path)
        interrupted = previous if previous is not None and previous.unfinished else None
        if previous is not None and not interrupted:
            journals.archive(previous)
        live = engine.read_live(engine.conn)
        plan = make_plan(live, interrupted)
        parameters = deployment_parameters(plan, engine.environ)  # a missing variable refuses before any step
        last_good = (interrupted.last_good_commit if interrupted else None) or live.tags.get(TAG_COMMIT)
        journal = Journal(
            environment=engine.environment,
            commit=plan.commit,
            plan_hash=plan.hash,
            kind=kind,
            last_good_commit=last_good,
            triggers_before=interrupted.triggers_before if interrupted else None,
        )
        journal.path = path
        report = RunReport(status=SUCCEEDED, plan=plan)
        if interrupted is not None:
            report.recovered_run = interrupted.run_id
            engine.progress(
                f"Recovering the interrupted {interrupted.kind} of {interrupted.commit[:8]} (run "
                f"{interrupted.run_id}, started {interrupted.started}): its record of trigger states is kept."
            )
            interrupted.status = journals.RECOVERED
            interrupted.path = path.with_name(f"{engine.environment}.{interrupted.run_id}.json")
            interrupted.save()
            journals.archive(interrupted)
        journal.save()

        executor = Executor(
            engine.conn,
            plan,
            journal,
            engine.ops,
            parameters=parameters,
            progress=engine.progress,
            read_triggers=engine.read_triggers,
        )
        outcome = executor.run()
        report.outcome = outcome
        if outcome.ok:
            if engine.start_policy == "previous":
                report.restored = restore_triggers(engine, journal.triggers_before or [], stop_others=False)
            journal.finish(SUCCEEDED)
            journals.archive(journal)
            return report

        journal.status = journals.ROLLING_BACK
        journal.log("rollback-begin", f"after: {outcome.error}")
        engine.progress(f"Step failed: {outcome.error}")
        _roll_back(engine, journal, report, plan_for_commit, last_good)
        journal.finish(report.status)
        journals.archive(journal)
        return report


def _roll_back(
    engine: Engine,
    journal: Journal,
    report: RunReport,
    plan_for_commit: Callable[[str, LiveState], Plan],
    last_good: str | None,
) -> None:
    """Deploy the last good commit through the same machinery, then restore every trigger as recorded."""
    outcome = report.outcome
    wrote = outcome is not None and outcome.wrote
    if wrote and not last_good:
        report.problems.append(
            "no last good commit is recorded on the factory (first deployment?): the objects written stay; "
            "a person must decide whether to keep them"
        )
    elif wrote and last_good:
        report.rollback_target = last_good
        engine.progress(f"Rolling back to the last good commit {last_good[:8]} ...")
        try:
            live = engine.read_live(engine.conn)
            rollback_plan = plan_for_commit(last_good, live)
            # Smoke runs verify a new commit; the last good one already passed them, and failing them here
            # would leave nowhere to go.
            steps = tuple(s for s in rollback_plan.steps if not isinstance(s, RunPipeline))
            rollback_plan = with_hash(dataclasses.replace(rollback_plan, steps=steps, hash=""))
            report.rollback_plan = rollback_plan
            executor = Executor(
                engine.conn,
                rollback_plan,
                journal,
                engine.ops,
                parameters=deployment_parameters(rollback_plan, engine.environ),
                progress=engine.progress,
                read_triggers=engine.read_triggers,
            )
            report.rollback_outcome = executor.run()
            if not report.rollback_outcome.ok:
                report.problems.append(f"the rollback stopped: {report.rollback_outcome.error}")
        except Exception as exc:  # the rollback must report, never hide the first failure
            report.problems.append(f"the rollback could not be planned or applied: {exc}")
    try:
        report.restored = restore_triggers(engine, journal.triggers_before or [], stop_others=True)
    except Exception as exc:
        report.problems.append(f"trigger states could not all be restored: {exc}")
    report.status = ROLLBACK_FAILED if report.problems else ROLLED_BACK
    journal.log("rollback-done" if not report.problems else "rollback-failed", "; ".join(report.problems))


def restore_triggers(engine: Engine, record: list[TriggerRecord], *, stop_others: bool) -> list[str]:
    """Put every recorded trigger that still exists back in its recorded runtime state.

    Started ones are started again (event triggers subscribe first); with `stop_others` (after a rollback),
    ones recorded as stopped that are running now are stopped. Returns what was changed, for the report.
    """
    live = engine.read_triggers(engine.conn)
    changed: list[str] = []
    for rec in record:
        now = live.get(rec.name)
        if now is None:
            continue
        if rec.started and now.runtime_state != "Started":
            if rec.subscription_status is not None or now.subscription_status is not None:
                engine.ops.subscribe_trigger(engine.conn, rec.name)
            engine.ops.start_trigger(engine.conn, rec.name)
            changed.append(f"{rec.name} started")
        elif stop_others and not rec.started and now.runtime_state == "Started":
            engine.ops.stop_trigger(engine.conn, rec.name)
            changed.append(f"{rec.name} stopped")
    return changed
