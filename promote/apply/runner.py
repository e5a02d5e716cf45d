"""One run against one environment: lock, journal, apply the plan, and on failure roll back.

The executor carries out one plan. This module is what makes a run safe to start and safe to lose:

- one run per environment (`lock`), with a journal beside it (`journal`);
- a run that finds the journal of an interrupted one inherits its record of trigger states, so that what was
  running before the first attempt runs again at the end, whatever the killed run had stopped;
- a failure after anything was written (by this run or by the interrupted one it recovers) rolls back: the plan
  from the last good commit against the live factory, applied by the same executor, then every trigger put
  back as step 1 recorded it;
- a rollback that does not complete leaves its journal in place, so that the next `promote rollback` goes to
  the same commit and restores the same trigger states.

Planning is passed in (`make_plan`, `plan_for_commit`) because it needs git and the environment file, which
this module does not know about.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promote.apply.executor import Executor, Outcome, Progress, deployment_parameters, step_title
from promote.apply.factory_api import FactoryApi
from promote.apply.lease import FactoryLease
from promote.apply.lock import TargetKey, target_lock
from promote.errors import EXIT_OK, EXIT_ROLLBACK_FAILED, EXIT_ROLLED_BACK, PromoteError
from promote.factory import ObjectKey
from promote.live import LiveState
from promote.plan.planfile import with_hash
from promote.plan.steps import Plan, RunPipeline, SettleRuns
from promote.record import journal as journals
from promote.record.journal import Journal
from promote.record.rollback import interrupted_run, last_good
from promote.record.tags import FactoryRecord, read_record
from promote.record.triggers import TriggerRecord
from promote.render import counted
from promote.runs import RunsInFlight

SUCCEEDED = journals.SUCCEEDED
ROLLED_BACK = journals.ROLLED_BACK
ROLLBACK_FAILED = journals.ROLLBACK_FAILED
ALREADY_APPLIED = "already-applied"


class AlreadyApplied(Exception):
    """Raised by a `make_plan` whose plan the factory records as applied already (`promote apply` of a plan a
    second time): the run ends before its first step, nothing written, exit 0."""

    def __init__(self, plan: Plan, detail: str) -> None:
        super().__init__(detail)
        self.plan = plan
        self.detail = detail


MakePlan = Callable[[LiveState, Journal | None], Plan]
"""The plan of a run, made (or checked) inside the run's lock against the live factory read there; the journal of
the interrupted run it recovers, if any."""


@dataclass(frozen=True)
class Undo:
    """What the failed plan writes, for the automatic rollback that undoes it. `created`: objects it creates,
    which the rollback deletes without counting them against `deletion.max_share` (the factory did not have
    them). `written`: every object it writes; those holding a secret are written again even when they compare
    equal, because the run may have written the secret from another source (`promote.normalise.rotated`)."""

    created: frozenset[ObjectKey] = frozenset()
    written: frozenset[ObjectKey] = frozenset()

    @classmethod
    def of(cls, plan: Plan) -> Undo:
        writes = [w for d in plan.deployments for w in d.writes]
        return cls(frozenset(w.key for w in writes if w.action == "create"), frozenset(w.key for w in writes))


PlanForCommit = Callable[[str, LiveState, Undo], Plan]
"""The automatic rollback's plan: (last good commit, live factory now, what the failed plan writes)."""


