"""`promote plan`, `apply`, `deploy` and `rollback`: every change to a factory goes through one runner.

`plan` shows and saves; `apply` carries out exactly a saved plan once it has made the same plan again (refused
when the factory changed since, or when the plan is not what its commit and the environment file give); `deploy`
is plan + apply in one run; `rollback` deploys the previous good commit. The work is `promote.session`'s; this
module parses, asks, renders and returns the exit code.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from promote import github
from promote.errors import EXIT_OK, InputError
from promote.session import Guards, open_session
from promote.writable import writable_file

if TYPE_CHECKING:
    from promote.apply.runner import RunReport
    from promote.plan import Plan


def _render(plan: Plan, fmt: str) -> str:
    if fmt == "json":
        from promote.render.plan_json import render_plan
    elif fmt == "markdown":
        from promote.render.plan_markdown import render_plan
    else:
        from promote.render.plan_text import render_plan
    return render_plan(plan)


def _guards(args: argparse.Namespace) -> Guards:
    return Guards(override_gate=args.override_gate, allow_deletions=args.allow_deletions, confirm=args.confirm or ())


def _show(plan: Plan, fmt: str, out: Path | None, saving: str | None, env_file: str, *, what: str = "plan") -> None:
    """Print the plan; save it unless a guard refuses it (a refused plan is shown, never saved: no run would
    apply it), then refuse it (exit 2)."""
    from promote.plan import ensure_not_refused, to_json

    print(_render(plan, fmt))
    github.report_plan(plan)  # its warnings as annotations, when running in GitHub Actions
    if plan.refusals:
        if out is not None:
            print(f"\nThe {what} was not saved to {saving}: it would be refused.", file=sys.stderr)
        ensure_not_refused(plan, env_file)
    if out is not None:
        out.write_text(to_json(plan))
        saved = f"\nSaved the {what} to {saving} (hash {plan.hash[:12]}). Apply it with: promote apply {saving}"
        print(saved, file=sys.stderr if fmt == "json" else sys.stdout)  # stdout stays one JSON document


def _can_confirm(what: str, yes: bool) -> None:
    """Without a terminal, only `--yes` goes ahead (a CI job must say it means it). Checked before connecting
    too, so that such a run is refused before anything is touched (the `local` environment would otherwise
    create its factory first)."""
    if not yes and not sys.stdin.isatty():
        raise InputError.single(
            "<command line>", f"{what} needs confirmation", hint="pass --yes when not on a terminal"
        )


def _confirm(what: str, yes: bool) -> None:
    """Ask on a terminal; without one, only `--yes` goes ahead."""
    if yes:
        return
    _can_confirm(what, yes)
    answer = input(f"{what}? Only 'yes' goes ahead: ")
    if answer.strip().lower() != "yes":
        raise InputError.single("<command line>", "not confirmed: nothing was done")


def _finish(report: RunReport) -> int:
    print()
    print(report.render())
    github.report_run(report)  # the job summary and annotations, when running in GitHub Actions
    return report.exit_code


def run_plan(args: argparse.Namespace) -> int:
    out = writable_file("--out", args.out) if args.out else None  # checked before anything is read or touched
    with open_session(args.env, source=args.source) as s:
        plan = s.plan(args.ref, full=args.full, rotate_secrets=args.rotate_secrets, guards=_guards(args))
    _show(plan, args.format, out, args.out, s.env.file)
    return EXIT_OK


def run_apply(args: argparse.Namespace) -> int:
    from promote.plan import from_json

    path = Path(args.plan)
    if not path.is_file():
        raise InputError.single(str(path), "no such plan file", hint="make one with promote plan --out FILE")
    plan = from_json(path.read_bytes(), str(path))
    with open_session(plan.environment, source=args.source) as s:
        # shown once it is proven fresh, right before it runs: it does not ask, the plan was what was reviewed
        report = s.apply(plan, str(path), review=lambda checked: print(_render(checked, "text"), flush=True))
    return _finish(report)


def run_deploy(args: argparse.Namespace) -> int:
    _can_confirm(f"Deploy {args.ref} to {args.env}", args.yes)
    with open_session(args.env, source=args.source) as s:

        def review(plan: Plan) -> None:
            print(_render(plan, "text"), flush=True)
            github.report_plan(plan)
            if not plan.refusals:  # a refused plan is refused next, without asking
                _confirm(f"Deploy {plan.commit[:8]} to {s.env.name} ({s.env.target.factory})", args.yes)

        report = s.deploy(
            args.ref, full=args.full, rotate_secrets=args.rotate_secrets, guards=_guards(args), review=review
        )
    return _finish(report)


def run_rollback(args: argparse.Namespace) -> int:
    saving = getattr(args, "out", None)
    if saving:  # a plan for reviewers to read; `promote apply` carries it out after they approve
        out = writable_file("--out", saving)  # checked before anything is read or touched
        with open_session(args.env, source=args.source) as s:
            plan = s.rollback_plan(args.to, guards=_guards(args))
        _show(plan, args.format, out, saving, s.env.file, what="rollback's plan")
        return EXIT_OK
    _can_confirm(f"Roll {args.env} back", args.yes)
    with open_session(args.env, source=args.source) as s:

        def review(plan: Plan) -> None:
            print(_render(plan, "text"), flush=True)
            github.report_plan(plan)
            if not plan.refusals:
                _confirm(f"Roll {s.env.name} back to {plan.commit[:8]}", args.yes)

        report = s.rollback(args.to, guards=_guards(args), review=review)
    return _finish(report)
