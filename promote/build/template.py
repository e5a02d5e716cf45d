"""A collaboration root -> the ARM template and parameters ADF's publish writes (`ARMTemplateForFactory.json`).

The template's shape is ADF's: `factoryName` (the only parameter of every publish) then the secrets of the linked
services then what the definition parameterizes, both in resource order; the variable `factoryId`; one
resource per object, named `[concat(parameters('factoryName'), '/<name>')]`, with `dependsOn` listing every
object it references, in the order its properties mention them (`[concat(variables('factoryId'),
'/datasets/<name>')]`); global parameters as the `globalparameters/default` resource when `publish_config.json`
asks for it. Strings starting with `[` are escaped as `[[`, as ARM would otherwise read them as expressions.

Resource order: kinds in ADF's order (pipelines, datasets, linked services, triggers, integration runtimes,
data flows, credentials, managed networks, private endpoints, global parameters), names in ordinal order. ADF
itself lists objects created after a factory's first publish at the end, an order only the development factory
knows (docs/build.md, anomalies); the objects are the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from promote.build.definition import Definition, Parameter, Ref, count_refs, parameterize
from promote.build.eras import Era
from promote.build.publish_form import Context, publish_form
from promote.build.root import CollaborationRoot, ObjectFile
from promote.build.secrets import secure_parameters
from promote.build.texts import Texts
from promote.errors import Problem
from promote.factory import REFERENCE_KINDS, ObjectKey

TEMPLATE_SCHEMA = "http://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#"
PARAMETERS_SCHEMA = "https://schema.management.azure.com/schemas/2015-01-01/deploymentParameters.json#"
CONTENT_VERSION = "1.0.0.0"
API_VERSION = "2018-06-01"
FACTORY_ID = "[concat('Microsoft.DataFactory/factories/', parameters('factoryName'))]"
GLOBAL_PARAMETERS = ObjectKey("globalParameters", "default")

# Object type -> (ARM type as ADF writes it, position in ADF's resource order).
ARM_TYPES: dict[str, str] = {
    "pipelines": "Microsoft.DataFactory/factories/pipelines",
    "datasets": "Microsoft.DataFactory/factories/datasets",
    "linkedServices": "Microsoft.DataFactory/factories/linkedServices",
    "triggers": "Microsoft.DataFactory/factories/triggers",
    "integrationRuntimes": "Microsoft.DataFactory/factories/integrationRuntimes",
    "dataflows": "Microsoft.DataFactory/factories/dataflows",
    "credentials": "Microsoft.DataFactory/factories/credentials",
    "adfcdcs": "Microsoft.DataFactory/factories/adfcdcs",
    "managedVirtualNetworks": "Microsoft.DataFactory/factories/managedVirtualNetworks",
    "managedVirtualNetworks/managedPrivateEndpoints": (
        "Microsoft.DataFactory/factories/managedVirtualNetworks/managedPrivateEndpoints"
    ),
    "globalParameters": "Microsoft.DataFactory/factories/globalparameters",
}
_ORDER = {kind: index for index, kind in enumerate(ARM_TYPES)}
# A reference's `type` -> the segment of the referenced resource's id.
_REFERENCE_PATHS = {**REFERENCE_KINDS, "ManagedVirtualNetworkReference": "managedVirtualNetworks"}
# Integration runtimes every factory has without a file for them.
BUILT_IN = frozenset({ObjectKey("integrationRuntimes", "autoresolveintegrationruntime")})
_BUILT_IN = frozenset((key.type, key.name) for key in BUILT_IN)


@dataclass
class BuiltResource:
    """One resource of the built template and the object it came from."""

    key: ObjectKey
    resource: dict[str, Any]  # the ARM resource, ready to serialise
    depends_on: tuple[ObjectKey | None, ...]  # what each `dependsOn` entry names (None: a parameterized name)
    file: str  # the object's file, for messages ("" for global parameters)
    parameters: tuple[str, ...] = ()  # the template parameters it uses (factoryName aside)
    expressions: int = 0  # the `[parameters(...)]` the build wrote into its properties (`Ref`s), exactly


@dataclass
class BuiltTemplate:
    """What a publish computes before writing files."""

    factory_name: str
    parameters: list[Parameter]
    resources: list[BuiltResource]
    global_parameters: dict[str, Any]  # the factory's global parameters (for globalParameters/)
    warnings: list[str] = field(default_factory=list)
    groups: dict[str, int] = field(default_factory=dict)  # parameter -> 1 names, 2 secrets, 3 the definition's
    floats: bool = True  # whether a value may be a float (a file held one): the writer checks only then
    # What another revision's build may take from this one (`build_template`'s `previous`).
    reuse: _Reuse | None = field(default=None, repr=False, compare=False)

    def template(self, resources: list[BuiltResource] | None = None) -> dict[str, Any]:
        """The ARM template holding `resources` (default: all) and the parameters they use; its resources are not
        escaped yet (`escaped` does it)."""
        chosen = self.resources if resources is None else resources
        return {
            "$schema": TEMPLATE_SCHEMA,
            "contentVersion": CONTENT_VERSION,
            "parameters": declarations(self.parameters_of(chosen) if resources is not None else self.parameters),
            "variables": {"factoryId": FACTORY_ID},
            "resources": [r.resource for r in chosen],
        }

    def parameters_file(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        values = {p.name: {"value": p.value} for p in self.parameters}
        for name, value in (extra or {}).items():
            values[name] = {"value": value}
        return {"$schema": PARAMETERS_SCHEMA, "contentVersion": CONTENT_VERSION, "parameters": values}

    def parameters_of(self, resources: list[BuiltResource]) -> list[Parameter]:
        """factoryName and the parameters `resources` use, ordered as the template orders its own: by group
        (names, secrets, the definition's), then by resource (as ADF declares them in a linked part)."""
        by_name = {p.name: p for p in self.parameters}
        groups = self.groups
        used = [n for n in dict.fromkeys(n for r in resources for n in r.parameters) if n in groups]
        used.sort(key=groups.__getitem__)  # stable: within a group, in the order of first use
        return [by_name[name] for name in ("factoryName", *used) if name in by_name]


def declarations(parameters: list[Parameter]) -> dict[str, Any]:
    """The template's `parameters` section as ADF writes it."""
    out: dict[str, Any] = {}
    for p in parameters:
        spec: dict[str, Any] = {"type": p.type}
        if p.metadata is not None:
            spec["metadata"] = p.metadata
        if p.has_default:
            spec["defaultValue"] = escape(p.default)
        out[p.name] = spec
    return out


class _Record(NamedTuple):
    """What building one object did, to be done again without building it (`build_template`'s `previous`). A
    named tuple: one is made per object of every build, and a frozen dataclass costs twice as much to make."""

    doc: dict[str, Any]  # the parsed file it was built from (shared between revisions by `examine_root`)
    path: str
    built: BuiltResource
    declared: tuple[tuple[int, Parameter], ...]  # (1 names, 2 secrets, 3 the definition's; the parameter), in order
    warning: str | None  # without the file's name
    reads: tuple[tuple[str, Any], ...]  # what it looked up about other objects (`Context.reads`, `present`)


@dataclass(frozen=True)
class _Reuse:
    """A build's records and what they were built with."""

    basis: tuple[Any, ...]  # the publish's date and texts, the definition: what every object's build reads
    context: Context
    present: set[tuple[str, str]]
    records: dict[tuple[str, str], _Record]

    def gives_the_same(self, record: _Record, context: Context, present: set[tuple[str, str]]) -> bool:
        """Whether every lookup `record` made has the same answer in `context` and `present`."""
        for read in record.reads:
            if read[0] == "present":
                if (read[1] in self.present) != (read[1] in present):
                    return False
            else:
                before, now = self.context.answer(read), context.answer(read)
                if before is not now and before != now:
                    return False
        return True


def build_template(
    root: CollaborationRoot,
    definition: Definition,
    era: Era,
    texts: Texts,
    previous: BuiltTemplate | None = None,
) -> tuple[BuiltTemplate, list[Problem]]:
    """The template a publish of `root` writes, and the problems that make it unpublishable.

    `previous`, the template of another revision of the root: an object built there from the same parsed file
    (`examine_root`'s `previous`), and without problems, is not built again when everything else its build read
    is the same: the publish's date and texts, the definition, and each answer it got about other objects (which
    exist, their names, data flows and linked service parameters: `Context.reads`). Its resource is taken and its
    parameters declared again, in order, so the result is the same as without `previous`
    (`tests/test_collabdiff.py` builds every reference pair and random edits both ways)."""
    metadata = texts.factory_name if era.has("descriptions_lower_case") else "Data Factory Name"
    factory_parameter = Parameter("factoryName", "string", root.factory_name, metadata=metadata)
    named: dict[str, Parameter] = {}
    secure: dict[str, Parameter] = {}
    defined: dict[str, Parameter] = {}

    used: list[str] = []  # the parameters of the object being built
    declared: list[tuple[int, Parameter]] = []  # and the declarations it made
    tables = {1: named, 2: secure, 3: defined}

    def declare_in(table: dict[str, Parameter]):
        group = 2 if table is secure else 3

        def declare(parameter: Parameter) -> str:
            if parameter.name not in secure and parameter.name not in defined:
                table[parameter.name] = parameter
            used.append(parameter.name)
            declared.append((group, parameter))
            return parameter.name

        return declare

    declare_secure, declare_defined = declare_in(secure), declare_in(defined)  # (per object: `used`, `declared`)
    objects = sorted(root.objects, key=lambda o: (_ORDER.get(o.type, len(_ORDER)), o.name))
    # (type, lower-case name) of every object, as plain tuples: looked up once per reference
    present = {(o.type, o.name.lower()) for o in objects} | set(root.unreadable)
    context = Context(
        names={(o.type, o.name.lower()): o.name for o in objects},
        dataflows={o.name.lower(): o.properties for o in objects if o.type == "dataflows"},
        linked_service_parameters={
            o.name.lower(): frozenset(o.properties.get("parameters") or {})
            for o in objects
            if o.type == "linkedServices" and isinstance(o.properties.get("parameters") or {}, dict)
        },
    )
    basis = (era, texts, definition.sections)
    reuse = previous.reuse if previous is not None and previous.reuse and previous.reuse.basis == basis else None
    reusable = reuse.records if reuse is not None else {}
    records: dict[tuple[str, str], _Record] = {}
    warnings = list(root.warnings)
    problems: list[Problem] = []
    resources: list[BuiltResource] = []
    for obj in objects:
        used.clear()
        declared.clear()
        context.reads.clear()
        record = reusable.get((obj.type, obj.name.lower()))
        if (
            reuse is not None
            and record is not None
            and record.doc is obj.doc
            and record.path == obj.path
            and reuse.gives_the_same(record, context, present)
        ):
            for group, parameter in record.declared:
                if group == 1:
                    named[parameter.name] = parameter
                elif parameter.name not in secure and parameter.name not in defined:
                    tables[group][parameter.name] = parameter
            if record.warning:
                warnings.append(f"{obj.display}: {record.warning}")
            was = record.built
            built = BuiltResource(was.key, was.resource, was.depends_on, obj.display, was.parameters, was.expressions)
            records[(obj.type, obj.name.lower())] = record
            resources.append(built)
            continue
        entity = obj.name.split("/")[-1]
        properties = obj.properties
        warning = None
        if obj.type == "linkedServices":
            properties, warning = secure_parameters(entity, properties, declare_secure, era, texts)
            if warning:
                warnings.append(f"{obj.display}: {warning}")
        properties = publish_form(obj.type, properties, era, context)
        resource = {"properties": properties}
        template = definition.template_for(ARM_TYPES[obj.type], properties.get("type"))
        resource = parameterize(resource, template, entity, declare_defined, texts)
        if not isinstance(resource["properties"], dict):
            problems.append(_whole_properties(definition, f"{obj.type}/{obj.name}"))
            continue
        built, found = _resource(obj, resource["properties"], present, context)
        built.expressions = count_refs(built.resource["properties"], obj.properties) if used else 0
        if obj.type == "integrationRuntimes" and not era.has("integration_runtime_names_fixed"):
            # Until 2020 a runtime's name was a parameter of the template.
            name = f"integrationRuntime_{obj.name}"
            named[name] = Parameter(name, "string", obj.name, metadata="Integration runtime name")
            declared.append((1, named[name]))
            built.resource["name"] = f"[concat(parameters('factoryName'), '/', parameters('{name}'))]"
            used.insert(0, name)
        built.parameters = tuple(dict.fromkeys(used))
        problems.extend(found)
        resources.append(built)
        if not found:
            records[(obj.type, obj.name.lower())] = _Record(
                obj.doc, obj.path, built, tuple(declared), warning, tuple(context.reads)
            )
    global_parameters = root.global_parameters
    if root.publish_config.get("includeGlobalParamsTemplate") is True:
        resource = {"properties": global_parameters}
        template = definition.template_for(ARM_TYPES["globalParameters"], None)
        if template is None:
            template = _factory_global_parameters(definition)
        used.clear()
        resource = parameterize(resource, template, "default", declare_in(defined), texts)
        if not isinstance(resource["properties"], dict):
            problems.append(_whole_properties(definition, str(GLOBAL_PARAMETERS)))
            resource = {"properties": global_parameters}
        resources.append(
            BuiltResource(
                GLOBAL_PARAMETERS,
                _arm_resource("globalParameters", "default", resource["properties"], []),
                (),
                root.factory_file or "",
                tuple(dict.fromkeys(used)),
                count_refs(resource["properties"], global_parameters) if used else 0,
            )
        )
    parameters = [factory_parameter, *named.values(), *secure.values(), *defined.values()]
    groups = {name: group for group, table in enumerate((named, secure, defined), 1) for name in table}
    template = BuiltTemplate(root.factory_name, parameters, resources, global_parameters, warnings, groups, root.floats)
    template.reuse = _Reuse(basis, context, present, records)
    return template, problems


def _whole_properties(definition: Definition, label: str) -> Problem:
    """A definition whose template makes an object's whole `properties` one parameter: the object's content would
    be a parameter's value, its references unknown to `dependsOn` (ADF's own definitions parameterize inside)."""
    return Problem(
        definition.file or "arm-template-parameters-definition.json",
        "the parameterization definition makes the whole 'properties' one parameter",
        object=label,
        hint="parameterize the properties inside it, such as typeProperties, as ADF's default definition does",
    )


def _factory_global_parameters(definition: Definition) -> Any:
    """A definition without a `globalparameters` section: its factory section's `globalParameters` template."""
    section = definition.sections.get("microsoft.datafactory/factories")
    if isinstance(section, dict):
        props = section.get("properties")
        if isinstance(props, dict) and isinstance(props.get("globalParameters"), dict):
            return {"properties": props["globalParameters"]}
    return None


def _resource(
    obj: ObjectFile, properties: dict[str, Any], present: set[tuple[str, str]], context: Context
) -> tuple[BuiltResource, list[Problem]]:
    problems: list[Problem] = []
    depends: list[ObjectKey | None] = []
    entries: list[str] = []
    seen: set[str] = set()
    done: set[tuple[str, str]] = set()  # (type, lower-case name) already listed, or reported missing
    own = (obj.type, obj.name.lower())
    references = list(_pipeline_references(properties) if obj.type == "pipelines" else _references(properties))
    if obj.type == "linkedServices" and isinstance(properties.get("connectVia"), dict):
        # ADF lists a linked service's runtime first, wherever connectVia is written (24 linked services)
        via = list(_references(properties["connectVia"]))
        references = via + [r for r in references if r not in via]
    if obj.type == "managedVirtualNetworks/managedPrivateEndpoints":
        references = []
    for kind, name in references:
        if _is_parameter(name):
            entry = _depends_entry(kind, name)
            if entry not in seen:
                seen.add(entry)
                entries.append(entry)
                depends.append(None)
            continue
        key = (kind, name.lower())
        if key == own or key in done:
            continue
        done.add(key)
        context.reads.append(("present", key))
        if key not in present:
            if key in _BUILT_IN:
                continue
            problems.append(
                Problem(
                    obj.display,
                    f"references {kind}/{name}, which the root does not hold",
                    object=f"{obj.type}/{obj.name}",
                    hint=f"add its file under {_folder_of(kind)}/ or fix the reference",
                )
            )
            continue
        entry = _depends_entry(kind, context.canonical(kind, name))
        if entry not in seen:
            seen.add(entry)
            entries.append(entry)
            depends.append(ObjectKey(*key))
    if obj.type == "managedVirtualNetworks/managedPrivateEndpoints":
        vnet = obj.name.split("/")[0]
        entries = [_depends_entry("managedVirtualNetworks", vnet)]
        depends = [ObjectKey("managedVirtualNetworks", vnet.lower())]
    resource = _arm_resource(obj.type, obj.name, properties, entries)
    return BuiltResource(ObjectKey(obj.type, obj.name), resource, tuple(depends), obj.display), problems


def _arm_resource(kind: str, name: str, properties: dict[str, Any], depends_on: list[str]) -> dict[str, Any]:
    return {
        "name": f"[concat(parameters('factoryName'), '/{_quote(name)}')]",
        "type": ARM_TYPES[kind],
        "apiVersion": API_VERSION,
        "properties": properties,  # escaped when written (promote.build.jsonfmt) or evaluated (`escaped`)
        "dependsOn": depends_on,
    }


def _depends_entry(kind: str, name: str) -> str:
    if _is_parameter(name):
        return f"[concat(variables('factoryId'), '/{kind}/', {name[1:-1]})]"
    return f"[concat(variables('factoryId'), '/{kind}/{_quote(name)}')]"


def _is_parameter(name: str) -> bool:
    return type(name) is Ref


def _quote(text: str) -> str:
    """A literal inside an ARM expression string: single quotes doubled."""
    return text.replace("'", "''")


def _folder_of(kind: str) -> str:
    from promote.build.root import KIND_FOLDERS

    return next((folder for folder, type_ in KIND_FOLDERS.items() if type_ == kind), kind)


def _references(node: Any) -> list[tuple[str, str]]:
    """(object type, name) of every reference in document order (depth first), as `dependsOn` lists them."""
    found: list[tuple[str, str]] = []
    _collect(node, found)
    return found


def _collect(node: Any, found: list[tuple[str, str]]) -> None:
    if type(node) is dict:
        _collect_dict(node, found)
    elif type(node) is list:
        _collect_list(node, found)


def _collect_dict(node: dict[str, Any], found: list[tuple[str, str]]) -> None:
    name = node.get("referenceName")
    if name is not None:
        kind = node.get("type")
        target = _REFERENCE_PATHS.get(kind) if isinstance(kind, str) else None
        if target is not None and isinstance(name, str):
            found.append((target, name))
    for value in node.values():
        kind = type(value)
        if kind is dict:
            _collect_dict(value, found)
        elif kind is list:
            _collect_list(value, found)


def _collect_list(node: list[Any], found: list[tuple[str, str]]) -> None:
    for value in node:
        kind = type(value)
        if kind is dict:
            _collect_dict(value, found)
        elif kind is list:
            _collect_list(value, found)


_NESTED = ("activities", "ifTrueActivities", "ifFalseActivities", "defaultActivities")
_CONTAINERS = frozenset((*_NESTED, "cases"))  # an activity holding none of these is walked whole at once


def _pipeline_references(properties: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """A pipeline's references level by level: every activity's own before those of the activities nested in
    it (ForEach, Until, If, Switch), as ADF lists them (10 pipelines list nested activities' last)."""
    activities = properties.get("activities")
    if not isinstance(activities, list):  # not what Studio saves: walked whole, as any other property
        yield from _references(properties)
        return
    outer = {k: v for k, v in properties.items() if k != "activities"}
    yield from _references(outer)
    level = [a for a in activities if isinstance(a, dict)]
    while level:
        nested: list[dict[str, Any]] = []
        for activity in level:
            tp = activity.get("typeProperties")
            if isinstance(tp, dict) and not _CONTAINERS.isdisjoint(tp):
                cases = tp.get("cases")
                taken = {k for k in _NESTED if isinstance(tp.get(k), list)}
                inner = [tp[k] for k in _NESTED if k in taken]
                if isinstance(cases, list):
                    taken.add("cases")
                    inner += [c.get("activities") for c in cases if isinstance(c, dict)]
                lists = [lst for lst in inner if isinstance(lst, list)]
                if lists:
                    own_tp = {k: v for k, v in tp.items() if k not in taken}
                    yield from _references({**activity, "typeProperties": own_tp})
                    nested += [a for lst in lists for a in lst if isinstance(a, dict)]
                    continue
            yield from _references(activity)
        level = nested


def escaped(template: dict[str, Any]) -> dict[str, Any]:
    """`template` as the files would give it to the evaluator: what ARM would read as an expression escaped."""
    return {**template, "resources": [escaped_resource(r) for r in template["resources"]]}


def escaped_resource(resource: dict[str, Any]) -> dict[str, Any]:
    return {**resource, "properties": escape(resource["properties"])}


def escape(value: Any) -> Any:
    """`value` with every string (and key) starting with `[` escaped as `[[`, except the expressions the build
    wrote (`Ref`), which become plain strings."""
    if isinstance(value, str):
        if type(value) is Ref:
            return str(value)  # plain text from here on: the evaluator reads exact `str`s only
        return "[" + value if value.startswith("[") else value
    if isinstance(value, dict):
        out: dict[str, Any] | None = None
        for key, item in value.items():
            new = escape(item)
            new_key = "[" + key if key.startswith("[") else key
            if new is not item or new_key is not key:
                if out is None:
                    out = {}
                    for k2, v2 in value.items():
                        if k2 == key:
                            break
                        out[k2] = v2
                out[new_key] = new
            elif out is not None:
                out[key] = item
        return value if out is None else out
    if isinstance(value, list):
        items = [escape(item) for item in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value
