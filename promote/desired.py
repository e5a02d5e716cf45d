"""Desired state: a published factory at some version, evaluated with an environment's values and overrides.

This is the join of the first arrows of the flow (source → template → environment). An environment file is
written for today's template. Deploying or diffing an older version (a rollback, the first commits of a
history) meets parameters that version did not declare and overrides of objects it did not have yet: those
are left out with a warning. Everything else that does not fit is an error. `promote validate` applies the same
rule to parameters, so that CI does not block what a deploy would do; an override of an object the version lacks
stays an error there (it checks the version about to be deployed, where that is a typo). An environment that
wants no lenience sets `warnings: error`: validate, plan and deploy then refuse what they would warn about
(`warning_problems`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promote.environment import (
    Environment,
    TemplateValues,
    apply_overrides,
    available_environments,
    declared_source,
    find_environment,
    load_environment,
    values_for_template,
)
from promote.environment.layout import environments_dir
from promote.errors import InputError, Problem
from promote.factory import Factory, ObjectKey
from promote.source import Revision, SourceFiles, project_root, read_source

if TYPE_CHECKING:
    from promote.loader import Published

# The loader (and the ARM evaluator under it) is imported where a template is evaluated: `promote build` and
# `publish` read the environment layout through this module and evaluate nothing (a fifth of their process).


@dataclass
class Side:
    """One evaluated version of the factory and where it came from."""

    label: str
    factory: Factory
    published: Published
    revision: Revision | None
    env: Environment | None
    values: TemplateValues | None  # the environment's values (None without an environment)
    warnings: list[str] = field(default_factory=list)


def load_env(name: str, root: Path | None = None) -> Environment:
    root = root or project_root()
    return load_environment(find_environment(name, root))


def resolve_source(source: str | None, env: Environment | None, root: Path) -> str:
    """The factory folder inside the repository: `--source`, else the environment's `source:`, else the one
    `source:` every environment file names. Nothing else: a guessed folder would diff or deploy the wrong
    factory in silence."""
    if source:
        return source
    if env is not None:
        if env.source:
            return env.source
        raise InputError.single(
            env.file,
            "the environment names no factory folder",
            line=env.key_lines.get("target"),
            hint="add 'source: <the folder ADF publishes into>' to it, or pass --source DIR",
        )
    directory = environments_dir(root)
    named = {name: declared_source(directory / f"{name}.yaml") for name in available_environments(directory)}
    sources = sorted({folder for folder in named.values() if folder})
    if len(sources) == 1:
        return sources[0]
    if not sources:
        raise InputError.single(
            "<command line>",
            "no factory folder: pass --source DIR, or --env ENV"
            + (" (no environment file names a 'source:')" if named else " (there are no environment files)"),
            hint="the folder ADF publishes into, relative to the repository root (e.g. adf-mnist-dev)",
        )
    listed = ", ".join(f"{name}: {folder}" for name, folder in sorted(named.items()) if folder)
    raise InputError.single(
        "<command line>",
        f"the environments name different factory folders ({listed})",
        hint="pass --source DIR or --env ENV to say which factory",
    )


def fit_parameters(env: Environment, published: Published) -> tuple[Environment, list[str]]:
    """The environment without values for parameters this version does not declare, and a warning for each."""
    declared = {name.lower() for name in published.parameters}
    kept = {k: v for k, v in env.parameters.items() if k.lower() in declared}
    dropped = sorted(set(env.parameters) - set(kept))
    warnings = [f"{env.file}: parameters.{name}: {published.label} does not declare it; left out" for name in dropped]
    return dataclasses.replace(env, parameters=kept), warnings


def fit_overrides(env: Environment, factory: Factory) -> tuple[Environment, list[str]]:
    """The environment without overrides of objects this version does not have, and a warning for each."""
    return fit_overrides_to(env, factory.objects, factory.source)


def fit_overrides_to(env: Environment, keys: Iterable[ObjectKey], source: str) -> tuple[Environment, list[str]]:
    """`fit_overrides` given only the object keys (`promote.quickdiff` knows them without evaluating)."""
    present = {ObjectKey(k.type, k.name.lower()) for k in keys}
    kept = tuple(o for o in env.overrides if ObjectKey(o.object.type, o.object.name.lower()) in present)
    warnings = [
        f"{env.file}:{o.line}: override of {o.object}: {source} has no such object; left out"
        for o in env.overrides
        if o not in kept
    ]
    return dataclasses.replace(env, overrides=kept), warnings


def warning_problems(env: Environment, warnings: Iterable[str]) -> list[Problem]:
    """The warnings about the environment file itself (a value for a parameter the version does not declare, an
    override of an object it does not have) as problems, when the environment sets `warnings: error`: validate,
    plan and deploy then refuse them alike (exit 2). None under the default `warnings: warn`."""
    if env.warnings != "error":
        return []
    prefix = f"{env.file}:"
    return [
        Problem(
            env.file,
            warning[len(prefix) :].lstrip("0123456789").removeprefix(":").strip(),
            line=_line_of(warning, prefix) or env.key_lines.get("warnings"),
            hint="this environment sets warnings: error; fix the file, or set warnings: warn to deploy without it",
        )
        for warning in dict.fromkeys(warnings)
        if warning.startswith(prefix)
    ]


def _line_of(warning: str, prefix: str) -> int | None:
    digits = warning[len(prefix) :].split(":", 1)[0]
    return int(digits) if digits.isdigit() else None


def desired_factory(
    published: Published, env: Environment, *, strict: bool = False
) -> tuple[Factory, TemplateValues, list[str]]:
    """Evaluate `published` with `env`'s values and overrides; (factory, values, warnings)."""
    warnings = [quirk.warning() for quirk in published.template_quirks]  # `deployable_problems` refuses them
    fitted = env
    if not strict:
        fitted, more = fit_parameters(env, published)
        warnings += more
    from promote.loader import evaluate

    values = values_for_template(fitted, published.parameters)
    factory = evaluate(published, values.values)
    if not strict:
        fitted, more = fit_overrides(fitted, factory)
        warnings += more
    return apply_overrides(fitted, factory), values, warnings


