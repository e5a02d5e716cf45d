"""The executor: a visitor over a plan's steps that does what each says, journaling every one.

The plan decided everything; this module only carries it out against a `Connection` and keeps the journal
exact, so that a run killed at any point can be resumed or rolled back by the next one. It knows nothing of
git or environments files: rollback (which needs the last good commit's desired state) is the runner's job.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from promote.apply.factory_api import FactoryApi
from promote.apply.lock import holder_description
from promote.environment.variables import variables
from promote.errors import InputError, Problem, PromoteError
from promote.live import TriggerState
from promote.plan.builder import deployment_name
from promote.plan.steps import (
    DeleteObject,
    Deploy,
    MarkRunInProgress,
    Plan,
    RecordTriggers,
    RunPipeline,
    SettleRuns,
    StartTrigger,
    Step,
    StopTrigger,
    TagFactory,
)
from promote.record.history import EMPTY_TEMPLATE, RECORD_SUFFIX
from promote.record.journal import Journal
from promote.record.marker import fits
from promote.record.triggers import TriggerRecord
from promote.render import counted, objects
from promote.runs import RunsInFlight, duration_text, run_line

Progress = Callable[[str], None]


class SmokeFailed(PromoteError):
    """A smoke pipeline did not succeed: the deployment is not good."""


@dataclass
class StepResult:
    index: int
    step: Step
    ok: bool
    detail: str = ""


@dataclass
class Outcome:
    """What one application of a plan did: every step attempted, in order, and the error that stopped it."""

    done: list[StepResult] = field(default_factory=list)
    error: BaseException | None = None
    failed_step: int | None = None
    failed_kind: type | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def run_label() -> str:
    """Which run applied a plan, for status and history: the CI run's address, else user@host (tag values hold
    at most 256 characters)."""
    holder = holder_description()
    return str(holder.get("run") or f"{holder['user']}@{holder['host']}")[:256]


def deployment_parameters(plan: Plan, environ: dict[str, str] | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """ARM `parameters` of each deployment, resolved now: Key Vault references as they are (ARM resolves
    them, the secret never passes through here), environment variables read from the process.

    Done for every deployment before the first step, so that a missing variable refuses the run (exit 2)
    before anything is touched.
    """
    environ = variables() if environ is None else dict(environ)
    resolved: dict[str, dict[str, dict[str, Any]]] = {}
    problems: list[Problem] = []
    for deploy in plan.deployments:
        values: dict[str, dict[str, Any]] = {"factoryName": {"value": plan.target.factory}}
        for parameter in deploy.parameters:
            if parameter.keyvault is not None:
                values[parameter.name] = dict(parameter.keyvault)
            elif parameter.env_var and parameter.env_var in environ:
                values[parameter.name] = {"value": environ[parameter.env_var]}
            else:
                problems.append(
                    Problem(
                        f"environments/{plan.environment}.yaml",
                        f"environment variable {parameter.env_var} is not set",
                        object=f"parameters.{parameter.name}",
                        hint=f"set {parameter.env_var} in the environment that runs promote apply",
                    )
                )
        resolved[deploy.name] = values
    if problems:
        raise InputError(list(dict.fromkeys(problems)))
    return resolved


class Executor:
    """Carries out `plan` against the target `factory` step by step, journaling each."""

    def __init__(
        self,
        factory: FactoryApi,
        plan: Plan,
        journal: Journal,
        *,
        parameters: dict[str, dict[str, dict[str, Any]]],
        progress: Progress = print,
        skip: frozenset[int] = frozenset(),
        live_triggers: Mapping[str, TriggerState] | None = None,
        guard: Callable[[], None] | None = None,
    ) -> None:
        self.factory = factory
        self.plan = plan
        self.journal = journal
        self.parameters = parameters
        self.progress = progress
        self.skip = skip  # steps a resumed run already did
        # The trigger states the runner read, inside the run's lock, to make or check this plan: step 1 records
        # them instead of reading the factory again. None: step 1 reads them.
        self.live_triggers = live_triggers
        # Called before each step: raises when the run may no longer write (its lease on the factory was taken by
        # another run, `promote.apply.lease.FactoryLease.ensure_held`).
        self.guard = guard
        self._lock = threading.Lock()

    def run(self) -> Outcome:
        """Every step in plan order; steps of one batch (see `batches`) run concurrently. Stops at the first
        failure (after the rest of its batch has finished: a half-started batch is still journaled exactly)."""
        outcome = Outcome()
        total = len(self.plan.steps)
        for batch in batches(self.plan.steps):
            todo = [(i, s) for i, s in batch if i not in self.skip]
            if len(todo) == 1:
                self._one(todo[0][0], todo[0][1], outcome)
            elif todo:
                first, last = todo[0][0] + 1, todo[-1][0] + 1
                together = counted(len(todo), "step")
                self.progress(f"[{first}-{last}/{total}] {together} at once, each shown when it ends:")
                with ThreadPoolExecutor(max_workers=min(CONCURRENCY, len(todo))) as pool:
                    list(pool.map(lambda item: self._one(item[0], item[1], outcome, together=True), todo))
                outcome.done.sort(key=lambda result: result.index)  # the report lists steps in plan order
            if outcome.error is not None:
                if not isinstance(outcome.error, Exception):
                    raise outcome.error
                return outcome
        return outcome

    def _one(self, index: int, step: Step, outcome: Outcome, *, together: bool = False) -> None:
        """One step, journaled. A step run `together` with others of its batch is shown when it ends, its title
        and its result as one block, so that each result stands under its own step."""
        title = step_title(step)
        total = len(self.plan.steps)
        heading = f"[{index + 1}/{total}] {title}"
        with self._lock:
            if not together:
                self.progress(heading)
            if isinstance(step, (Deploy, DeleteObject)):
                self.journal.wrote = True  # saved with the entry, before the call: a killed run may have written
            self.journal.log("begin", title, step=index)
        try:
            if self.guard is not None:
                self.guard()
            detail = step.accept(self) or ""
        except BaseException as exc:  # journal even Ctrl-C before passing it on
            with self._lock:
                self.journal.log("failed", title, step=index, detail=str(exc))
                if together:
                    self.progress(heading)
                self.progress(f"      failed: {exc}")
                if outcome.error is None:
                    outcome.error, outcome.failed_step, outcome.failed_kind = exc, index, type(step)
            return
        with self._lock:
            self.journal.step_done(index, title)
            outcome.done.append(StepResult(index, step, True, detail))
            if together:
                self.progress(heading)
            if detail:
                self.progress(f"      {detail}")

    # ------------------------------------------------------------------------------------------------ steps

    def visit_record_triggers(self, step: RecordTriggers) -> str:
        kept = self.journal.triggers_before is not None  # a resumed run keeps the record of the first attempt
        if not kept:
            types = {t.name: t.trigger_type for t in step.triggers}
            live = self.live_triggers if self.live_triggers is not None else self.factory.read_triggers()
            self.journal.triggers_before = [
                TriggerRecord(t.name, types.get(t.name, ""), t.runtime_state, t.subscription_status)
                for t in live.values()
            ]
            self.journal.save()
        record = self.journal.triggers_before or []
        started = sorted(r.name for r in record if r.started)
        text = f"{counted(len(record), 'trigger')}, started: {', '.join(started) or 'none'}"
        return f"the record from before the deployment is kept: {text}" if kept else text

    def visit_mark_run_in_progress(self, step: MarkRunInProgress) -> str:
        # What ran before this run: step 1's record (inherited from an interrupted run when recovering one).
        started = tuple(sorted(r.name for r in self.journal.triggers_before or [] if r.started))
        self.factory.set_factory_tags(step.tags(self.journal.run_id, started))
        text = f"run {self.journal.run_id} in progress, started before it: {', '.join(started) or 'none'}"
        if not fits(started):
            text += "; too many to record all on the factory: only the journal holds every name"
        return text

    def visit_stop_trigger(self, step: StopTrigger) -> str:
        if step.unsubscribe:
            self.factory.unsubscribe_trigger(step.name, time_limit=step.subscription_timeout)
        self.factory.stop_trigger(step.name)
        return "unsubscribed and stopped" if step.unsubscribe else "stopped"

    def visit_settle_runs(self, step: SettleRuns) -> str:
        """Right before the first write: the runs in progress of the affected pipelines, as the environment says.
        Under `fail` the runner has looked before the first step; a run found here started since (exit 4: the
        triggers this run stopped are put back, nothing else had been written)."""
        n = len(step.pipelines)
        runs = self.factory.runs_in_progress(step.names)
        if not runs:
            return f"no run in progress of the {n} pipeline{'s' if n != 1 else ''}"
        if step.policy == "fail":
            raise RunsInFlight(self.plan.environment, runs)
        for run in runs:
            self._waiting(f"in progress: {run_line(run)}")
        verb = "cancelling them and waiting" if step.policy == "cancel" else "waiting"
        self._waiting(
            f"{verb} for them to end, at most {duration_text(step.timeout)} (runs.in_progress: {step.policy})"
        )
        ended = self.factory.wait_for_runs(
            step.names, time_limit=step.timeout, cancel=step.policy == "cancel", progress=self._waiting
        )
        m = len(ended)
        done = "cancelled, and ended" if step.policy == "cancel" else "ended"
        return f"{m} run{'s' if m != 1 else ''} {done}: " + ", ".join(f"{r.pipeline} {r.run_id}" for r in ended)

    def visit_deploy(self, step: Deploy) -> str:
        self.factory.deploy_template(
            step.name,
            step.template,
            self.parameters.get(step.name, {}),
            tags=step.tags(self.plan.hash, run_label()),
            progress=self._waiting,
        )
        return f"deployment {step.name}: {objects(len(step.writes))} written"

    def _waiting(self, text: str) -> None:
        """A long wait inside a step, said under it (parallel steps name what they wait for)."""
        with self._lock:
            self.progress(f"      {text}")

    def visit_delete_object(self, step: DeleteObject) -> str:
        self.factory.delete_object(step.key)
        return "deleted"

    def visit_start_trigger(self, step: StartTrigger) -> str:
        if step.subscribe:
            self.factory.subscribe_trigger(step.name, time_limit=step.subscription_timeout)
        self.factory.start_trigger(step.name, time_limit=max(step.subscription_timeout, 60.0))
        return "subscribed and started" if step.subscribe else "started"

    def visit_run_pipeline(self, step: RunPipeline) -> str:
        result = self.factory.run_pipeline(step.pipeline, step.parameters, timeout=step.timeout)
        if not result.succeeded:
            message = f": {result.message}" if result.message else ""
            raise SmokeFailed(f"smoke pipeline {step.pipeline} ended {result.status}{message}")
        return f"{step.pipeline} succeeded in {result.seconds:.1f} s (run {result.run_id})"

    def visit_tag_factory(self, step: TagFactory) -> str:
        applied_at, run = datetime.now(timezone.utc), run_label()
        self.factory.set_factory_tags(step.tags(self.plan.hash, applied_at, run))
        text = f"factory tagged with commit {step.commit[:8]}"
        # The run's entry in the deployment history, the long record `requires:` reads. The factory's tags already
        # say the run succeeded: a history that cannot be written is said, not a reason to roll a good run back.
        name = deployment_name(step.environment, step.commit, applied_at, suffix=RECORD_SUFFIX)
        try:
            self.factory.deploy_template(
                name,
                EMPTY_TEMPLATE,
                {},
                tags=step.history_tags(self.plan.hash, run, self.plan.target.factory),
                progress=self._waiting,
            )
        except Exception as exc:
            self.journal.log("note", f"the run is not in the deployment history: {exc}")
            return f"{text}; the run could not be added to the deployment history ({exc}): the tags record it"
        return f"{text}; run recorded in the deployment history ({name})"


# Steps that touch independent objects run together: stops or starts of one trigger wave, deletes of one wave.
CONCURRENCY = 16
_BATCHED = (StopTrigger, StartTrigger, DeleteObject)


def batches(steps: tuple[Step, ...]) -> list[list[tuple[int, Step]]]:
    """Consecutive steps of one batchable kind and one wave, in plan order; every other step alone."""
    out: list[list[tuple[int, Step]]] = []
    for index, step in enumerate(steps):
        if (
            out
            and isinstance(step, _BATCHED)
            and type(out[-1][0][1]) is type(step)
            and getattr(out[-1][0][1], "wave", None) == getattr(step, "wave", None)
        ):
            out[-1].append((index, step))
        else:
            out.append([(index, step)])
    return out


def step_title(step: Step) -> str:
    """One line for people: what a step does."""
    if isinstance(step, RecordTriggers):
        return "record trigger states"
    if isinstance(step, MarkRunInProgress):
        return "record the run in progress on the factory"
    if isinstance(step, StopTrigger):
        verb = "unsubscribe and stop" if step.unsubscribe else "stop"
        return f"{verb} trigger {step.name} ({'; '.join(step.reasons)})"
    if isinstance(step, SettleRuns):
        names = ", ".join(step.names[:6]) + (" ..." if len(step.names) > 6 else "")
        return f"runs in progress of {names}: {step.policy} (at most {duration_text(step.timeout)})"
    if isinstance(step, Deploy):
        names = ", ".join(str(w.key) for w in step.writes[:6]) + (" ..." if len(step.writes) > 6 else "")
        return f"deploy {objects(len(step.writes))} [{step.part}/{step.parts}]: {names}"
    if isinstance(step, DeleteObject):
        return f"delete {step.key}"
    if isinstance(step, StartTrigger):
        verb = "subscribe and start" if step.subscribe else "start"
        return f"{verb} trigger {step.name} ({step.reason})"
    if isinstance(step, RunPipeline):
        return f"smoke: run pipeline {step.pipeline} (at most {step.timeout:g} s)"
    if isinstance(step, TagFactory):
        return f"record commit {step.commit[:8]} on the factory"
    return type(step).__name__  # pragma: no cover
