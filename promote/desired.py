"""Desired state: a published factory at some version, evaluated with an environment's values and overrides.

This is the join of the first arrows of the flow (source → template → environment). `strict` is for the
side being deployed: every parameter and override must fit it. The older side of a diff is read leniently,
because an environment file describes today's template, not every version before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from promote.environment import (
    Environment,
    TemplateValues,
    apply_overrides,
    find_environment,
    load_environment,
    overrides_applied,
    template_values,
    values_for_template,
)
from promote.errors import GitError
from promote.factory import Factory
from promote.loader import Published, evaluate, open_published
from promote.source import DEFAULT_SOURCE, Revision, read_source, repo_root


@dataclass
class Side:
    """One evaluated version of the factory and where it came from."""

    label: str
    factory: Factory
    published: Published
    revision: Revision | None
    env: Environment | None
    values: TemplateValues | None  # the environment's values (None without an environment)


def project_root() -> Path:
    """The repository holding the current directory, or the directory itself outside git."""
    try:
        return repo_root()
    except GitError:
        return Path.cwd()


def load_env(name: str, root: Path | None = None) -> Environment:
    root = root or project_root()
    return load_environment(find_environment(name, root / "environments"))


def load_side(
    spec: str | None,
    *,
    source: str | None = None,
    env_name: str | None = None,
    env: Environment | None = None,
    strict: bool = True,
    root: Path | None = None,
) -> Side:
    """`spec` is a path or a git revision (None: the factory folder on disk)."""
    root = root or project_root()
    if env is None and env_name:
        env = load_env(env_name, root)
    folder = source or (env.source if env and env.source else None) or DEFAULT_SOURCE
    files, revision = read_source(spec if spec is not None else str(root / folder), folder=folder, repo=root)
    published = open_published(files)
    if revision is None:
        label = files.label
    elif revision.commit.startswith(revision.spec):
        label = revision.short
    else:
        label = f"{revision.spec} ({revision.short})"
    if env is None:
        return Side(label, evaluate(published), published, revision, None, None)
    if strict:
        values = values_for_template(env, published.parameters)
        factory = apply_overrides(env, evaluate(published, values.values))
    else:
        values, _ = template_values(env, published.parameters)
        merged = {name: value for name, value in published.published_values.items() if name in published.parameters}
        merged.update(values.values)
        factory, _ = overrides_applied(env, evaluate(published, merged))
    return Side(label, factory, published, revision, env, values)