def deployable_problems(side: Side) -> list[Problem]:
    """What a deployment of this side must refuse although a diff only warns about it: what ADF published
    that ARM itself would refuse whatever the environment's values (a parameter type ARM does not have), and
    every offline check `promote validate` makes of the desired state (`promote.validate.check_factory`), so
    that a deploy refuses, with nothing written, exactly what validate refuses."""
    from promote.validate import check_factory

    quirks = [quirk.problem() for quirk in side.published.template_quirks]
    return quirks + check_factory(side.published, side.factory)


@dataclass(frozen=True)
class SideInput:
    """One side as read, before anything is evaluated: its files, where they came from, the environment.

    `promote diff` reads both sides first so that `promote.quickdiff` can compare their texts before deciding
    what to evaluate; `evaluate_side` turns one into a `Side` exactly as `load_side` always did.
    """

    label: str
    files: SourceFiles
    revision: Revision | None
    env: Environment | None


def read_side(
    spec: str | None,
    *,
    source: str | None = None,
    env_name: str | None = None,
    env: Environment | None = None,
    root: Path | None = None,
) -> SideInput:
    """`spec` is a path or a git revision (None: the factory folder on disk); nothing is parsed yet."""
    root = root or project_root()
    if env is None and env_name:
        env = load_env(env_name, root)
    if spec is not None and Path(spec).exists():  # a path: no folder inside the repository is involved
        files, revision = read_source(spec, folder="", repo=root)
    else:
        folder = resolve_source(source, env, root)
        files, revision = read_source(spec if spec is not None else str(root / folder), folder=folder, repo=root)
    if revision is None:
        label = files.label
    elif revision.commit.startswith(revision.spec):
        label = revision.short
    else:
        label = f"{revision.spec} ({revision.short})"
    return SideInput(label, files, revision, env)


def evaluate_side(side: SideInput, *, strict: bool = False) -> Side:
    """Parse and evaluate one side read by `read_side`."""
    from promote.loader import as_written, evaluate, open_published

    published = open_published(side.files)
    if side.env is None:
        written, values, warnings = as_written(published)
        return Side(side.label, evaluate(written, values), published, side.revision, None, None, warnings)
    factory, values_and_problems, warnings = desired_factory(published, side.env, strict=strict)
    return Side(side.label, factory, published, side.revision, side.env, values_and_problems, warnings)


def load_side(
    spec: str | None,
    *,
    source: str | None = None,
    env_name: str | None = None,
    env: Environment | None = None,
    strict: bool = False,
    root: Path | None = None,
) -> Side:
    """`spec` is a path or a git revision (None: the factory folder on disk)."""
    return evaluate_side(read_side(spec, source=source, env_name=env_name, env=env, root=root), strict=strict)


def secure_parameters(side: Side) -> dict[str, tuple[str, Any, str]]:
    """placeholder -> (deployment parameter name, where its value comes from, type) for the plan's templates.

    A Key Vault reference goes to ARM as it is; a `${VAR}` value is read from the process when the plan is
    applied. The plan never holds a secret. Raises InputError for a secure value the plan could only hold.
    """
    out: dict[str, tuple[str, Any, str]] = {}
    if side.env is None or side.values is None:
        return out
    problems = secure_value_problems(side.env, side.published.parameters)
    if problems:
        raise InputError(problems)
    given = {name.lower(): pv for name, pv in side.env.parameters.items()}
    for name, spec in side.published.parameters.items():
        value = side.values.values.get(name)
        pv = given.get(name.lower())
        if not spec.secure or pv is None or not isinstance(value, str) or not value.startswith("<"):
            continue
        if pv.keyvault is not None:
            out[value] = (name, pv.keyvault, spec.type)
        elif pv.env_var:
            out[value] = (name, pv.env_var, spec.type)
    return out


def secure_value_problems(env: Environment, parameters: Mapping[str, Any]) -> list[Problem]:
    """Secure values taken from the process environment that are not exactly `${VARIABLE}` (a plan could only
    hold them, not name them). Shared by deploys and `promote validate`, so that validate refuses what a deploy
    refuses. Never echoes the value."""
    declared = {name.lower(): spec for name, spec in parameters.items()}
    problems: list[Problem] = []
    for pv in env.parameters.values():
        spec = declared.get(pv.name.lower())
        if spec is None or not spec.secure or pv.keyvault is not None or not pv.from_env or pv.env_var:
            continue
        problems.append(
            Problem(
                env.file,
                "a secure value taken from the environment must be exactly ${VARIABLE}",
                object=f"parameters.{pv.name}",
                line=pv.line,
                hint="so that a saved plan can name the variable instead of holding the secret",
            )
        )
    return problems
