"""A plan as text, for the person who approves a production deploy: every step numbered, in the order it
runs, with the objects it touches, the triggers it stops and starts and why, what is kept and why, and the
smoke pipelines.

The view is a visitor over the same steps the executor runs (`describe`), so what is shown is what runs.
No secrets: templates are never printed, secure parameters only say where their value comes from, and smoke
parameter values that could be secret show as `<secret>`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from promote.impact import counts_text
from promote.inert import inert
from promote.plan.steps import (
    PHASE_TITLES,
    DeleteObject,
    Deploy,
    Kept,
    MarkRunInProgress,
    Phase,
    Plan,
    RecordTriggers,
    RunPipeline,
    SettleRuns,
    StartTrigger,
    Step,
    StopTrigger,
    TagFactory,
    Write,
)
from promote.record.marker import TAG_RUN_ID, TAG_STARTED
from promote.record.overrides import TAG_OVERRIDE
from promote.record.tags import TAG_COMMIT, TAG_GOOD, TAG_PLAN, TAG_PREVIOUS_COMMIT, TAG_RUN, TAG_TIME
from promote.render import about_line, fact_line, impact_tag, path_line
from promote.runs import duration_text, run_line
from promote.secrets import TAG_SECRETS
from promote.shown import is_sensitive_key, shown

GLYPHS = {"create": "+", "update": "~", "rewrite": "=", "delete": "-"}
KEPT_REASONS = {
    "deletion-disabled": "deletion is disabled",
    "protected": "protected",
    "referenced": "still referenced",
    "in-source": "in the source",
    "global-parameters": "global parameters",
}


@dataclass
class StepText:
    """One step for people: a title line and detail lines below it (no indentation, no numbering)."""

    title: str
    details: list[str] = field(default_factory=list)


def write_line(write: Write) -> str:
    """`~ datasets/ds_in [content]`, `+ pipelines/p [content] (a rename of pipelines/old)`, `~ linkedServices/ls
    (secrets written again: --rotate-secrets)`; the values follow on `write_body` lines. A write made before
    values were in plans lists its paths instead."""
    line = f"{GLYPHS[write.action]} {inert(write.key)}"
    if write.renamed_from is not None:
        line += f" (was {inert(f'{write.key.type}/{write.renamed_from}')})"
    line += impact_tag(write.impact) + about_line(write.action, (), write.rename)
    if write.paths and not write.details:
        line += ": " + ", ".join(inert(path) for path in write.paths)
    elif write.action == "rewrite":
        line += " (unchanged, rewritten)"
    if write.why:
        line += f" (secrets written again: {inert(write.why)})"
    return line


def write_body(write: Write) -> list[str]:
    """Each changed path with its old and new value, or a create's outline: the lines `promote diff` shows."""
    return [path_line(detail) for detail in write.details] + [fact_line(fact) for fact in write.outline]


def delete_line(step: DeleteObject) -> str:
    """`- datasets/d [destructive] (referenced by pipelines/p)`"""
    return (
        f"{GLYPHS['delete']} {inert(step.key)}"
        + impact_tag(step.impact)
        + about_line("delete", step.referrers, step.rename)
    )


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.2f} MB"


def _seconds(value: float) -> str:
    return f"{value:g} s"


def shown_value(key: str, value: Any) -> str:
    """A smoke parameter value as every value is shown (`promote.shown`), `<secret>` where it could be one."""
    return shown(value, is_sensitive_key(key))


