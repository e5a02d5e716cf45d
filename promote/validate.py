"""Offline checks of a published factory: what Azure would refuse, found before anything is sent.

Every check returns Problems instead of raising, so that `promote validate` can list all of them at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from promote.errors import Problem
from promote.factory import Factory, ObjectKey
from promote.loader import Published
from promote.names import FACTORY_RULE, name_problem

# ARM's limits for one template (https://aka.ms/arm-template limits) and ADF's for one factory / one object.
MAX_TEMPLATE_BYTES = 4 * 1024 * 1024
MAX_RESOURCES = 800
MAX_PARAMETERS = 256
MAX_FACTORY_OBJECTS = 5000
MAX_PIPELINE_BYTES = 200 * 1024

# References that resolve without being in the templates: objects every factory has.
BUILT_IN: frozenset[ObjectKey] = frozenset({ObjectKey("integrationRuntimes", "autoresolveintegrationruntime")})


def check_limits(published: Published) -> list[Problem]:
    """ARM's per-template limits, for each template file that would be deployed as it is."""
    problems: list[Problem] = []
    for part in published.parts:
        size = len(published.files.get(part.name) or b"")
        if size > MAX_TEMPLATE_BYTES:
            problems.append(
                Problem(
                    part.display,
                    f"template is {size / 1048576:.1f} MB, over ARM's 4 MB limit",
                    hint="ADF splits large factories into linkedTemplates/; deploy from there",
                )
            )
        resources = part.template.get("resources") or []
        if len(resources) > MAX_RESOURCES:
            problems.append(
                Problem(part.display, f"{len(resources)} resources, over ARM's limit of {MAX_RESOURCES} per template")
            )
        params = part.template.get("parameters") or {}
        if len(params) > MAX_PARAMETERS:
            problems.append(
                Problem(
                    part.display,
                    f"{len(params)} parameters, over ARM's limit of {MAX_PARAMETERS}",
                    hint="trim arm-template-parameters-definition.json in the collaboration branch",
                )
            )
    return problems


def check_names(factory: Factory) -> list[Problem]:
    problems: list[Problem] = []
    why = FACTORY_RULE.problem(factory.name) if factory.name else "is empty"
    if why:
        problems.append(Problem(factory.source, f"factory name '{factory.name}' {why}", object="factoryName"))
    for key, obj in factory.objects.items():
        why = name_problem(key.type, key.name)
        if why:
            problems.append(Problem(obj.file, f"name {why}", object=str(key), hint="rename it in ADF Studio"))
    return problems


def check_references(factory: Factory) -> list[Problem]:
    """Every reference points at an object of the factory (names compare case-insensitively, as in ADF)."""
    present = {ObjectKey(k.type, k.name.lower()) for k in factory.objects} | BUILT_IN
    problems: list[Problem] = []
    for key, obj in sorted(factory.objects.items()):
        for ref in sorted(obj.references):
            if ObjectKey(ref.type, ref.name.lower()) not in present:
                problems.append(
                    Problem(
                        obj.file,
                        f"references {ref}, which the factory does not have",
                        object=str(key),
                        hint="publish the missing object from ADF Studio, or fix the reference",
                    )
                )
    return problems


def check_sizes(factory: Factory) -> list[Problem]:
    problems: list[Problem] = []
    if len(factory.objects) > MAX_FACTORY_OBJECTS:
        problems.append(
            Problem(factory.source, f"{len(factory.objects)} objects, over ADF's limit of {MAX_FACTORY_OBJECTS}")
        )
    for key, obj in factory.objects.items():
        if key.type != "pipelines":
            continue
        size = len(json.dumps(obj.properties, separators=(",", ":")))
        if size > MAX_PIPELINE_BYTES:
            problems.append(
                Problem(obj.file, f"pipeline is {size // 1024} KB, over ADF's 200 KB limit", object=str(key))
            )
    return problems


def check_factory(published: Published, factory: Factory) -> list[Problem]:
    """All offline checks of one evaluated factory."""
    checks: Iterable[list[Problem]] = (
        check_limits(published),
        check_names(factory),
        check_references(factory),
        check_sizes(factory),
    )
    return [p for problems in checks for p in problems]
