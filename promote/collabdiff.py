"""`promote diff` of two collaboration revisions evaluating only what differs: `promote.quickdiff`'s fast path for
sides that are collaboration roots (built in memory, `promote.build.open_collaboration`).

Why: the slow path builds each side and then evaluates every object of both; evaluating is about as costly as
building. Two revisions share most objects, and an object the build writes the same on both sides evaluates the
same, unless what it looks up differs. quickdiff proves that for two published templates by comparing each
resource's bytes; here the resources are the built ones, compared as data.

Why the answer is the slow path's (each step that does not hold -> `Fallback`, the slow path runs):

1. Each side's `Published` is the slow path's own: `open_published`, which builds the root exactly as the slow
   path does (a build error raises here and the slow path raises it again). Values are fitted as the slow path
   fits them (`quickdiff._fit_values`: `as_written`, or the environment's values).
2. A resource whose JSON is the same on both sides (its compact text: types, key order and strings exactly;
   the build's expressions are plain strings by then, `escaped`) evaluates to the same object, unless an
   expression in it looks up something that differs. quickdiff's scan (`_LOOKUP`, conservative) is run over that
   text for the parameters and variables whose values differ or that one side lacks (`quickdiff._differing`, on
   the templates without their resources: every parameter and variable, evaluated as the slow path does).
3. Its key is the slow path's: the resource is plain as quickdiff requires (`quickdiff._plain`: a literal type
   and apiVersion, a `dependsOn` of strings, no condition, copy or nested resources) and its name is
   `[concat(parameters('factoryName'), '/<x>')]`, `<x>` without quotes, backslashes or control characters; a name
   seen twice on one side (case-insensitively) falls back.
4. The rest is evaluated on each side by the loader's `evaluate` (`quickdiff._evaluate`) and diffed by
   `diff_factories`, whose `unchanged` then counts the identical ones too: quickdiff's points 4 and 5 (the diff,
   environment overrides) hold as they are, since nothing in them depends on where the resources came from.

Errors: as in quickdiff, any exception runs the slow path; an error only evaluation would find inside an object
identical on both sides is not reported here (the old revision has it too); `validate`, `plan` and `deploy`
evaluate everything.
"""

from __future__ import annotations

import re
from typing import Any

import rapidjson

from promote.arm import evaluate_template
from promote.desired import SideInput
from promote.diff import Diff, diff_factories
from promote.factory import ObjectKey, object_key_from_arm
from promote.loader import Published, open_published
from promote.quickdiff import (
    _LOOKUP,
    Fallback,
    _differing,
    _evaluate,
    _factory_name,
    _fit_values,
    _overridden,
    _plain,
)
from promote.source import SourceFiles

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
    env = before.env
    if after.env is not env:
        raise Fallback("the two sides use different environments")
    old_pub, old_env, old_values, old_warnings = _fit_values(open_published(before.files), env)
    new_pub, new_env, new_values, new_warnings = _fit_values(open_published(after.files), env)
    old_resources, old_header = _resources(old_pub)
    new_resources, new_header = _resources(new_pub)
    old_scope = evaluate_template(old_header, old_values, file=old_pub.entry.display)
    new_scope = evaluate_template(new_header, new_values, file=new_pub.entry.display)
    differing = _differing(old_scope, new_scope, old_header, new_header)
    factory_name = _factory_name(old_scope)
    old_keys, new_keys = _keys(old_resources, factory_name), _keys(new_resources, factory_name)

    overridden = {(o.object.type, o.object.name.lower()) for o in env.overrides} if env else set()
    new_index = {key: j for j, key in enumerate(new_keys) if key is not None}
    lookup = _lookup_pattern(differing)
    identical: list[ObjectKey] = []
    identical_new: set[int] = set()
    old_rest: list[dict[str, Any]] = []
    for i, key in enumerate(old_keys):
        j = new_index.get(key) if key is not None else None
        if j is not None and key is not None and (key[0], key[1].lower()) not in overridden:
            text = _text(old_resources[i])
            if text is not None and text == _text(new_resources[j]) and (lookup is None or not lookup.search(text)):
                identical.append(ObjectKey(*key))
                identical_new.add(j)
                continue
        old_rest.append(old_resources[i])
    new_rest = [resource for j, resource in enumerate(new_resources) if j not in identical_new]

    old_factory = _evaluate(old_pub, old_rest, old_values, factory_name)
    new_factory = _evaluate(new_pub, new_rest, new_values, factory_name)
    folded = {(key.type, key.name.lower()) for key in identical}
    for factory in (old_factory, new_factory):
        if any((key.type, key.name.lower()) in folded for key in factory.objects):
            raise Fallback("an object is defined twice")
    if env is not None:
        assert old_env is not None and new_env is not None
        old_factory, more_old = _overridden(old_env, old_factory, identical, old_pub.label)
        new_factory, more_new = _overridden(new_env, new_factory, identical, new_pub.label)
        old_warnings += more_old
        new_warnings += more_new

    diff = diff_factories(old_factory, new_factory, from_label=before.label, to_label=after.label)
    diff.unchanged += len(identical)
    return diff, old_warnings + new_warnings


def _resources(published: Published) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The built template's resources, and the template without them (its parameters and variables)."""
    if published.layout != "single" or len(published.parts) != 1:
        raise Fallback("not a template built in memory")
    template = published.entry.template
    resources = template.get("resources")
    if type(resources) is not list or any(type(r) is not dict for r in resources):
        raise Fallback("the built template's resources are not a list of objects")
    return resources, {**template, "resources": []}


def _keys(resources: list[dict[str, Any]], factory_name: str) -> list[tuple[str, str] | None]:
    """(type, name) of the object each plain resource makes, as `object_key_from_arm` makes it from the evaluated
    name `factoryName/<x>` (quickdiff's `_keys`, from data rather than text); None for any other resource."""
    keys: list[tuple[str, str] | None] = []
    seen: set[tuple[str, str]] = set()
    for resource in resources:
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


def _lookup_pattern(names: set[str]) -> re.Pattern[str] | None:
    """quickdiff's scan for a lookup of one of `names` (lower-cased) in a resource's JSON text."""
    if not names:
        return None
    if any(not name.isascii() or not name.isprintable() or set(name) & set("'\"\\") for name in names):
        raise Fallback("a differing parameter or variable name is not plain ASCII")
    return re.compile(_LOOKUP.format(names="|".join(re.escape(name) for name in sorted(names))), re.IGNORECASE)
