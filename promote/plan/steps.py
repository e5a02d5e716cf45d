"""The plan as plain data: one small frozen dataclass per step, and the `Plan` that holds them in order.

A plan says entirely what apply will do (Terraform's contract), so every decision is taken here, at plan time,
and written down: which triggers stop and why, which objects go into which deployment with the exact template,
which objects are deleted in which order, what is kept and why. The executor (`promote.apply`) and the views
(`promote.render.plan_text`, `plan_markdown`) are two visitors over the same list, so a dry run can never
disagree with the real run (SQLMesh's shape). Nothing here does I/O.

Units of a step: one API call or one long-running operation (one trigger stop, one deployment, one delete), so
that the executor can journal each and resume or roll back from an exact point.

Secrets never appear in a plan: secure values stay opaque placeholders in the desired state, the generated
templates use `[parameters('NAME')]` for them, and each `DeploymentParameter` records only where its value comes
from (a Key Vault reference or an environment variable's name).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any, ClassVar, Literal, Protocol, TypeVar, Union, get_args

from promote.diff import PathChange
from promote.factory import ObjectKey
from promote.outline import Fact
from promote.record.gate import GateCheck
from promote.record.history import record_tags
from promote.record.marker import marker_tags
from promote.record.overrides import GuardOverride, override_text
from promote.record.tags import NextRecord, RecordBasis, arm_deployment_tags, deployment_tags
from promote.record.triggers import TriggerRecord
from promote.runs import AffectedPipeline, RunPolicy, RunsSeen

FORMAT_VERSION = 7  # 2: the run-in-progress marker is a step; the record step holds the good commits it writes
# 3: the plan records how it was asked for (`rollback`, `rotate_secrets`), so that apply can make it again
# 4: the SettleRuns step: runs in progress of the pipelines the plan changes, and what is done about them
# 5: the gate's answer, refusals and warnings are part of the plan, and the guards a person went around as asked
# (`override_gate`, `allow_deletions`); the record step holds its kind and the commit a rollback goes back from
# 6: writes and deletes carry what the reviewer reads (values, outlines, referrers, renames, impact classes), and
# the plan its impact counts and the impact classes confirmed (`confirm`)
# 7: the interrupted run a plan finishes (`finishes`), and why a write of secrets that compare equal is made (`why`)


class Phase(IntEnum):
    """The phases of every plan, in the order they run. The number is the first element of the total order."""

    RECORD_TRIGGERS = 1
    STOP_TRIGGERS = 2
    SETTLE_RUNS = 3
    WRITE = 4
    DELETE = 5
    START_TRIGGERS = 6
    VERIFY = 7
    RECORD_DEPLOYMENT = 8


PHASE_TITLES: dict[Phase, str] = {
    Phase.RECORD_TRIGGERS: "Record trigger states",
    Phase.STOP_TRIGGERS: "Stop triggers",
    Phase.SETTLE_RUNS: "Runs in progress",
    Phase.WRITE: "Write objects",
    Phase.DELETE: "Delete objects",
    Phase.START_TRIGGERS: "Start triggers",
    Phase.VERIFY: "Verify",
    Phase.RECORD_DEPLOYMENT: "Record the deployment",
}


# --------------------------------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class RecordTriggers:
    """Step 1: read and journal every trigger's runtime state and subscription status before touching anything.

    `triggers` is what the planner saw; the executor reads them again (the live truth at apply time) and keeps
    that with the run, because restoring from a stale snapshot could start a trigger someone stopped since.
    """

    triggers: tuple[TriggerRecord, ...]

    phase: ClassVar[Phase] = Phase.RECORD_TRIGGERS

    def accept(self, visitor: StepVisitor[R]) -> R:
        return visitor.visit_record_triggers(self)


@dataclass(frozen=True)
class MarkRunInProgress:
    """Step 1b, in plans that stop triggers: record on the factory (a tags-only update) that a run is in progress
    and which triggers were Started before it, so that a runner without this run's journal (a fresh CI machine
    after a killed job) starts them again. The record step removes these tags (`promote.record.marker`).

    `started` is what the planner saw Started. The run's id is an apply-time fact; so is the record of step 1,
    which the executor writes: the same names, unless the run recovers an interrupted one, whose record of what
    ran before it is kept.
    """

    started: tuple[str, ...]

    phase: ClassVar[Phase] = Phase.RECORD_TRIGGERS

    def tags(self, run_id: str, started: tuple[str, ...] | None = None) -> dict[str, str | None]:
        """The tags to merge into the factory's (None: remove the tag)."""
        return marker_tags(run_id, self.started if started is None else started)

    def accept(self, visitor: StepVisitor[R]) -> R:
        return visitor.visit_mark_run_in_progress(self)


