"""Offline checks of a factory: what ADF and ARM would refuse, found before anything is sent.

Every check returns Problems instead of raising, so that `promote validate` can list all of them at once. The
same `check_factory` guards every deployment (`promote.desired.deployable_problems`, which `plan`, `deploy`,
`apply` and `rollback` call on the desired state they plan from): `validate` and `deploy` accept the same things.

Sizes are ARM's as deployed, not the published files': a deployment writes objects through templates of its own,
cut under ARM's limits (`promote.plan.template`), so a published template over 4 MB deploys in parts, and only an
object that no template can hold is refused here, by the same rule.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from promote.errors import Problem
from promote.factory import Factory, ObjectKey
from promote.loader import Published
from promote.names import FACTORY_RULE, name_problem

# ADF's limits (https://learn.microsoft.com/azure/data-factory/ limits): entities in one factory, one pipeline.
MAX_FACTORY_OBJECTS = 5000
MAX_PIPELINE_BYTES = 200 * 1024

# References that resolve without being in the templates: objects every factory has.
BUILT_IN: frozenset[ObjectKey] = frozenset({ObjectKey("integrationRuntimes", "autoresolveintegrationruntime")})


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


def check_depends_on(factory: Factory) -> list[Problem]:
    """Each `dependsOn` entry names an object of the factory, and no entries form a cycle: ARM refuses a template
    with either (`The resource '...' is not defined in the template`, `Circular dependency detected`).

    Only `dependsOn` edges count here: objects that reference each other in a loop are legal in ADF (two pipelines
    calling each other), and a deployment orders them itself."""
    from promote.plan.order import key_from_resource_path, strongly_connected

    index = {ObjectKey(k.type, k.name.casefold()): k for k in factory.objects}
    graph: dict[ObjectKey, set[ObjectKey]] = {key: set() for key in factory.objects}
    problems: list[Problem] = []
    for key, obj in sorted(factory.objects.items()):
        for entry in obj.depends_on:
            named = key_from_resource_path(entry)
            found = index.get(ObjectKey(named.type, named.name.casefold())) if named and named.name else None
            if found is None:
                problems.append(
                    Problem(
                        obj.file,
                        f"dependsOn '{entry}' names no object of the factory",
                        object=str(key),
                        hint="ARM refuses a dependency on a resource the template does not hold; publish again",
                    )
                )
            else:
                graph[key].add(found)
    for component in strongly_connected(graph):
        if len(component) > 1 or component[0] in graph[component[0]]:
            loop = ", ".join(str(k) for k in component)
            first = factory.objects[component[0]]
            problems.append(
                Problem(
                    first.file,
                    f"dependsOn forms a cycle through {loop}",
                    object=str(component[0]),
                    hint="ARM refuses circular dependencies; publish again from ADF Studio",
                )
            )
    return problems


def check_sizes(factory: Factory) -> list[Problem]:
    """ADF's limits (objects in a factory, the size of a pipeline) and ARM's for one object as deployed."""
    from promote.plan.template import deployed_size, object_too_large

    problems: list[Problem] = []
    if len(factory.objects) > MAX_FACTORY_OBJECTS:
        problems.append(
            Problem(
                factory.source,
                f"{len(factory.objects):,} objects, over ADF's limit of {MAX_FACTORY_OBJECTS:,} per factory",
                hint="split the factory; ADF refuses to create objects past its limit",
            )
        )
    for key, obj in sorted(factory.objects.items()):
        if key.type == "pipelines":
            size = len(json.dumps(obj.properties, separators=(",", ":")))
            if size > MAX_PIPELINE_BYTES:
                problems.append(
                    Problem(obj.file, f"pipeline is {size // 1024} KB, over ADF's 200 KB limit", object=str(key))
                )
                continue
        too_large = object_too_large(obj, *deployed_size(obj))
        if too_large is not None:
            problems.append(too_large)
    return problems


def check_factory(published: Published, factory: Factory) -> list[Problem]:
    """All offline checks of one evaluated factory (`published` is where it came from)."""
    checks: Iterable[list[Problem]] = (
        check_names(factory),
        check_references(factory),
        check_depends_on(factory),
        check_sizes(factory),
    )
    return [p for problems in checks for p in problems]
