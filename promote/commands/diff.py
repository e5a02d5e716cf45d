"""`promote diff`: desired state at A against desired state at B, no Azure involved."""

from __future__ import annotations

import argparse
import sys

from promote.desired import Side, load_side
from promote.diff import diff_factories
from promote.errors import EXIT_CHANGES, EXIT_OK
from promote.render import render_diff


def run_diff(args: argparse.Namespace) -> int:
    before: Side = load_side(args.from_ or "HEAD", source=args.source, env_name=args.env, strict=False)
    after: Side = load_side(args.to, source=args.source, env_name=args.env, strict=True)
    diff = diff_factories(before.factory, after.factory, from_label=before.label, to_label=after.label)
    sys.stdout.write(render_diff(diff, args.format))
    if not render_diff(diff, args.format).endswith("\n"):
        sys.stdout.write("\n")
    return EXIT_CHANGES if args.exit_code and diff.changes else EXIT_OK