@dataclass(frozen=True)
class StopTrigger:
    """Step 2: stop one started trigger, because ADF refuses to update or delete a started one
    (`TriggerEnabledCannotUpdate`) or, under `triggers.stop: pipelines`, because what it runs changes.

    `unsubscribe`: an event trigger that changes or goes also unsubscribes from its events; the executor waits
    for the subscription to leave `Deprovisioning`, at most `subscription_timeout` seconds.
    """

    name: str
    trigger_type: str
    reasons: tuple[str, ...]
    unsubscribe: bool = False
    subscription_timeout: float = 0.0
    wave: int = 0  # mirrored trigger dependency level: a trigger that depends on another stops first

    phase: ClassVar[Phase] = Phase.STOP_TRIGGERS

    def accept(self, visitor: StepVisitor[R]) -> R:
        return visitor.visit_stop_trigger(self)


@dataclass(frozen=True)
class SettleRuns:
    """Step 2b, right before the first write, in plans that change or delete an existing pipeline: look for runs
    in progress of the pipelines it affects (`promote.runs.affected_pipelines`: those pipelines and their
    callers) and do what the environment's `runs.in_progress` says: `wait` until they have ended, `cancel` them
    (recursively) and wait until they have ended, or `fail` (the run is refused before its first step, nothing
    written: the runner checks first). A wait takes at most `timeout` seconds, then the step fails.

    It comes after the trigger stops, so that the triggers the plan stops start no new run while it waits.
    `seen` is what the planner found when the plan was made, for the reviewer: an observation, not a decision
    (apply makes the plan again with the approved plan's `seen`, and looks again before the first write).
    """

    pipelines: tuple[AffectedPipeline, ...]
    policy: RunPolicy
    timeout: float
    seen: RunsSeen = field(default_factory=RunsSeen)

    phase: ClassVar[Phase] = Phase.SETTLE_RUNS

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.pipelines)

    def accept(self, visitor: StepVisitor[R]) -> R:
        return visitor.visit_settle_runs(self)


WriteAction = Literal["create", "update", "rewrite"]


@dataclass(frozen=True)
class Write:
    """One object a deployment writes. `rewrite` = unchanged, written only because the plan is `full`.

    What the reviewer reads of it comes from the explained diff (`promote.explain`): each changed path with its
    old and new value as display text (`details`, masked and abridged by `promote.shown`), a create's outline,
    the other side of a rename, and the impact classes."""

    key: ObjectKey
    action: WriteAction
    wave: int
    paths: tuple[str, ...] = ()  # changed property paths
    renamed_from: str | None = None  # the live name when it differs only in letter case
    details: tuple[PathChange, ...] = ()  # the paths with their values (display text, never a secret)
    outline: tuple[Fact, ...] = ()  # a create's main properties
    rename: str | None = None  # a create with the properties of an object this plan deletes
    impact: tuple[str, ...] = ()
    why: str = ""  # secrets that compare equal, written all the same: why (`promote.normalise.rotated`)


