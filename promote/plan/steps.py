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
from datetime import datetime, timezone
from enum import IntEnum
from typing import Any, ClassVar, Literal, Protocol, TypeVar, Union

from promote.factory import ObjectKey
from promote.live import EVENT_TRIGGER_TYPES
from promote.secrets import secret_tags

FORMAT_VERSION = 1

# Factory tag keys that record what is deployed (read back by `rollback` on a fresh runner).
TAG_COMMIT = "promote-commit"
TAG_PLAN = "promote-plan"
TAG_TIME = "promote-time"
TAG_PREVIOUS_COMMIT = "promote-previous-commit"
TAG_ENVIRONMENT = "promote-environment"
TAG_RUN = "promote-run"  # who applied it: the CI run's address, or user@host (set at apply time)
TAG_GOOD = "promote-good"  # short shas of recent good commits, newest first (what `requires` checks)
GOOD_KEPT = 18  # 18 x 13 characters stays under ARM's 256-character tag value limit


class Phase(IntEnum):
    """The phases of every plan, in the order they run. The number is the first element of the total order."""

    RECORD_TRIGGERS = 1
    STOP_TRIGGERS = 2
    WRITE = 3
    DELETE = 4
    START_TRIGGERS = 5
    VERIFY = 6
    RECORD_DEPLOYMENT = 7


PHASE_TITLES: dict[Phase, str] = {
    Phase.RECORD_TRIGGERS: "Record trigger states",
    Phase.STOP_TRIGGERS: "Stop triggers",
    Phase.WRITE: "Write objects",
    Phase.DELETE: "Delete objects",
    Phase.START_TRIGGERS: "Start triggers",
    Phase.VERIFY: "Verify",
    Phase.RECORD_DEPLOYMENT: "Record the deployment",
}


def is_event_trigger(trigger_type: str | None) -> bool:
    """Blob and Custom event triggers own an Event Grid subscription that must be (un)subscribed explicitly."""
    return trigger_type in EVENT_TRIGGER_TYPES


# --------------------------------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class TriggerRecord:
    """One live trigger as it was when the plan was made: the state to restore if anything goes wrong."""

    name: str
    trigger_type: str  # ScheduleTrigger, TumblingWindowTrigger, BlobEventsTrigger, ... ("" when unknown)
    runtime_state: str  # Started | Stopped | Disabled | Unknown
    subscription_status: str | None = None  # event triggers: Enabled | Provisioning | ... ; others None

    @property
    def started(self) -> bool:
        return self.runtime_state == "Started"


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


WriteAction = Literal["create", "update", "rewrite"]


@dataclass(frozen=True)
class Write:
    """One object a deployment writes. `rewrite` = unchanged, written only because the plan is `full`."""

    key: ObjectKey
    action: WriteAction
    wave: int
    paths: tuple[str, ...] = ()  # changed property paths (no values: those stay in `promote diff`)
    renamed_from: str | None = None  # the live name when it differs only in letter case


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

    def tags(self, plan_hash: str) -> dict[str, str]:
        """The deployment's `tags`. The plan hash comes from the plan that holds this step (it cannot be inside
        the step: the hash covers the step)."""
        return {TAG_COMMIT: self.commit, TAG_PLAN: plan_hash}

    def accept(self, visitor: StepVisitor[R]) -> R:
        return visitor.visit_deploy(self)


@dataclass(frozen=True)
class DeleteObject:
    """Step 4: delete one object the source no longer has. Runs after every write, in reverse dependency order
    (`wave` is the mirrored write wave over the deleted objects), so no object is deleted while another one still
    references it."""

    key: ObjectKey
    wave: int = 0

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
    plan are deployed, so that a fresh runner can find the last good commit and roll back to it.

    `undoes`: in a rollback, the commit deployed before it, which is taken out of the good commits (`requires`
    must no longer accept it); `previous_commit` is then the good commit before `commit`, or none.
    """

    environment: str
    commit: str
    previous_commit: str | None = None
    undoes: str | None = None
    secrets: tuple[str, ...] = ()  # the record of where the deployed secrets come from (`promote.secrets`)

    phase: ClassVar[Phase] = Phase.RECORD_DEPLOYMENT

    def tags(self, plan_hash: str, applied_at: datetime) -> dict[str, str | None]:
        """The tags to merge into the factory's tags (None: remove the tag). The time is the apply time (what the
        tag means), the plan hash the hash of the plan holding this step."""
        when = applied_at if applied_at.tzinfo else applied_at.replace(tzinfo=timezone.utc)
        tags: dict[str, str | None] = {
            TAG_ENVIRONMENT: self.environment,
            TAG_COMMIT: self.commit,
            TAG_PLAN: plan_hash,
            TAG_TIME: when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if self.previous_commit:
            tags[TAG_PREVIOUS_COMMIT] = self.previous_commit
        elif self.undoes:  # the recorded previous commit is the one rolled back to, or the one undone
            tags[TAG_PREVIOUS_COMMIT] = None
        tags.update(secret_tags(self.secrets))  # and removes what an earlier, larger record left
        return tags

    def accept(self, visitor: StepVisitor[R]) -> R:
        return visitor.visit_tag_factory(self)


Step = Union[RecordTriggers, StopTrigger, Deploy, DeleteObject, StartTrigger, RunPipeline, TagFactory]  # noqa: UP007
STEP_TYPES: tuple[type, ...] = (
    RecordTriggers,
    StopTrigger,
    Deploy,
    DeleteObject,
    StartTrigger,
    RunPipeline,
    TagFactory,
)

R = TypeVar("R", covariant=True)


class StepVisitor(Protocol[R]):
    """What the executor and the views implement: one method per step kind."""

    def visit_record_triggers(self, step: RecordTriggers) -> R: ...
    def visit_stop_trigger(self, step: StopTrigger) -> R: ...
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
class Target:
    """Where the plan deploys."""

    subscription: str
    resource_group: str
    factory: str


@dataclass(frozen=True)
class Plan:
    """Everything apply will do, and what it was computed from.

    `hash` is the sha256 of the canonical JSON of every other field (see `promote.plan.planfile`): the plan's
    identity, recorded in deployment and factory tags, and the check that a saved plan was not edited.
    `live_fingerprint` is `LiveState.fingerprint` of the factory the plan was computed against: apply refuses
    the plan when the factory changed since ("saved plan is stale").
    """

    format: int
    environment: str
    commit: str
    source: str
    factory: str  # the desired factory's name as published (the development factory)
    target: Target
    live_fingerprint: str
    created: str  # ISO 8601 UTC, when the plan was made
    full: bool
    summary: dict[str, int]  # the diff's counts: create, update, delete, unchanged
    steps: tuple[Step, ...]
    kept: tuple[Kept, ...] = ()
    notes: tuple[str, ...] = ()  # decisions a reviewer should know about (new triggers left stopped, ...)
    hash: str = field(default="", compare=True)

    def steps_of(self, kind: type[S]) -> list[S]:
        return [step for step in self.steps if isinstance(step, kind)]

    @property
    def deployments(self) -> list[Deploy]:
        return self.steps_of(Deploy)

    @property
    def has_changes(self) -> bool:
        """True when applying would write, delete, stop or start anything (recording and tagging aside)."""
        return any(isinstance(s, (StopTrigger, Deploy, DeleteObject, StartTrigger)) for s in self.steps)


S = TypeVar("S")
