"""`promote validate`: every offline check, for the published values and for each environment, all listed."""

from __future__ import annotations

import argparse
import json
import sys

from promote import github
from promote.commands.engine import secure_value_problems
from promote.desired import load_env, project_root
from promote.environment import available_environments, check_smoke, overrides_applied, template_values
from promote.errors import EXIT_INPUT, EXIT_OK, InputError, Problem
from promote.loader import Published, evaluate, open_published
from promote.source import DEFAULT_SOURCE, read_source
from promote.validate import check_factory, check_references


def _published(spec: str | None, folder: str, root) -> Published:
    files, _ = read_source(spec if spec is not None else str(root / folder), folder=folder, repo=root)
    return open_published(files)


def run_validate(args: argparse.Namespace) -> int:
    root = project_root()
    names = args.env if args.env is not None else available_environments(root / "environments")
    problems: list[Problem] = []
    checked: list[str] = []
    cache: dict[str, Published] = {}

    def published_for(folder: str) -> Published:
        if folder not in cache:
            cache[folder] = _published(args.ref, folder, root)
            factory = evaluate(cache[folder])
            problems.extend(check_factory(cache[folder], factory))
            checked.append(f"{cache[folder].label} with its published values")
        return cache[folder]

    for name in names:
        try:
            env = load_env(name, root)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        published = published_for(args.source or env.source or DEFAULT_SOURCE)
        values, found = template_values(env, published.parameters)
        found += secure_value_problems(env, published.parameters)  # what a deploy would refuse
        problems.extend(found)
        if found:
            continue
        try:
            factory = evaluate(published, values.values)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        factory, found = overrides_applied(env, factory)
        problems.extend(found)
        problems.extend(check_smoke(env, factory))
        problems.extend(check_references(factory))
        checked.append(f"environment {name}")

    if not cache:  # no environment named a folder: check the templates on their own
        published_for(args.source or DEFAULT_SOURCE)
    unique = list(dict.fromkeys(problems))
    if args.format == "json":
        print(json.dumps({"checked": checked, "problems": [p.__dict__ for p in unique]}, indent=2))
    else:
        for line in checked:
            print(f"checked {line}")
        for p in unique:
            print(f"  ✗ {p.render()}", file=sys.stderr)
        print("valid" if not unique else f"{len(unique)} problem(s)")
    github.report_problems("validate", unique)  # annotations and job summary in GitHub Actions
    return EXIT_INPUT if unique else EXIT_OK