class Describer:
    """The explaining visitor: each step as `StepText`."""

    def visit_record_triggers(self, step: RecordTriggers) -> StepText:
        if not step.triggers:
            return StepText("record trigger states (the factory has no triggers)")
        started = [t.name for t in step.triggers if t.started]
        other = [f"{t.name} ({t.runtime_state})" for t in step.triggers if not t.started]
        details = []
        if started:
            details.append("started: " + ", ".join(started))
        if other:
            details.append("not started: " + ", ".join(other))
        n = len(step.triggers)
        return StepText(f"record the state of {n} trigger{'s' if n != 1 else ''} (to restore them on failure)", details)

    def visit_stop_trigger(self, step: StopTrigger) -> StepText:
        action = f"stop triggers/{step.name}"
        if step.unsubscribe:
            action += f" and unsubscribe it from events (wait up to {_seconds(step.subscription_timeout)})"
        return StepText(f"{action}: {'; '.join(step.reasons)}")

    def visit_settle_runs(self, step: SettleRuns) -> StepText:
        n = len(step.pipelines)
        of = f"{n} pipeline{'s' if n != 1 else ''}"
        limit = duration_text(step.timeout)
        if step.policy == "wait":
            title = f"wait until no run of {of} is in progress, at most {limit} (runs.in_progress: wait)"
        elif step.policy == "cancel":
            title = (
                f"cancel the runs in progress of {of} (and the runs they started), and wait until they have "
                f"ended, at most {limit} (runs.in_progress: cancel)"
            )
        else:
            title = f"refuse to go on while a run of {of} is in progress (runs.in_progress: fail)"
        details = ["pipelines: " + ", ".join(f"{p.name} ({p.reason})" for p in step.pipelines)]
        seen = step.seen
        if seen.note:
            details.append(f"runs in progress when the plan was made: {seen.note}")
        elif not seen.runs:
            details.append("none in progress when the plan was made; apply looks again right before the first write")
        else:
            m = len(seen.runs)
            details.append(
                f"{m} run{'s' if m != 1 else ''} in progress when the plan was made (apply looks again right before "
                "the first write):"
            )
            details.extend(f"  {run_line(run)}" for run in seen.runs)
            if step.policy == "fail":
                details.append("apply refuses (exit 2, nothing written) unless they have ended by then")
        return StepText(title, details)

    def visit_deploy(self, step: Deploy) -> StepText:
        n = len(step.writes)
        part = f"part {step.part} of {step.parts}, " if step.parts > 1 else ""
        title = f"deploy {step.name} ({part}{n} object{'s' if n != 1 else ''}, {_size(step.template_bytes)})"
        details: list[str] = []
        wave = None
        for write in step.writes:
            if write.wave != wave:
                wave = write.wave
                details.append(f"wave {wave}:")
            details.append(f"  {write_line(write)}")
            details.extend(f"      {line}" for line in write_body(write))
        if step.parameters:
            details.append("secure parameters: " + "; ".join(f"{p.name} from {p.source_text}" for p in step.parameters))
        if step.after:
            details.append("after: " + ", ".join(step.after))
        return StepText(title, details)

    def visit_delete_object(self, step: DeleteObject) -> StepText:
        return StepText(delete_line(step), [fact_line(fact) for fact in step.outline])

    def visit_start_trigger(self, step: StartTrigger) -> StepText:
        if step.subscribe:
            action = (
                f"subscribe triggers/{step.name} to events, wait up to {_seconds(step.subscription_timeout)} "
                "for the subscription, then start it"
            )
        else:
            action = f"start triggers/{step.name}"
        return StepText(f"{action}: {step.reason}")

    def visit_run_pipeline(self, step: RunPipeline) -> StepText:
        title = f"run pipelines/{step.pipeline} and wait up to {_seconds(step.timeout)} for it to succeed"
        details = []
        if step.parameters:
            details.append("parameters: " + ", ".join(f"{k}={shown_value(k, v)}" for k, v in step.parameters.items()))
        return StepText(title, details)

    def visit_mark_run_in_progress(self, step: MarkRunInProgress) -> StepText:
        started = ", ".join(step.started) or "none"
        return StepText(
            "tag the factory (tags only): a run is in progress, for a runner without this run's journal",
            [
                f"{TAG_RUN_ID}=<this run's id, when applied>",
                f"{TAG_STARTED}={started} (the triggers Started before the run; the record step removes these tags)",
            ],
        )

    def visit_tag_factory(self, step: TagFactory) -> StepText:
        tags = [f"{TAG_COMMIT}={step.commit}", f"{TAG_PLAN}=<this plan's hash>", f"{TAG_TIME}=<when applied>"]
        tags.append(f"{TAG_RUN}=<who applies it>")
        if step.previous_commit:
            tags.append(f"{TAG_PREVIOUS_COMMIT}={step.previous_commit}")
        elif step.undoes:
            tags.append(f"{TAG_PREVIOUS_COMMIT} removed")
        if step.secrets:
            tags.append(f"{TAG_SECRETS}=<digests of where its secrets come from>")
        if step.overrides:
            tags.append(f"{TAG_OVERRIDE}=<the guards gone around, below>")
        text = "tag the factory (tags only): " + ", ".join(tags)
        if step.undoes:
            text += f"; {step.undoes[:8]}, rolled back, no longer counts as good"
        n = len(step.good)
        details = [f"{TAG_GOOD}={' '.join(step.good)} (the good commit{'s' if n != 1 else ''}, newest first)"]
        details.append(f"removes {TAG_RUN_ID} and {TAG_STARTED}*: the run is no longer in progress")
        kind = {"rollback": "a rollback", "rollback-after-failure": "a failed run's rollback"}.get(
            step.run_kind, "a deploy"
        )
        origin = f" from {step.rolled_back_from[:8]}" if step.rolled_back_from else ""
        details.append(
            f"then records the run in the resource group's deployment history ({kind}{origin}, with who applied it): "
            "an empty deployment, the long record `requires:` reads"
        )
        details += [f"records: {o.text()}" for o in step.overrides]
        return StepText(text, details)


