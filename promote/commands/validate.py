"""`promote validate`: every offline check, for each environment and for the published values, all listed.

Each environment is checked with its own values, by the rules a deploy applies (a value for a parameter this
version no longer declares is left out with a warning, as `deploy` does). The values ADF published beside the
templates (the development factory's) are checked too, but what only they get wrong is a warning whenever an
environment replaces them: a deploy never uses them. Without any environment they are the only values there
are, and their problems are errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from promote import github
from promote.desired import (
    fit_parameters,
    load_env,
    project_root,
    resolve_source,
    secure_value_problems,
    warning_problems,
)
from promote.environment import (
    Environment,
    available_environments,
    check_smoke,
    overrides_and_problems,
    values_and_problems,
)
from promote.environment.layout import environments_dir
from promote.errors import EXIT_INPUT, EXIT_OK, InputError, Problem
from promote.loader import Published, as_written, evaluate, open_published
from promote.render import counted
from promote.source import read_source
from promote.validate import check_factory


class _Folders:
    """Each factory folder opened once, its template-level checks recorded once."""

    def __init__(self, ref: str | None, root: Path, problems: list[Problem]):
        self.ref, self.root, self.problems = ref, root, problems
        self.opened: dict[str, Published | None] = {}

    def open(self, folder: str) -> Published | None:
        if folder not in self.opened:
            spec = self.ref if self.ref is not None else str(self.root / folder)
            try:
                files, _ = read_source(spec, folder=folder, repo=self.root)
                published = open_published(files)
            except InputError as exc:
                self.problems.extend(exc.problems)
                self.opened[folder] = None
                return None
            self.problems.extend(quirk.problem() for quirk in published.template_quirks)
            self.opened[folder] = published
        return self.opened[folder]


def _published_values_problems(published: Published) -> list[Problem]:
    """The development values as ADF published them: what ADF wrote that no deployment could take, then every
    check of the factory they give (each quirk compared as written, so the other checks still run)."""
    found = [quirk.problem() for quirk in published.quirks if quirk.in_values]
    written, values, _ = as_written(published)
    try:
        factory = evaluate(written, values)
    except InputError as exc:
        return found + exc.problems
    return found + check_factory(published, factory)


def _warn(env: Environment, found: list[str], warnings: list[str], problems: list[Problem]) -> None:
    """What deploy warns about the environment file: a warning here too, or a problem under `warnings: error`."""
    as_problems = warning_problems(env, found)
    problems.extend(as_problems)
    if not as_problems:
        warnings.extend(found)


def run_validate(args: argparse.Namespace) -> int:
    root = project_root()
    names = args.env if args.env is not None else available_environments(environments_dir(root))
    problems: list[Problem] = []
    warnings: list[str] = []
    checked: list[str] = []
    folders = _Folders(args.ref, root, problems)
    with_environment: set[str] = set()  # folders some environment's values were checked against

    loaded = 0
    for name in names:
        try:
            env = load_env(name, root)  # the environment file's own errors, reported as such
            folder = resolve_source(args.source, env, root)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        loaded += 1
        published = folders.open(folder)
        if published is None:
            continue
        with_environment.add(folder)
        fitted, dropped = fit_parameters(env, published)  # the rule `deploy` applies: a warning, not an error
        _warn(env, dropped, warnings, problems)
        values, found = values_and_problems(fitted, published.parameters)
        found += secure_value_problems(fitted, published.parameters)  # what a deploy would refuse
        problems.extend(found)
        if found:
            continue
        try:
            factory = evaluate(published, values.values)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        # an override of an object this version lacks stays an error here (a typo'd name is caught in CI); a
        # deploy leaves it out with a warning, for the older versions a rollback goes back to
        factory, found = overrides_and_problems(fitted, factory)
        problems.extend(found)
        problems.extend(check_smoke(env, factory))
        problems.extend(check_factory(published, factory))
        checked.append(f"environment {name}")

    if not names or (loaded == 0 and args.source):  # no environment: the templates on their own
        try:
            folders.open(resolve_source(args.source, None, root))
        except InputError as exc:
            problems.extend(exc.problems)
    for folder, published in folders.opened.items():
        if published is None:
            continue
        found = _published_values_problems(published)
        if folder in with_environment:  # an environment replaces these values: what only they get wrong warns
            seen = set(problems)
            warnings.extend(f"with the published (development) values: {p.render()}" for p in found if p not in seen)
        else:
            problems.extend(found)
        checked.append(f"{published.label} with its published values")

    unique = list(dict.fromkeys(problems))
    warned = list(dict.fromkeys(warnings))
    if args.format == "json":
        print(
            json.dumps(
                {"checked": checked, "problems": [p.__dict__ for p in unique], "warnings": warned},
                indent=2,
            )
        )
    else:
        for line in checked:
            print(f"checked {line}")
        for warning in warned:
            print(f"warning: {warning}", file=sys.stderr)
        for p in unique:
            print(f"  ✗ {p.render()}", file=sys.stderr)
        print("valid" if not unique else counted(len(unique), "problem"))
    github.report_problems("validate", unique)  # annotations and job summary in GitHub Actions
    return EXIT_INPUT if unique else EXIT_OK
