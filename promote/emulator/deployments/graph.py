"""The dependency graph of a template's resources: each `dependsOn` entry resolved to a resource of the
template, cycles refused, and the waves in which the resources run.

ARM accepts a dependsOn entry written as a resource id, as `Namespace/type/name...`, or as a bare resource
name when that name is unique in the template; a reference to anything else is an InvalidTemplate error, and so
is a cycle (both found before anything is written, as ARM's validation does).
"""

from __future__ import annotations

from promote.emulator import errors
from promote.emulator.deployments.model import PlannedResource


def resource_key(reference: str) -> tuple[str, str] | None:
    """(type, name), lower case, of a dependsOn entry written as a resource id or `Namespace/type/name...`."""
    text = reference.strip()
    if text.lower().startswith("/subscriptions/"):
        marker = text.lower().rfind("/providers/")
        if marker < 0:
            return None
        text = text[marker + len("/providers/") :]
    parts = text.strip("/").split("/")
    if len(parts) < 3 or "." not in parts[0] or len(parts) % 2 == 0:
        return None
    type_ = "/".join([parts[0], parts[1], *parts[3::2]])
    name = "/".join(parts[2::2])
    return type_.lower(), name.lower()


def resolve(resources: list[PlannedResource]) -> None:
    """Fill each resource's `depends_on` from its `depends_raw`; InvalidTemplate for an entry naming nothing."""
    by_key = {(r.type.lower(), r.name.lower()): r for r in resources}
    by_name: dict[str, list[PlannedResource]] = {}
    for r in resources:
        by_name.setdefault(r.name.lower(), []).append(r)
    for r in resources:
        r.depends_on = []
        for entry in r.depends_raw:
            key = resource_key(entry)
            target = by_key.get(key) if key else None
            if target is None and key is None:
                matches = by_name.get(entry.strip().lower(), [])
                target = matches[0] if len(matches) == 1 else None
            if target is None:
                raise errors.invalid_template(
                    f"The resource '{entry}' is not defined in the template. Please see https://aka.ms/arm-syntax "
                    "for usage details"
                )
            if target is not r and target not in r.depends_on:
                r.depends_on.append(target)


def order(resources: list[PlannedResource]) -> list[PlannedResource]:
    """The resources wave by wave, template order within a wave; each resource's `wave` set.

    A resource's wave is 0 when it depends on nothing, else one more than its latest dependency's: everything
    in a wave may run once the waves before it are done, which is how ARM schedules (it starts each resource as
    soon as its dependencies are done, independent ones in parallel). A cycle is ARM's InvalidTemplate.
    """
    resolve(resources)
    waiting = {id(r): len(r.depends_on) for r in resources}
    dependents: dict[int, list[PlannedResource]] = {id(r): [] for r in resources}
    for r in resources:
        for target in r.depends_on:
            dependents[id(target)].append(r)
    ready = [r for r in resources if not r.depends_on]
    for r in ready:
        r.wave = 0
    done = 0
    while done < len(ready):  # Kahn's algorithm: `ready` grows as dependencies are met
        r = ready[done]
        done += 1
        for d in dependents[id(r)]:
            waiting[id(d)] -= 1
            if waiting[id(d)] == 0:
                d.wave = 1 + max(t.wave for t in d.depends_on)
                ready.append(d)
    if len(ready) != len(resources):
        placed = {id(r) for r in ready}
        stuck = next(r for r in resources if id(r) not in placed)
        raise errors.invalid_template(
            f"Circular dependency detected on resource: '{stuck.id}'. Please see "
            "https://aka.ms/arm-template/#resources for usage details"
        )
    position = {id(r): n for n, r in enumerate(resources)}
    return sorted(resources, key=lambda r: (r.wave, r.index, position[id(r)]))
