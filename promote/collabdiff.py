"""`promote diff` of two collaboration revisions evaluating only what differs: `promote.quickdiff`'s fast path for
sides that are collaboration roots (built in memory, `promote.build`).

Why: the slow path builds each side whole and then evaluates every object of both. Two revisions share most
files: the newer side is built from the older one's work (`prepare(previous=...)`: a file with the same bytes
is not parsed again, an object whose build reads nothing that differs is not built again), and an object built
the same on both sides evaluates the same unless what it looks up differs, so it is counted unchanged unread.

Why the answer is the slow path's (each step that does not hold -> `Fallback`, the slow path runs):

1. Each side is built as the slow path builds it: `prepare(files)`, and for the newer side `prepare(files,
   previous=...)`, which gives the same build (`tests/test_collabdiff.py` holds them equal on every reference
   pair and random edits; `build_template` says why). A build error raises here and the slow path raises it
   again. The `Published` of each side is `open_collaboration`'s (`collaboration_published`), holding only the
   resources evaluated; values are fitted as the slow path fits them (`quickdiff._fit_values`).
2. A resource the same on both sides evaluates to the same object unless an expression in it looks up
   something that differs. "The same": the very resource the older build made (taken by the newer one), or an
   equal JSON text of the escaped resource (types, key order, strings). Its expressions are the build's own
   (the files' strings starting with `[` are escaped): its name and `dependsOn` (factoryName, factoryId) and
   its `[parameters(...)]`, each naming one of the resource's `parameters`. So it is evaluated when one of those
   differs (`quickdiff._differing`, on the templates without resources: every parameter and variable as the
   slow path evaluates it); a differing factoryName or factoryId falls back. When both builds declare the very
   same parameters with the same values, the two headers are the same and are evaluated once
   (`_same_parameters`).
3. Its key is the slow path's: the resource is plain as quickdiff requires (`quickdiff._plain`) and named
   `[concat(parameters('factoryName'), '/<x>')]` (`<x>` without quotes, backslashes or control characters); a
   name seen twice on one side (case-insensitively) falls back.
4. The rest is evaluated on each side by the loader's `evaluate` (`quickdiff._evaluate`) and diffed by
   `diff_factories`, whose `unchanged` then counts the identical ones too: quickdiff's points 4 and 5 (the diff,
   environment overrides) hold as they are, since nothing in them depends on where the resources came from.

Errors: as in quickdiff, any exception runs the slow path; an error only evaluation would find inside an object
the same on both sides is not reported here (the old revision has it too); `validate`, `plan` and `deploy`
evaluate everything.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import rapidjson

from promote.arm import evaluate_template
from promote.desired import SideInput
from promote.diff import Diff
from promote.factory import ObjectKey, object_key_from_arm
from promote.quickdiff import (
    Fallback,
    _differing,
    _factory_name,
    _fit_values,
    _plain,
    _same,
    diff_the_rest,
)
from promote.source import SourceFiles

if TYPE_CHECKING:
    from promote.build.template import BuiltTemplate

__all__ = ["is_collaboration_side", "quick_collaboration_diff"]

_COMPACT = rapidjson.Encoder(
    ensure_ascii=False,
    number_mode=rapidjson.NM_NATIVE,  # NaN refused: not compared at all
    bytes_mode=rapidjson.BM_NONE,
    iterable_mode=rapidjson.IM_ONLY_LISTS,
    mapping_mode=rapidjson.MM_ONLY_DICTS,
)
_NAME = re.compile(r"\[concat\(parameters\('factoryName'\), '/(?P<n>[^'\"\\\x00-\x1f]+)'\)\]")


def is_collaboration_side(files: SourceFiles) -> bool:
    """Whether `open_published` builds `files` (a collaboration root, not a folder ADF published)."""
    from promote.build import is_collaboration_root
    from promote.source import LINKED_DIR, LINKED_MASTER, SINGLE_TEMPLATE

    names = files.files
    if SINGLE_TEMPLATE in names or LINKED_MASTER in names or f"{LINKED_DIR}/{LINKED_MASTER}" in names:
        return False
    return is_collaboration_root(files)


def quick_collaboration_diff(before: SideInput, after: SideInput) -> tuple[Diff, list[str]]:
    """The slow path's diff and warnings for two collaboration sides, evaluating only the objects that differ."""
    from promote.build import prepare
    from promote.build.template import escaped_resource
    from promote.loader import collaboration_published

    env = before.env
    if after.env is not env:
        raise Fallback("the two sides use different environments")
    old_build = prepare(before.files)  # what `open_collaboration` builds, exactly
    new_build = prepare(after.files, previous=old_build)  # the same as without `previous` (tested), sooner
    # The Published of each side without its resources: what the slow path fits values to and evaluates with.
    old_pub, old_env, old_values, old_warnings = _fit_values(collaboration_published(old_build, []), env)
    new_pub, new_env, new_values, new_warnings = _fit_values(collaboration_published(new_build, []), env)
    old_header, new_header = old_pub.entry.template, new_pub.entry.template
    old_scope = evaluate_template(old_header, old_values, file=old_pub.entry.display)
    if _same_parameters(old_build.template, new_build.template) and _same(old_values, new_values):
        new_scope = old_scope  # the same header and values: the same evaluation (point 2), made once
    else:
        new_scope = evaluate_template(new_header, new_values, file=new_pub.entry.display)
    differing = _differing(old_scope, new_scope, old_header, new_header)
    if "factoryid" in differing:
        raise Fallback("the variable factoryId differs")
    factory_name = _factory_name(old_scope)
    old_built, new_built = old_build.template.resources, new_build.template.resources
    old_keys = _keys([b.resource for b in old_built], factory_name)
    known = {id(b.resource): key for b, key in zip(old_built, old_keys, strict=True)}  # taken by the newer build
    new_keys = _keys([b.resource for b in new_built], factory_name, known)

    overridden = {(o.object.type, o.object.name.lower()) for o in env.overrides} if env else set()
    new_index = {key: j for j, key in enumerate(new_keys) if key is not None}
    old_escaped: dict[int, dict[str, Any]] = {}
    new_escaped: dict[int, dict[str, Any]] = {}
    identical: list[ObjectKey] = []
    identical_old: set[int] = set()
    identical_new: set[int] = set()
    for i, key in enumerate(old_keys):
        j = new_index.get(key) if key is not None else None
        if j is None or key is None or (key[0], key[1].lower()) in overridden:
            continue
        old, new = old_built[i], new_built[j]
        # The only expressions in a built resource are the build's: its name and dependsOn (factoryName,
        # factoryId) and its `[parameters(...)]`, every one of which names one of `parameters`.
        looked_up = {name.lower() for name in (*old.parameters, *new.parameters)}
        if looked_up & differing:
            continue
        if new.resource is not old.resource:  # built again (the revisions differ around it): compare the JSON
            old_escaped[i] = escaped_resource(old.resource)
            new_escaped[j] = escaped_resource(new.resource)
            text = _text(old_escaped[i])
            if text is None or text != _text(new_escaped[j]):
                continue
        identical.append(ObjectKey(*key))
        identical_old.add(i)
        identical_new.add(j)
    old_rest = [_escaped(old_escaped, i, b) for i, b in enumerate(old_built) if i not in identical_old]
    new_rest = [_escaped(new_escaped, j, b) for j, b in enumerate(new_built) if j not in identical_new]

    return diff_the_rest(
        (old_pub, old_env, old_values, old_warnings),
        (new_pub, new_env, new_values, new_warnings),
        (old_rest, new_rest),
        identical,
        factory_name,
        (before.label, after.label),
    )


