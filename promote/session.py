"""One environment connected to its target factory: the desired state of a revision against the live factory,
the diff and the plan between them, and the runs that apply plans. Every command that talks to a target factory
goes through this service; the commands parse arguments, call it, render what it returns and exit.

What the service guarantees to every caller:

- A plan is made only for a desired state that passes every offline check of `promote validate`
  (`promote.desired.deployable_problems`), so `plan`, `deploy`, `apply` and `rollback` refuse (exit 2) before the
  first write what validate would refuse; a `local` environment's missing factory is created only after them.
- A saved plan is proven, not trusted: `apply` makes it again from its commit, the environment file and the
  live factory, and applies it only when the two are the same (`promote.plan.proof`).
- A plan is made for the run that would apply it now: when a run was left unfinished (this machine's journal,
  else the factory's record: `promote.record.rollback.interrupted_run`), the plan names it and, when that run
  wrote, writes again every object holding a secret, whether it is applied at once (`deploy`, `rollback`) or
  saved for `apply` (`plan`, `rollback --out`).
- `requires:` is asked of every plan a run applies, whichever way it comes (`deploy`, `apply`, `rollback`, its
  `--to`): a commit passes when it succeeded in the environment required, or in this one (it passed the gate
  when it was deployed here). The plan carries the answer; a run refuses it before anything is touched, unless
  a person went around the gate for the run (recorded). `promote plan` shows a refused plan, says why, and
  refuses to save it.
- Runs go through one runner (`promote.apply.runner`): lock, journal, apply, roll back on failure.
- Which endpoint a target is reached at (Azure or an emulator) is `promote.endpoints`' decision.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from promote.desired import (
    Side,
    deployable_problems,
    load_env,
    load_side,
    project_root,
    secure_parameters,
    secure_value_problems,
    warning_problems,
)
from promote.environment import Environment
from promote.errors import InputError
from promote.factory import ObjectKey
from promote.live import LiveState

if TYPE_CHECKING:
    from promote.apply.lease import FactoryLease
    from promote.apply.runner import PlanForCommit, RunContext, RunReport, Undo
    from promote.azure.connection import Connection
    from promote.azure.operations import DeploymentRecord
    from promote.diff import Diff
    from promote.plan import Plan
    from promote.record.gate import GateCheck, Verdict
    from promote.record.journal import Journal
    from promote.runs import RunsSeen

Review = Callable[["Plan"], None]  # shows a plan to a person and returns, or raises to refuse it


@dataclass(frozen=True)
class Guards:
    """The guards a person goes around for one run, with the flags that say so (recorded with who ran it)."""

    override_gate: str | None = None  # `--override-gate REASON`: `requires:` does not refuse the commit
    allow_deletions: int | None = None  # `--allow-deletions N`: up to N deletions over `deletion.max_share`
    confirm: tuple[str, ...] = ()  # `--confirm CLASSES`: impact classes the environment's `confirm:` asks for


def _stderr(line: str) -> None:
    print(f"warning: {line}", file=sys.stderr)


def _stdout(line: str) -> None:
    print(line, flush=True)


@dataclass
class EnvironmentSession:
    """One environment, connected to its target factory for the duration of `open_session`'s block."""

    root: Path
    env: Environment
    conn: Connection
    source: str | None = None  # --source, when given
    warn: Callable[[str], None] = _stderr
    progress: Callable[[str], None] = _stdout
    warned: set[str] = field(default_factory=set)
    sides: dict[str, Side] = field(default_factory=dict)  # each revision is evaluated once per session
    gates: dict[str, GateCheck | None] = field(default_factory=dict)  # `requires:` is asked once per commit

    # ------------------------------------------------------------------------------------------------ reading

    def read_live(self) -> LiveState:
        from promote.azure.reader import read_live

        return read_live(self.conn)

    def ensure_local_factory(self) -> None:
        """The `local` environment's factory is created on first use (in Azure a factory is never created).
        Called only after the checks that may refuse: a refused run touches nothing."""
        if self.env.target.endpoint == "local":
            from promote.azure.operations import ensure_factory

            ensure_factory(self.conn, self.env.target.location)

    def commit_of(self, ref: str) -> str:
        """The commit a git revision names, without evaluating anything (a folder is not a deployable version)."""
        from promote.source import resolve_ref

        if Path(ref).exists():
            raise _not_a_revision(ref)
        return resolve_ref(self.root, ref).commit

    def desired(self, ref: str) -> Side:
        """The desired state of a git revision with this environment (a path is not a deployable version).
        Evaluated once per session: the checks, the plan and its proof all read the same evaluation."""
        side = self.sides.get(ref)
        if side is None:
            side = load_side(ref, source=self.source, env=self.env, root=self.root)
            if side.revision is None:
                raise _not_a_revision(ref)
            self.sides[ref] = side
        for warning in side.warnings:
            if warning not in self.warned:
                self.warned.add(warning)
                self.warn(warning)
        return side

    def deployable(self, ref: str) -> Side:
        """`desired`, refused (InputError, exit 2) when any offline check of `promote validate` fails on it: a name
        ADF refuses, a reference to nothing, a limit (`promote.desired.deployable_problems`). Found before the
        first write, never by a half-done deploy."""
        side = self.desired(ref)
        problems = deployable_problems(side)
        if side.env is not None:  # a secure value a plan could only hold, not name
            problems += secure_value_problems(side.env, side.published.parameters)
        problems += warning_problems(self.env, side.warnings)  # `warnings: error`
        if problems:
            raise InputError(list(dict.fromkeys(problems)))
        return side

    # ------------------------------------------------------------------------------------------ desired × live

    def live_diff(self, ref: str, live: LiveState, *, drift: bool = False) -> Diff:
        """`ref`'s desired state against the live factory: what a deploy would change (live first), or, with
        `drift`, what was changed by hand since `ref` was deployed (desired first)."""
        from promote.diff import diff_factories
        from promote.explain import explain_live
        from promote.normalise import desired_vs_live

        side = self.desired(ref)
        live_side, desired = desired_vs_live(side.factory, live, start=self.env.triggers.start)
        live_label = f"live {self.env.target.factory} ({self.env.name})"
        if drift:
            diff = diff_factories(
                desired, live_side, from_label=f"deployed {side.label}", to_label=live_label, source="before"
            )
        else:
            diff = diff_factories(live_side, desired, from_label=live_label, to_label=side.label)
        return explain_live(diff, live, side.factory)

    def plan_for(
        self,
        ref: str,
        live: LiveState,
        *,
        full: bool = False,
        rollback: bool = False,
        undo_creates: Iterable[ObjectKey] = (),
        rotate_secrets: bool = False,
        rewrite_secrets_of: Collection[ObjectKey] = (),
        interrupted: Journal | None = None,
        guards: Guards | None = None,
        rolled_back_from: str | None = None,
        after_failure: bool = False,
        now: datetime | None = None,
        seen: RunsSeen | None = None,
    ) -> Plan:
        """The plan that takes the live factory to `ref`'s desired state, checked first (`deployable`), with what
        `requires:` says of the commit and the guards a person goes around (`guards`).
        `rollback`, `undo_creates`, `rolled_back_from`, `after_failure`: see `promote.plan.build_plan` (a rollback
        runs no smoke pipelines: the commit gone back to passed them); `rotate_secrets`:
        `promote.normalise.rotated`; `rewrite_secrets_of`: the same for these objects only (what a failed run
        wrote, for its rollback); `interrupted`: the unfinished run the plan's run finishes
        (`promote.record.rollback.interrupted_run`), which the plan names (`Plan.finishes`); when it wrote, the
        same as `rewrite_secrets_of` for every object (what it wrote is unknown); `now`: the plan's time (a saved
        plan is made again at its own time, `apply`); `seen`: the runs in progress it shows, when not read now (a
        saved plan is made again with the runs it showed: what apply does about runs is decided at the step)."""
        from promote.apply.runner import without_smoke
        from promote.diff import diff_factories
        from promote.explain import explain_live
        from promote.normalise import desired_vs_live, rotated
        from promote.plan import build_plan, with_runs_seen

        guards = guards or Guards()
        side = self.deployable(ref)
        assert side.revision is not None  # `desired` refuses a folder
        live_side, desired = desired_vs_live(side.factory, live, start=self.env.triggers.start)
        diff = diff_factories(live_side, desired)
        if rotate_secrets:
            diff = rotated(diff, live_side, desired)
        elif rewrite_secrets_of:
            diff = rotated(diff, live_side, desired, only=rewrite_secrets_of, because=FAILED_RUN_WROTE)
        elif _wrote(interrupted):
            diff = rotated(diff, live_side, desired, because=INTERRUPTED_RUN_WROTE)
        explain_live(diff, live, side.factory)
        plan = build_plan(
            desired=side.factory,
            live=live,
            diff=diff,
            env=self.env,
            commit=side.revision.commit,
            source=side.label,
            secure_parameters=secure_parameters(side),
            now=now or datetime.now(timezone.utc),
            full=full,
            rollback=rollback,
            undo_creates=undo_creates,
            rotate_secrets=rotate_secrets,
            rolled_back_from=rolled_back_from,
            after_failure=after_failure,
            gate=self.gate(side.revision.commit, live.tags),
            override_gate=guards.override_gate,
            allow_deletions=guards.allow_deletions,
            confirm=guards.confirm,
            warnings=[_in_repository(w, self.root) for w in side.warnings],
            finishes=interrupted.run_id if interrupted is not None else None,
        )
        plan = with_runs_seen(plan, seen if seen is not None else self.runs_seen(plan))
        return without_smoke(plan) if rollback else plan

    def runs_seen(self, plan: Plan) -> RunsSeen:
        """The runs in progress of the pipelines the plan's runs step names, for its reviewer. A failure to read
        them does not stop the plan (the read identity may lack `queryPipelineRuns`): the plan says so, and
        apply looks again, with the deploying identity, before its first write."""
        from promote.azure.errors import AzureError
        from promote.azure.operations import runs_in_progress
        from promote.plan import SettleRuns
        from promote.runs import RunsSeen

        steps = plan.steps_of(SettleRuns)
        if not steps:
            return RunsSeen()
        try:
            return RunsSeen(tuple(runs_in_progress(self.conn, steps[0].names)))
        except AzureError as exc:
            return RunsSeen(note=f"not read ({exc}); apply looks again right before the first write")

    def plan(self, ref: str, *, full: bool = False, rotate_secrets: bool = False, guards: Guards | None = None) -> Plan:
        """`promote plan`: checked first, then (a `local` environment's factory created on first use) planned
        against the live factory, finishing the run left unfinished as a run started now would (`interrupted`).
        A plan a guard refuses is made all the same, to show what it refuses."""
        self.deployable(ref)
        self.ensure_local_factory()
        live = self.read_live()
        return self.plan_for(
            ref,
            live,
            full=full,
            rotate_secrets=rotate_secrets,
            interrupted=self.interrupted(live),
            guards=guards,
        )

    def interrupted(self, live: LiveState) -> Journal | None:
        """The unfinished run that a run started here now would finish (`promote.record.rollback.interrupted_run`:
        this machine's journal, else the factory's record), for a plan saved now to be the plan that run makes.
        Read only: the journal is neither archived nor changed."""
        from promote.record import journal as journals
        from promote.record.rollback import interrupted_run
        from promote.record.tags import read_record

        local = journals.load(journals.journal_path(self.root, self.env.name))
        return interrupted_run(local, read_record(live.tags), self.env.name)

    # ------------------------------------------------------------------------------------------------ gates

    def gate(self, commit: str, tags: Mapping[str, str] | None = None) -> GateCheck | None:
        """What `requires:` says of `commit` (None: this environment requires none). The environment required is
        read as far as its target, nothing more (`promote.environment.load_target`): its values and secrets are
        its own jobs'. Asked first of its record (the factory's tags, then the deployment history); when it says
        no, of this environment's own record (`tags`: this factory's, when already read): a commit that
        succeeded here passed the gate when it was deployed (a rollback to it is not asked again)."""
        if not self.env.requires:
            return None
        if commit not in self.gates:
            self.gates[commit] = self._gate(commit, tags)
        return self.gates[commit]

    def _gate(self, commit: str, tags: Mapping[str, str] | None) -> GateCheck:
        from promote.endpoints import open_target
        from promote.environment import find_environment, load_target
        from promote.record.gate import check_of

        required = self.env.requires or ""
        other = load_target(find_environment(required, self.root))
        with open_target(other, self.root) as conn:
            verdict = self._verdict(conn, required, commit)
        if verdict.succeeded:
            return check_of(verdict)
        here = self._verdict(self.conn, self.env.name, commit, tags)
        if here.succeeded:
            why = f"it succeeded in {self.env.name} itself ({here.detail}), and passed the gate when it was deployed"
            return check_of(verdict, exempt=why)
        return check_of(verdict)

    def _verdict(
        self, conn: Connection, environment: str, commit: str, tags: Mapping[str, str] | None = None
    ) -> Verdict:
        """Whether `commit` succeeded in `environment` (reached at `conn`): its factory's tags, then its runs in
        the deployment history (read only when the tags do not say so)."""
        from promote.apply.runner import deployment_prefix
        from promote.azure.operations import factory_exists, factory_tags, list_deployments
        from promote.record.gate import HistoryRecord, TagRecord, either
        from promote.record.history import of_factory
        from promote.record.tags import read_record
        from promote.source import commit_time

        if tags is None:
            tags = factory_tags(conn) if factory_exists(conn) else {}
        by_tags = TagRecord(environment, read_record(tags))
        verdict = by_tags.verdict(commit)
        if verdict.succeeded:
            return verdict
        history = of_factory(list_deployments(conn), conn.factory, prefix=deployment_prefix(environment))
        return either([by_tags, HistoryRecord(environment, history, lambda c: commit_time(self.root, c))], commit)

    # ------------------------------------------------------------------------------------------------ runs

    def run_context(self, *, create_missing_factory: bool = False) -> RunContext:
        """What the runner needs: this environment's target factory, its journal's place, its trigger policy."""
        from promote.apply.lock import TargetKey
        from promote.apply.runner import RunContext
        from promote.azure.api import AzureFactoryApi

        return RunContext(
            lease=self.lease(),
            root=self.root,
            environment=self.env.name,
            start_policy=self.env.triggers.start,
            factory=AzureFactoryApi(self.conn),
            target=TargetKey.of(self.conn),
            progress=self.progress,
            subscription_timeout=float(self.env.triggers.subscription_timeout),
            create_missing_factory=create_missing_factory and self.env.target.endpoint == "local",
        )

    def lease(self) -> FactoryLease:
        """The run's lease on the target factory (`promote.apply.lease`). Its read-back waits
        `PROMOTE_LEASE_SETTLE_SECONDS` in Azure, where If-Match on the factory's tags update is not known to hold;
        an emulator honours it, so nothing is waited there."""
        import os

        from promote.apply.lease import AZURE_SETTLE_SECONDS, FactoryLease, LeaseSettings
        from promote.azure.api import AzureLeaseStore
        from promote.endpoints import endpoint_for

        settle = 0.0 if endpoint_for(self.env).kind != "azure" else AZURE_SETTLE_SECONDS
        return FactoryLease(
            AzureLeaseStore(self.conn),
            self.env.target.factory,
            settings=LeaseSettings.from_environ(os.environ, settle=settle),
            progress=self.progress,
        )

    def _rollback_plan(self, failed: str) -> PlanForCommit:
        """How the runner plans the automatic rollback to the last good commit after a run of `failed` failed.
        The gate is not asked of it (the last good commit passed it when it was deployed here), and a guard
        that refuses it ends the rollback (the runner says so). No runs step: runs are not read for it
        (`promote.apply.runner.going_back`)."""
        from promote.plan import ensure_not_refused
        from promote.runs import RunsSeen

        def plan(commit: str, live: LiveState, undo: Undo) -> Plan:
            made = self.plan_for(
                commit,
                live,
                rollback=True,
                undo_creates=undo.created,
                rewrite_secrets_of=undo.written,
                rolled_back_from=failed,
                after_failure=True,
                seen=RunsSeen(),
            )
            ensure_not_refused(made, self.env.file)
            return made

        return plan

    def _checked(self, plan: Plan, review: Review) -> Plan:
        """Show `plan` (`review`), then refuse it when a guard refuses it: nothing has been written yet."""
        from promote.plan import ensure_not_refused

        review(plan)
        ensure_not_refused(plan, self.env.file)
        return plan

    def deploy(
        self,
        ref: str,
        *,
        full: bool = False,
        rotate_secrets: bool = False,
        guards: Guards | None = None,
        review: Review,
    ) -> RunReport:
        """Plan `ref` against the live factory (inside the run's lock), let `review` see it, apply it unless a
        guard refuses it."""
        from promote.apply.runner import refuse_runs_seen, run

        commit = self.commit_of(ref)
        self.deployable(commit)  # before the run: a refused run creates no `local` factory either
        self.ensure_gate(commit, guards)

        def make_plan(live: LiveState, interrupted: Journal | None) -> Plan:
            plan = self.plan_for(
                commit,
                live,
                full=full,
                rotate_secrets=rotate_secrets,
                interrupted=interrupted,
                guards=guards,
            )
            refuse_runs_seen(plan)  # `runs.in_progress: fail`: refused before anyone is asked to confirm
            return self._checked(plan, review)

        return run(self.run_context(create_missing_factory=True), make_plan, self._rollback_plan(commit))

    def apply(self, plan: Plan, file: str, *, review: Review) -> RunReport:
        """Apply exactly `plan`, refused (exit 2, nothing written) when it names another target than the
        environment file, a guard refused it, its commit fails a check, `requires:` does not pass now (asked
        again, unless the plan goes around it), the factory changed since the plan was made (objects, trigger
        states, or the deployment its tags record), the unfinished run it finishes is not the one left unfinished
        now (`promote.plan.ensure_finishes`: a plan made before a run was killed, or for one finished since), or it
        is not the plan that its commit, the environment file, the live factory and the run it finishes give now
        (`promote.plan.proof`). A plan the factory records as applied (by its hash, and no run of it left
        unfinished here) is not applied again: "already applied", exit 0, nothing written."""
        from promote.apply.runner import AlreadyApplied, run
        from promote.plan import ensure_finishes, ensure_fresh, ensure_not_refused, runs_seen
        from promote.plan.proof import ensure_proven, plan_time, with_approved_gate
        from promote.record.tags import read_record

        self.ensure_plan_target(plan, file)
        ensure_not_refused(plan, file)
        made_at = plan_time(plan, file)
        if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", plan.commit) or self.commit_of(plan.commit) != plan.commit:
            raise InputError.single(
                file,
                f"the plan's commit {plan.commit[:64]!r} is not a full commit id of this repository",
                hint="make the plan again with promote plan --out FILE",
            )
        guards = Guards(override_gate=plan.override_gate, allow_deletions=plan.allow_deletions, confirm=plan.confirm)
        self.deployable(plan.commit)
        self.ensure_gate(plan.commit, guards)

        def make_plan(live: LiveState, interrupted: Journal | None) -> Plan:
            record = read_record(live.tags)
            if record.plan == plan.hash and interrupted is None:
                when = f" at {record.time}" if record.time else ""
                who = f" by {record.run}" if record.run else ""
                raise AlreadyApplied(
                    plan,
                    f"Plan {plan.hash[:12]} (commit {plan.commit[:8]}) was already applied to "
                    f"{self.env.target.factory}{when}{who}: nothing was done.",
                )
            ensure_finishes(plan, interrupted.run_id if interrupted is not None else None, file)
            ensure_fresh(plan, live.fingerprint, file, record.basis)
            again = self.plan_for(
                plan.commit,
                live,
                full=plan.full,
                rollback=plan.rollback,
                rotate_secrets=plan.rotate_secrets,
                interrupted=interrupted,
                guards=guards,
                now=made_at,
                seen=runs_seen(plan),  # what its reviewer saw in progress then; the runs step looks again
            )
            ensure_not_refused(again, self.env.file)  # a guard that refuses it now says so in its own words
            proven = with_approved_gate(plan, again)
            ensure_proven(plan, proven, file)
            review(plan)
            # The same plan (equal data, equal hash), with what a file leaves out: an account key written as plain
            # text is a digest in the file and the key in the template made again (`without_account_keys`).
            return replace(proven, source=plan.source, hash=plan.hash)

        kind = "rollback" if plan.rollback else "deploy"
        return run(self.run_context(), make_plan, self._rollback_plan(plan.commit), kind=kind)

    def ensure_gate(self, commit: str, guards: Guards | None = None) -> None:
        """Refuse (exit 2) before a run touches anything a commit that `requires:` refuses, unless the person
        goes around the gate for this run (the plan then shows and records it)."""
        if (guards or Guards()).override_gate:
            return
        check = self.gate(commit)
        if check is not None and not check.passed:
            message, hint = check.refusal(self.env.name)
            raise InputError.single(
                self.env.file, message, line=self.env.key_lines.get("requires"), object="requires", hint=hint
            )

    def ensure_plan_target(self, plan: Plan, file: str) -> None:
        """A plan names the environment and the factory it was made for; applied through another environment file
        or at another factory, it is refused before anything is read (the full proof compares the rest)."""
        target = self.env.target
        mine = (target.subscription, target.resource_group, target.factory)
        theirs = (plan.target.subscription, plan.target.resource_group, plan.target.factory)
        if plan.environment == self.env.name and [m.casefold() for m in mine] == [t.casefold() for t in theirs]:
            return
        raise InputError.single(
            file,
            f"the plan targets factory {plan.target.factory} (resource group {plan.target.resource_group}, "
            f"subscription {plan.target.subscription}) as environment {plan.environment}, but {self.env.file} "
            f"targets factory {target.factory} (resource group {target.resource_group}, subscription "
            f"{target.subscription}); nothing was written",
            hint="a plan is applied only to the factory its environment file names: make a new plan",
        )

    def rollback_target(self) -> str:
        """Where `promote rollback` goes without `--to` (`promote.record.rollback`), or InputError."""
        from promote.record import journal as journals
        from promote.record.rollback import rollback_target
        from promote.record.tags import read_record

        interrupted = journals.load(journals.journal_path(self.root, self.env.name))
        target = rollback_target(interrupted, read_record(self.read_live().tags))
        if not target:
            raise InputError.single(
                self.env.file,
                f"{self.env.target.factory} records no previous good commit to roll back to",
                hint="name one with --to REF",
            )
        return target

    def rollback_plan(self, to: str | None, *, guards: Guards | None = None) -> Plan:
        """The plan a rollback would apply now (to the previous good commit, or `to`), for reviewers to approve
        and `promote apply` to carry out. A `local` factory is created after the checks, as `promote plan` does."""
        commit = self.commit_of(to if to is not None else self.rollback_target())
        self.deployable(commit)
        self.ensure_local_factory()
        live = self.read_live()
        return self.plan_for(commit, live, rollback=True, interrupted=self.interrupted(live), guards=guards)

    def rollback(self, to: str | None, *, guards: Guards | None = None, review: Review) -> RunReport:
        """Deploy the previous good commit (or `to`) through the same machinery, without smoke runs. `to` is
        asked of `requires:` like any commit (the previous good commit passed it when it was deployed here)."""
        from promote.apply.runner import refuse_runs_seen, run

        commit = self.commit_of(to if to is not None else self.rollback_target())
        self.deployable(commit)  # before the run: a refused run creates no `local` factory either
        self.ensure_gate(commit, guards)

        def make_plan(live: LiveState, interrupted: Journal | None) -> Plan:
            plan = self.plan_for(commit, live, rollback=True, interrupted=interrupted, guards=guards)
            refuse_runs_seen(plan)
            return self._checked(plan, review)

        context = self.run_context(create_missing_factory=True)
        return run(context, make_plan, self._rollback_plan(commit), kind="rollback")

    def history(self) -> list[DeploymentRecord]:
        """This environment's deployments in the resource group's history, oldest first."""
        from promote.apply.runner import deployment_prefix
        from promote.azure.operations import list_deployments

        return list_deployments(self.conn, prefix=deployment_prefix(self.env.name))


