"""An environment's parameter values checked against one template's declarations.

The template evaluator gets plain values in which every secret is an opaque placeholder (so secrets never reach a
diff or a printout), plus the ARM deployment parameters that carry the real values or Key Vault references for the
deploy itself (`TemplateValues`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from promote.environment.hints import did_you_mean, kind_of
from promote.environment.model import Environment, ParameterValue, TemplateValues
from promote.environment.nodes import secret_misused
from promote.errors import EnvironmentFileError, Problem
from promote.secrets import secure_placeholder
from promote.untrusted import parse_json

if TYPE_CHECKING:
    from promote.arm.template import ParameterSpec

_EXPECTED = {
    "string": (str, "a string"),
    "securestring": (str, "a string"),
    "int": (int, "an integer"),
    "bool": (bool, "true or false"),
    "object": (dict, "a mapping"),
    "secureobject": (dict, "a mapping"),
    "array": (list, "a list"),
}


def _coerce(value: Any, spec: ParameterSpec, from_env: bool) -> tuple[Any, str | None, str | None]:
    """(value, problem, hint): a value of the template's type.

    A `${VAR}` value is always text, so only such values are converted (int, bool; JSON for objects and
    arrays). A literal of the wrong type is refused as ARM would refuse it, but before anything is deployed.
    """
    expected = _EXPECTED.get(spec.type.lower())
    if expected is None:
        return value, None, None
    python_type, described = expected
    ok = isinstance(value, python_type) and (python_type is bool or not isinstance(value, bool))
    if ok:
        return value, None, None
    if from_env and isinstance(value, str):
        converted: Any = None
        text = value.strip()
        if python_type is int and re.fullmatch(r"[-+]?\d+", text):
            converted = int(text)
        elif python_type is bool and text.lower() in ("true", "false"):
            converted = text.lower() == "true"
        elif python_type in (dict, list):
            try:
                converted = parse_json(text)  # strict: no NaN, bounded nesting
            except ValueError:
                converted = None
        if isinstance(converted, python_type):
            return converted, None, None
        return (
            value,
            f"the environment variable's text is not {described} (type {spec.type})",
            ("write it as JSON" if python_type in (dict, list) else None),
        )
    hint = None
    if python_type is str and value is not None:
        hint = "quote the value in YAML: unquoted on/off/yes/no are booleans and 1.10 is the number 1.1"
    elif isinstance(value, str):
        hint = "remove the quotes" if python_type in (int, bool) else None
    return value, f"expected {described} for a parameter of type {spec.type}, got {kind_of(value)}", hint


def _strings_in(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value} if value else set()
    if isinstance(value, dict):
        return set().union(*(_strings_in(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_strings_in(v) for v in value)) if value else set()
    return set()


def values_and_problems(
    env: Environment, parameters: Mapping[str, ParameterSpec]
) -> tuple[TemplateValues, list[Problem]]:
    """The environment's values for a template, with the problems found; the values hold what could be given.

    `values_for_template` refuses on any problem; a diff's older side uses this directly, since an
    environment written for today's template may name parameters an older version did not have.
    """
    problems: list[Problem] = []
    values: dict[str, Any] = {}
    deployment: dict[str, dict[str, Any]] = {}
    secrets: set[str] = set()
    by_lower = {name.lower(): name for name in parameters}

    def problem(pv: ParameterValue, message: str, hint: str | None = None) -> None:
        problems.append(
            Problem(file=env.file, message=message, line=pv.line, object=f"parameters.{pv.name}", hint=hint)
        )

    given: set[str] = set()
    for pv in env.parameters.values():
        declared = pv.name if pv.name in parameters else by_lower.get(pv.name.lower())
        if declared is None:
            problem(
                pv,
                "the template declares no such parameter",
                did_you_mean(pv.name, list(parameters), "its parameters are"),
            )
            continue
        spec = parameters[declared]
        given.add(declared)
        if pv.secret and not spec.secure:
            problem(pv, *secret_misused(str(pv.env_var)))
            continue
        if pv.keyvault is not None:
            if not spec.secure:
                problem(
                    pv,
                    f"a Key Vault reference for a parameter of type {spec.type}",
                    "ARM shows non-secure parameter values in the deployment history; "
                    "only securestring and secureobject parameters can take a secret",
                )
                continue
            values[declared] = pv.keyvault.placeholder()
            deployment[declared] = pv.keyvault.to_arm()
            continue
        if pv.unset:
            if not spec.secure:
                problem(
                    pv,
                    f"environment variable {pv.env_var} is not set",
                    f"set {pv.env_var} in the environment that runs promote, e.g. from a CI secret, "
                    "or write the value in the file",
                )
                continue
            values[declared] = secure_placeholder(declared, pv.env_var)  # `apply` reads the variable
            continue
        if spec.secure and not pv.from_env:
            problem(
                pv,
                f"a plaintext value for a {spec.type} parameter is refused",
                "put it in Key Vault: {keyvault: {vault: <name>, secret: <name>}} "
                "or pass it as ${VAR} from the environment",
            )
            continue
        value, message, hint = _coerce(pv.value, spec, pv.from_env)
        if message is not None:
            problem(pv, message, hint)  # never echoes the value: it may be a secret
            continue
        if spec.secure:
            values[declared] = secure_placeholder(declared, pv.env_var)
            secrets |= _strings_in(value)
        else:
            values[declared] = value
        deployment[declared] = {"value": value}

    factory_name = "factoryName" if "factoryName" in parameters else by_lower.get("factoryname")
    if factory_name is not None and factory_name not in given:
        values[factory_name] = env.target.factory
        deployment[factory_name] = {"value": env.target.factory}
        given.add(factory_name)

    for name, spec in parameters.items():
        if not spec.has_default and name not in given:
            problems.append(
                Problem(
                    file=env.file,
                    message=f"required parameter '{name}' has no value",
                    line=env.key_lines.get("parameters") or env.key_lines.get("target"),
                    object=f"parameters.{name}",
                    hint=f"the template gives it no default; add '{name}:' under parameters"
                    + (" (as Key Vault or ${VAR}: it is secure)" if spec.secure else ""),
                )
            )
    return TemplateValues(values, deployment, frozenset(secrets)), problems


def check_parameters(env: Environment, parameters: Mapping[str, ParameterSpec]) -> list[Problem]:
    """Every problem of the environment's parameter values against a template's declarations."""
    return values_and_problems(env, parameters)[1]


def values_for_template(env: Environment, parameters: Mapping[str, ParameterSpec]) -> TemplateValues:
    """The environment's values for a template: printable evaluation values and the ARM deployment parameters.

    `factoryName` comes from `target.factory` unless the file gives it. Raises EnvironmentFileError with every
    problem (undeclared or missing parameters, plaintext secrets, wrong types).
    """
    result, problems = values_and_problems(env, parameters)
    if problems:
        raise EnvironmentFileError(problems)
    return result
