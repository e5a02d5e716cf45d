"""`promote factories`: the repository's factories, their environments, and which ones a change touches.

The reusable workflow asks this first: a push deploys only the factories it changed (their templates, or their
environment files), each as its own matrix job with its own GitHub environments (`prefix`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import PurePosixPath

from promote.environment.layout import FactoryFiles, environments_dir, factories, touches
from promote.errors import EXIT_OK, InputError
from promote.init.access import prefix
from promote.source import changed_paths, project_root, resolve_ref


def run_factories(args: argparse.Namespace) -> int:
    root = project_root()
    found = factories(root)
    if args.factory:
        environments_dir(root, args.factory)  # an unknown factory is refused, naming the known ones
        found = [f for f in found if f.name == args.factory]
    if not found:
        raise InputError.single(
            str(root / "environments"),
            "no environment files",
            hint="write environments/<env>.yaml (promote init does), or environments/<factory>/<env>.yaml per factory",
        )
    changed: list[str] | None = None
    note = ""
    if args.changed_since:
        head = resolve_ref(root, args.ref).commit
        changed = changed_paths(root, args.changed_since, head)
        if changed is None:
            note = f"{args.changed_since[:12]} is not a commit here (a new branch?): every factory counts as changed"
            print(f"note: {note}", file=sys.stderr)
    marked = [(f, _label(f), changed is None or touches(f, changed)) for f in found]
    if args.format == "json":
        rows = [
            {
                "name": f.name,
                "label": label,
                "prefix": prefix(f.name),
                "directory": f.directory,
                "environments": list(f.environments),
                "sources": list(f.sources),
                "changed": touched,
            }
            for f, label, touched in marked
        ]
        print(json.dumps({"factories": rows}, indent=2))
    elif args.format == "markdown":
        lines = ["### Factories", "", "| factory | environments | templates | changed |", "|---|---|---|---|"]
        lines += [
            f"| {label} | {', '.join(f.environments)} | {', '.join(f.sources)} | {'yes' if touched else 'no'} |"
            for f, label, touched in marked
        ]
        if note:
            lines += ["", note]
        print("\n".join(lines))
    else:
        for f, label, touched in marked:
            print(f"{'*' if touched else ' '} {label:<24} {', '.join(f.environments):<32} {', '.join(f.sources)}")
        if changed is not None:
            count = sum(touched for _, _, touched in marked)
            print(f"{count} of {len(marked)} factor{'y' if len(marked) == 1 else 'ies'} changed (*)")
    return EXIT_OK


def _label(factory: FactoryFiles) -> str:
    """How a factory is named in job names and summaries: its folder, else the folder ADF publishes it into."""
    if factory.name or not factory.sources:
        return factory.name or "factory"
    return PurePosixPath(factory.sources[0]).name
