"""A saved plan proven, not trusted: the approved plan against the plan made again at apply time.

A plan file travels (a CI artifact between jobs, a file on a laptop) and its hash is plain sha256 of its
content: whoever edits it can recompute the hash. So `promote apply` makes the plan again from what it trusts,
the plan's commit, the environment file and the live factory, asked for the same way (`full`, `rollback`,
`rotate_secrets`), and applies the approved plan only when the two are the same: target, steps, templates and
where every value comes from. Secure values are then resolved as the environment file says, never as the
plan's text says, and what runs is the plan made again (the same data and hash), so an account key a file holds
as a digest is deployed from the commit (`promote.plan.planfile`).

What may legitimately differ between plan time and apply time is not compared, because it is not recomputed:
the plan's creation time is taken from the plan (`plan_time`) and the deployment names that hold it follow from
it; apply-time facts (the run's id, who applies, when the record step runs) are not in a plan at all. The label
of the source may name the revision as it was given (`main (1a2b3c4)`) where the recomputation, made from the
commit, names the commit alone; any other label is a difference. What `requires:` says of the commit is asked
again, and must pass again; its words may differ (the environment required has deployed another commit since,
or the record that answered is another one), and the approved words are kept (`with_approved_gate`).
Everything else must be equal, the hash too.

Pure: no I/O. `differences` names what differs, for people, the first few of them.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from promote.errors import InputError, Problem
from promote.plan.planfile import to_data, with_hash
from promote.plan.steps import Plan

PLAN_TIME = "%Y-%m-%dT%H:%M:%SZ"  # `Plan.created`, as `build_plan` writes it
SHOWN = 5  # differences named in a refusal
_VALUE = 60  # characters of a value shown in a difference


def plan_time(plan: Plan, file: str = "<plan>") -> datetime:
    """When the plan was made: the `now` its recomputation is made with (deployment names hold it)."""
    try:
        return datetime.strptime(plan.created, PLAN_TIME).replace(tzinfo=timezone.utc)
    except ValueError:
        raise InputError.single(
            file,
            f"the plan's creation time {_shown(plan.created)} is not a time promote writes (YYYY-MM-DDTHH:MM:SSZ)",
            hint="make a new plan with promote plan --out FILE",
        ) from None


def same_source_label(approved: str, recomputed: str, commit: str) -> bool:
    """The approved label is the recomputed one, or the revision as given with this commit's short sha."""
    if approved == recomputed:
        return True
    match = re.fullmatch(r".+ \(([0-9a-f]{7,40})\)", approved)
    return match is not None and commit.startswith(match.group(1))


def with_approved_gate(approved: Plan, recomputed: Plan) -> Plan:
    """The recomputation with the approved plan's account of `requires:` when both pass for the same commit and
    environment required (the words of a passing gate are not what was approved); else as it is."""
    a, b = approved.gate, recomputed.gate
    if a is None or b is None or a == b or not (a.passed and b.passed):
        return recomputed
    if (a.required, a.commit) != (b.required, b.commit):
        return recomputed
    return with_hash(dataclasses.replace(recomputed, gate=a, hash=""))


def differences(approved: Plan, recomputed: Plan) -> list[str]:
    """What differs between the approved plan and its recomputation, each as one line naming the field, the
    step or the object, with both values abridged. Empty when the plans are the same."""
    a, b = to_data(approved), to_data(recomputed)
    for data in (a, b):
        data.pop("hash", None)
    if same_source_label(approved.source, recomputed.source, recomputed.commit):
        a["source"] = b["source"]
    steps_a, steps_b = a.pop("steps", []), b.pop("steps", [])
    return [_line("", path, what) for path, what in _walk(a, b, ())] + list(_steps(steps_a, steps_b))


def ensure_proven(approved: Plan, recomputed: Plan, file: str = "<plan>") -> None:
    """Refuse (InputError, exit 2) an approved plan that is not the plan promote makes now."""
    found = differences(approved, recomputed)
    if not found and approved.source != recomputed.source:
        # the label names the revision as it was given (`HEAD (1a2b3c4)`), which the recomputation, made from the
        # commit, cannot know: the approved label is taken, and the hash compared then covers everything else
        recomputed = with_hash(dataclasses.replace(recomputed, source=approved.source, hash=""))
    if not found and approved.hash == recomputed.hash:
        return
    if not found:  # pragma: no cover - equal data has an equal hash; kept so that a refusal always says why
        found = [f"hash: the plan says {approved.hash[:12]}, the recomputation {recomputed.hash[:12]}"]
    shown = found[:SHOWN]
    more = len(found) - len(shown)
    head = Problem(
        file,
        f"the plan is not what commit {recomputed.commit[:8]}, environment {recomputed.environment} and factory "
        f"{recomputed.target.factory} give now ({len(found)} difference{'s' if len(found) != 1 else ''}, "
        f"{'the first ' + str(SHOWN) if more else 'each'} below; nothing was written)",
        hint="a saved plan is applied only when promote makes the same plan again: make a new plan and review it; "
        "if nobody edited the file, the environment file or a variable it reads changed since the plan was made",
    )
    rest = [Problem(file, f"... and {more} more")] if more else []
    raise InputError([head, *(Problem(file, line) for line in shown), *rest])


# --------------------------------------------------------------------------------------------------- walking

Path = tuple[str, ...]


def _line(prefix: str, path: Path, what: str) -> str:
    text = "".join(seg if seg.startswith("[") or i == 0 else f".{seg}" for i, seg in enumerate(path))
    return f"{prefix}{text or 'the plan'}: {what}"


