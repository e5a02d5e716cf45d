"""A plan as a file: JSON out, JSON in (checked), the content hash, and the staleness check.

The hash is the plan's identity: sha256 of the canonical JSON (sorted keys, no whitespace, UTF-8) of every
field except `hash` itself. Reading a plan recomputes it from what was read, so a plan edited after it was
made (a step removed, a delete added, a template touched) is refused before anything runs; so is a plan of a
format this version does not know, rather than guessing what an unknown field means. The hash is no protection
against someone who edits the file on purpose (anyone can recompute it): `promote.plan.proof` is.

A file never holds a storage account key written as plain text in a template (a literal, a `string` parameter):
a deployment's template holds a digest in its place, in the file and in what the hash covers alike
(`promote.secrets.without_account_keys`), and `promote apply` deploys the plan made again, which holds the key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from typing import Any, Literal, Union

from promote.errors import InputError, Problem
from promote.plan.steps import FORMAT_VERSION, STEP_TYPES, Deploy, Plan
from promote.record.tags import RecordBasis
from promote.secrets import without_account_keys
from promote.untrusted import ENVELOPE_DEPTH, load_json

_STEPS_BY_KIND: dict[str, type] = {cls.__name__: cls for cls in STEP_TYPES}
_HINTS: dict[type, dict[str, Any]] = {}


class _Malformed(ValueError):
    """A plan file whose shape is wrong; `path` says where."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")


# --------------------------------------------------------------------------------------------------- out