FAILED_RUN_WROTE = "the failed run wrote them, perhaps from another source"
INTERRUPTED_RUN_WROTE = "the interrupted run wrote, perhaps secrets from another source"


def _wrote(interrupted: Journal | None) -> bool:
    """Whether the unfinished run this one finishes wrote anything (a marker without a journal counts as yes)."""
    return interrupted is not None and interrupted.wrote


def _in_repository(warning: str, root: Path) -> str:
    """A warning as a plan keeps it: a file of the repository named relative to its root, so that the plan made
    in one checkout (the plan job's) is the plan made again in another (the apply job's)."""
    prefix = f"{root.resolve()}{os.sep}"
    return warning[len(prefix) :] if warning.startswith(prefix) else warning


def _not_a_revision(ref: str) -> InputError:
    return InputError.single(
        ref,
        "a deployment needs a git revision, not a folder: what is deployed must be findable again",
        hint="commit the factory and pass the commit, a branch or a tag",
    )


@contextlib.contextmanager
def open_session(env_name: str, *, source: str | None = None) -> Iterator[EnvironmentSession]:
    """Load the environment and connect to its target for the block."""
    from promote.endpoints import open_target

    root = project_root()
    env = load_env(env_name, root)
    with open_target(env, root) as conn:
        yield EnvironmentSession(root, env, conn, source)
