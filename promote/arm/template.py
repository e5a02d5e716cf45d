"""Evaluate a whole ARM template: parameters, variables, then every resource.

Everything the rest of the promoter knows about a factory passes through here, so the rules are strict where
ARM is strict (a required parameter without a value, an unsupported function, a copy loop) and every error names
the file, the object (resource name as written, `parameters.x`, `variables.y`), where inside it, and the
expression text.

Speed: a factory's templates are mostly literal JSON. The walk looks at each string's first character only,
memoises whole expression strings, and returns the very same dict or list when nothing inside it changed, so
an evaluated resource shares every unchanged subtree with the parsed template. Callers must therefore treat
both the parsed template and the evaluated values as read-only (copy before editing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, cast

from promote.arm.expressions import ExpressionError, Scope, evaluate_string
from promote.errors import Problem, TemplateError
from promote.untrusted import decode, load_json

__all__ = [
    "DeploymentContext",
    "EvaluatedResource",
    "EvaluatedTemplate",
    "ParameterSpec",
    "evaluate_template",
    "parse_template",
]


@dataclass(frozen=True)
class DeploymentContext:
    """Where a template is deployed: what `resourceId()`, `resourceGroup()`, `subscription()`, `deployment()` see."""

    subscription_id: str = "00000000-0000-0000-0000-000000000000"
    resource_group: str = "local"
    deployment_name: str = "promote"
    location: str = "westeurope"
    tenant_id: str = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class ParameterSpec:
    """A declared parameter: what an environment may (or must) give a value for, and how secret it is."""

    name: str
    type: str  # lower case: string, securestring, int, bool, object, secureobject, array (and hand-edited number)
    has_default: bool
    default: Any = None  # evaluated default, when has_default
    metadata: Any = None  # as written: a string or an object

    @property
    def secure(self) -> bool:
        return self.type in ("securestring", "secureobject")


@dataclass
class EvaluatedResource:
    """One resource with every expression evaluated; what the factory model turns into an object."""

    type: str  # as written in the template, e.g. Microsoft.DataFactory/factories/pipelines
    name: str  # evaluated, e.g. "adf-ml-project/train_mnist"
    api_version: str
    properties: Any  # evaluated, `[[` unescaped; shares unchanged subtrees with the template: read-only
    depends_on: list[str] = field(default_factory=list)  # evaluated
    index: int = 0  # position in the template's resources list
    other: dict[str, Any] = field(default_factory=dict)  # other evaluated top-level keys (location, tags, ...)
    name_as_written: str = ""  # the `name` before evaluation, as error messages name the resource


@dataclass
class EvaluatedTemplate:
    """A template evaluated with one set of parameter values."""

    file: str
    parameters: dict[str, ParameterSpec]
    parameter_values: dict[str, Any]  # every declared parameter's effective value (given, or its default)
    variables: dict[str, Any]
    resources: list[EvaluatedResource]


# --------------------------------------------------------------------------------------------------------------
# Reading the JSON


def parse_template(text: str | bytes, file: str) -> dict:
    """JSON text -> dict. Bytes may be UTF-8 (with or without BOM) or UTF-16/32 with a BOM.

    A template must be a JSON object; anything else, and any JSON syntax error, is a `TemplateError` with the
    line and column, because a person has to find and fix it.
    """
    text = decode(text, file, hint="save the template as UTF-8", error=TemplateError)
    doc = load_json(text, file, error=TemplateError)
    if not isinstance(doc, dict):
        raise TemplateError.single(
            file,
            f"an ARM template must be a JSON object, this file holds {_json_kind(doc)}",
            hint="is this the template ADF published (ARMTemplateForFactory.json)?",
        )
    if ESCAPED_KEY.search(text):  # rare: ADF escapes a property name starting with `[` as `[[`, ARM unescapes it
        doc = unescape_keys(doc)
    return doc


# A JSON object key of the form "[[...]": seen in published templates (ADF escapes property names that would look
# like expressions). Searched in the text so that the common template pays nothing for the rare one.
ESCAPED_KEY = re.compile(r'"\[\[(?:[^"\\]|\\.)*\]"\s*:')


def unescape_keys(value: Any) -> Any:
    """`{"[[x]": v}` -> `{"[x]": v}` everywhere, as ARM does when it deploys: keys are escaped like values."""
    if isinstance(value, dict):
        return {(k[1:] if k.startswith("[[") and k.endswith("]") else k): unescape_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unescape_keys(v) for v in value]
    return value


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "null"


# --------------------------------------------------------------------------------------------------------------
# Walking values: evaluate every string, share what did not change


def evaluate_value(value: Any, scope: Scope) -> Any:
    """Evaluate every string in `value` (property names are never evaluated, as in ARM).

    Returns `value` itself when nothing inside needed evaluation; otherwise a new container holding the new
    values and the untouched children as they were.
    """
    kind = type(value)
    if kind is str:
        return evaluate_string(value, scope) if "[" <= value < "\\" else value
    if kind is dict:
        return _walk_dict(value, scope) if value else value
    if kind is list:
        return _walk_list(value, scope) if value else value
    return value


# The two walkers below are the hot loop of the whole promoter (tens of thousands of containers per factory).
# A first pass only looks (no keys, no copies); a container is rebuilt only from its first changed child on.
# `"[" <= v < "\\"` is the fastest exact test for "starts with [" ('\\' is the next character after '[').


def _walk_dict(d: dict, scope: Scope) -> dict:
    v: Any = None
    try:
        for v in d.values():
            kind = type(v)
            if kind is str:
                if "[" <= v < "\\":
                    new = evaluate_string(v, scope)
                    if new is not v:
                        break
            elif kind is dict:
                if v:
                    new = _walk_dict(v, scope)
                    if new is not v:
                        break
            elif kind is list and v:
                new = _walk_list(v, scope)
                if new is not v:
                    break
        else:
            return d
        out = {}
        rest = iter(d.items())
        for key, old in rest:  # up to the first changed child (found by identity), unchanged
            if old is v:
                out[key] = new
                break
            out[key] = old
        for key, v in rest:
            kind = type(v)
            if kind is str:
                out[key] = evaluate_string(v, scope) if "[" <= v < "\\" else v
            elif kind is dict:
                out[key] = _walk_dict(v, scope) if v else v
            elif kind is list:
                out[key] = _walk_list(v, scope) if v else v
            else:
                out[key] = v
        return out
    except ExpressionError as exc:
        exc.path.append(next((k for k, old in d.items() if old is v), "?"))
        raise


def _walk_list(items: list, scope: Scope) -> list:
    v: Any = None
    try:
        for v in items:
            kind = type(v)
            if kind is str:
                if "[" <= v < "\\":
                    new = evaluate_string(v, scope)
                    if new is not v:
                        break
            elif kind is dict:
                if v:
                    new = _walk_dict(v, scope)
                    if new is not v:
                        break
            elif kind is list and v:
                new = _walk_list(v, scope)
                if new is not v:
                    break
        else:
            return items
        out = []
        rest = iter(items)
        for old in rest:
            if old is v:
                out.append(new)
                break
            out.append(old)
        for v in rest:
            kind = type(v)
            if kind is str:
                out.append(evaluate_string(v, scope) if "[" <= v < "\\" else v)
            elif kind is dict:
                out.append(_walk_dict(v, scope) if v else v)
            elif kind is list:
                out.append(_walk_list(v, scope) if v else v)
            else:
                out.append(v)
        return out
    except ExpressionError as exc:
        exc.path.append(next((i for i, old in enumerate(items) if old is v), -1))
        raise


# --------------------------------------------------------------------------------------------------------------
# Parameters and variables, resolved lazily with cycle detection

_NUMERIC = re.compile(r"\s*[+-]?[0-9]+\s*")
_KNOWN_TYPES = ("string", "securestring", "int", "number", "bool", "object", "secureobject", "array")


@dataclass
class _Declared:
    name: str  # as declared
    spec: dict
    type: str
    given: bool  # a value was given (not None)
    value: Any = None  # the given value, converted


class _TemplateScope(Scope):
    """Parameters and variables of one template, each evaluated at most once, on first use."""

    def __init__(
        self,
        file: str,
        parameters: dict[str, _Declared],
        variables: dict[str, tuple[str, Any]],
        context: DeploymentContext,
        deployment: dict[str, Any],
    ):
        super().__init__(context=context, deployment=deployment, tenant_id=context.tenant_id)
        self.file = file
        self._declared = parameters  # lower name -> declaration
        self._raw_variables = variables  # lower name -> (name as declared, raw value)
        self._param_cache: dict[str, Any] = {}  # exact and lower names -> value
        self._var_cache: dict[str, Any] = {}
        self.defaults: dict[str, Any] = {}  # lower name -> evaluated default
        self._stack: list[str] = []  # "parameters('x')" / "variables('y')" being evaluated

    def _enter(self, label: str, obj: str) -> None:
        if label in self._stack:
            cycle = " -> ".join([*self._stack[self._stack.index(label) :], label])
            raise TemplateError.single(
                self.file,
                f"circular reference: {cycle}",
                object=obj,
                hint="a variable or parameter default cannot depend on itself",
            )
        self._stack.append(label)

    def parameter(self, name: str) -> Any:
        value = self._param_cache.get(name, _UNSET)
        if value is not _UNSET:
            return value
        lower = name.lower()
        decl = self._declared.get(lower)
        if decl is None:
            raise ExpressionError(f"parameter '{name}' is not declared in the template")
        value = decl.value if decl.given else self.default(decl)
        self._param_cache[name] = value
        return value

    def default(self, decl: _Declared) -> Any:
        """The evaluated `defaultValue` of a parameter (it may use other parameters)."""
        lower = decl.name.lower()
        if lower in self.defaults:
            return self.defaults[lower]
        raw = decl.spec["defaultValue"]
        if type(raw) is str and not ("[" <= raw < "\\"):  # the usual literal default: nothing to evaluate
            self.defaults[lower] = raw
            return raw
        obj = f"parameters.{decl.name}"
        self._enter(f"parameters('{decl.name}')", obj)
        try:
            value = evaluate_value(raw, self)
        except ExpressionError as exc:
            exc.path.append("defaultValue")
            raise _located(self.file, obj, exc) from None
        finally:
            self._stack.pop()
        self.defaults[lower] = value
        return value

    def variable(self, name: str) -> Any:
        value = self._var_cache.get(name, _UNSET)
        if value is not _UNSET:
            return value
        lower = name.lower()
        entry = self._raw_variables.get(lower)
        if entry is None:
            raise ExpressionError(f"variable '{name}' is not declared in the template")
        declared, raw = entry
        value = self._var_cache.get(lower, _UNSET)
        if value is _UNSET:
            obj = f"variables.{declared}"
            self._enter(f"variables('{declared}')", obj)
            try:
                value = evaluate_value(raw, self)
            except ExpressionError as exc:
                raise _located(self.file, obj, exc) from None
            finally:
                self._stack.pop()
            self._var_cache[lower] = value
        self._var_cache[name] = value
        return value


_UNSET = object()


def _located(file: str, obj: str, exc: ExpressionError) -> TemplateError:
    return TemplateError.single(file, exc.describe(), object=obj, hint=exc.hint)


def _convert(decl: _Declared, value: Any) -> Any:
    return convert_value(decl.type, value)


def convert_value(kind: str, value: Any) -> Any:
    """Cheap, unambiguous conversions of a given value to a declared type (lower case); raises ValueError
    otherwise. What a deployment does with a parameter value: the loader asks it of published values first."""
    if kind in ("int", "number"):
        if isinstance(value, bool):
            raise ValueError("expects an int, got a bool")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _NUMERIC.fullmatch(value):
            return int(value)
        raise ValueError(f"expects an int, got {value!r}")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ValueError(f"expects a bool (true or false), got {value!r}")
    if kind in ("string", "securestring"):
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise ValueError(f"expects a string, got {_json_kind(value)}")
    if kind in ("object", "secureobject"):
        if isinstance(value, dict):
            return value
        raise ValueError(f"expects an object, got {_json_kind(value)}")
    if kind == "array":
        if isinstance(value, list):
            return value
        raise ValueError(f"expects an array, got {_json_kind(value)}")
    return value


def _declare_parameters(
    template: dict, values: dict[str, Any], file: str
) -> tuple[dict[str, _Declared], list[Problem]]:
    declared = template.get("parameters")
    if declared is None:
        declared = {}
    if not isinstance(declared, dict):
        raise TemplateError.single(file, "'parameters' must be an object", object="parameters")
    given_lower: dict[str, Any] = {}
    for key, value in values.items():
        given_lower.setdefault(key.lower(), value)
    out: dict[str, _Declared] = {}
    problems: list[Problem] = []
    for name, spec in declared.items():
        obj = f"parameters.{name}"
        if not isinstance(spec, dict):
            problems.append(Problem(file, "a parameter declaration must be an object", object=obj))
            continue
        raw_type = spec.get("type")
        if not isinstance(raw_type, str) or raw_type.lower() not in _KNOWN_TYPES:
            problems.append(
                Problem(
                    file,
                    f"parameter '{name}' has {'no type' if raw_type is None else f'an unknown type {raw_type!r}'}",
                    object=obj,
                    hint="ARM parameter types are string, securestring, int, bool, object, secureobject, array",
                )
            )
            continue
        lower = name.lower()
        if lower in out:
            problems.append(
                Problem(file, f"parameters '{out[lower].name}' and '{name}' differ only in case", object=obj)
            )
            continue
        value = given_lower.get(lower)
        decl = _Declared(name=name, spec=spec, type=raw_type.lower(), given=value is not None)
        if decl.given:
            try:
                decl.value = _convert(decl, value)
            except ValueError as exc:
                problems.append(
                    Problem(file, f"parameter '{name}' {exc}", object=obj, hint="fix its value in the environment")
                )
        elif "defaultValue" not in spec:
            problems.append(
                Problem(
                    file,
                    f"required parameter '{name}' has no value",
                    object=obj,
                    hint="give it a value in the parameters file or the environment",
                )
            )
        out[lower] = decl
    return out, problems


def _declare_variables(template: dict, file: str) -> dict[str, tuple[str, Any]]:
    raw = template.get("variables")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise TemplateError.single(file, "'variables' must be an object", object="variables")
    out: dict[str, tuple[str, Any]] = {}
    for name, value in raw.items():
        if name.lower() == "copy":
            raise TemplateError.single(
                file,
                "variable copy loops are not supported",
                object="variables.copy",
                hint="ADF never emits them; write the values out",
            )
        if name.lower() in out:
            raise TemplateError.single(
                file, f"variables '{out[name.lower()][0]}' and '{name}' differ only in case", object=f"variables.{name}"
            )
        out[name.lower()] = (name, value)
    return out


# --------------------------------------------------------------------------------------------------------------
# The template

_RESOURCE_KEYS = ("name", "type", "apiVersion", "properties", "dependsOn", "condition", "copy", "resources")


def evaluate_template(
    template: dict,
    parameter_values: dict[str, Any],
    *,
    file: str,
    context: DeploymentContext | None = None,
) -> EvaluatedTemplate:
    """Evaluate parameters, variables and every resource of `template` (as `parse_template` returns it).

    `parameter_values` maps a parameter name to its plain value; a value of None counts as not given (the
    default applies). Names the template does not declare are ignored (the caller checks them against
    `EvaluatedTemplate.parameters`). The result shares unchanged subtrees with `template`: treat both as
    read-only.
    """
    context = context or DeploymentContext()
    declared, problems = _declare_parameters(template, parameter_values, file)
    if problems:
        raise TemplateError(problems)
    variables = _declare_variables(template, file)
    deployment = {
        "name": context.deployment_name,
        "properties": {
            "mode": "Incremental",
            "provisioningState": "Accepted",
            "template": {"contentVersion": template.get("contentVersion", "1.0.0.0")},
        },
    }
    scope = _TemplateScope(file, declared, variables, context, deployment)

    specs: dict[str, ParameterSpec] = {}
    values: dict[str, Any] = {}
    for decl in declared.values():
        has_default = "defaultValue" in decl.spec
        default = scope.default(decl) if has_default else None
        specs[decl.name] = ParameterSpec(
            name=decl.name,
            type=decl.type,
            has_default=has_default,
            default=default,
            metadata=decl.spec.get("metadata"),
        )
        values[decl.name] = scope.parameter(decl.name)

    resources = _evaluate_resources(template, scope, file)
    evaluated_variables = {declared_name: scope.variable(declared_name) for declared_name, _ in variables.values()}
    return EvaluatedTemplate(
        file=file, parameters=specs, parameter_values=values, variables=evaluated_variables, resources=resources
    )


def _evaluate_resources(template: dict, scope: _TemplateScope, file: str) -> list[EvaluatedResource]:
    raw_resources = template.get("resources")
    if raw_resources is None:
        return []
    if not isinstance(raw_resources, list):
        raise TemplateError.single(
            file,
            f"'resources' must be an array, found {_json_kind(raw_resources)}",
            object="resources",
            hint="templates with symbolic resource names (languageVersion 2.0) are not supported",
        )
    out: list[EvaluatedResource] = []
    for index, raw in enumerate(raw_resources):
        if not isinstance(raw, dict):
            raise TemplateError.single(file, "a resource must be an object", object=f"resources[{index}]")
        written = raw.get("name")
        obj = written if isinstance(written, str) and written else f"resources[{index}]"
        try:
            resource = _evaluate_resource(raw, index, scope, file, obj)
        except ExpressionError as exc:
            raise _located(file, obj, exc) from None
        if resource is not None:
            out.append(resource)
    return out


def _evaluate_resource(raw: dict, index: int, scope: _TemplateScope, file: str, obj: str) -> EvaluatedResource | None:
    if "copy" in raw:
        raise TemplateError.single(
            file, "copy loops are not supported", object=obj, hint="ADF never emits them; write each resource out"
        )
    if raw.get("resources"):
        raise TemplateError.single(
            file,
            "nested resources are not supported",
            object=obj,
            hint="ADF never emits them; move each child to the top-level resources list with its full name",
        )
    if "condition" in raw:
        condition = _field(raw, "condition", scope)
        if not isinstance(condition, bool):
            raise TemplateError.single(file, "'condition' must evaluate to true or false", object=obj)
        if not condition:
            return None
    # Fields one by one rather than one walk of the whole resource: no throw-away copy of the resource itself.
    key = "name"
    try:
        name = raw.get("name")
        if type(name) is str and "[" <= name < "\\":
            name = evaluate_string(name, scope)
        key = "type"
        rtype = raw.get("type")
        if type(rtype) is str and "[" <= rtype < "\\":
            rtype = evaluate_string(rtype, scope)
        key = "apiVersion"
        api_version = raw.get("apiVersion")
        if type(api_version) is str and "[" <= api_version < "\\":
            api_version = evaluate_string(api_version, scope)
        key = "properties"
        properties = evaluate_value(raw["properties"], scope) if "properties" in raw else {}
        key = "dependsOn"
        depends_on = raw.get("dependsOn")
        if depends_on:
            depends_on = _walk_list(depends_on, scope) if type(depends_on) is list else depends_on
        key = ""
        other = {}
        if len(raw) > 5 or "dependsOn" not in raw or "properties" not in raw:
            for key, value in raw.items():
                if key not in _RESOURCE_KEYS:
                    other[key] = evaluate_value(value, scope)
    except ExpressionError as exc:
        if key:
            exc.path.append(key)
        raise
    if not (type(name) is str and type(rtype) is str and type(api_version) is str):
        for key, value in (("name", name), ("type", rtype), ("apiVersion", api_version)):
            if type(value) is not str:
                found = "nothing" if key not in raw else _json_kind(value)
                raise TemplateError.single(file, f"the resource's '{key}' must be a string, found {found}", object=obj)
    if depends_on is None:
        depends_on = []
    elif type(depends_on) is not list:
        raise TemplateError.single(file, "'dependsOn' must be an array", object=obj)
    else:
        for i, entry in enumerate(depends_on):
            if type(entry) is not str:
                raise TemplateError.single(
                    file,
                    f"dependsOn[{i}] must be a string (a resource name or id), got {_json_kind(entry)}",
                    object=obj,
                )
    return EvaluatedResource(
        type=cast(str, rtype),
        name=cast(str, name),
        api_version=cast(str, api_version),
        properties=properties,
        depends_on=depends_on,
        index=index,
        other=other,
        name_as_written=raw["name"],
    )


def _field(raw: dict, key: str, scope: Scope) -> Any:
    try:
        return evaluate_value(raw[key], scope)
    except ExpressionError as exc:
        exc.path.append(key)
        raise
