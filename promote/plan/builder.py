"""desired × live × diff × environment -> Plan. Pure: no I/O, no clock (the caller passes `now`).

The steps, in the order they run (the total order itself lives in `promote.plan.order`):

1. RecordTriggers: every live trigger's runtime state and subscription status, to restore them later.
2. StopTrigger: only started triggers that must stop: their payload is written (ADF refuses to update a started
   trigger) or they are deleted; event triggers among them also unsubscribe. With `triggers.stop: pipelines`,
   also started triggers that run a pipeline that changes, directly or through Execute Pipeline at any depth
   (a changed grandchild changes a run just as much). Nothing else: a needless stop is a bug users hate.
2b. SettleRuns: when an existing pipeline changes or goes, the runs in progress of it and of the pipelines that
   call it (`promote.runs.affected_pipelines`) are waited for, cancelled or refused, as `runs.in_progress` says,
   after the trigger stops (so that the stopped triggers start no new run meanwhile) and before the first write.
3. Deploy: the new and changed objects (every desired object when `full`), in dependency waves, through one or
   more generated templates.
4. DeleteObject: what the source no longer has, after every write, in reverse dependency order. Never an object
   the source holds (in any letter case), never a protected one, never global parameters, never an object that
   something staying still references (ADF would refuse: "The document cannot be deleted since it is referenced
   by ..."). Refused outright when the source is empty or when more than `deletion.max_share` of the live
   objects would go. With deletion disabled the plan lists them as kept.
5. StartTrigger: `start: previous` restarts exactly the triggers this plan stopped that still exist, so every
   trigger that was Started is Started again and no other is touched; a new trigger stays Stopped (ADF creates
   triggers Stopped; "previous" has nothing to restore for it, and starting a schedule nobody started in this
   factory is a decision, not a restore: the plan says so in a note). `start: template` starts the triggers the
   template marks `Started` that are not running already (new ones included), and leaves stopped a trigger the
   plan stopped whose template says otherwise. Event triggers subscribe first, always: a subscription deleted
   outside ADF is re-created instead of failing the start.
6. RunPipeline: the environment's smoke pipelines, each with its timeout.
7. TagFactory: commit, plan hash, time, previous commit and good commits as factory tags (`promote.record`).

A plan that stops triggers also records, right after step 1, that a run is in progress and which triggers were
Started (MarkRunInProgress), so that a runner without the journal can restore them after a killed run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from promote.diff import Change, Diff
from promote.errors import InputError
from promote.factory import Factory, FactoryObject, ObjectKey
from promote.impact import CLASSES, changes_text, counts, to_confirm
from promote.live import LiveState, is_event_trigger
from promote.plan.order import (
    KeyIndex,
    closure,
    cycles,
    delete_key,
    dependencies_of,
    dependency_graph,
    mirrored,
    step_order,
    waves,
    write_key,
)
from promote.plan.planfile import with_hash
from promote.plan.steps import (
    FORMAT_VERSION,
    DeleteObject,
    Deploy,
    Kept,
    MarkRunInProgress,
    Plan,
    PlanTarget,
    RecordTriggers,
    Refusal,
    RunPipeline,
    SettleRuns,
    StartTrigger,
    Step,
    StopTrigger,
    TagFactory,
    TriggerRecord,
    Write,
    WriteAction,
)
from promote.plan.template import DEFAULT_LIMITS, Limits, secure_parameters_from, split_templates
from promote.record.gate import GateCheck
from promote.record.overrides import GuardOverride
from promote.record.tags import next_record, read_record
from promote.runs import RunsSeen, affected_pipelines
from promote.secrets import secret_tag_values

if TYPE_CHECKING:
    from promote.environment import Environment

MAX_DEPLOYMENT_NAME = 64  # ARM's limit
_NOT_IN_NAME = re.compile(r"[^-\w.()]")  # ARM deployment names: letters, digits, - _ . ( )


@dataclass(frozen=True)
class _WriteInfo:
    action: WriteAction
    paths: tuple[str, ...] = ()
    renamed_from: str | None = None
    change: Change | None = None  # the explained change it writes (None: rewritten unchanged)

    def write(self, key: ObjectKey, wave: int) -> Write:
        c = self.change
        if c is None:
            return Write(key, self.action, wave, self.paths, self.renamed_from)
        return Write(
            key,
            self.action,
            wave,
            self.paths,
            self.renamed_from,
            tuple(c.details),
            c.outline,
            c.rename,
            c.impact,
            why=c.why,
        )


def build_plan(
    *,
    desired: Factory,
    live: LiveState,
    diff: Diff,
    env: Environment,
    commit: str,
    source: str,
    secure_parameters: Mapping[str, Any],
    now: datetime,
    full: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    rollback: bool = False,
    undo_creates: Iterable[ObjectKey] = (),
    rotate_secrets: bool = False,
    rolled_back_from: str | None = None,
    after_failure: bool = False,
    gate: GateCheck | None = None,
    override_gate: str | None = None,
    allow_deletions: int | None = None,
    confirm: Iterable[str] = (),
    warnings: Iterable[str] = (),
    finishes: str | None = None,
) -> Plan:
    """The plan that turns the live factory into `desired`. `diff` is desired-vs-live (`diff_factories(live.
    factory, desired)`), computed by the caller; `secure_parameters` maps each secret placeholder of the desired
    state to `(deployment parameter name, source)` (see `template.secure_parameters_from`).

    `rollback`: the plan goes back to `commit`, an earlier good one: the commit the factory records now (when
    another) is undone and stops counting as good. `undo_creates`: objects the failed run being rolled back
    created; deleting them again is not a loss that `deletion.max_share` guards against. `rolled_back_from`:
    the commit a rollback goes back from (by default the one it undoes), `after_failure`: the rollback is a
    failed run's own (both for the record). `rotate_secrets` is recorded only (the caller's `diff` already
    writes every object holding a secret), so that apply can make the plan again as it was asked for; so are
    `override_gate` and `allow_deletions`. `finishes`: the interrupted run the plan's run finishes (its id), for
    the reviewer and for apply's check; what that changes in the plan is already in the caller's `diff`.

    Guards refuse the plan (`Plan.refusals`, shown up front; no run applies it) rather than fail to make it, so
    that `promote plan` can show what it refuses: `gate` (what `requires:` says of the commit, asked by the
    caller) unless `override_gate` gives a reason, and deletions over `deletion.max_share` unless
    `allow_deletions` covers them. A guard gone around is recorded (`TagFactory.overrides`). `warnings`: what
    reading the commit warned about, kept with the plan.

    Raises InputError (exit 2, nothing touched) for an empty source, a factory that does not exist, a smoke
    pipeline the source lacks, or a secret with no deployment parameter.
    """
    env_file = getattr(env, "file", "") or f"environments/{env.name}.yaml"
    lines = getattr(env, "key_lines", {}) or {}
    if not desired.objects:
        raise InputError.single(
            desired.source or "<source>",
            f"the source holds no objects: refusing to plan a deployment that would delete all "
            f"{len(live.factory.objects)} live objects of {env.target.factory}",
            hint="point at the whole published factory (ARMTemplateForFactory.json, or every linkedTemplates part)",
        )
    if not live.exists:
        raise InputError.single(
            env_file,
            f"factory {env.target.factory} does not exist in resource group {env.target.resource_group}",
            line=lines.get("target"),
            hint="create the factory first: adf-promote writes a factory's objects, never the factory itself",
        )

    desired_index = KeyIndex(desired.objects)
    writes = _writes(desired, diff, desired_index, full)
    deletes, kept, guard = _deletions(desired, live, diff, env, desired_index, frozenset(undo_creates))
    refusals: list[Refusal] = []
    overrides: list[GuardOverride] = []
    if gate is not None and not gate.passed:
        message, hint = gate.refusal(env.name)
        if override_gate:
            overrides.append(GuardOverride("requires", message, f'--override-gate "{override_gate}"'))
        else:
            refusals.append(Refusal("requires", message, hint, lines.get("requires")))
    if guard is not None:
        count, message = guard
        if allow_deletions is not None and count <= allow_deletions:
            overrides.append(GuardOverride("deletion.max_share", message, f"--allow-deletions {allow_deletions}"))
        else:
            hint = (
                "check that the source is the whole factory; if these deletions are intended, allow them for this "
                f"run with --allow-deletions {count} (recorded with who ran it), raise deletion.max_share, or delete "
                "in smaller steps"
            )
            if allow_deletions is not None:
                message += f"; --allow-deletions {allow_deletions} allows fewer"
            refusals.append(Refusal("deletion.max_share", message, hint, lines.get("deletion")))
    impact = _impact(diff, kept)
    confirmed = tuple(name for name in CLASSES if name in set(confirm))
    wanted = to_confirm(impact, getattr(env, "confirm", ()))
    if wanted:
        asked = ", ".join(getattr(env, "confirm", ()))
        message = (
            f"the plan holds {changes_text(impact, wanted)}, which {env.name} wants confirmed (confirm: [{asked}])"
        )
        flag = "--confirm " + ",".join(wanted)
        if all(name in confirmed for name in wanted):
            overrides.append(GuardOverride("impact.confirm", message, "--confirm " + ",".join(confirmed)))
        else:
            hint = f"read them in the plan, then make it again with {flag}; it is recorded with who applies it"
            refusals.append(Refusal("impact.confirm", message, hint, lines.get("confirm")))
    records = _trigger_records(live)
    stops = _stops(records, desired, live, diff, env, writes, deletes)
    starts, notes = _starts(records, stops, desired, live, env, deletes)
    settle = _settle_runs(live, writes, deletes, env)
    deploys, write_notes = _deployments(desired, writes, env, commit, now, secure_parameters, limits)
    smoke, smoke_notes = _smoke(desired, env)
    current = read_record(live.tags)
    after = next_record(current, commit, rollback=rollback)
    secrets = secret_tag_values(desired)
    kind = "rollback-after-failure" if rollback and after_failure else "rollback" if rollback else "deploy"
    from_commit = rolled_back_from or after.undoes if rollback else None
    tag = TagFactory(
        env.name,
        commit,
        after.previous_commit,
        after.undoes,
        after.good,
        secrets=secrets,
        run_kind=kind,
        rolled_back_from=from_commit if from_commit != commit else None,
        overrides=tuple(overrides),
    )
    # A run that stops triggers says so on the factory first, for a runner that will not have its journal.
    marker = [MarkRunInProgress(tuple(r.name for r in records if r.started))] if stops else []

    steps: list[Step] = [RecordTriggers(records), *marker, *stops, *settle, *deploys, *deletes, *starts, *smoke, tag]
    steps.sort(key=step_order)
    plan = Plan(
        format=FORMAT_VERSION,
        environment=env.name,
        commit=commit,
        source=source,
        factory=desired.name,
        target=PlanTarget(env.target.subscription, env.target.resource_group, env.target.factory),
        live_fingerprint=live.fingerprint,
        created=_utc(now).strftime("%Y-%m-%dT%H:%M:%SZ"),
        full=full,
        summary=dict(diff.summary),
        steps=tuple(steps),
        kept=tuple(kept),
        notes=tuple(diff.notes + write_notes + notes + smoke_notes),
        record_basis=current.basis,
        rollback=rollback,
        rotate_secrets=rotate_secrets,
        override_gate=override_gate,
        allow_deletions=allow_deletions,
        warnings=tuple(dict.fromkeys(warnings)),
        gate=gate,
        refusals=tuple(refusals),
        impact=impact,
        confirm=confirmed,
        finishes=finishes,
    )
    return with_hash(plan)


def _impact(diff: Diff, kept: Iterable[Kept]) -> dict[str, int]:
    """Changes per impact class (`promote.impact`) of what the plan carries out: a deletion it keeps is none."""
    not_deleted = {k.key for k in kept}
    return counts(c.impact for c in diff.changes if not (c.action == "delete" and c.key in not_deleted))


def _utc(now: datetime) -> datetime:
    return (now if now.tzinfo else now.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def deployment_name(environment: str, commit: str, now: datetime, part: int = 0, suffix: str = "") -> str:
    """`promote-<env>-<short sha>-<YYYYMMDDHHMMSS>[-<part>][-<suffix>]`, at most 64 characters (ARM's limit).
    `suffix`: a run's record in the history (`promote.record.history.RECORD_SUFFIX`).

    Unique per environment, commit and second (ARM keeps history by name: a reused name would overwrite the
    record of an earlier deploy). The environment is the part that gives way when the name is too long; the
    commit and time, which make it unique, never do. Characters ARM refuses become `-`.
    """
    sha = re.sub(r"[^0-9A-Za-z]", "", commit)[:7] or "nocommit"
    tail = (
        f"-{sha}-{_utc(now).strftime('%Y%m%d%H%M%S')}" + (f"-{part}" if part else "") + (f"-{suffix}" if suffix else "")
    )
    room = MAX_DEPLOYMENT_NAME - len("promote-") - len(tail)
    env_part = _NOT_IN_NAME.sub("-", environment)[: max(room, 1)].strip("-.") or "env"
    return f"promote-{env_part}{tail}"


# --------------------------------------------------------------------------------------------------- writes


def _writes(desired: Factory, diff: Diff, index: KeyIndex, full: bool) -> dict[ObjectKey, _WriteInfo]:
    writes: dict[ObjectKey, _WriteInfo] = {}
    for change in diff.changes:
        if change.action == "delete":
            continue
        key = index.find(change.key)
        if key is None:
            raise ValueError(f"the diff writes {change.key}, which the desired factory does not hold")
        if key.type == "triggers" and change.paths == ["runtimeState"] and change.renamed_from is None:
            continue  # it only is to be started (`promote.normalise.with_runtime_states`): a start step does it
        writes[key] = _WriteInfo(change.action, tuple(change.paths), change.renamed_from, change)
    if full:
        for key in desired.objects:
            writes.setdefault(key, _WriteInfo("rewrite"))
    return writes


def _deployments(
    desired: Factory,
    writes: Mapping[ObjectKey, _WriteInfo],
    env: Environment,
    commit: str,
    now: datetime,
    secure_parameters: Mapping[str, Any],
    limits: Limits,
) -> tuple[list[Deploy], list[str]]:
    if not writes:
        return [], []
    graph = dependency_graph(desired.objects, writes)
    levels = waves(graph)
    # Inside a reference cycle no order exists: its members share a wave and do not list each other.
    ordered_deps = {key: frozenset(d for d in deps if levels[d] < levels[key]) for key, deps in graph.items()}
    ordered = sorted(writes, key=lambda k: write_key(levels[k], k))
    templates = split_templates(
        [desired.objects[key] for key in ordered],
        ordered_deps,
        factory=env.target.factory,
        secure=secure_parameters_from(secure_parameters),
        limits=limits,
    )
    count = len(templates)
    names = [deployment_name(env.name, commit, now, i if count > 1 else 0) for i in range(1, count + 1)]
    part_of = {key: i for i, generated in enumerate(templates) for key in generated.keys}
    deploys: list[Deploy] = []
    for i, generated in enumerate(templates):
        after = sorted({part_of[dep] for key in generated.keys for dep in ordered_deps[key] if part_of[dep] < i})
        deploys.append(
            Deploy(
                name=names[i],
                part=i + 1,
                parts=count,
                writes=tuple(writes[key].write(key, levels[key]) for key in generated.keys),
                template=generated.template,
                parameters=generated.parameters,
                commit=commit,
                template_bytes=generated.size,
                after=tuple(names[j] for j in after),
            )
        )
    notes = [
        "written in one wave, with no order between them, because they reference each other: "
        + ", ".join(str(k) for k in component)
        for component in cycles(graph)
    ]
    return deploys, notes


# --------------------------------------------------------------------------------------------------- deletes


def _deletions(
    desired: Factory,
    live: LiveState,
    diff: Diff,
    env: Environment,
    desired_index: KeyIndex,
    undo_creates: frozenset[ObjectKey] = frozenset(),
) -> tuple[list[DeleteObject], list[Kept], tuple[int, str] | None]:
    """The deletes, what is kept and why, and what `deletion.max_share` says against the deletes (how many it
    guards, and its words), or None."""
    live_objects = live.factory.objects
    live_index = KeyIndex(live_objects)
    policy = env.deletion
    kept: list[Kept] = []
    candidates: set[ObjectKey] = set()
    for change in diff.changes:
        if change.action != "delete":
            continue
        key = live_index.find(change.key)
        if key is None:
            raise ValueError(f"the diff deletes {change.key}, which the live factory does not hold")
        in_source = desired_index.find(key)
        if in_source is not None:
            kept.append(Kept(key, "in-source", f"the source holds {in_source}"))
        elif key.type == "globalParameters":
            kept.append(Kept(key, "global-parameters", "global parameters are one `default` child, never deleted"))
        elif policy.is_protected(key):
            kept.append(Kept(key, "protected", _protecting_glob(policy, key)))
        else:
            candidates.add(key)

    # What stays must not lose what it references: keep those too (and what they reference, transitively).
    # What stays is the desired state (a live object the plan rewrites references what its new version
    # references) plus the live objects kept without being rewritten.
    if candidates:
        index = KeyIndex(candidates)
        staying = sorted(
            [(key, obj) for key, obj in desired.objects.items()]
            + [
                (key, obj)
                for key, obj in live_objects.items()
                if key not in candidates and desired_index.find(key) is None
            ],
            key=lambda item: item[0],
            reverse=True,
        )
        while staying:
            referrer, obj = staying.pop()
            for dep in sorted(dependencies_of(obj)):
                hit = index.find(dep)
                if hit is not None and hit in candidates:
                    candidates.discard(hit)
                    kept.append(Kept(hit, "referenced", f"still referenced by {referrer}"))
                    staying.append((hit, live_objects[hit]))

    if candidates and not policy.enabled:
        kept.extend(Kept(key, "deletion-disabled", "deletion.enabled is false") for key in candidates)
        candidates = set()
    kept.sort(key=lambda k: delete_key(0, k.key))

    # What a failed run created and its rollback deletes again was never the factory's: not counted (a failed
    # first deploy of a large change to a small factory must be able to roll back).
    created = KeyIndex(undo_creates)
    undone = {key for key in live_objects if key in created}
    guarded = candidates - undone
    total = len(live_objects) - len(undone)
    guard = None
    if guarded and len(guarded) > policy.max_share * total:
        guard = (
            len(guarded),
            f"refusing to delete {len(guarded)} of the {total} live objects ({len(guarded) / total:.0%}): "
            f"deletion.max_share is {policy.max_share:g} ({policy.max_share:.0%} at most)",
        )
    levels = mirrored(waves(dependency_graph(live_objects, candidates)))
    changes = {live_index.find(c.key): c for c in diff.changes if c.action == "delete"}
    deletes = [_delete(key, levels[key], changes.get(key)) for key in candidates]
    deletes.sort(key=lambda d: delete_key(d.wave, d.key))
    return deletes, kept, guard


def _delete(key: ObjectKey, wave: int, change: Change | None) -> DeleteObject:
    if change is None:
        return DeleteObject(key, wave)
    return DeleteObject(key, wave, change.outline, change.referrers, change.rename, change.impact)


def _protecting_glob(policy: Any, key: ObjectKey) -> str:
    text = str(key).lower()
    for pattern in getattr(policy, "protected", ()) or ():
        if isinstance(pattern, str) and fnmatchcase(text, pattern.lower()):
            return f"matches deletion.protected '{pattern}'"
    return "protected by deletion.protected"


# --------------------------------------------------------------------------------------------------- triggers


def _trigger_type(obj: FactoryObject | None) -> str:
    kind = obj.properties.get("type") if obj is not None else None
    return kind if isinstance(kind, str) else ""


def _trigger_records(live: LiveState) -> tuple[TriggerRecord, ...]:
    objects = {k.name: o for k, o in live.factory.objects.items() if k.type == "triggers"}
    records = []
    for name in sorted(set(objects) | set(live.triggers), key=lambda n: (n.casefold(), n)):
        obj = objects.get(name)
        state = live.triggers.get(name)
        if state is not None:
            runtime, subscription = state.runtime_state, state.subscription_status
        else:
            declared = obj.properties.get("runtimeState") if obj is not None else None
            runtime, subscription = (declared if isinstance(declared, str) else "Unknown"), None
        records.append(TriggerRecord(name, _trigger_type(obj), runtime, subscription))
    return tuple(records)


def _by_folded(objects: Mapping[ObjectKey, FactoryObject], type_: str) -> dict[str, FactoryObject]:
    return {k.name.casefold(): o for k, o in sorted(objects.items()) if k.type == type_}


def _pipelines_of(obj: FactoryObject | None) -> set[str]:
    if obj is None:
        return set()
    return {dep.name.casefold() for dep in dependencies_of(obj) if dep.type == "pipelines"}


def _stops(
    records: Iterable[TriggerRecord],
    desired: Factory,
    live: LiveState,
    diff: Diff,
    env: Environment,
    writes: Mapping[ObjectKey, _WriteInfo],
    deletes: Iterable[DeleteObject],
) -> list[StopTrigger]:
    policy = env.triggers
    timeout = float(policy.subscription_timeout)
    live_triggers = _by_folded(live.factory.objects, "triggers")
    desired_triggers = _by_folded(desired.objects, "triggers")
    written = {key.name.casefold(): info for key, info in writes.items() if key.type == "triggers"}
    deleted = {d.key.name.casefold() for d in deletes if d.key.type == "triggers"}

    changed_pipelines: dict[str, str] = {}
    calls: dict[str, set[str]] = {}
    if policy.stop == "pipelines":
        changed_pipelines = {c.key.name.casefold(): c.key.name for c in diff.changes if c.key.type == "pipelines"}
        for objects in (live.factory.objects, desired.objects):
            for folded, obj in _by_folded(objects, "pipelines").items():
                calls.setdefault(folded, set()).update(_pipelines_of(obj))

    stops: list[StopTrigger] = []
    for record in records:
        if not record.started:
            continue
        folded = record.name.casefold()
        reasons: list[str] = []
        unsubscribe = False
        if folded in deleted:
            reasons.append("it is deleted")
            unsubscribe = is_event_trigger(record.trigger_type)
        elif folded in written:
            action = written[folded].action
            reasons.append("the full deployment rewrites it" if action == "rewrite" else "its definition changes")
            desired_type = _trigger_type(desired_triggers.get(folded))
            unsubscribe = is_event_trigger(record.trigger_type) or is_event_trigger(desired_type)
        if changed_pipelines:
            runs = _pipelines_of(live_triggers.get(folded)) | _pipelines_of(desired_triggers.get(folded))
            hit = sorted(closure(runs, calls) & changed_pipelines.keys())
            if hit:
                shown = ", ".join(changed_pipelines[name] for name in hit)
                reasons.append(f"it runs changed pipeline{'s' if len(hit) > 1 else ''} {shown}")
        if reasons:
            stops.append(
                StopTrigger(
                    name=record.name,
                    trigger_type=record.trigger_type,
                    reasons=tuple(reasons),
                    unsubscribe=unsubscribe,
                    subscription_timeout=timeout if unsubscribe else 0.0,
                )
            )
    # A trigger that depends on another (tumbling window) stops first: mirrored dependency waves.
    stopped = {
        ObjectKey("triggers", stop.name): live_triggers[stop.name.casefold()]
        for stop in stops
        if stop.name.casefold() in live_triggers
    }
    levels = mirrored(waves(dependency_graph(stopped, stopped)))
    return [replace(stop, wave=levels.get(ObjectKey("triggers", stop.name), 0)) for stop in stops]


def _starts(
    records: Iterable[TriggerRecord],
    stops: Iterable[StopTrigger],
    desired: Factory,
    live: LiveState,
    env: Environment,
    deletes: Iterable[DeleteObject],
) -> tuple[list[StartTrigger], list[str]]:
    policy = env.triggers
    timeout = float(policy.subscription_timeout)
    desired_triggers = _by_folded(desired.objects, "triggers")
    live_triggers = _by_folded(live.factory.objects, "triggers")
    deleted = {d.key.name.casefold() for d in deletes if d.key.type == "triggers"}
    was_started = {r.name.casefold() for r in records if r.started}
    stopped = {s.name.casefold(): s for s in stops}
    notes: list[str] = []
    chosen: dict[str, tuple[str, str]] = {}  # folded -> (name, reason)

    for folded, stop in stopped.items():
        if folded in deleted:
            continue
        obj = desired_triggers.get(folded)
        if policy.start == "previous":
            chosen[folded] = (obj.key.name if obj else stop.name, "it was Started before the deployment")
        elif obj is None:
            chosen[folded] = (stop.name, "it was Started before and the template does not define it")
        elif obj.properties.get("runtimeState") == "Started":
            chosen[folded] = (obj.key.name, "the template marks it Started")
        else:
            notes.append(
                f"triggers/{obj.key.name} was Started and stays stopped: the template marks it "
                f"{obj.properties.get('runtimeState') or 'not Started'} (triggers.start: template)"
            )

    for folded, obj in desired_triggers.items():
        if folded in chosen or folded in stopped or obj.properties.get("runtimeState") != "Started":
            continue
        new = folded not in live_triggers
        if policy.start == "template":
            if folded not in was_started:
                chosen[folded] = (obj.key.name, "the template marks it Started" + (" (new)" if new else ""))
        elif new:
            notes.append(
                f"triggers/{obj.key.name} is new and is created Stopped although the template marks it Started: "
                "triggers.start: previous starts only triggers that were running (start it once by hand, or "
                "use triggers.start: template)"
            )

    objects: dict[ObjectKey, FactoryObject] = {}
    for folded, (name, _) in chosen.items():
        obj = desired_triggers.get(folded) or live_triggers.get(folded)
        if obj is not None:
            objects[ObjectKey("triggers", name)] = obj
    levels = waves(dependency_graph(objects, objects))
    starts = []
    for folded, (name, reason) in chosen.items():
        kind = _trigger_type(desired_triggers.get(folded) or live_triggers.get(folded))
        subscribe = is_event_trigger(kind)
        starts.append(
            StartTrigger(
                name=name,
                trigger_type=kind,
                reason=reason,
                subscribe=subscribe,
                subscription_timeout=timeout if subscribe else 0.0,
                wave=levels.get(ObjectKey("triggers", name), 0),
            )
        )
    return starts, notes


# --------------------------------------------------------------------------------------------------- runs


def _settle_runs(
    live: LiveState, writes: Mapping[ObjectKey, _WriteInfo], deletes: Iterable[DeleteObject], env: Environment
) -> list[SettleRuns]:
    """The runs step, when an existing pipeline changes (an update or a rename in letter case) or goes."""
    live_pipelines = _by_folded(live.factory.objects, "pipelines")
    changed: dict[str, str] = {}
    for key, info in writes.items():
        if key.type == "pipelines" and info.action == "update":
            existing = live_pipelines.get((info.renamed_from or key.name).casefold())
            if existing is not None:
                changed[existing.key.name] = "it changes"
    for delete in deletes:
        if delete.key.type == "pipelines":
            changed[delete.key.name] = "it is deleted"
    if not changed:
        return []
    calls = {
        obj.key.name: {dep.name for dep in dependencies_of(obj) if dep.type == "pipelines"}
        for obj in live_pipelines.values()
    }
    policy = env.runs
    return [SettleRuns(affected_pipelines(changed, calls), policy.in_progress, float(policy.timeout))]


def with_runs_seen(plan: Plan, seen: RunsSeen) -> Plan:
    """The plan with what was found in progress when it was made (`SettleRuns.seen`), hash and all. The plan is
    built without I/O; the runs are read afterwards, for the pipelines its step names."""
    if not plan.steps_of(SettleRuns):
        return plan
    steps = tuple(replace(step, seen=seen) if isinstance(step, SettleRuns) else step for step in plan.steps)
    return with_hash(replace(plan, steps=steps, hash=""))


def runs_seen(plan: Plan) -> RunsSeen | None:
    """What the plan's runs step found when it was made; None when it has none."""
    return next((step.seen for step in plan.steps_of(SettleRuns)), None)


# --------------------------------------------------------------------------------------------------- smoke


def _smoke(desired: Factory, env: Environment) -> tuple[list[RunPipeline], list[str]]:
    """The environment's smoke runs. A smoke pipeline this commit does not have is skipped with a note: an
    older commit (a rollback, the start of a history) may predate it; `promote validate` still reports it
    against the current one."""
    pipelines = _by_folded(desired.objects, "pipelines")
    runs: list[RunPipeline] = []
    notes: list[str] = []
    for position, smoke in enumerate(env.smoke):
        obj = pipelines.get(smoke.pipeline.casefold())
        if obj is None:
            notes.append(f"smoke pipeline {smoke.pipeline} is not in this commit: its run is skipped")
            continue
        runs.append(RunPipeline(obj.key.name, dict(smoke.parameters), float(smoke.timeout), position))
    return runs, notes


__all__ = ["MAX_DEPLOYMENT_NAME", "build_plan", "deployment_name", "runs_seen", "with_runs_seen"]
