"""A published factory folder -> a `Factory`: objects keyed by (type, name), evaluated, with references.

ADF publishes a factory twice over: `ARMTemplateForFactory.json` (one template) and, once the factory is large,
`linkedTemplates/` (a master chaining `ArmTemplate_0.json`, `ArmTemplate_1.json`, ...). The single file is
preferred when present. A linked master holds no factory object at all: reading it alone is how other tools
end up deleting every object, so here a master is always followed to every part it names, and a part file the
master does not name is an error rather than something silently skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from promote.arm import DeploymentContext, ParameterSpec, evaluate_template, parse_template
from promote.errors import Problem, TemplateError
from promote.factory import Factory, FactoryObject, ObjectKey, object_key_from_arm
from promote.source import (
    LINKED_DIR,
    LINKED_MASTER,
    LINKED_PARAMETERS,
    SINGLE_PARAMETERS,
    SINGLE_TEMPLATE,
    SourceFiles,
)

# Parameters a linked master needs only to fetch its parts from a storage account; the promoter reads the
# parts from the folder instead, so these never need values.
MASTER_ONLY_PARAMETERS = ("containerUri", "containerSasToken")
_PART_NAME = re.compile(r"ArmTemplate_(\d+)\.json$")
_PART_LINK = re.compile(r"ArmTemplate_(\d+)\.json")
_DEPLOYMENTS = "microsoft.resources/deployments"


@dataclass(frozen=True)
class Part:
    """One template file of the factory, parsed."""

    name: str  # path relative to the factory folder
    display: str  # path as shown in messages
    template: dict


@dataclass(frozen=True)
class Published:
    """A factory folder, parsed but not yet evaluated."""

    files: SourceFiles
    layout: str  # "single" or "linked"
    entry: Part  # the single template, or the linked master
    parts: tuple[Part, ...]  # the templates holding objects (the single one, or every ArmTemplate_N.json)
    parameters: dict[str, ParameterSpec]  # declared parameters a deployment can be given
    published_values: dict[str, Any]  # the development factory's values, from the parameters file
    parameters_file: str | None

    @property
    def label(self) -> str:
        return self.files.label


def _parse(files: SourceFiles, name: str) -> Part:
    raw = files.get(name)
    if raw is None:
        raise TemplateError.single(files.display(name), "file not found", hint="is this a folder ADF published?")
    template = parse_template(raw, files.display(name))
    return Part(name, files.display(name), template)


def _declared(part: Part) -> dict[str, ParameterSpec]:
    """Declared parameters without evaluating anything (defaults stay raw; the evaluator handles them)."""
    declared = part.template.get("parameters") or {}
    if not isinstance(declared, dict):
        raise TemplateError.single(part.display, "'parameters' must be an object")
    specs: dict[str, ParameterSpec] = {}
    for name, spec in declared.items():
        if not isinstance(spec, dict):
            raise TemplateError.single(part.display, "parameter declaration must be an object", object=name)
        specs[name] = ParameterSpec(
            name=name,
            type=str(spec.get("type", "string")).lower(),
            has_default="defaultValue" in spec,
            default=spec.get("defaultValue"),
            metadata=spec.get("metadata"),
        )
    return specs


def _parameter_values(files: SourceFiles, name: str) -> dict[str, Any]:
    raw = files.get(name)
    if raw is None:
        return {}
    doc = parse_template(raw, files.display(name))
    params = doc.get("parameters")
    if not isinstance(params, dict):
        raise TemplateError.single(files.display(name), "a parameters file needs a 'parameters' object")
    values: dict[str, Any] = {}
    for key, entry in params.items():
        if isinstance(entry, dict) and "value" in entry:
            values[key] = entry["value"]
        elif isinstance(entry, dict) and "reference" in entry:
            ref = entry["reference"]
            secret = ref.get("secretName", "?") if isinstance(ref, dict) else "?"
            values[key] = f"<keyvault:{secret}>"
        else:
            raise TemplateError.single(
                files.display(name), "each parameter needs a 'value' or a Key Vault 'reference'", object=key
            )
    return values


def single_published(files: SourceFiles, template: dict) -> Published:
    """The single-template layout, `template` standing for ARMTemplateForFactory.json (already parsed)."""
    part = Part(SINGLE_TEMPLATE, files.display(SINGLE_TEMPLATE), template)
    return Published(
        files=files,
        layout="single",
        entry=part,
        parts=(part,),
        parameters=_declared(part),
        published_values=_parameter_values(files, SINGLE_PARAMETERS),
        parameters_file=files.display(SINGLE_PARAMETERS) if SINGLE_PARAMETERS in files.files else None,
    )


def open_published(files: SourceFiles) -> Published:
    """Decide the layout of a factory folder and parse its templates; nothing is evaluated yet."""
    if SINGLE_TEMPLATE in files.files:
        return single_published(files, _parse(files, SINGLE_TEMPLATE).template)
    for prefix in (f"{LINKED_DIR}/", ""):
        if f"{prefix}{LINKED_MASTER}" in files.files:
            return _open_linked(files, prefix)
    raise TemplateError.single(
        files.label,
        f"no {SINGLE_TEMPLATE} and no {LINKED_DIR}/{LINKED_MASTER} here",
        hint="point at the folder ADF publishes a factory into (its name is the factory's)",
    )


def _open_linked(files: SourceFiles, prefix: str) -> Published:
    master = _parse(files, f"{prefix}{LINKED_MASTER}")
    on_disk = {name for name in files.files if name.startswith(prefix) and _PART_NAME.search(PurePosixPath(name).name)}
    named: list[str] = []
    for resource in master.template.get("resources") or []:
        if str(resource.get("type", "")).lower() != _DEPLOYMENTS:
            continue
        uri = str(((resource.get("properties") or {}).get("templateLink") or {}).get("uri", ""))
        match = _PART_LINK.search(
            uri
        )  # the uri is still an expression here: concat(containerUri, '/ArmTemplate_0.json', ...)
        if not match:
            raise TemplateError.single(
                master.display,
                "a nested deployment does not link an ArmTemplate_N.json",
                object=str(resource.get("name")),
            )
        named.append(f"{prefix}ArmTemplate_{match.group(1)}.json")
    problems = [
        Problem(master.display, f"the master links {PurePosixPath(n).name}, which is not in the folder")
        for n in named
        if n not in on_disk
    ] + [
        Problem(
            files.display(n),
            "this part is not linked from the master",
            hint="publish again from ADF Studio; a stale part would deploy objects the factory no longer has",
        )
        for n in sorted(on_disk - set(named))
    ]
    if not named:
        problems.append(Problem(master.display, "the master links no ArmTemplate_N.json parts"))
    if problems:
        raise TemplateError(problems)
    parts = tuple(_parse(files, name) for name in named)
    declared = {k: v for k, v in _declared(master).items() if k not in MASTER_ONLY_PARAMETERS}
    values = _parameter_values(files, f"{prefix}{LINKED_PARAMETERS}")
    for key in MASTER_ONLY_PARAMETERS:
        values.pop(key, None)
    params_name = f"{prefix}{LINKED_PARAMETERS}"
    return Published(
        files=files,
        layout="linked",
        entry=master,
        parts=parts,
        parameters=declared,
        published_values=values,
        parameters_file=files.display(params_name) if params_name in files.files else None,
    )


def evaluate(
    published: Published, values: dict[str, Any] | None = None, *, context: DeploymentContext | None = None
) -> Factory:
    """Evaluate every part with `values` (default: the published development values) into a Factory."""
    values = dict(published.published_values if values is None else values)
    if published.layout == "single":
        part = published.parts[0]
        evaluated = [(part, evaluate_template(part.template, values, file=part.display, context=context))]
    else:
        evaluated = _evaluate_linked(published, values, context)
    factory_name = str(evaluated[0][1].parameter_values.get("factoryName", ""))
    objects: dict[ObjectKey, FactoryObject] = {}
    seen_lower: dict[tuple[str, str], str] = {}
    problems: list[Problem] = []
    for part, result in evaluated:
        for resource in result.resources:
            key = object_key_from_arm(resource.type, resource.name)
            if key is None:
                if resource.type.lower() == "microsoft.datafactory/factories":
                    # The factory object itself is never deployed (it would wipe git and Purview settings).
                    continue
                problems.append(
                    Problem(
                        part.display,
                        f"resource type '{resource.type}' is not a Data Factory object",
                        object=resource.name,
                        hint="adf-promote deploys only a factory's child objects; remove it or deploy it elsewhere",
                    )
                )
                continue
            folded = (key.type, key.name.lower())
            if folded in seen_lower:
                problems.append(
                    Problem(
                        part.display,
                        f"duplicate object: {key} is defined twice (names are case-insensitive in ADF)",
                        object=str(key),
                        hint=f"the first is {seen_lower[folded]}; keep one",
                    )
                )
                continue
            seen_lower[folded] = str(key)
            props = resource.properties if isinstance(resource.properties, dict) else {}
            objects[key] = FactoryObject(
                key=key,
                properties=props,
                depends_on=list(resource.depends_on),
                api_version=resource.api_version,
                file=part.display,
            )
    if not objects and not problems:
        problems.append(
            Problem(
                published.entry.display,
                "the template holds no Data Factory objects",
                hint="refusing an empty factory: it would mean deleting everything",
            )
        )
    if problems:
        raise TemplateError(problems)
    return Factory(name=factory_name, objects=objects, source=published.label, parameters=published.parameters)


def _evaluate_linked(
    published: Published, values: dict[str, Any], context: DeploymentContext | None
) -> list[tuple[Part, Any]]:
    master_values = {**values, "containerUri": LINKED_DIR, "containerSasToken": ""}
    master = evaluate_template(published.entry.template, master_values, file=published.entry.display, context=context)
    by_name = {PurePosixPath(p.name).name: p for p in published.parts}
    results: list[tuple[Part, Any]] = []
    for resource in master.resources:
        if resource.type.lower() != _DEPLOYMENTS:
            continue
        props = resource.properties or {}
        uri = str((props.get("templateLink") or {}).get("uri", ""))
        match = _PART_LINK.search(uri)
        part = by_name.get(match.group(0)) if match else None
        if part is None:  # pragma: no cover - open_published already checked every link
            continue
        given = {k: v.get("value") for k, v in (props.get("parameters") or {}).items() if isinstance(v, dict)}
        results.append((part, evaluate_template(part.template, given, file=part.display, context=context)))
    return results
