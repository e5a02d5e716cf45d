"""`promote diff`: desired state at A against desired state at B (no Azure involved), or, with `--env` alone, a
revision's desired state against the environment's live factory (`promote.session`)."""

from __future__ import annotations

import argparse
import sys

from promote.desired import evaluate_side, read_side
from promote.diff import Diff
from promote.errors import EXIT_CHANGES, EXIT_OK, PromoteError
from promote.explain import explain
from promote.versiondiff import diff_versions


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
    before = read_side(args.from_ or "HEAD", source=args.source, env_name=args.env)
    try:
        after = read_side(args.to, source=args.source, env=before.env)
    except PromoteError:
        evaluate_side(before)  # the old side was always evaluated before the new one was read: its error wins
        raise
    # Both sides read: the fast path diffs only what differs, and falls back to evaluating both whole
    # (promote.quickdiff), so the answer and any error are those of evaluating both sides.
    result = diff_versions(before, after)
    for warning in dict.fromkeys(result.warnings):
        print(f"warning: {warning}", file=sys.stderr)
    diff = explain(result.diff)  # no live factory: referrers from the old side, no trigger is started
    sys.stdout.write(render(diff, args.format))
    return EXIT_CHANGES if args.exit_code and diff.changes else EXIT_OK


def run_live_diff(args: argparse.Namespace) -> int:
    """`promote diff --env ENV [--ref REF]`: what a deploy of REF would change in ENV."""
    from promote.session import open_session

    with open_session(args.env, source=args.source) as s:
        diff = s.live_diff(args.ref or "HEAD", s.read_live())
    sys.stdout.write(render(diff, args.format))
    return EXIT_CHANGES if args.exit_code and diff.changes else EXIT_OK