@dataclass
class RunContext:
    """What a run needs from the outside world: the target factory it acts on and where it keeps its journal."""

    root: Path
    environment: str
    start_policy: str  # "previous" | "template"
    factory: FactoryApi
    target: TargetKey  # what the run's lock holds: the factory, however the environment names it
    progress: Progress = print
    environ: dict[str, str] | None = None
    subscription_timeout: float = 300.0  # the environment's triggers.subscription_timeout, for restores
    create_missing_factory: bool = False  # a `local` target's factory is created on first use, never Azure's
    lease: FactoryLease | None = None  # the cross-machine lock on the factory (None: the local lock only)


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
    environment: str = ""
    last_good: str | None = None  # the commit a rollback goes to

    note: str | None = None  # what an already-applied run says instead of steps

    @property
    def exit_code(self) -> int:
        codes = {SUCCEEDED: EXIT_OK, ALREADY_APPLIED: EXIT_OK, ROLLED_BACK: EXIT_ROLLED_BACK}
        return codes.get(self.status, EXIT_ROLLBACK_FAILED)

    def render(self) -> str:
        if self.status == ALREADY_APPLIED:
            return self.note or "Already applied: nothing was done."
        lines = []
        if self.recovered_run:
            lines.append(f"Recovered the interrupted run {self.recovered_run}.")
        if self.plan is not None and self.outcome is not None:
            lines.append(f"Plan {self.plan.hash[:12]} for commit {self.plan.commit[:8]}: {self.status}.")
            lines += [f"  done: {step_title(r.step)}" for r in self.outcome.done]
            if self.outcome.error is not None:
                lines.append(f"  failed: {self.outcome.error}")
        if self.rollback_plan is not None and self.rollback_outcome is not None:
            target = self.rollback_target[:8] if self.rollback_target else "?"
            if self.rollback_outcome.error is None:
                lines.append(f"Rolled back to {target}:")
                lines += [f"  undone: {step_title(r.step)}" for r in self.rollback_outcome.done]
            else:  # never "rolled back" when it was not
                lines.append(f"The rollback to {target} did not complete:")
                lines += [f"  done: {step_title(r.step)}" for r in self.rollback_outcome.done]
                lines.append(f"  rollback failed: {self.rollback_outcome.error}")
        if self.status != SUCCEEDED and self.rollback_plan is None and not self.problems:
            lines.append("Nothing had been written: no object needed rolling back.")
        if self.restored:
            lines.append(f"Triggers restored: {', '.join(self.restored)}")
        lines += [f"  left: {p}" for p in self.problems]
        if self.status == ROLLBACK_FAILED:
            back = (
                f"`promote rollback --env {self.environment}` to finish going back to {self.last_good[:8]}"
                if self.last_good
                else f"`promote rollback --env {self.environment} --to REF`"
            )
            lines.append(
                f"Next: fix the cause above, then run {back}, or `promote deploy --env {self.environment} --ref REF` "
                "to go forward. The journal of this run (.promote/journal/ on this machine) keeps the trigger states "
                "from before it, and either command puts them back."
            )
        return "\n".join(lines)


def run(
    context: RunContext,
    make_plan: MakePlan,
    plan_for_commit: PlanForCommit,
    *,
    kind: str = "deploy",
) -> RunReport:
    """Plan (inside the lock, against the live factory), apply, and roll back on failure.

    `plan_for_commit(commit, live, undo)` is the rollback plan, `undo` what the failed plan writes (`Undo`).
    """
    path = journals.journal_path(context.root, context.environment)
    lease = context.lease
    with target_lock(context.root, context.target, environment=context.environment) as me:
        previous = journals.load(path)
        if previous is not None and not previous.unfinished:
            journals.archive(previous)
        live = context.factory.read_live()
        if lease is not None:  # a run on another machine holds the factory: refused before anything is settled
            lease.check(live.tags, str(me.get("machine", "")))
        if _settle_deployments(context):  # nothing may go on writing behind this run's plan
            live = context.factory.read_live()
        if not live.exists and context.create_missing_factory:
            context.factory.ensure_factory()
            live = context.factory.read_live()
        record = read_record(live.tags)
        interrupted = interrupted_run(previous, record, context.environment)
        try:
            plan = make_plan(live, interrupted)
        except AlreadyApplied as done:  # before any step and any journal: nothing was written
            return RunReport(status=ALREADY_APPLIED, plan=done.plan, environment=context.environment, note=done.detail)
        parameters = deployment_parameters(plan, context.environ)  # a missing variable refuses before any step
        _refuse_runs_in_flight(context, plan)  # `runs.in_progress: fail` refuses before any step too
        with contextlib.ExitStack() as leased:
            if lease is not None:  # every check passed: the lease is the run's first write (docs/locks.md)
                lease.acquire(me, etag=live.etag, basis=live.tags)
                leased.callback(lease.release)
            return _carry_out(context, plan, parameters, live, interrupted, record, path, plan_for_commit, kind)


