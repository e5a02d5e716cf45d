"""Where a repository's environment files are: one factory, or one folder of them per factory.

A repository holds one factory (`environments/<env>.yaml`) or many (`environments/<factory>/<env>.yaml`, one
folder per factory, as platform teams keep one factory per domain). Both can be there at once: the files directly
in `environments/` are then one more factory, with no name. Which files a factory's environments read from git is
each file's `source:`.

A factory's name is a folder name, so it is also a GitHub environment prefix (`<factory>-production`) and a
concurrency group: letters, digits, `-` and `_`.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from promote.environment.hints import nearest
from promote.environment.reader import available_environments, declared_source
from promote.errors import EnvironmentFileError

ENVIRONMENTS = "environments"
_FACTORY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
# The factory a command works on (`--factory`): set once by the command line, read wherever environment files are
# looked up, so that every command takes it without each one passing it along.
_SELECTED: ContextVar[str] = ContextVar("factory", default="")


def select_factory(root: Path | None, factory: str | None) -> None:
    """Make `factory` the one this command works on; an unknown one is bad input (exit 2) naming the known ones."""
    if factory:
        environments_dir(root or Path.cwd(), factory)
    _SELECTED.set(factory or "")


def selected_factory() -> str:
    return _SELECTED.get()


def scoped(environment: str) -> str:
    """An environment's name for what promote keeps locally (its lock, its journal): `<factory>.<env>` with a
    factory selected, so that two factories' `staging` never share them."""
    factory = selected_factory()
    return f"{factory}.{environment}" if factory else environment


@dataclass(frozen=True)
class FactoryFiles:
    """One factory's environment files: its name ("" for the files directly in `environments/`), their folder
    (relative to the repository), the environments, and the folders their `source:` names."""

    name: str
    directory: str
    environments: tuple[str, ...]
    sources: tuple[str, ...]


def environments_dir(root: Path, factory: str | None = None) -> Path:
    """`environments/`, or `environments/<factory>/` (default: the selected factory); an unknown factory is bad
    input naming the known ones."""
    base = Path(root) / ENVIRONMENTS
    factory = selected_factory() if factory is None else factory
    if not factory:
        return base
    if not _FACTORY_NAME.match(factory) or not (base / factory).is_dir():
        known = factory_names(root)
        close = nearest(factory, known) if known else None
        if known:
            hint = (f"did you mean '{close}'? " if close else "") + f"factories: {', '.join(known)}"
        else:
            hint = f"this repository has one factory: leave out the factory, or add {base}/<factory>/"
        raise EnvironmentFileError.single(str(base), f"unknown factory '{factory}'", hint=hint)
    return base / factory


def factory_names(root: Path) -> list[str]:
    """The folders of `environments/` that hold environment files, sorted."""
    base = Path(root) / ENVIRONMENTS
    if not base.is_dir():
        return []
    return sorted(
        p.name for p in base.iterdir() if p.is_dir() and _FACTORY_NAME.match(p.name) and any(p.glob("*.yaml"))
    )


def factories(root: Path) -> list[FactoryFiles]:
    """Every factory of the repository: the unnamed one first (when `environments/*.yaml` exist), then by name."""
    out = []
    for name in ["", *factory_names(root)]:
        directory = environments_dir(root, name)
        files = sorted(p for p in directory.glob("*.yaml") if p.is_file())
        if not files:
            continue
        sources = sorted({s for s in map(declared_source, files) if s})
        out.append(
            FactoryFiles(
                name=name,
                directory=directory.relative_to(root).as_posix(),
                environments=tuple(p.stem for p in files),
                sources=tuple(sources),
            )
        )
    return out


def touches(factory: FactoryFiles, changed: list[str]) -> bool:
    """Whether any of the changed paths (relative to the repository) is one of the factory's templates or
    environment files."""
    folders = [f"{s}/" for s in factory.sources]
    for path in changed:
        if any(path.startswith(folder) for folder in folders):
            return True
        parent = PurePosixPath(path).parent.as_posix()
        if parent == factory.directory and path.endswith(".yaml"):
            return True
    return False


def find_environment(name: str, root: Path) -> Path:
    """`<root>/environments/<name>.yaml` (`environments/<factory>/<name>.yaml` with `--factory`); an unknown name
    raises EnvironmentFileError listing known ones."""
    directory = environments_dir(root)
    path = directory / f"{name}.yaml"
    plain_name = bool(name) and not any(c in name for c in "/\\") and not name.startswith(".")
    if plain_name and path.is_file():
        return path
    available = available_environments(directory)
    if not available:
        hint = f"there are no environments: add {directory / (name or '<name>')}.yaml"
    else:
        close = nearest(name, available) if name else None
        hint = (f"did you mean '{close}'? " if close else "") + f"available: {', '.join(available)}"
    raise EnvironmentFileError.single(str(directory), f"unknown environment '{name}'", hint=hint)