def describe(step: Step) -> StepText:
    return step.accept(Describer())


def finishes_text(run_id: str) -> str:
    """What a plan that finishes an interrupted run says of it, in its header (`Plan.finishes`)."""
    return f"the interrupted run {run_id}, left unfinished on the factory: this plan's run completes it"


def header_lines(plan: Plan) -> list[str]:
    """Who deploys what where: the target factory and the published one are two factories, named apart."""
    t = plan.target
    s = plan.summary
    kept = len(plan.kept)
    lines = [
        f"Plan for {plan.environment}",
        f"  target factory:    {t.factory} (resource group {t.resource_group}, subscription {t.subscription})",
        f"  published factory: {plan.factory}, commit {plan.commit} from {plan.source}",
        f"  plan made at:      {plan.created}",
        f"  plan hash:         {plan.hash} (live state {plan.live_fingerprint or '(none)'})",
        *([f"  finishes:          {finishes_text(plan.finishes)}"] if plan.finishes else []),
        f"Changes: {s.get('create', 0)} to create, {s.get('update', 0)} to update, "
        f"{s.get('delete', 0)} to delete, {s.get('unchanged', 0)} unchanged."
        + (
            f" {kept} of the deletions {'is' if kept == 1 else 'are'} kept (see {PHASE_TITLES[Phase.DELETE]})."
            if kept
            else ""
        )
        + (" Full deployment: every object is written." if plan.full else ""),
    ]
    if plan.impact:
        lines.append(counts_text(plan.impact))
    return lines


RUNS_IN_FLIGHT = "Runs this plan would cut into"  # the heading of `attention`'s section


def runs_in_flight_line(plan: Plan) -> str | None:
    """Up front, when runs were in progress that the plan would cut into: how many, and what apply does."""
    for step in plan.steps_of(SettleRuns):
        if step.seen.runs:
            n = len(step.seen.runs)
            does = {
                "wait": "apply waits for them to end",
                "cancel": "apply cancels them",
                "fail": "apply refuses unless they have ended",
            }[step.policy]
            return (
                f"{n} run{'s' if n != 1 else ''} in progress of pipelines this plan changes, or of their callers, "
                f"when the plan was made; {does} (runs.in_progress: {step.policy}, see "
                f"{PHASE_TITLES[Phase.SETTLE_RUNS]})"
            )
    return None


KEPT_HEADING = "Not deleted although the source no longer holds them"