def _carry_out(
    context: RunContext,
    plan: Plan,
    parameters: dict[str, dict[str, dict[str, Any]]],
    live: LiveState,
    interrupted: Journal | None,
    record: FactoryRecord,
    path: Path,
    plan_for_commit: PlanForCommit,
    kind: str,
) -> RunReport:
    """The run once its plan is made and its lease held: journal, apply, restore or roll back."""
    good = last_good(interrupted, record)
    journal = Journal(
        environment=context.environment,
        commit=plan.commit,
        plan_hash=plan.hash,
        kind=kind,
        last_good_commit=good,
        triggers_before=interrupted.triggers_before if interrupted else None,
        wrote=interrupted.wrote if interrupted else False,
        overrides=[o.text() for o in plan.overrides],
    )
    journal.path = path
    report = RunReport(status=SUCCEEDED, plan=plan, environment=context.environment, last_good=good)
    if interrupted is not None and interrupted.path is None:
        report.recovered_run = interrupted.run_id
        context.progress(
            f"Recovering the interrupted run {interrupted.run_id}, which the factory records as in progress "
            "(this runner has no journal of it): the triggers it recorded as running will run again."
        )
    elif interrupted is not None:
        report.recovered_run = interrupted.run_id
        context.progress(
            f"Recovering the interrupted {interrupted.kind} of {interrupted.commit[:8]} (run "
            f"{interrupted.run_id}, started {interrupted.started}): its record of trigger states is kept."
        )
        interrupted.status = journals.RECOVERED
        interrupted.path = path.with_name(f"{context.environment}.{interrupted.run_id}.json")
        interrupted.save()
        journals.archive(interrupted)
    journal.save()

    executor = Executor(
        context.factory,
        plan,
        journal,
        parameters=parameters,
        progress=context.progress,
        live_triggers=live.triggers,  # read inside the lock just now: step 1 need not read them again
        guard=context.lease.ensure_held if context.lease is not None else None,
    )
    outcome = executor.run()
    report.outcome = outcome
    if outcome.ok:
        # A rollback that finishes an unfinished run puts triggers back as they were before that run, as the
        # automatic rollback does; otherwise the start policy decides, `previous` restarting what ran before.
        # A run that recovers nothing needs no restore: under `previous` its plan starts again every trigger it
        # stops, so reading the triggers once more would find nothing to do.
        finishing = kind == "rollback" and interrupted is not None
        if (context.start_policy == "previous" and interrupted is not None) or finishing:
            try:
                report.restored = restore_triggers(context, journal.triggers_before or [], stop_others=finishing)
            except TriggersNotRestored as exc:
                journal.log("note", str(exc))  # the journal stays unfinished: the next run restores them
                raise PromoteError(
                    f"{exc}. The {kind} of {plan.commit[:8]} itself succeeded; the journal keeps the trigger "
                    f"states from before it: run promote {kind} --env {context.environment} again to put them back"
                ) from exc
        journal.finish(SUCCEEDED)
        journals.archive(journal)
        return report

    journal.status = journals.ROLLING_BACK
    journal.log("rollback-begin", f"after: {outcome.error}")
    context.progress(f"Step failed: {outcome.error}")
    _roll_back(context, journal, report, plan_for_commit, good, Undo.of(plan))
    journal.finish(report.status)
    if report.status != ROLLBACK_FAILED:  # else it stays: the next run finishes the rollback from it
        journals.archive(journal)
    return report


def without_smoke(plan: Plan) -> Plan:
    """The plan without its smoke runs, for going back: the last good commit already passed them, and failing
    them there would leave nowhere to go."""
    steps = tuple(s for s in plan.steps if not isinstance(s, RunPipeline))
    return with_hash(dataclasses.replace(plan, steps=steps, hash=""))


def going_back(plan: Plan) -> Plan:
    """The automatic rollback's plan: no smoke runs (`without_smoke`), and no runs step either: the failed run
    dealt with the runs in progress moments before, and a rollback that waited for runs, or refused, would leave
    the factory half deployed."""
    steps = tuple(s for s in plan.steps if not isinstance(s, (RunPipeline, SettleRuns)))
    return with_hash(dataclasses.replace(plan, steps=steps, hash=""))


def refuse_runs_seen(plan: Plan) -> None:
    """A plan made just now under `runs.in_progress: fail` that found runs in progress is refused at once
    (RunsInFlight, exit 2), before anyone is asked to confirm it."""
    for step in plan.steps_of(SettleRuns):
        if step.policy == "fail" and step.seen.runs:
            raise RunsInFlight(plan.environment, step.seen.runs)


def _refuse_runs_in_flight(context: RunContext, plan: Plan) -> None:
    """Under `runs.in_progress: fail`, a run in progress of an affected pipeline refuses the run before its first
    step (RunsInFlight, exit 2): nothing written, not even the trigger stops that come before the runs step."""
    for step in plan.steps_of(SettleRuns):
        if step.policy == "fail":
            runs = context.factory.runs_in_progress(step.names)
            if runs:
                raise RunsInFlight(plan.environment, runs)