def _steps(approved: list[Any], recomputed: list[Any]) -> Iterator[str]:
    """Steps aligned by what they act on, so that an injected or dropped step is named as such."""
    ids_a = [_step_id(s) for s in approved]
    ids_b = [_step_id(s) for s in recomputed]
    by_a, by_b = dict(zip(ids_a, approved, strict=True)), dict(zip(ids_b, recomputed, strict=True))
    for step_id, step in zip(ids_a, approved, strict=True):
        if step_id not in by_b:
            yield f"step {_step_label(step)}: in the plan, not in the recomputation"
    for step_id, step in zip(ids_b, recomputed, strict=True):
        if step_id not in by_a:
            yield f"step {_step_label(step)}: in the recomputation, not in the plan"
    for step_id, step in zip(ids_a, approved, strict=True):
        if step_id in by_b:
            prefix = f"step {_step_label(step)}: "
            yield from (_line(prefix, path, what) for path, what in _walk(step, by_b[step_id], ()))
    if len(ids_a) != len(set(ids_a)) or [i for i in ids_a if i in by_b] != [i for i in ids_b if i in by_a]:
        yield "steps: in another order than the recomputation, or repeated"


def _step_id(step: Any) -> str:
    if not isinstance(step, dict):
        return json.dumps(step, sort_keys=True)
    kind = step.get("kind")
    if kind == "Deploy":
        return f"Deploy/{step.get('part')}"
    if kind == "DeleteObject":
        return f"DeleteObject/{json.dumps(step.get('key'), sort_keys=True)}"
    if kind in ("StopTrigger", "StartTrigger"):
        return f"{kind}/{step.get('name')}"
    if kind == "RunPipeline":
        return f"RunPipeline/{step.get('position')}/{step.get('pipeline')}"
    return str(kind)


def _step_label(step: Any) -> str:
    if not isinstance(step, dict):
        return "?"
    kind = step.get("kind")
    if kind == "Deploy":
        return f"Deploy {step.get('part')}/{step.get('parts')} ({_shown(step.get('name'))})"
    if kind == "DeleteObject":
        key = step.get("key") or {}
        return f"DeleteObject {_key(key)}"
    if kind in ("StopTrigger", "StartTrigger", "RunPipeline"):
        return f"{kind} {_shown(step.get('name', step.get('pipeline')), 40)}"
    return str(kind)


def _key(key: Any) -> str:
    if isinstance(key, dict):
        return f"{key.get('type')}/{key.get('name')}"
    return _shown(key)


_RESOURCE_NAME = re.compile(r"^\[concat\(parameters\('factoryName'\), '/(.*)'\)\]$")


def _item_name(item: Any) -> str | None:
    """How a list item is named in a path: a template resource by its type and name, a write or a kept object by
    its key, anything else that has a name by its name."""
    if not isinstance(item, dict):
        return None
    name, kind = item.get("name"), item.get("type")
    if isinstance(name, str) and isinstance(kind, str) and kind.startswith("Microsoft.DataFactory/factories/"):
        match = _RESOURCE_NAME.match(name)
        return f"{kind.rsplit('/', 1)[-1]}/{match.group(1) if match else name}"
    if isinstance(item.get("key"), dict):
        return _key(item["key"])
    return name if isinstance(name, str) else None


def _walk(a: Any, b: Any, path: Path) -> Iterator[tuple[Path, str]]:
    """(path, what differs) for every difference of two JSON values; list items aligned by name when named."""
    if a == b:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            if key not in b:
                yield (*path, str(key)), f"in the plan ({_shown(a[key])}), not in the recomputation"
            elif key not in a:
                yield (*path, str(key)), f"in the recomputation ({_shown(b[key])}), not in the plan"
            else:
                yield from _walk(a[key], b[key], (*path, str(key)))
        return
    if isinstance(a, list) and isinstance(b, list):
        names_a, names_b = [_item_name(x) for x in a], [_item_name(x) for x in b]
        named_a = [n for n in names_a if n is not None]
        named_b = [n for n in names_b if n is not None]
        if len(set(named_a)) == len(a) and len(set(named_b)) == len(b):  # every item named, each name once
            index_a, index_b = dict(zip(named_a, a, strict=True)), dict(zip(named_b, b, strict=True))
            for name in named_a:
                if name not in index_b:
                    yield (*path, f"[{name}]"), "in the plan, not in the recomputation"
                else:
                    yield from _walk(index_a[name], index_b[name], (*path, f"[{name}]"))
            for name in named_b:
                if name not in index_a:
                    yield (*path, f"[{name}]"), "in the recomputation, not in the plan"
            if [n for n in named_a if n in index_b] != [n for n in named_b if n in index_a]:
                yield path, "the same items in another order"
            return
        for i in range(max(len(a), len(b))):
            if i >= len(b):
                yield (*path, f"[{i}]"), f"in the plan ({_shown(a[i])}), not in the recomputation"
            elif i >= len(a):
                yield (*path, f"[{i}]"), f"in the recomputation ({_shown(b[i])}), not in the plan"
            else:
                yield from _walk(a[i], b[i], (*path, f"[{i}]"))
        return
    yield path, f"the plan says {_shown(a)}, the recomputation {_shown(b)}"


def _shown(value: Any, limit: int = _VALUE) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


__all__ = ["PLAN_TIME", "differences", "ensure_proven", "plan_time", "same_source_label", "with_approved_gate"]