def attention(plan: Plan) -> list[tuple[str, list[str]]]:
    """What a reviewer must read before anything else, as (heading, items): the guards that refuse the plan (and
    how to go around them), the guards it goes around, the runs in progress it would cut into, what `requires:`
    says, the live objects the source no longer holds that are not deleted (protected, still referenced,
    deletion off), and the warnings."""
    sections: list[tuple[str, list[str]]] = []
    if plan.refusals:
        sections.append(
            (
                "Apply will be refused",
                [f"{r.guard}: {r.message}" + (f" ({r.hint})" if r.hint else "") for r in plan.refusals],
            )
        )
    if plan.overrides:
        sections.append(
            ("Guards gone around for this run (recorded with who applies it)", [o.text() for o in plan.overrides])
        )
    in_flight = runs_in_flight_line(plan)
    if in_flight:
        sections.append((RUNS_IN_FLIGHT, [in_flight]))
    if plan.gate is not None and plan.gate.passed:
        sections.append(("Gate", [plan.gate.summary(plan.environment)]))
    if plan.kept:
        sections.append((KEPT_HEADING, [kept_line(k) for k in plan.kept]))
    if plan.warnings:
        sections.append(("Warnings", list(plan.warnings)))
    return sections


def running_untouched(plan: Plan) -> list[str]:
    """Started triggers the plan neither stops nor deletes: they keep running throughout."""
    stopped = {s.name.casefold() for s in plan.steps_of(StopTrigger)}
    records = plan.steps_of(RecordTriggers)
    return [t.name for r in records for t in r.triggers if t.started and t.name.casefold() not in stopped]


def empty_phase_text(plan: Plan, phase: Phase) -> str:
    if phase == Phase.STOP_TRIGGERS:
        running = running_untouched(plan)
        return "no trigger is stopped" + (f" ({', '.join(running)} keep running)" if running else "")
    if phase == Phase.SETTLE_RUNS:
        return "no existing pipeline changes or goes: no run in progress is cut into"
    if phase == Phase.WRITE:
        return "nothing to write"
    if phase == Phase.DELETE:
        return "nothing to delete"
    if phase == Phase.START_TRIGGERS:
        return "no trigger is started"
    if phase == Phase.VERIFY:
        return "no smoke pipelines configured"
    return "nothing"


def kept_line(kept: Kept) -> str:
    return f"{kept.key}: {KEPT_REASONS.get(kept.reason, kept.reason)}" + (f" ({kept.detail})" if kept.detail else "")


def render_plan(plan: Plan) -> str:
    lines = [*header_lines(plan), ""]
    for heading, items in attention(plan):
        lines.append(f"{heading}:")
        lines.extend(f"  ! {item}" for item in items)
        lines.append("")
    number = 0
    for phase in Phase:
        lines.append(f"{PHASE_TITLES[phase]}:")
        steps = [step for step in plan.steps if step.phase == phase]
        if not steps:
            lines.append(f"      ({empty_phase_text(plan, phase)})")
        for step in steps:
            number += 1
            text = describe(step)
            lines.append(f"  {number:>3}. {text.title}")
            lines.extend(f"         {detail}" for detail in text.details)
        if phase == Phase.STOP_TRIGGERS and steps:
            running = running_untouched(plan)
            if running:
                lines.append(f"       keep running, untouched: {', '.join(running)}")
        if phase == Phase.DELETE and plan.kept:
            lines.append("       kept, not deleted:")
            lines.extend(f"         {kept_line(kept)}" for kept in plan.kept)
        lines.append("")
    if plan.notes:
        lines.append("Notes:")
        lines.extend(f"  - {note}" for note in plan.notes)
        lines.append("")
    return inert_plan_lines(lines).rstrip("\n") + "\n"


def inert_plan_lines(lines: list[str]) -> str:
    """The view's lines joined, each made inert: every line is meant as one line, and names of triggers,
    objects and pipelines inside them come from templates and the factory (`promote.inert`)."""
    return "\n".join(inert(line, limit=None) for line in lines)