def to_data(value: Any) -> Any:
    """Plain JSON data of a plan or any part of it. Steps carry their `kind` (the class name) first."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        if type(value).__name__ in _STEPS_BY_KIND:
            out["kind"] = type(value).__name__
        for f in dataclasses.fields(value):
            out[f.name] = to_data(getattr(value, f.name))
        if isinstance(value, Deploy):  # never a key in a file (`promote.secrets.without_account_keys`)
            out["template"] = without_account_keys(out["template"])
        return out
    if isinstance(value, (list, tuple)):
        return [to_data(item) for item in value]
    if isinstance(value, dict):
        return {str(k): to_data(v) for k, v in value.items()}
    return value


def canonical_json(plan: Plan) -> str:
    """The bytes the hash covers: every field but `hash`, keys sorted, no whitespace, non-ASCII as is."""
    data = to_data(plan)
    data.pop("hash", None)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def plan_hash(plan: Plan) -> str:
    return hashlib.sha256(canonical_json(plan).encode("utf-8")).hexdigest()


def with_hash(plan: Plan) -> Plan:
    """The plan with its `hash` set from its content."""
    return dataclasses.replace(plan, hash=plan_hash(plan))


def to_json(plan: Plan) -> str:
    """The plan file's text. The plan must carry its own hash (plans from `build_plan` do): writing a plan
    whose content no longer matches its hash would make a file that every reader refuses."""
    if plan.hash != plan_hash(plan):
        raise ValueError("the plan's hash does not match its content; make it with build_plan or with_hash")
    return json.dumps(to_data(plan), indent=1, ensure_ascii=False, allow_nan=False) + "\n"


# --------------------------------------------------------------------------------------------------- in


def from_json(text: str | bytes, file: str = "<plan>") -> Plan:
    """A plan read back from `to_json`'s text. Raises InputError (exit 2) for text that is not a plan, a plan
    of an unknown format version, or a plan whose content does not match its hash."""
    data = load_json(text, file, max_depth=ENVELOPE_DEPTH, what="not a plan file: invalid JSON")
    if not isinstance(data, dict):
        raise InputError.single(file, "not a plan file: the top level is not an object")
    version = data.get("format")
    if version != FORMAT_VERSION:
        raise InputError.single(
            file,
            f"plan format {version!r} is not supported (this version of promote reads format {FORMAT_VERSION})",
            hint="make the plan again with the promote version that applies it",
        )
    try:
        plan = _build(Plan, data, "plan")
    except _Malformed as exc:
        raise InputError.single(file, f"not a plan file: {exc}") from None
    if plan.hash != plan_hash(plan):
        raise InputError.single(
            file,
            "the plan file was edited after it was made: its content does not match its hash",
            hint="make a new plan; a reviewed plan is applied exactly as it was reviewed or not at all",
        )
    return plan


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _build(cls: type, data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise _Malformed(path, f"expected an object for {cls.__name__}")
    hints = _hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    extra = set(data) - names - ({"kind"} if cls.__name__ in _STEPS_BY_KIND else set())
    if extra:
        raise _Malformed(path, f"unknown field(s) {', '.join(sorted(extra))}")
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise _Malformed(path, f"missing field {f.name}")
            continue
        values[f.name] = _convert(hints[f.name], data[f.name], f"{path}.{f.name}")
    return cls(**values)


def _convert(hint: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if all(isinstance(a, type) and dataclasses.is_dataclass(a) and a.__name__ in _STEPS_BY_KIND for a in options):
            kind = value.get("kind") if isinstance(value, dict) else None
            if kind not in _STEPS_BY_KIND:
                raise _Malformed(path, f"unknown step kind {kind!r}")
            return _build(_STEPS_BY_KIND[kind], value, f"{path}<{kind}>")
        if len(options) == 1:
            return _convert(options[0], value, path)
        raise _Malformed(path, "ambiguous type")  # pragma: no cover - no such field
    if origin is Literal:
        if value not in args:
            raise _Malformed(path, f"{value!r} is not one of {', '.join(map(repr, args))}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise _Malformed(path, "expected a list")
        return tuple(_convert(args[0], item, f"{path}[{i}]") for i, item in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise _Malformed(path, "expected an object")
        return {k: _convert(args[1], v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, path)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Malformed(path, "expected a number")
        return float(value)
    if hint in (int, str, bool):
        if type(value) is not hint:
            raise _Malformed(path, f"expected {hint.__name__}")
        return value
    raise _Malformed(path, f"unsupported type {hint!r}")  # pragma: no cover - a new field type needs a case


# --------------------------------------------------------------------------------------------------- stale


def is_stale(plan: Plan, live_fingerprint: str, basis: RecordBasis | None = None) -> bool:
    """True when the live factory is no longer what the plan was computed against: its objects and trigger
    states (`live_fingerprint`), and, when given, the deployment its tags record (`basis`: another plan was
    applied since, so the good commits the plan would record are no longer the factory's)."""
    return plan.live_fingerprint != live_fingerprint or (basis is not None and plan.record_basis != basis)


def ensure_fresh(plan: Plan, live_fingerprint: str, file: str = "<plan>", basis: RecordBasis | None = None) -> None:
    """Refuse (InputError, exit 2) a saved plan whose basis changed, as `terraform apply` does."""
    if plan.live_fingerprint != live_fingerprint:
        raise InputError.single(
            file,
            f"saved plan is stale: factory {plan.target.factory} changed since the plan was made",
            hint="make a new plan against the factory as it is now, and review it again",
        )
    if basis is not None and plan.record_basis != basis:
        was, now = plan.record_basis, basis
        raise InputError.single(
            file,
            f"saved plan is stale: factory {plan.target.factory} records another deployment since the plan was "
            f"made (commit {(now.commit or 'none')[:8]}, plan {(now.plan or 'none')[:12]}; the plan was made when it "
            f"recorded commit {(was.commit or 'none')[:8]}, plan {(was.plan or 'none')[:12]})",
            hint="make a new plan against the factory as it is now, and review it again",
        )


def ensure_finishes(plan: Plan, unfinished: str | None, file: str = "<plan>") -> None:
    """Refuse (InputError, exit 2) a saved plan made for another unfinished run than the one its run would finish
    now (`unfinished`: its id, `promote.record.rollback.interrupted_run`). A plan made before a run was killed
    writes only what it changes, while what the killed run wrote is unknown; a plan made to finish a run that is
    finished since would finish nothing. The factory's objects may not show it (a run killed right after
    recording itself on the factory changed nothing else), so it is checked apart from `ensure_fresh`."""
    if plan.finishes == unfinished:
        return
    hint = "make a new plan against the factory as it is now, and review it again"
    if plan.finishes is None:
        raise InputError.single(
            file,
            f"saved plan is stale: run {unfinished}, interrupted, is still unfinished on factory "
            f"{plan.target.factory}, and the plan was made without it (before it was interrupted, or where it was "
            "not known)",
            hint=f"{hint}: the new plan finishes that run",
        )
    now = f"the unfinished run is {unfinished} now" if unfinished else "no run is left unfinished now"
    raise InputError.single(
        file,
        f"saved plan is stale: it finishes the interrupted run {plan.finishes} on factory {plan.target.factory}, "
        f"but {now} (neither the factory's record nor this machine's journal names {plan.finishes})",
        hint=hint,
    )


def ensure_not_refused(plan: Plan, file: str) -> None:
    """Refuse (InputError, exit 2, nothing touched) a plan that a guard refuses (`Plan.refusals`): every refusal
    is one problem, on the environment file (`file`) where the guard is set."""
    if plan.refusals:
        raise InputError([Problem(file, r.message, line=r.line, object=r.guard, hint=r.hint) for r in plan.refusals])
