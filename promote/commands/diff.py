"""`promote diff`: desired state at A against desired state at B, no Azure involved."""

from __future__ import annotations

import argparse
import sys

from promote.desired import load_side
from promote.diff import Diff, diff_factories
from promote.errors import EXIT_CHANGES, EXIT_OK


def render(diff: Diff, fmt: str) -> str:
    """The diff in the requested view; every view says the same thing."""
    if fmt == "json":
        from promote.render.json_view import render_diff
    elif fmt == "markdown":
        from promote.render.markdown import render_diff
    else:
        from promote.render.text import render_diff
    text = render_diff(diff)
    return text if text.endswith("\n") else text + "\n"


def run_diff(args: argparse.Namespace) -> int:
    before = load_side(args.from_ or "HEAD", source=args.source, env_name=args.env)
    after = load_side(args.to, source=args.source, env=before.env)
    for warning in dict.fromkeys(before.warnings + after.warnings):
        print(f"warning: {warning}", file=sys.stderr)
    diff = diff_factories(before.factory, after.factory, from_label=before.label, to_label=after.label)
    sys.stdout.write(render(diff, args.format))
    return EXIT_CHANGES if args.exit_code and diff.changes else EXIT_OK