def _same_parameters(old: BuiltTemplate, new: BuiltTemplate) -> bool:
    """Whether the two builds declare the very same parameters: each the same object (the newer build takes an
    object's declarations with its resource), `factoryName` (every build makes its own) equal. A header is made
    from the parameters alone (`BuiltTemplate.template`, `collaboration_published`, `_fit_values`), so both
    headers are then the same, and evaluate the same: the evaluator refuses what is not deterministic
    (`utcNow`, `newGuid`)."""
    before, after = old.parameters, new.parameters
    return (
        len(before) == len(after)
        and before[0] == after[0]
        and all(a is b for a, b in zip(before[1:], after[1:], strict=True))
    )


def _escaped(done: dict[int, dict[str, Any]], index: int, built: Any) -> dict[str, Any]:
    from promote.build.template import escaped_resource

    return done[index] if index in done else escaped_resource(built.resource)


def _keys(
    resources: list[dict[str, Any]], factory_name: str, known: dict[int, tuple[str, str] | None] | None = None
) -> list[tuple[str, str] | None]:
    """(type, name) of the object each plain resource makes, as `object_key_from_arm` makes it from the evaluated
    name `factoryName/<x>` (quickdiff's `_keys`, from data rather than text); None for any other resource."""
    keys: list[tuple[str, str] | None] = []
    seen: set[tuple[str, str]] = set()
    for resource in resources:
        if known is not None and id(resource) in known:  # the same resource: the same key
            key = known[id(resource)]
            if key is not None:
                if (key[0], key[1].lower()) in seen:
                    raise Fallback(f"{key[0]}/{key[1]} is defined twice")
                seen.add((key[0], key[1].lower()))
            keys.append(key)
            continue
        key = None
        name, kind = resource.get("name"), resource.get("type")
        found = _NAME.fullmatch(name) if type(name) is str else None
        if found is not None and type(kind) is str and not kind.startswith("["):
            head = (found.group("n").encode("utf-8"), kind.encode("utf-8"))
            arm = object_key_from_arm(kind, "factory/object")
            if arm is not None and _plain(resource, head):
                x = found.group("n")
                key = (arm.type, f"{factory_name}/{x}".partition("/")[2] if "/" in factory_name else x)
                if (key[0], key[1].lower()) in seen:
                    raise Fallback(f"{key[0]}/{key[1]} is defined twice")
                seen.add((key[0], key[1].lower()))
        keys.append(key)
    return keys


def _text(resource: dict[str, Any]) -> str | None:
    """The resource's JSON, compact: equal texts are equal JSON (types, key order, strings)."""
    try:
        return _COMPACT(resource)
    except (TypeError, ValueError, OverflowError, UnicodeError, RecursionError):
        return None