def _roll_back(
    context: RunContext,
    journal: Journal,
    report: RunReport,
    plan_for_commit: PlanForCommit,
    target: str | None,
    undo: Undo,
) -> None:
    """Deploy the last good commit through the same machinery, then restore every trigger as recorded.

    Whether anything was written is the journal's word, not this run's outcome: a run that recovers an interrupted
    one may fail before writing anything itself, after the interrupted one wrote."""
    wrote = journal.wrote
    if context.lease is not None and context.lease.lost is not None:  # the factory is another run's now
        report.problems.append(
            f"the lease on the factory was taken by {context.lease.lost} while this run was stopped: nothing was "
            "rolled back or restored, so as not to write under that run; the journal keeps the record"
        )
        report.status = ROLLBACK_FAILED
        journal.log("rollback-failed", "; ".join(report.problems))
        return
    if wrote and not target:
        report.problems.append(
            "no last good commit is recorded on the factory (first deployment?): the objects written stay; "
            "a person must decide whether to keep them"
        )
    elif wrote and target:
        report.rollback_target = target
        context.progress(f"Rolling back to the last good commit {target[:8]} ...")
        try:
            _settle_deployments(context)  # a deployment whose wait timed out would write behind the rollback
            live = context.factory.read_live()
            rollback_plan = plan_for_commit(target, live, undo)
            rollback_plan = going_back(rollback_plan)
            report.rollback_plan = rollback_plan
            executor = Executor(
                context.factory,
                rollback_plan,
                journal,
                parameters=deployment_parameters(rollback_plan, context.environ),
                progress=context.progress,
                live_triggers=live.triggers,
                guard=context.lease.ensure_held if context.lease is not None else None,
            )
            report.rollback_outcome = executor.run()
            if not report.rollback_outcome.ok:
                report.problems.append(f"the rollback stopped: {report.rollback_outcome.error}")
        except Exception as exc:  # the rollback must report, never hide the first failure
            report.problems.append(f"the rollback could not be planned or applied: {exc}")
    try:
        report.restored = restore_triggers(context, journal.triggers_before or [], stop_others=True)
    except TriggersNotRestored as exc:
        report.restored = exc.changed
        report.problems.append(str(exc))
    except Exception as exc:
        report.problems.append(f"trigger states could not all be restored: {exc}")
    report.status = ROLLBACK_FAILED if report.problems else ROLLED_BACK
    journal.log("rollback-done" if not report.problems else "rollback-failed", "; ".join(report.problems))


def deployment_prefix(environment: str) -> str:
    """The start of the names of this environment's deployments (`promote.plan.builder.deployment_name`)."""
    return f"promote-{environment}-"


def _settle_deployments(context: RunContext) -> list[str]:
    """Cancel and wait out this environment's deployments still running: a run killed or interrupted while ARM
    deployed leaves its deployment writing (the lock proves its run is gone). The names of those stopped."""
    stopped = context.factory.settle_deployments(deployment_prefix(context.environment), progress=context.progress)
    if stopped:
        context.progress(
            f"Cancelled {counted(len(stopped), 'deployment')} an earlier run left running, and waited for "
            f"{'it' if len(stopped) == 1 else 'them'}: {', '.join(stopped)}"
        )
    return stopped


class TriggersNotRestored(PromoteError):
    """Some recorded triggers could not be put back in their state; every other one was."""

    def __init__(self, changed: list[str], failures: dict[str, str]) -> None:
        self.changed = changed
        self.failures = failures
        left = "; ".join(f"{name} ({error})" for name, error in failures.items())
        super().__init__(f"{counted(len(failures), 'trigger')} not put back as they were: {left}")


def restore_triggers(context: RunContext, record: list[TriggerRecord], *, stop_others: bool) -> list[str]:
    """Put every recorded trigger that still exists back in its recorded runtime state.

    Started ones are started again (event triggers subscribe first); with `stop_others` (after a rollback),
    ones recorded as stopped that are running now are stopped. Every trigger is tried: one that fails does not
    leave the others stopped (TriggersNotRestored at the end names it). Returns what was changed, for the report.
    """
    live = context.factory.read_triggers()
    changed: list[str] = []
    failures: dict[str, str] = {}
    for rec in record:
        now = live.get(rec.name)
        if now is None:
            continue
        try:
            if rec.started and now.runtime_state != "Started":
                if rec.subscription_status is not None or now.subscription_status is not None:
                    context.factory.subscribe_trigger(rec.name, time_limit=context.subscription_timeout)
                context.factory.start_trigger(rec.name, time_limit=max(context.subscription_timeout, 60.0))
                changed.append(f"{rec.name} started")
            elif stop_others and not rec.started and now.runtime_state == "Started":
                context.factory.stop_trigger(rec.name)
                changed.append(f"{rec.name} stopped")
        except Exception as exc:
            failures[rec.name] = str(exc)
            context.progress(f"could not put back trigger {rec.name}: {exc}")
    if failures:
        raise TriggersNotRestored(changed, failures)
    return changed
