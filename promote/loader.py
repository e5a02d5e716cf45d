"""A published factory folder -> a `Factory`: objects keyed by (type, name), evaluated, with references.

ADF publishes a factory twice over: `ARMTemplateForFactory.json` (one template) and, once the factory is large,
`linkedTemplates/` (a master chaining `ArmTemplate_0.json`, `ArmTemplate_1.json`, ...). The single file is
preferred when present. A linked master holds no factory object at all: reading it alone is how other tools
end up deleting every object, so here a master is always followed to every part it names, and a part file the
master does not name is an error rather than something silently skipped.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from promote.arm import DeploymentContext, ParameterSpec, evaluate_template, parse_template
from promote.arm.template import convert_value
from promote.errors import Problem, TemplateError
from promote.factory import Factory, FactoryObject, ObjectKey, object_key_from_arm
from promote.names import resource_name_problem
from promote.secrets import is_keyvault_placeholder, secure_placeholder
from promote.source import (
    LINKED_DIR,
    LINKED_MASTER,
    LINKED_PARAMETERS,
    SINGLE_PARAMETERS,
    SINGLE_TEMPLATE,
    SourceFiles,
)

if TYPE_CHECKING:
    from promote.build import Build
    from promote.build.template import BuiltResource

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


# ARM's parameter types; anything else in a template is refused by ARM.
ARM_TYPES = ("string", "securestring", "int", "bool", "object", "secureobject", "array")
_DESCRIBED = {
    "int": "an int",
    "number": "a number",
    "bool": "true or false",
    "object": "an object",
    "secureobject": "an object",
    "array": "an array",
    "string": "a string",
    "securestring": "a string",
}


@dataclass(frozen=True)
class Quirk:
    """Something ADF itself published that a deployment cannot take as it is, for one parameter.

    A diff between two versions never needs a deployable value, so it compares such a parameter as written and
    warns (`warning`); `validate`, `plan` and `deploy` refuse it (`problem`) where they would use it. Most quirks
    are in the development values only (`in_values`): an environment replaces them, so a deploy with an
    environment does not care. A quirk of the template itself (a type ARM does not have) stops every deploy.
    """

    parameter: str
    file: str
    what: str  # what ADF wrote, in a person's words
    hint: str  # what to do instead
    in_values: bool = True  # False: wrong whatever the values are
    written: Any = None  # the value compared in its place
    written_type: str = "string"  # the type it is evaluated as

    def problem(self) -> Problem:
        return Problem(self.file, self.what, object=f"parameters.{self.parameter}", hint=self.hint)

    def warning(self) -> str:
        return f"{self.file}: parameters.{self.parameter}: {self.what}; compared as written"


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
    quirks: tuple[Quirk, ...] = ()  # what ADF published that a deployment cannot take (see `Quirk`)
    # (object type, lower-case name) -> the file an object came from, when that is not the template (a
    # collaboration root built in memory: promote.build)
    origins: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.files.label

    @property
    def template_quirks(self) -> tuple[Quirk, ...]:
        """The quirks no environment can fix: every deploy refuses them."""
        return tuple(q for q in self.quirks if not q.in_values)


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


def _parameter_values(files: SourceFiles, name: str) -> tuple[dict[str, Any], list[str]]:
    """The parameters file's values, and the names of entries holding neither a value nor a reference (ADF
    writes those; they become quirks, not errors: a deploy with an environment never uses them)."""
    raw = files.get(name)
    if raw is None:
        return {}, []
    doc = parse_template(raw, files.display(name))
    params = doc.get("parameters")
    if not isinstance(params, dict):
        raise TemplateError.single(files.display(name), "a parameters file needs a 'parameters' object")
    values: dict[str, Any] = {}
    empty: list[str] = []
    for key, entry in params.items():
        if isinstance(entry, dict) and "value" in entry:
            values[key] = entry["value"]
        elif isinstance(entry, dict) and "reference" in entry:
            ref = entry["reference"]
            secret = ref.get("secretName", "?") if isinstance(ref, dict) else "?"
            values[key] = f"<keyvault:{secret}>"  # no vault: the parameters file names it by resource id
        elif isinstance(entry, dict):
            empty.append(key)
        else:
            raise TemplateError.single(
                files.display(name), "each parameter needs a 'value' or a Key Vault 'reference'", object=key
            )
    return values, empty


def _quirks(
    declared: dict[str, ParameterSpec],
    values: dict[str, Any],
    empty: list[str],
    template: str,
    parameters_file: str | None,
) -> tuple[Quirk, ...]:
    """What ADF published that a deployment could not take, per declared parameter (see `Quirk`)."""
    where = parameters_file or template
    no_file = "" if parameters_file else " and wrote no parameters file"
    empty_lower = {name.lower() for name in empty}
    quirks: list[Quirk] = []
    for name, spec in declared.items():
        if spec.type not in ARM_TYPES:
            quirks.append(
                Quirk(
                    name,
                    template,
                    f"is declared of type '{spec.type}', which ARM does not have (ADF's custom parameterization "
                    "writes the type arm-template-parameters-definition.json gives, as it is): ARM refuses "
                    "the template",
                    "write its type as int there (ARM's types: " + ", ".join(ARM_TYPES) + ") and publish again",
                    in_values=False,
                )
            )
        if name in values:
            try:
                convert_value(spec.type, values[name])
            except ValueError:
                written = values[name]
                shown = json.dumps(written)[:40]
                quirks.append(
                    Quirk(
                        name,
                        where,
                        f"the published value {shown} is not {_DESCRIBED.get(spec.type, 'of type ' + spec.type)} "
                        f'(ADF writes "value": "" for a parameter of type {spec.type} without a default)',
                        "give it a value in the environment file",
                        written=written,
                        written_type=_json_type(written),
                    )
                )
            continue
        if spec.has_default:
            continue
        if name.lower() in empty_lower:
            what = "the parameters file's entry has neither 'value' nor 'reference' (as ADF wrote it)"
        elif spec.secure:
            what = f"a {spec.type} parameter without a value: ADF publishes no secret values{no_file}"
        else:
            what = f"no value and no default: ADF published none{no_file}"
        quirks.append(
            Quirk(
                name,
                where,
                what,
                "give it a value in the environment file" + (" (Key Vault or ${VAR})" if spec.secure else ""),
                written=secure_placeholder(name) if spec.secure else f"[parameters('{name}')]",
                written_type="securestring" if spec.secure else "string",
            )
        )
    return tuple(quirks)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "string"


def single_published(files: SourceFiles, template: dict) -> Published:
    """The single-template layout, `template` standing for ARMTemplateForFactory.json (already parsed)."""
    part = Part(SINGLE_TEMPLATE, files.display(SINGLE_TEMPLATE), template)
    declared = _declared(part)
    values, empty = _parameter_values(files, SINGLE_PARAMETERS)
    parameters_file = files.display(SINGLE_PARAMETERS) if SINGLE_PARAMETERS in files.files else None
    return Published(
        files=files,
        layout="single",
        entry=part,
        parts=(part,),
        parameters=declared,
        published_values=values,
        parameters_file=parameters_file,
        quirks=_quirks(declared, values, empty, part.display, parameters_file),
    )


def open_published(files: SourceFiles) -> Published:
    """Decide the layout of a factory folder and parse its templates; nothing is evaluated yet."""
    if SINGLE_TEMPLATE in files.files:
        return single_published(files, _parse(files, SINGLE_TEMPLATE).template)
    for prefix in (f"{LINKED_DIR}/", ""):
        if f"{prefix}{LINKED_MASTER}" in files.files:
            return _open_linked(files, prefix)
    from promote.build import is_collaboration_root

    if is_collaboration_root(files):  # the folder ADF Studio saves into: built as a publish would build it
        return open_collaboration(files)
    raise TemplateError.single(
        files.label,
        f"no {SINGLE_TEMPLATE} and no {LINKED_DIR}/{LINKED_MASTER} here",
        hint="point at the folder ADF publishes a factory into (its name is the factory's)",
    )


def open_collaboration(files: SourceFiles) -> Published:
    """A collaboration root as the `Published` of the template a publish would write (`promote.build`)."""
    from promote.build import prepare

    return collaboration_published(prepare(files))


def collaboration_published(prepared: Build, resources: list[BuiltResource] | None = None) -> Published:
    """`open_collaboration`'s `Published` of a build, its template holding `resources` (default: all; the diff
    of two revisions evaluates only those that differ, `promote.collabdiff`)."""
    from promote.build.template import declarations, escaped, escaped_resource

    files = prepared.root.files
    built = prepared.template
    template = escaped(built.template() if resources is None else {**built.template(), "resources": []})
    if resources is not None:
        template["resources"] = [escaped_resource(r.resource) for r in resources]
    display = f"{files.label.rstrip('/')} (built: {SINGLE_TEMPLATE})"
    part = Part(SINGLE_TEMPLATE, display, template)
    specs = {
        name: ParameterSpec(
            name=name,
            type=str(spec["type"]).lower(),
            has_default="defaultValue" in spec,
            default=spec.get("defaultValue"),
            metadata=spec.get("metadata"),
        )
        for name, spec in declarations(built.parameters).items()
    }
    origins = {(r.key.type, r.key.name.lower()): r.file for r in built.resources if r.file}
    return Published(
        files=files,
        layout="single",
        entry=part,
        parts=(part,),
        parameters=specs,
        published_values={p.name: p.value for p in built.parameters},
        parameters_file=None,
        origins=origins,
    )


def _member(value: dict, key: str) -> dict:
    """`value[key]` when it is an object, else an empty one (a master's nested deployment, read for its link)."""
    found = value.get(key)
    return found if isinstance(found, dict) else {}


def _open_linked(files: SourceFiles, prefix: str) -> Published:
    master = _parse(files, f"{prefix}{LINKED_MASTER}")
    on_disk = {name for name in files.files if name.startswith(prefix) and _PART_NAME.search(PurePosixPath(name).name)}
    named: list[str] = []
    resources = master.template.get("resources") or []
    if not isinstance(resources, list):
        raise TemplateError.single(master.display, "'resources' must be an array", object="resources")
    for index, resource in enumerate(resources):
        if not isinstance(resource, dict):
            raise TemplateError.single(master.display, "a resource must be an object", object=f"resources[{index}]")
        if str(resource.get("type", "")).lower() != _DEPLOYMENTS:
            continue
        uri = str(_member(_member(resource, "properties"), "templateLink").get("uri", ""))
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
    values, empty = _parameter_values(files, f"{prefix}{LINKED_PARAMETERS}")
    for key in MASTER_ONLY_PARAMETERS:
        values.pop(key, None)
    params_name = f"{prefix}{LINKED_PARAMETERS}"
    parameters_file = files.display(params_name) if params_name in files.files else None
    return Published(
        files=files,
        layout="linked",
        entry=master,
        parts=parts,
        parameters=declared,
        published_values=values,
        parameters_file=parameters_file,
        quirks=_quirks(declared, values, empty, master.display, parameters_file),
    )


def as_written(published: Published) -> tuple[Published, dict[str, Any], list[str]]:
    """What a diff without an environment evaluates: the published values, each quirk compared as written.

    Returns a Published whose templates declare each quirky parameter with the type of what stands in its
    place (so `"value": ""` of an int parameter evaluates to `""`, a missing secure value to an opaque
    placeholder, a missing plain value to its own `[parameters('x')]` text), the values, and one warning per
    quirk. Without quirks, `published` itself. Never deploy what this evaluates to.
    """
    quirky = {q.parameter.lower(): q for q in published.quirks if q.in_values}
    warnings = [q.warning() for q in published.quirks]
    values = {k: v for k, v in published.published_values.items() if k.lower() not in quirky}
    values.update({q.parameter: q.written for q in quirky.values()})
    retyped = {lower: q.written_type for lower, q in quirky.items()}
    for name, spec in published.parameters.items():
        # ADF never publishes a secret: a secure parameter's published value is a dummy (mostly ""), so it is
        # opaque like any secret, and the parameter it comes from is what is compared.
        if spec.secure and name in values and not is_keyvault_placeholder(values[name]):
            values[name] = secure_placeholder(name)
            retyped[name.lower()] = "securestring"  # a secureobject's placeholder is text too
    if not retyped:
        return published, values, warnings

    def patched(part: Part) -> Part:
        declared = part.template.get("parameters")
        if not isinstance(declared, dict) or not any(name.lower() in retyped for name in declared):
            return part
        new = dict(declared)
        for name, spec in declared.items():
            if name.lower() in retyped and isinstance(spec, dict):
                new[name] = {**spec, "type": retyped[name.lower()]}
        return dataclasses.replace(part, template={**part.template, "parameters": new})

    entry = patched(published.entry)
    parts = (entry,) if published.layout == "single" else tuple(patched(part) for part in published.parts)
    return dataclasses.replace(published, entry=entry, parts=parts), values, warnings


def evaluate(
    published: Published, values: dict[str, Any] | None = None, *, context: DeploymentContext | None = None
) -> Factory:
    """Evaluate every part with `values` (default: the published development values, as written: see
    `as_written`) into a Factory."""
    if values is None:
        published, values, _ = as_written(published)
    values = dict(values)
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
            why = resource_name_problem(key.type, resource.name, factory_name)
            if why:
                problems.append(
                    Problem(
                        part.display,
                        f"the name '{resource.name}' {why}",
                        object=resource.name_as_written or resource.name,
                        hint="publish again from ADF Studio: it names each object <factory>/<name>",
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
            if not isinstance(resource.properties, dict):
                problems.append(
                    Problem(part.display, "'properties' must be an object", object=resource.name_as_written or str(key))
                )
                continue
            props = resource.properties
            objects[key] = FactoryObject(
                key=key,
                properties=props,
                depends_on=list(resource.depends_on),
                api_version=resource.api_version,
                file=published.origins.get((key.type, key.name.lower()), part.display),
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
    linked: list[tuple[Part, dict[str, Any]]] = []
    problems: list[Problem] = []
    for resource in master.resources:
        if resource.type.lower() != _DEPLOYMENTS:
            continue
        props = resource.properties if isinstance(resource.properties, dict) else {}
        uri = str(_member(props, "templateLink").get("uri", ""))
        match = _PART_LINK.search(uri)
        part = by_name.get(match.group(0)) if match else None
        if part is None:  # pragma: no cover - open_published already checked every link
            continue
        given = {k: v.get("value") for k, v in _member(props, "parameters").items() if isinstance(v, dict)}
        problems += _passed_problems(published.entry, part, resource.name, given)
        linked.append((part, given))
    if problems:
        raise TemplateError(problems)
    return [
        (part, evaluate_template(part.template, given, file=part.display, context=context)) for part, given in linked
    ]


def _passed_problems(master: Part, part: Part, deployment: str, given: dict[str, Any]) -> list[Problem]:
    """What the master passes to a part must be what the part declares, as ARM requires of a nested deployment.

    A master that passes a parameter to the wrong part (hand-edited, or parts from another publish) would
    otherwise surface as "required parameter has no value" in the part, which points at the environment,
    where the value is given already: the master is what is wrong, and the message names it and the part.
    """
    declared = part.template.get("parameters")
    declared = declared if isinstance(declared, dict) else {}
    by_lower = {name.lower(): spec for name, spec in declared.items()}
    passed = {name.lower() for name in given}
    name = PurePosixPath(part.name).name
    problems = []
    unknown = sorted(n for n in given if n.lower() not in by_lower)
    if unknown:
        problems.append(
            Problem(
                master.display,
                f"passes {', '.join(unknown)} to {name}, which does not declare "
                f"{'it' if len(unknown) == 1 else 'them'} (ARM refuses such a deployment)",
                object=deployment,
                hint=f"publish again from ADF Studio: the master and {part.display} must come from one publish",
            )
        )
    missing = sorted(
        n
        for n, spec in declared.items()
        if n.lower() not in passed and not (isinstance(spec, dict) and "defaultValue" in spec)
    )
    if missing:
        problems.append(
            Problem(
                master.display,
                f"passes no value for {', '.join(missing)}, which {name} requires",
                object=deployment,
                hint=f"publish again from ADF Studio: the master and {part.display} must come from one publish",
            )
        )
    return problems
