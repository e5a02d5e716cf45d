"""`promote plan`, `apply`, `deploy` and `rollback`: every change to a factory goes through one runner.

`plan` shows and saves; `apply` carries out exactly a saved plan (refused when the factory changed since, or
when the file was edited); `deploy` is plan + apply in one run; `rollback` deploys the previous good commit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from promote import github
from promote.commands.engine import Session, session
from promote.errors import EXIT_OK, InputError
from promote.plan.steps import TagFactory
from promote.writable import writable_file


def _render(plan, fmt: str) -> str:
    if fmt == "markdown":
        from promote.render.plan_markdown import render_plan
    else:
        from promote.render.plan_text import render_plan
    return render_plan(plan)


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


def check_requires(s: Session, commit: str) -> None:
    """An environment that must follow another accepts only commits that succeeded there."""
    if not s.env.requires:
        return
    from promote.azure.operations import factory_exists, factory_tags
    from promote.commands.engine import connect_to
    from promote.desired import load_env
    from promote.record.gate import TagRecord, check_requires
    from promote.record.tags import read_record

    other = load_env(s.env.requires, s.root)
    with connect_to(other, s.root) as conn:
        tags = factory_tags(conn) if factory_exists(conn) else {}
    verdict = TagRecord(s.env.requires, read_record(tags)).verdict(commit)
    check_requires(verdict, env_file=s.env.file, environment=s.env.name)


def _rollback_plan(s: Session):
    """How the runner plans the automatic rollback to the last good commit."""
    return lambda commit, live, created: s.plan_for(commit, live, rollback=True, undo_creates=created)


def _engine(s: Session):
    from promote.apply.runner import Engine
    from promote.azure import operations, reader

    return Engine(
        root=s.root,
        environment=s.env.name,
        start_policy=s.env.triggers.start,
        conn=s.conn,
        ops=operations,
        read_live=s.read_live,
        read_triggers=reader.read_triggers,
        progress=lambda line: print(line, flush=True),
        subscription_timeout=float(s.env.triggers.subscription_timeout),
    )


def _finish(report) -> int:
    print()
    print(report.render())
    github.report_run(report)  # the job summary and annotations, when running in GitHub Actions
    return report.exit_code


def run_plan(args: argparse.Namespace) -> int:
    from promote.plan import to_json

    out = writable_file("--out", args.out) if args.out else None  # checked before anything is read or touched
    with session(args.env, source=args.source, create_local_factory=True) as s:
        live = s.read_live()
        plan = s.plan_for(args.ref, live, full=args.full, rotate_secrets=args.rotate_secrets)
    print(_render(plan, args.format))
    if out is not None:
        out.write_text(to_json(plan))
        print(f"\nSaved the plan to {args.out} (hash {plan.hash[:12]}). Apply it with: promote apply {args.out}")
    return EXIT_OK


def run_apply(args: argparse.Namespace) -> int:
    from promote.apply.runner import run
    from promote.plan import ensure_fresh, from_json
    from promote.record.tags import read_record

    path = Path(args.plan)
    if not path.is_file():
        raise InputError.single(str(path), "no such plan file", hint="make one with promote plan --out FILE")
    plan = from_json(path.read_bytes(), str(path))
    with session(plan.environment, source=args.source) as s:
        check_requires(s, plan.commit)
        s.ensure_local_factory()

        def make_plan(live, interrupted):
            ensure_fresh(plan, live.fingerprint, str(path), read_record(live.tags).basis)
            return plan

        print(_render(plan, "text"))
        kind = "rollback" if any(step.undoes for step in plan.steps_of(TagFactory)) else "deploy"
        report = run(_engine(s), make_plan, _rollback_plan(s), kind=kind)
    return _finish(report)


def run_deploy(args: argparse.Namespace) -> int:
    from promote.apply.runner import run

    _can_confirm(f"Deploy {args.ref} to {args.env}", args.yes)
    with session(args.env, source=args.source) as s:
        commit = s.commit_of(args.ref)
        check_requires(s, commit)
        s.ensure_local_factory()  # after the checks: a refused deploy touches nothing

        def make_plan(live, interrupted):
            plan = s.plan_for(commit, live, full=args.full, rotate_secrets=args.rotate_secrets)
            print(_render(plan, "text"), flush=True)
            _confirm(f"Deploy {commit[:8]} to {s.env.name} ({s.env.target.factory})", args.yes)
            return plan

        report = run(_engine(s), make_plan, _rollback_plan(s))
    return _finish(report)


def run_rollback(args: argparse.Namespace) -> int:
    from promote.apply.runner import run, without_smoke
    from promote.record import journal as journals
    from promote.record.rollback import rollback_target
    from promote.record.tags import read_record

    saving = getattr(args, "out", None)
    if not saving:
        _can_confirm(f"Roll {args.env} back", args.yes)
    with session(args.env, source=args.source) as s:
        target = args.to
        if target is None:
            interrupted = journals.load(journals.journal_path(s.root, s.env.name))
            target = rollback_target(interrupted, read_record(s.read_live().tags))
            if not target:
                raise InputError.single(
                    s.env.file,
                    f"{s.env.target.factory} records no previous good commit to roll back to",
                    hint="name one with --to REF",
                )
        commit = s.commit_of(target)
        if saving:  # a plan for reviewers to read; `promote apply` carries it out after they approve
            from promote.plan import to_json

            plan = without_smoke(s.plan_for(commit, s.read_live(), rollback=True))
            print(_render(plan, args.format))
            Path(saving).write_text(to_json(plan))
            print(f"\nSaved the rollback's plan to {saving} (hash {plan.hash[:12]}).")
            print(f"Apply it with: promote apply {saving}")
            return EXIT_OK
        s.ensure_local_factory()

        def make_plan(live, _interrupted):
            plan = without_smoke(s.plan_for(commit, live, rollback=True))
            print(_render(plan, "text"), flush=True)
            _confirm(f"Roll {s.env.name} back to {commit[:8]}", args.yes)
            return plan

        report = run(_engine(s), make_plan, _rollback_plan(s), kind="rollback")
    return _finish(report)