@dataclass(frozen=True)
class DeploymentParameter:
    """A secure deployment parameter and where its value comes from at apply time: never the value itself.

    Exactly one of `keyvault` (the ARM parameter-value form `{"reference": {"keyVault": {"id": ...},
    "secretName": ...}}`, passed to ARM as it is, so the secret never passes through the promoter) and
    `env_var` (the name of the environment variable the executor reads) is set.
    """

    name: str
    type: str = "securestring"  # securestring | secureobject
    keyvault: dict[str, Any] | None = None
    env_var: str | None = None

    @property
    def source_text(self) -> str:
        """Where the value comes from, for people: names only."""
        if self.keyvault is not None:
            ref = self.keyvault.get("reference", self.keyvault)
            vault = str((ref.get("keyVault") or {}).get("id", "?")).rstrip("/").rsplit("/", 1)[-1]
            return f"Key Vault {vault}/{ref.get('secretName', '?')}"
        return f"environment variable {self.env_var}"


@dataclass(frozen=True)
class Deploy:
    """Step 3: one resource group deployment (Incremental) of a generated template.

    The template holds only ADF child objects (never the factory itself), in ADF's own resource shape, with
    `dependsOn` pruned to resources of this template; whatever the objects depend on outside it was written by
    an earlier deployment (`after`) or is already live. `template_bytes` is the measured size, checked against
    ARM's limit when the plan was made.
    """

    name: str  # unique deployment name, at most 64 characters
    part: int  # 1-based, in the order they run
    parts: int
    writes: tuple[Write, ...]
    template: dict[str, Any]
    parameters: tuple[DeploymentParameter, ...]
    commit: str
    template_bytes: int
    after: tuple[str, ...] = ()  # earlier deployments holding objects these depend on
    mode: str = "Incremental"  # never Complete: that deletes everything else in the resource group

    phase: ClassVar[Phase] = Phase.WRITE

    def tags(self, plan_hash: str, run: str | None = None) -> dict[str, str]:
        """The deployment's `tags`. The plan hash comes from the plan that holds this step (it cannot be inside
        the step: the hash covers the step); `run` (who applies it) is known at apply time."""
        return arm_deployment_tags(self.commit, plan_hash, run)

    def accept(self, visitor: StepVisitor[R]) -> R:
        return visitor.visit_deploy(self)


@dataclass(frozen=True)
class DeleteObject:
    """Step 4: delete one object the source no longer has. Runs after every write, in reverse dependency order
    (`wave` is the mirrored write wave over the deleted objects), so no object is deleted while another one still
    references it."""

    key: ObjectKey
    wave: int = 0
    outline: tuple[Fact, ...] = ()  # what the deleted object is (`promote.outline`)
    referrers: tuple[str, ...] = ()  # the live objects that reference it (rewritten or deleted before it)
    rename: str | None = None  # the object this plan creates with its properties
    impact: tuple[str, ...] = ()

    phase: ClassVar[Phase] = Phase.DELETE

    def accept(self, visitor: StepVisitor[R]) -> R:
        return visitor.visit_delete_object(self)


@dataclass(frozen=True)
class StartTrigger:
    """Step 5: start one trigger. An event trigger first subscribes to its events and waits (at most
    `subscription_timeout` seconds) until the subscription is `Enabled`; starting while it is provisioning
    fails with `Resource cannot be updated during provisioning`, which the executor retries."""

    name: str
    trigger_type: str
    reason: str
    subscribe: bool = False
    subscription_timeout: float = 0.0
    wave: int = 0  # trigger dependency level: a trigger starts after the triggers it depends on

    phase: ClassVar[Phase] = Phase.START_TRIGGERS

    def accept(self, visitor: StepVisitor[R]) -> R:
        return visitor.visit_start_trigger(self)


@dataclass(frozen=True)
class RunPipeline:
    """Step 6: a smoke pipeline run; the deployment counts as good only when it succeeds within `timeout` s."""

    pipeline: str
    parameters: dict[str, Any]
    timeout: float
    position: int = 0  # order as configured in the environment file

    phase: ClassVar[Phase] = Phase.VERIFY

    def accept(self, visitor: StepVisitor[R]) -> R:
        return visitor.visit_run_pipeline(self)


