"""The command line: parse arguments, call one command, map the outcome to an exit code.

This is the only module that decides exit codes (DESIGN.md's contract). Commands live in `promote.commands`,
each a function taking parsed arguments and returning an int; they import the Azure SDKs themselves, so that
`promote --help` and the offline commands start fast.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Sequence

from promote import __version__
from promote.errors import EXIT_FAILURE, EXIT_INTERRUPTED, PromoteError
from promote.source import DEFAULT_SOURCE


def _add_source(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--source",
        default=None,
        metavar="DIR",
        help=f"the factory folder inside the repository (default: the environment's `source`, else {DEFAULT_SOURCE})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="promote",
        description="GitOps promotion for Azure Data Factory: diff, validate, plan, deploy and roll back the ARM "
        "templates ADF publishes to adf_publish.",
    )
    parser.add_argument("--version", action="version", version=f"adf-promote {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    diff = sub.add_parser(
        "diff",
        help="show what changes between two versions of the factory (git refs or paths)",
        description="Object-level differences between two versions of a published factory. Each side is a git "
        "ref (any `git rev-parse` revision) or a path. Without --env each side uses the parameter values "
        "published beside it; with --env both use that environment's values and overrides.",
    )
    diff.add_argument("--from", dest="from_", metavar="A", default=None, help="the old side (default: HEAD)")
    diff.add_argument("--to", metavar="B", default=None, help="the new side (default: the folder on disk)")
    diff.add_argument("--env", metavar="ENV", default=None, help="evaluate both sides with environments/ENV.yaml")
    diff.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    diff.add_argument("--exit-code", action="store_true", help="exit 3 when there are changes")
    _add_source(diff)

    validate = sub.add_parser(
        "validate",
        help="check templates and environments offline (references, ARM limits, names, parameters)",
        description="Offline checks of the factory's templates with each environment. Lists every problem "
        "and exits 2 when there is any.",
    )
    validate.add_argument("--ref", default=None, help="validate the factory at this git ref (default: on disk)")
    validate.add_argument(
        "--env", action="append", default=None, metavar="ENV", help="environment(s) to check (default: all)"
    )
    validate.add_argument("--format", choices=("text", "json"), default="text")
    _add_source(validate)

    emulator = sub.add_parser(
        "emulator",
        help="serve the local Azure Resource Manager + Data Factory emulator over HTTPS on 127.0.0.1",
        description="A local endpoint that the real Azure clients talk to; `environments/local.yaml` targets it.",
    )
    emulator.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    emulator.add_argument("--state-dir", default=".promote/emulator", help="where state and certificates live")
    return parser


@contextlib.contextmanager
def error_boundary() -> Iterator[list[int]]:
    """Map expected errors, Ctrl-C and bugs to exit codes and one readable message each."""
    outcome = [0]
    try:
        yield outcome
    except PromoteError as exc:
        print(f"error: {exc}" if "\n" not in str(exc) else f"error:\n{exc}", file=sys.stderr)
        outcome[0] = exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        outcome[0] = EXIT_INTERRUPTED


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with error_boundary() as outcome:
        outcome[0] = _dispatch(args)
    return outcome[0] if outcome[0] is not None else EXIT_FAILURE


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "diff":
        from promote.commands.diff import run_diff

        return run_diff(args)
    if args.command == "validate":
        from promote.commands.validate import run_validate

        return run_validate(args)
    if args.command == "emulator":
        from pathlib import Path

        from promote.emulator.server import run_emulator_command

        return run_emulator_command(args.port, Path(args.state_dir))
    raise AssertionError(f"unknown command {args.command}")  # pragma: no cover - argparse refuses it first


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
