"""ADF's parameterization definition (`arm-template-parameters-definition.json`) applied to one resource.

Microsoft documents the file ("Use custom parameters with a Resource Manager template"): one section per ARM type;
under it a template that mirrors the resource. A string leaf parameterizes the property at that path, written
`<action>:<name>:<type>`:

- action `=` keeps the current value as the parameter's default, `-` leaves no default, `|` is the Key Vault
  case: a property holding an `AzureKeyVaultSecret` gets its `secretName` parameterized, any other value becomes
  a secure parameter;
- name empty: the path joined by `_` after the object's name (`ls1_properties_typeProperties_url`); starting
  with `-`: the object's name and the rest (`ls1_connectionString`); anything else replaces the last segment;
- type empty: the value's own JSON type (`string`, `int`, `bool`, `object`, `array`), as ADF's output shows
  (a private endpoint's `fqdns` list becomes an `array` parameter).

`*` stands for every property at its level (not below), the other keys of that level being exceptions. A list
`[template, "path"]` matches a list property: the template applies to each element, and the segment naming the
element in the parameter name is the value at `path` inside it (the trigger's pipeline name), or its index.
The list's own key is not part of the name (`trigger1_properties_pipeline1_parameters_p`,
`pl_properties_0_typeProperties_notebookPath`). Linked services and datasets have one more level, the object's
`type` (`AzureBlobStorage`) or `*`: the specific template replaces `*`, it is not merged.

Parameters are produced in the order of the object's own properties, which is the order ADF writes them.
Unknown sections and keys are ignored, as ADF ignores them (a definition file holding an ARM template
parameterizes nothing).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from promote.build.default_definition import default_definition
from promote.build.eras import Era
from promote.build.texts import TEXTS, Texts
from promote.errors import Problem

ARM_PREFIX = "Microsoft.DataFactory/factories"
_TYPES = {
    "string": "string",
    "securestring": "secureString",
    "int": "int",
    "bool": "bool",
    "object": "object",
    "secureobject": "secureObject",
    "array": "array",
}
# Sections keyed by the object's `type` (or `*`) first. Only these: a credentials section written that way
# parameterized nothing (KenshoHigashi de9576b4), one without the level did (48eeaebc).
_TYPED = frozenset({f"{ARM_PREFIX}/linkedservices".lower(), f"{ARM_PREFIX}/datasets".lower()})
NO_DEFAULT = object()  # a parameter declared without a default value


@dataclass(frozen=True)
class Parameter:
    """One template parameter a publish declares, with the development factory's value."""

    name: str
    type: str  # as ADF writes it: string, secureString, int, bool, object, secureObject, array
    default: Any = NO_DEFAULT
    metadata: str | None = None

    @property
    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT

    @property
    def value(self) -> Any:
        """What ADF writes for it in the parameters file: the default, or an empty string without one."""
        return self.default if self.has_default else ""


@dataclass(frozen=True)
class Definition:
    """A parsed definition file: ARM type (lower case) -> template."""

    sections: dict[str, Any]
    file: str | None  # None: ADF's default definition

    def template_for(self, arm_type: str, object_type: Any) -> Any:
        """The template for one resource of `arm_type` whose `properties.type` is `object_type`."""
        section = self.sections.get(arm_type.lower())
        if not isinstance(section, dict) or not section:
            return None
        if arm_type.lower() not in _TYPED:
            return section
        typed = section.get(object_type) if isinstance(object_type, str) else None
        return typed if isinstance(typed, dict) else section.get("*")


def load_definition(parsed: Any, file: str | None, era: Era) -> tuple[Definition, list[Problem]]:
    """The repository's definition when there is one, else ADF's default; problems for a file ADF cannot use."""
    if parsed is None:
        return Definition(_lower_keys(default_definition(era)), None), []
    if not isinstance(parsed, dict):
        return Definition({}, file), [
            Problem(
                file or "arm-template-parameters-definition.json",
                "a parameterization definition must be a JSON object (one section per resource type)",
            )
        ]
    return Definition(_lower_keys(parsed), file), []


def _lower_keys(sections: dict[str, Any]) -> dict[str, Any]:
    return {key.lower(): value for key, value in sections.items()}


@dataclass(frozen=True)
class Spec:
    """One string leaf of a definition: `<action>:<name>:<type>`."""

    action: str
    name: str
    type: str

    @classmethod
    def parse(cls, text: str) -> Spec:
        action, _, rest = text.partition(":")
        name, _, type_ = rest.partition(":")
        return cls(action.strip(), name.strip(), type_.strip().split(":")[0].lower())


@functools.lru_cache(maxsize=1024)
def _spec(text: str) -> Spec:
    """`Spec.parse`, once per leaf text: a definition's few texts are met at every object of their type."""
    return Spec.parse(text)


Namer = Callable[[list[str], str], str]


def parameterize(
    resource: dict[str, Any],
    template: Any,
    entity: str,
    declare: Callable[[Parameter], str],
    texts: Texts = TEXTS["en"],
) -> dict[str, Any]:
    """`resource` (a dict holding `properties`, ...) with the properties `template` names replaced by
    `[parameters('...')]`; `declare` records each parameter and returns the name to reference (a parameter
    declared twice is declared once). The input is not modified; unchanged subtrees are shared."""
    if not isinstance(template, dict):
        return resource
    return _walk_dict(template, resource, [], entity, _Declare(declare, texts))


