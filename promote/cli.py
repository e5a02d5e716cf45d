"""The command line: parse arguments, call one command, map the outcome to an exit code.

This is the only module that decides exit codes (docs/architecture.md, "Exit codes"). Commands live in
`promote.commands`, each a function taking parsed arguments and returning an int; they import the Azure SDKs
themselves, so that `promote --help` and the offline commands start fast.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import traceback
from collections.abc import Iterator, Sequence

from promote import __version__
from promote.errors import EXIT_FAILURE, EXIT_INTERRUPTED, PromoteError
from promote.inert import InertStream, inert, inert_lines

ROTATE_HELP = (
    "also write every object holding a secret, so that new secret values (rotated in Key Vault or in the "
    "variable) reach the factory; secrets are compared by where they come from, never by value"
)


def _add_source(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--source",
        default=None,
        metavar="DIR",
        help="the factory folder inside the repository (default: the environment's `source:`, or the one every "
        "environment file names)",
    )


def _add_factory(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--factory",
        default=None,
        metavar="NAME",
        help="with a folder of environment files per factory: the factory (environments/NAME/ENV.yaml)",
    )


def _add_guards(p: argparse.ArgumentParser) -> None:
    """The flags that go around a guard for one run: shown in the plan, recorded on the factory, in the run's
    history entry and its journal, with who ran it."""
    p.add_argument(
        "--override-gate",
        type=_reason,
        default=None,
        metavar="REASON",
        help="go around `requires:` for this run: deploy a commit that has not succeeded in the environment "
        "required (REASON is recorded with who ran it)",
    )
    p.add_argument(
        "--allow-deletions",
        type=_count,
        default=None,
        metavar="N",
        help="for this run, allow up to N deletions over deletion.max_share (recorded with who ran it)",
    )
    p.add_argument(
        "--confirm",
        type=_classes,
        default=None,
        metavar="CLASSES",
        help="confirm this plan's changes of the impact classes the environment's confirm: asks for, e.g. "
        "destructive,infrastructure (recorded with who ran it)",
    )


def _classes(text: str) -> tuple[str, ...]:
    """Impact classes, comma-separated (`promote.impact.CLASSES`), refused by argparse (exit 2) when unknown."""
    from promote.impact import CLASSES

    names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if name not in CLASSES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"'{unknown[0] if unknown else text}' is not an impact class: the classes are {', '.join(CLASSES)}"
        )
    return names


def _count(text: str) -> int:
    """A number of objects, refused by argparse (exit 2, the option named) when it is none."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of objects") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is not a number of objects: give 0 or more")
    return value


def _reason(text: str) -> str:
    """A reason a person gives: one line of words, not empty."""
    if not text.strip():
        raise argparse.ArgumentTypeError("give a reason: it is recorded with who ran it")
    return " ".join(text.split())