@dataclass(frozen=True)
class TagFactory:
    """Step 7: record on the factory itself (a tags-only update, never a PUT of the factory) which commit and
    plan are deployed, so that a fresh runner can find the last good commit and roll back to it; then add the
    run's entry to the resource group's deployment history (`promote.record.history`: an empty deployment whose
    tags say what ran and how it ended), the long record `requires:` reads.

    Everything it writes is decided when the plan is made (`promote.record.tags.next_record`) and shown: the
    previous good commit, the commit a rollback undoes (taken out of the good commits: `requires` must no
    longer accept it), the good commits, the kind of run, and the guards a person went around for it. Only the
    plan's hash, the time and who applies it are apply-time facts. It also removes the run-in-progress marker.
    """

    environment: str
    commit: str
    previous_commit: str | None = None
    undoes: str | None = None
    good: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()  # the record of where the deployed secrets come from (`promote.secrets`)
    run_kind: str = "deploy"  # deploy | rollback | rollback-after-failure (`promote.record.history.KINDS`)
    rolled_back_from: str | None = None  # a rollback: the commit it goes back from
    overrides: tuple[GuardOverride, ...] = ()

    phase: ClassVar[Phase] = Phase.RECORD_DEPLOYMENT

    @property
    def record(self) -> NextRecord:
        return NextRecord(self.previous_commit, self.undoes, self.good)

    def tags(self, plan_hash: str, applied_at: datetime, run: str) -> dict[str, str | None]:
        """The tags to merge into the factory's tags (None: remove the tag)."""
        return deployment_tags(
            environment=self.environment,
            commit=self.commit,
            record=self.record,
            plan_hash=plan_hash,
            applied_at=applied_at,
            run=run,
            secrets=self.secrets,
            override=override_text(self.overrides),
        )

    def history_tags(self, plan_hash: str, run: str, factory: str) -> dict[str, str]:
        """The tags of the run's entry in the deployment history."""
        return record_tags(
            factory=factory,
            commit=self.commit,
            plan_hash=plan_hash,
            run=run,
            kind=self.run_kind,
            rolled_back_from=self.rolled_back_from,
            override=override_text(self.overrides),
        )

    def accept(self, visitor: StepVisitor[R]) -> R:
        return visitor.visit_tag_factory(self)


Step = Union[  # noqa: UP007
    RecordTriggers,
    MarkRunInProgress,
    StopTrigger,
    SettleRuns,
    Deploy,
    DeleteObject,
    StartTrigger,
    RunPipeline,
    TagFactory,
]
STEP_TYPES: tuple[type, ...] = get_args(Step)  # every kind of step, for reading plan files

R = TypeVar("R", covariant=True)


class StepVisitor(Protocol[R]):
    """What the executor and the views implement: one method per step kind."""

    def visit_record_triggers(self, step: RecordTriggers) -> R: ...
    def visit_mark_run_in_progress(self, step: MarkRunInProgress) -> R: ...
    def visit_stop_trigger(self, step: StopTrigger) -> R: ...
    def visit_settle_runs(self, step: SettleRuns) -> R: ...
    def visit_deploy(self, step: Deploy) -> R: ...
    def visit_delete_object(self, step: DeleteObject) -> R: ...
    def visit_start_trigger(self, step: StartTrigger) -> R: ...
    def visit_run_pipeline(self, step: RunPipeline) -> R: ...
    def visit_tag_factory(self, step: TagFactory) -> R: ...


# --------------------------------------------------------------------------------------------------- plan

KeptReason = Literal["deletion-disabled", "protected", "referenced", "in-source", "global-parameters"]


@dataclass(frozen=True)
class Kept:
    """A live object the source no longer has that the plan does not delete, and why (shown to the reviewer:
    a silent keep is as surprising as a silent delete)."""

    key: ObjectKey
    reason: KeptReason
    detail: str = ""  # the matching glob, the object still referencing it, ...