def _walk(template: Any, value: Any, path: list[str], entity: str, declare: _Declare) -> Any:
    if isinstance(template, str):
        return _leaf(_spec(template), value, path, entity, declare)
    if isinstance(template, dict) and isinstance(value, dict):
        return _walk_dict(template, value, path, entity, declare)
    if isinstance(template, list) and template and isinstance(value, list):
        return _walk_list(template, value, path, entity, declare)
    return value


def _walk_dict(
    template: dict[str, Any], value: dict[str, Any], path: list[str], entity: str, declare: _Declare
) -> dict[str, Any]:
    star = template.get("*")
    secure = value.get("type") == "SecureString"
    out: dict[str, Any] | None = None
    for key, item in value.items():
        sub = template.get(key, star)
        if sub is None:
            continue
        # A secure string's `value` is named after the property holding it (`..._catalogAdminPassword`).
        new = _walk(sub, item, path if secure and key == "value" else [*path, key], entity, declare)
        if new is not item:
            if out is None:
                out = dict(value)
            out[key] = new
    return value if out is None else out


def _walk_list(template: list[Any], value: list[Any], path: list[str], entity: str, declare: _Declare) -> list[Any]:
    element = template[0]
    naming = template[1] if len(template) > 1 and isinstance(template[1], str) else None
    out: list[Any] | None = None
    for index, item in enumerate(value):
        segment = _element_name(item, naming) if naming else None
        new = _walk(element, item, [*path[:-1], segment if segment is not None else str(index)], entity, declare)
        if new is not item:
            if out is None:
                out = list(value)
            out[index] = new
    return value if out is None else out


def _element_name(item: Any, path: str) -> str | None:
    for part in path.split("."):
        if not isinstance(item, dict):
            return None
        item = item.get(part)
    return item if isinstance(item, str) else None


def _leaf(spec: Spec, value: Any, path: list[str], entity: str, declare: _Declare) -> Any:
    if spec.action == "|":
        if isinstance(value, dict) and value.get("type") == "AzureKeyVaultSecret":
            if "secretName" not in value:
                return value
            secret = value["secretName"]
            inner = _expression_value(secret)
            name = declare(
                Parameter(
                    parameter_name(entity, [*path, "secretName"], ""), "string", secret if inner is None else inner
                )
            )
            return {**value, "secretName": reference(name) if inner is None else {**secret, "value": reference(name)}}
        parameter_type = _TYPES.get(spec.type or "securestring", "secureString")
        name = declare(
            Parameter(
                parameter_name(entity, path, spec.name),
                parameter_type,
                metadata=declare.texts.secure_metadata(path[-1], entity),
            )
        )
        return reference(name)
    if spec.action not in ("=", "-"):
        return value
    inner = _expression_value(value) if not spec.type else None
    if inner is not None:
        # An expression keeps its wrapper; the parameter is its text (ADF: 26 dataset paths of devlace, drosales57).
        default = inner if spec.action == "=" else NO_DEFAULT
        name = declare(Parameter(parameter_name(entity, path, spec.name), "string", default))
        return {**value, "value": reference(name)}
    found = _TYPES.get(spec.type) if spec.type else json_type(value)
    if found is None:
        return value
    default = value if spec.action == "=" and not found.startswith("secure") else NO_DEFAULT
    name = declare(Parameter(parameter_name(entity, path, spec.name), found, default))
    return reference(name)


def _expression_value(value: Any) -> str | None:
    """The text of an `{"value": "@...", "type": "Expression"}`, None for anything else."""
    if isinstance(value, dict) and value.get("type") == "Expression" and isinstance(value.get("value"), str):
        return value["value"] if len(value) == 2 else None
    return None


def parameter_name(entity: str, path: list[str], given: str) -> str:
    """ADF's parameter name for the property at `path` of object `entity` (see the module docstring)."""
    if given.startswith("-"):
        return f"{entity}_{given[1:]}"
    segments = [*path[:-1], given] if given else path
    return "_".join([entity, *segments])


class Ref(str):
    """An expression the build wrote (`[parameters('x')]`): never escaped, unlike text from the files."""

    __slots__ = ()


def reference(name: str) -> Ref:
    return Ref(f"[parameters('{name}')]")


_NOTHING: dict[str, Any] = {}


def count_refs(value: Any, original: Any = None) -> int:
    """How many expressions of the build (`Ref`) `value` holds, exactly (the writer tells them from text of the
    files by this count). What `value` shares with `original`, the properties as the file held them (the build
    never modifies those), holds none and is not visited."""
    if value is original:
        return 0
    kind = type(value)
    if kind is Ref:
        return 1
    total = 0  # (loops, not sum() of a generator: this runs for every object a definition parameterizes)
    if kind is dict:
        before = original if type(original) is dict else _NOTHING
        for key, item in value.items():
            if type(item) is not str and type(item) is not int and item is not None:
                total += count_refs(item, before.get(key))
    elif kind is list:
        items = original if type(original) is list and len(original) == len(value) else [None] * len(value)
        for item, old in zip(value, items, strict=True):
            if type(item) is not str and type(item) is not int and item is not None:
                total += count_refs(item, old)
    return total


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "string"


@dataclass(frozen=True)
class _Declare:
    """Records a parameter (returning the name to reference) and knows the texts of the publish."""

    record: Callable[[Parameter], str]
    texts: Texts

    def __call__(self, parameter: Parameter) -> str:
        return self.record(parameter)