def _port(text: str) -> int:
    """A TCP port number, refused by argparse (exit 2, the option named) when it is none."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: give 1 to 65535, or 0 for a free one")
    return port


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
    diff.add_argument(
        "--env",
        metavar="ENV",
        default=None,
        help="evaluate both sides with environments/ENV.yaml; without --from/--to: REF against the live factory",
    )
    diff.add_argument("--ref", default=None, help="with --env alone: the revision to compare with live (HEAD)")
    diff.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    diff.add_argument("--exit-code", action="store_true", help="exit 3 when there are changes")
    _add_source(diff)
    _add_factory(diff)

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
    _add_factory(validate)

    def env_command(name: str, help: str, description: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=description)
        p.add_argument("--env", required=True, metavar="ENV", help="the environment (environments/ENV.yaml)")
        _add_source(p)
        _add_factory(p)
        return p

    plan = env_command(
        "plan",
        "show and save the steps a deploy of REF would take",
        "The ordered steps (stop triggers, write objects in dependency waves, delete in reverse order, start "
        "triggers, smoke runs, record), computed against the live factory; --out saves it for promote apply.",
    )
    plan.add_argument("--ref", default="HEAD", help="the git revision to deploy (default: HEAD)")
    plan.add_argument("--out", default=None, metavar="FILE", help="save the plan as JSON")
    plan.add_argument("--full", action="store_true", help="write every object, not only new and changed ones")
    plan.add_argument("--rotate-secrets", action="store_true", help=ROTATE_HELP)
    plan.add_argument(
        "--format",
        choices=("text", "markdown", "json"),
        default="text",
        help="how the plan is shown (json: its data, each template by its size and sha256; --out saves it whole)",
    )
    _add_guards(plan)

    apply = sub.add_parser(
        "apply",
        help="apply exactly a saved plan (refused if the factory changed since it was made)",
        description="Applies a plan made by promote plan --out. It does not ask: the plan was what was reviewed.",
    )
    apply.add_argument("plan", help="the plan file")
    _add_source(apply)
    _add_factory(apply)

    deploy = env_command(
        "deploy",
        "plan and apply REF in one run, rolling back to the last good commit on failure",
        "Plans REF against the live factory and applies it. Asks for confirmation on a terminal; elsewhere "
        "needs --yes. Exit 4 when it failed and was rolled back, 5 when the rollback did not complete.",
    )
    deploy.add_argument("--ref", default="HEAD", help="the git revision to deploy (default: HEAD)")
    deploy.add_argument("--full", action="store_true", help="write every object, not only new and changed ones")
    deploy.add_argument("--rotate-secrets", action="store_true", help=ROTATE_HELP)
    deploy.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    _add_guards(deploy)

    rollback = env_command(
        "rollback",
        "deploy the previous good commit (or --to REF) through the same machinery",
        "Deploys the commit the factory ran before its current one (recorded on the factory), or REF.",
    )
    rollback.add_argument("--to", default=None, metavar="REF", help="the revision to go back to")
    rollback.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    rollback.add_argument(
        "--out",
        default=None,
        metavar="FILE",
        help="save the rollback's plan instead of applying it (for reviewers; apply it with promote apply FILE)",
    )
    rollback.add_argument(
        "--format", choices=("text", "markdown", "json"), default="text", help="how the plan is shown"
    )
    _add_guards(rollback)

    status = env_command("status", "what is deployed in ENV, since when, by which plan", "Reads the factory.")
    status.add_argument("--format", choices=("text", "json"), default="text")
    history = env_command("history", "the deployments adf-promote made in ENV", "From ARM's deployment history.")
    history.add_argument("--format", choices=("text", "json"), default="text")
    drift = env_command(
        "drift",
        "compare the live factory with the last deployed commit; exit 3 when they differ",
        "Finds changes made by hand in the live factory since the last deployment.",
    )
    drift.add_argument("--format", choices=("text", "markdown", "json"), default="text")

    factories = sub.add_parser(
        "factories",
        help="the repository's factories (environments/ or environments/<factory>/) and which ones a change touches",
        description="Lists each factory's environments and template folders; with --changed-since, which "
        "factories the commits since REV changed (their templates or environment files).",
    )
    factories.add_argument("--changed-since", default=None, metavar="REV", help="mark the factories changed since REV")
    factories.add_argument("--ref", default="HEAD", help="the revision the changes go up to (default: HEAD)")
    factories.add_argument("--factory", default=None, metavar="NAME", help="only this factory")
    factories.add_argument("--format", choices=("text", "markdown", "json"), default="text")

    init = sub.add_parser(
        "init",
        help="adopt adf-promote here: environment files, the two workflows, and what is left to do in Azure and GitHub",
        description="Run on a checkout of adf_publish. Writes environments/<env>.yaml from the published factory "
        "(every parameter, its published value as a comment), the two callers of the reusable workflow and the "
        ".gitignore line; prints the gh and az commands for the rest. Never overwrites a file (exit 2).",
    )
    init.add_argument(
        "--env", action="append", default=None, metavar="ENV", help="environments (default: staging, production)"
    )
    init.add_argument(
        "--source", default=None, metavar="DIR", help="the published factory's folder (default: the one here)"
    )
    init.add_argument("--ref", default=None, help="read the factory at this git revision (default: on disk)")
    init.add_argument(
        "--factory", default=None, metavar="NAME", help="write environments/NAME/ (many factories in one repository)"
    )
    init.add_argument(
        "--from-parameters",
        default=None,
        metavar="FILE",
        help="an ARM parameters file (ARMTemplateParametersForFactory.<env>.json), or an overrideParameters string "
        "(-name value ...): one --env's values",
    )
    init.add_argument(
        "--uses",
        default=f"adf-promote/adf-promote@v{__version__}",
        metavar="OWNER/REPO@REF",
        help="where the callers find adf-promote's reusable workflow (your fork or upstream, at a tag or commit)",
    )
    init.add_argument("--repository", default=None, metavar="OWNER/REPO", help="this repository (default: origin's)")
    init.add_argument("--publish-branch", default="adf_publish", metavar="BRANCH", help="ADF's publish branch")
    init.add_argument("--default-branch", default="main", metavar="BRANCH", help="the repository's default branch")
    init.add_argument("--no-workflows", action="store_true", help="write the environment files only")
    init.add_argument(
        "--collaboration-root",
        default=None,
        metavar="DIR",
        help="publish from the collaboration branch instead of Studio's Publish button: ADF's root folder there "
        "(`.` for the repository's root); also writes promote-collaboration.yml (publish on push, preview on "
        "pull requests)",
    )
    init.add_argument(
        "--collaboration-branch",
        default=None,
        metavar="BRANCH",
        help="ADF's collaboration branch (default: --default-branch)",
    )

    def collaboration_command(name: str, help: str, description: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=description)
        p.add_argument(
            "--source",
            default=None,
            metavar="DIR",
            help="the collaboration root folder in the "
            "repository (`.` for the root; default: the one every environment file names)",
        )
        p.add_argument(
            "--factory-file",
            default=None,
            metavar="NAME",
            help="which factory of the root, when factory/ holds several (factory/NAME.json)",
        )
        _add_factory(p)
        p.add_argument(
            "--lenient",
            action="store_true",
            help="publish what ADF would from a root with a stale "
            "duplicate or a misnamed file (warnings instead of exit 2)",
        )
        p.add_argument(
            "--language",
            choices=("en", "ja"),
            default="en",
            help="the language of the Studio publishing: its texts in the templates and the commit message",
        )
        p.add_argument(
            "--as-of",
            default=None,
            metavar="DATE",
            help="write what ADF's publish wrote on DATE (YYYY-MM-DD; default: today's)",
        )
        return p

    build = collaboration_command(
        "build",
        "build from the collaboration branch the templates ADF's Publish writes",
        "Reads the folder ADF Studio saves into (at --ref, or on disk) and writes into DIR what Publish writes "
        "into the factory's folder of adf_publish: ARMTemplateForFactory.json, its parameters, linkedTemplates/ "
        "and globalParameters/. Exit 2 listing every problem of the root.",
    )
    build.add_argument("--ref", default=None, help="the git revision to build (default: the folder on disk)")
    build.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="the factory folder to write (files a publish owns are replaced, nothing else is touched)",
    )
    publish = collaboration_command(
        "publish",
        "build REF and commit the result to the publish branch, as ADF's Publish does",
        "Commits the built templates into <factory>/ on the publish branch (no checkout), with ADF's message "
        "naming the collaboration commit; nothing when the branch already holds them. Push the branch after.",
    )
    publish.add_argument("--ref", default="HEAD", help="the collaboration commit to publish (default: HEAD)")
    publish.add_argument(
        "--branch", default=None, help="the publish branch (default: publish_config.json's, else adf_publish)"
    )
    publish.add_argument(
        "--folder", default=None, metavar="DIR", help="the folder on the branch (default: the factory's name)"
    )
    preview = sub.add_parser(
        "preview",
        help="render one pull-request comment from validate and diff results",
        description="Markdown for one pull-request comment (marked so a workflow can update it): the result of "
        "`promote validate --format json` and of `promote diff --env ENV --format json`.",
    )
    preview.add_argument("--validate", default=None, metavar="FILE", help="promote validate --format json")
    preview.add_argument("--diff", default=None, metavar="FILE", help="promote diff --env ENV --format json")
    preview.add_argument("--env", default=None, help="the environment the diff was made against")
    preview.add_argument("--revision", default=None, help="the commit previewed")
    preview.add_argument("--warnings", action="append", metavar="FILE", help="lines to list as warnings")
    preview.add_argument("--out", default=None, metavar="FILE", help="write it there (default: stdout)")

    emulator = sub.add_parser(
        "emulator",
        help="serve the local Azure Resource Manager + Data Factory emulator over HTTPS on 127.0.0.1",
        description="A local endpoint that the real Azure clients talk to; `environments/local.yaml` targets it.",
    )
    emulator.add_argument("--port", type=_port, default=0, help="port to listen on (default: a free one)")
    emulator.add_argument("--state-dir", default=".promote/emulator", help="where state and certificates live")
    return parser


DEBUG = "PROMOTE_DEBUG"  # set to 1: an unexpected error prints its traceback too


@contextlib.contextmanager
def error_boundary(command: str = "") -> Iterator[list[int]]:
    """Map expected errors, Ctrl-C and bugs to exit codes and one readable message each. Under GitHub Actions
    the same story also goes to the job summary, with annotations on the files at fault (`promote.github`).

    Messages carry untrusted text (names from templates, Azure's answers): each line goes out inert. A bug is
    one line (exit 1), never a traceback holding a template's text; `PROMOTE_DEBUG=1` shows the traceback."""
    from promote import github

    outcome = [0]
    try:
        yield outcome
    except PromoteError as exc:
        text = inert_lines(str(exc))
        # one message whose further lines are its details (indented) follows "error:" on its line; a list of
        # problems starts below it
        details = text.splitlines()[1:]
        head = "error: " if all(line[:1].isspace() for line in details) else "error:\n"
        print(f"{head}{text}", file=sys.stderr)
        outcome[0] = exc.exit_code
        github.report_error(command, exc)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        outcome[0] = EXIT_INTERRUPTED
        github.report_interrupted(command)
    except BrokenPipeError:  # `promote diff | head`: the reader has gone, nobody is left to tell
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - replaces the closed pipe until exit
        outcome[0] = EXIT_FAILURE
    except OSError as exc:  # a file or folder the system refused (full disk, permissions), not a bug
        where = f"{exc.filename}: " if exc.filename else ""
        message = f"{where}{exc.strerror or exc}"
        print(f"error: {inert(message, limit=1000)}", file=sys.stderr)
        outcome[0] = EXIT_FAILURE
        github.report_error(command, PromoteError(message))
    except Exception as exc:
        outcome[0] = EXIT_FAILURE
        if os.environ.get(DEBUG) == "1":
            traceback.print_exc()
        message = f"unexpected {type(exc).__name__}: {inert(str(exc), limit=200)}"
        print(
            f"error: {message} (a bug in promote: please report it; {DEBUG}=1 shows where it happened)",
            file=sys.stderr,
        )
        github.report_error(command, PromoteError(message))


@contextlib.contextmanager
def inert_output() -> Iterator[None]:
    """stdout and stderr through `promote.inert.InertStream` for the command: no line printed can become a
    workflow command or reach the terminal as an escape sequence (`promote.github` sends its own commands)."""
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = InertStream(out), InertStream(err)
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        sys.stdout, sys.stderr = out, err


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM (a cancelled CI job gets one before it is killed) unwinds like Ctrl-C: the journal records where
    the run stopped and the environment's lock is released, so the next run can recover."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    with inert_output():
        args = build_parser().parse_args(argv)
        signal.signal(signal.SIGTERM, _terminate)
        with error_boundary(args.command) as outcome:
            factory = getattr(args, "factory", None) if args.command not in ("factories", "init") else None
            if factory:
                from promote.environment.layout import select_factory
                from promote.source import project_root

                select_factory(project_root(), factory)
            elif "promote.environment.layout" in sys.modules:
                # A command run earlier in this process chose a factory: none for this one. (Not imported for
                # nothing: `promote.environment` and YAML are a fifth of a `promote build` process.)
                sys.modules["promote.environment.layout"].select_factory(None, None)
            outcome[0] = _dispatch(args)
    return outcome[0] if outcome[0] is not None else EXIT_FAILURE


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "diff":
        from promote.commands.diff import run_diff, run_live_diff

        if args.env and args.from_ is None and args.to is None:
            return run_live_diff(args)
        return run_diff(args)
    if args.command in ("plan", "apply", "deploy", "rollback"):
        from promote.commands import deploy

        return getattr(deploy, f"run_{args.command}")(args)
    if args.command in ("status", "history", "drift"):
        from promote.commands import status

        return getattr(status, f"run_{args.command}")(args)
    if args.command == "validate":
        from promote.commands.validate import run_validate

        return run_validate(args)
    if args.command == "init":
        from promote.commands.init import run_init

        return run_init(args)
    if args.command == "factories":
        from promote.commands.factories import run_factories

        return run_factories(args)
    if args.command in ("build", "publish", "preview"):
        from promote.commands import build

        return getattr(build, f"run_{args.command}")(args)
    if args.command == "emulator":
        from pathlib import Path

        from promote.commands.emulator import run_emulator_command
        from promote.writable import writable_folder

        return run_emulator_command(args.port, writable_folder("--state-dir", Path(args.state_dir)))
    raise AssertionError(f"unknown command {args.command}")  # pragma: no cover - argparse refuses it first


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
