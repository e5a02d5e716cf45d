"""An environment checked against a factory: its overrides applied (property values ADF did not parameterize)
and its smoke pipelines looked up.

Checking and applying the overrides are one walk (`overrides_and_problems`), so that what `validate` reports is
exactly what `apply_overrides` would refuse.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from typing import Any

from promote.environment.hints import did_you_mean, kind_of, listing, nearest
from promote.environment.model import Environment, Index, Key, Segment
from promote.environment.paths import format_path
from promote.errors import EnvironmentFileError, Problem
from promote.factory import Factory, ObjectKey


def _names_in(items: list[Any], field_name: str) -> list[str]:
    return [str(item[field_name]) for item in items if isinstance(item, dict) and field_name in item]


def _set_path(root: dict[str, Any], path: Sequence[Segment], value: Any) -> tuple[str, str | None] | None:
    """Set `value` at `path` below `root`; (problem, hint) when the path does not resolve.

    Intermediate segments must exist; only the last may add a mapping key. Nothing is changed on failure:
    the only mutation is the final assignment.
    """
    current: Any = root
    here = "properties"
    for position, segment in enumerate(path):
        last = position == len(path) - 1
        failed = f"segment '{str(segment).lstrip('.')}' fails at {here}"
        if isinstance(segment, Key):
            if not isinstance(current, dict):
                return f"{failed}: it is {kind_of(current)}, not a mapping", None
            if last:
                current[segment.name] = value
                return None
            if segment.name not in current:
                return f"{failed}: no key '{segment.name}'", did_you_mean(segment.name, list(current), "keys there")
            current = current[segment.name]
        else:
            if not isinstance(current, list):
                return f"{failed}: it is {kind_of(current)}, not a list", (
                    f"use .key: keys there: {listing(current)}" if isinstance(current, dict) else None
                )
            if isinstance(segment, Index):
                index = segment.index
                if index >= len(current):
                    return f"{failed}: index {index} is out of range", f"the list has {len(current)} items"
            else:
                hits = [
                    i
                    for i, item in enumerate(current)
                    if isinstance(item, dict)
                    and segment.field in item
                    and item[segment.field] is not None
                    and str(item[segment.field]) == segment.value
                ]
                names = _names_in(current, segment.field)
                if not hits:
                    return (
                        f"{failed}: no item with {segment.field} '{segment.value}'",
                        did_you_mean(segment.value, names, f"{segment.field}s there")
                        if names
                        else f"no item there has a '{segment.field}'",
                    )
                if len(hits) > 1:
                    return f"{failed}: {len(hits)} items have {segment.field} '{segment.value}'", (
                        f"select one by index: {', '.join(f'[{i}]' for i in hits)}"
                    )
                index = hits[0]
            if last:
                current[index] = value
                return None
            current = current[index]
        here += str(segment)
    return None


def overrides_and_problems(env: Environment, factory: Factory) -> tuple[Factory, list[Problem]]:
    """Apply every override in order on copies of the touched objects; collect what does not resolve.

    Check and apply share this so that an override that adds a key seen by a later one checks the same way.
    """
    objects = dict(factory.objects)
    copied: set[ObjectKey] = set()
    problems: list[Problem] = []
    for override in env.overrides:
        obj = objects.get(override.object)
        if obj is None:
            candidates = [str(k) for k in factory.objects]
            same_type = [str(k) for k in factory.objects if k.type == override.object.type]
            close = nearest(str(override.object), candidates)
            if close is not None:
                hint = f"did you mean '{close}'?"
            elif same_type:
                hint = f"its {override.object.type}: {listing(same_type)}"
            else:
                hint = f"the factory has no {override.object.type}"
            problems.append(
                Problem(
                    file=env.file,
                    message=f"no such object in the factory{f' {factory.name}' if factory.name else ''}",
                    line=override.line,
                    object=str(override.object),
                    hint=hint,
                )
            )
            continue
        if override.object not in copied:
            obj = dataclasses.replace(obj, properties=copy.deepcopy(obj.properties))
            objects[override.object] = obj
            copied.add(override.object)
        failure = _set_path(obj.properties, override.path, copy.deepcopy(override.value))
        if failure is not None:
            message, path_hint = failure
            problems.append(
                Problem(
                    file=env.file,
                    message=f"path {format_path(override.path)}: {message}",
                    line=override.line,
                    object=str(override.object),
                    hint=path_hint,
                )
            )
    return dataclasses.replace(factory, objects=objects), problems


def check_overrides(env: Environment, factory: Factory) -> list[Problem]:
    """Every override whose object is missing from the factory or whose path does not resolve in it."""
    return overrides_and_problems(env, factory)[1]


def apply_overrides(env: Environment, factory: Factory) -> Factory:
    """A new Factory with the overrides set; the input is untouched and untouched objects are shared.

    Raises EnvironmentFileError with every override that does not resolve. References of an overridden object
    are recomputed, since an override may change a `referenceName`.
    """
    result, problems = overrides_and_problems(env, factory)
    if problems:
        raise EnvironmentFileError(problems)
    return result


def check_smoke(env: Environment, factory: Factory) -> list[Problem]:
    """Smoke pipelines missing from the factory, or given parameters the pipeline does not declare."""
    problems: list[Problem] = []
    pipelines = [k.name for k in factory.objects if k.type == "pipelines"]
    for i, smoke in enumerate(env.smoke):
        obj = factory.objects.get(ObjectKey("pipelines", smoke.pipeline))
        if obj is None:
            problems.append(
                Problem(
                    file=env.file,
                    message=f"no pipeline '{smoke.pipeline}' in the factory",
                    line=smoke.line,
                    object=f"smoke[{i}]",
                    hint=did_you_mean(smoke.pipeline, pipelines, "pipelines are"),
                )
            )
            continue
        declared = obj.properties.get("parameters") or {}
        for name in smoke.parameters:
            if isinstance(declared, dict) and name not in declared:
                problems.append(
                    Problem(
                        file=env.file,
                        message=f"pipeline '{smoke.pipeline}' declares no parameter '{name}'",
                        line=smoke.line,
                        object=f"smoke[{i}].parameters",
                        hint=did_you_mean(name, list(declared), "its parameters are"),
                    )
                )
    return problems