@dataclass(frozen=True)
class Refusal:
    """A guard that refuses this plan as it stands (`requires:`, `deletion.max_share`, an impact class the
    environment wants confirmed): shown up front by `promote plan`, and no run applies a plan that has one."""

    guard: str  # requires | deletion.max_share | impact.confirm
    message: str
    hint: str = ""
    line: int | None = None  # of the environment file, where the guard is set


@dataclass(frozen=True)
class PlanTarget:
    """Where the plan deploys (the environment's `promote.environment.Target`, as the plan records it)."""

    subscription: str
    resource_group: str
    factory: str


@dataclass(frozen=True)
class Plan:
    """Everything apply will do, and what it was computed from.

    `hash` is the sha256 of the canonical JSON of every other field (see `promote.plan.planfile`): the plan's
    identity, recorded in deployment and factory tags, and the check that a saved plan was not edited.
    `live_fingerprint` is `LiveState.fingerprint` of the factory the plan was computed against: apply refuses
    the plan when the factory changed since ("saved plan is stale"). A saved plan is a commitment, not an
    instruction: apply makes it again from `commit`, the environment file and the live factory, as it was asked
    for (`full`, `rollback`, `rotate_secrets`, at `created`), and applies it only when both are the same
    (`promote.plan.proof`); the hash alone proves nothing, since anyone who edits the file can recompute it.
    """

    format: int
    environment: str
    commit: str
    source: str
    factory: str  # the desired factory's name as published (the development factory)
    target: PlanTarget
    live_fingerprint: str
    created: str  # ISO 8601 UTC, when the plan was made
    full: bool
    summary: dict[str, int]  # the diff's counts: create, update, delete, unchanged
    steps: tuple[Step, ...]
    kept: tuple[Kept, ...] = ()
    notes: tuple[str, ...] = ()  # decisions a reviewer should know about (new triggers left stopped, ...)
    record_basis: RecordBasis = field(default_factory=RecordBasis)  # the factory's record the plan was made on
    # How the plan was asked for, besides `full`: apply makes the plan again the same way (`promote.plan.proof`).
    rollback: bool = False  # back to an earlier good commit: the deployed one is undone, no smoke runs
    rotate_secrets: bool = False  # every object holding a secret is written (`promote.normalise.rotated`)
    override_gate: str | None = None  # `--override-gate REASON`: `requires:` does not refuse the commit
    allow_deletions: int | None = None  # `--allow-deletions N`: up to N deletions over `deletion.max_share`
    warnings: tuple[str, ...] = ()  # what reading the commit with this environment warned about
    gate: GateCheck | None = None  # what `requires:` says of the commit (None: the environment requires none)
    refusals: tuple[Refusal, ...] = ()  # guards that refuse the plan: no run applies it
    impact: dict[str, int] = field(default_factory=dict)  # changes per impact class (`promote.impact`), kept aside
    confirm: tuple[str, ...] = ()  # `--confirm CLASSES`: impact classes the person confirmed (`confirm:` guard)
    # The unfinished run (its id) that the run applying this plan finishes (`promote.record.rollback.interrupted_run`):
    # it restores the triggers that run recorded, and when that run wrote, every object holding a secret is written
    # again. Apply refuses the plan when the run it would finish now is another one, or none (`ensure_finishes`).
    finishes: str | None = None
    hash: str = field(default="", compare=True)

    def steps_of(self, kind: type[S]) -> list[S]:
        return [step for step in self.steps if isinstance(step, kind)]

    @property
    def overrides(self) -> tuple[GuardOverride, ...]:
        """The guards a person went around for this plan (its record step records them)."""
        return tuple(o for step in self.steps_of(TagFactory) for o in step.overrides)

    @property
    def deployments(self) -> list[Deploy]:
        return self.steps_of(Deploy)

    @property
    def has_changes(self) -> bool:
        """True when applying would write, delete, stop or start anything (recording and tagging aside)."""
        return any(isinstance(s, (StopTrigger, Deploy, DeleteObject, StartTrigger)) for s in self.steps)


S = TypeVar("S")
