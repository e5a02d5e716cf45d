"""The plan: what a deploy will do, as plain data, built with no I/O (docs/architecture.md, "The flow").

- `steps`: the step dataclasses and `Plan`; the executor and the views are visitors over `Plan.steps`.
- `order`: references -> write waves, mirrored delete waves, and the one total order of steps.
- `template`: the ARM template(s) that write the objects, split under ARM's limits.
- `builder`: `build_plan(desired=, live=, diff=, env=, ...)`.
- `planfile`: JSON out and in, the content hash, the staleness check.
- `proof`: a saved plan against the plan made again at apply time (`ensure_proven`): what differs, named.
"""

from promote.plan.builder import build_plan, deployment_name, runs_seen, with_runs_seen
from promote.plan.planfile import (
    ensure_finishes,
    ensure_fresh,
    ensure_not_refused,
    from_json,
    is_stale,
    plan_hash,
    to_json,
)
from promote.plan.steps import (
    FORMAT_VERSION,
    PHASE_TITLES,
    DeleteObject,
    Deploy,
    DeploymentParameter,
    Kept,
    MarkRunInProgress,
    Phase,
    Plan,
    PlanTarget,
    RecordTriggers,
    Refusal,
    RunPipeline,
    SettleRuns,
    StartTrigger,
    Step,
    StepVisitor,
    StopTrigger,
    TagFactory,
    TriggerRecord,
    Write,
)
from promote.plan.template import DEFAULT_LIMITS, Limits

__all__ = [
    "DEFAULT_LIMITS",
    "FORMAT_VERSION",
    "PHASE_TITLES",
    "DeleteObject",
    "Deploy",
    "DeploymentParameter",
    "Kept",
    "Limits",
    "MarkRunInProgress",
    "Phase",
    "Plan",
    "PlanTarget",
    "RecordTriggers",
    "Refusal",
    "RunPipeline",
    "SettleRuns",
    "StartTrigger",
    "Step",
    "StepVisitor",
    "StopTrigger",
    "TagFactory",
    "TriggerRecord",
    "Write",
    "build_plan",
    "deployment_name",
    "ensure_finishes",
    "ensure_fresh",
    "ensure_not_refused",
    "from_json",
    "is_stale",
    "plan_hash",
    "runs_seen",
    "to_json",
    "with_runs_seen",
]
