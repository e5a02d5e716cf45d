"""Build from the collaboration branch: what ADF's Publish (or Microsoft's automated publish, the
`@microsoft/azure-data-factory-utilities` npm package) writes to the publish branch, computed in Python.

The flow: `root` reads and checks the folder ADF Studio saves into; `secrets`, `publish_form` and `definition`
turn each object into the resource ADF publishes (secrets parameterized, ADF's model defaults, the
parameterization definition applied); `template` assembles the template and `linked` splits it; `output` writes
the files in ADF's layout; `eras` holds what changed in ADF's output over the years.

Two ways in: `build()` for `promote build` / `promote publish` (files to write), and `prepare()`, which the
loader's seam (`promote.loader.open_collaboration`) turns into the same `Published` a published folder gives, for
`diff`, `validate`, `plan` and `deploy`, without writing anything. Nothing here imports the loader.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
from collections.abc import Iterator
from dataclasses import dataclass

from promote.build.definition import load_definition
from promote.build.eras import Era, era
from promote.build.output import render
from promote.build.root import CollaborationRoot, examine_root, is_collaboration_root
from promote.build.template import BuiltTemplate, build_template
from promote.build.texts import TEXTS, Texts
from promote.errors import InputError
from promote.source import SourceFiles

__all__ = ["Build", "build", "is_collaboration_root", "prepare"]


@dataclass
class Build:
    """A build: the root it read, the template it computed, the files a publish writes (when rendered)."""

    root: CollaborationRoot
    template: BuiltTemplate
    era: Era
    texts: Texts
    files: dict[str, bytes]  # relative to the factory's folder on the publish branch; {} until rendered

    @property
    def warnings(self) -> list[str]:
        return self.template.warnings

    @property
    def factory_name(self) -> str:
        return self.template.factory_name


def prepare(
    files: SourceFiles,
    *,
    factory: str | None = None,
    as_of: dt.date | None = None,
    lenient: bool = False,
    language: str = "en",
    previous: Build | None = None,
) -> Build:
    """Read and check the root and compute its template; nothing is serialised. Raises InputError (exit 2)
    listing every problem: unreadable files, names, references, an ambiguous factory. `previous`, the build of
    another revision of the root: what is the same there is not parsed or built again (the result is the same)."""
    before = previous.root if previous is not None else None
    with _uncollected():
        root, problems = examine_root(files, factory=factory or files.factory, lenient=lenient, previous=before)
        when = era(as_of)
        definition, found = load_definition(root.definition, root.definition_file, when)
        problems += found
        texts = TEXTS[language]
        previous_template = previous.template if previous is not None else None
        template, found = build_template(root, definition, when, texts, previous_template)
        problems += found
    if problems:
        raise InputError(problems)
    return Build(root, template, when, texts, {})


def build(
    files: SourceFiles,
    *,
    factory: str | None = None,
    as_of: dt.date | None = None,
    lenient: bool = False,
    language: str = "en",
) -> Build:
    """`prepare`, then every file a publish writes."""
    prepared = prepare(files, factory=factory, as_of=as_of, lenient=lenient, language=language)
    with _uncollected():
        prepared.files = render(prepared.template, prepared.era, prepared.texts)
    return prepared


@contextlib.contextmanager
def _uncollected() -> Iterator[None]:
    """Python's cyclic garbage collector paused: a build makes a few hundred thousand objects that all live until
    it ends (the parsed files, the resources, their texts) and no cyclic garbage, so each collection the
    allocations trigger walks them for nothing (about a twelfth of a build's time). Freed memory is still freed at
    once (reference counting); the collector runs again as soon as the build ends."""
    if not gc.isenabled():  # paused by a caller (or by a build in another thread): left as it is
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            # Everything allocated meanwhile moved to the oldest generation unexamined (freeze, then unfreeze:
            # "put back into the oldest generation"): else the first allocation after `enable` starts a
            # collection of the young generation, which is every object of the build (0.45 ms of 16 ms for the
            # largest reference folder). Cyclic garbage among them waits for the next full collection. Skipped
            # when the process froze objects itself (unfreezing would release them).
            gc.freeze()
            gc.unfreeze()
        gc.enable()
