"""`promote status`, `history` and `drift`: what is deployed where, and whether it still is."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from promote.apply.lease import read_lease
from promote.errors import EXIT_CHANGES, EXIT_OK, InputError
from promote.inert import inert
from promote.record.tags import TAG_COMMIT, TAG_PLAN, TAG_RUN, read_record
from promote.session import open_session


def run_status(args: argparse.Namespace) -> int:
    with open_session(args.env, source=args.source) as s:
        live = s.read_live()
        pending = s.interrupted(live)  # this machine's journal, else the factory's record: as the next run finds it
    t = s.env.target
    record = read_record(live.tags)
    lease = read_lease(live.tags)
    info: dict[str, Any] = {
        "environment": s.env.name,
        "factory": t.factory,
        "resource_group": t.resource_group,
        "exists": live.exists,
        "commit": record.commit,
        "plan": record.plan,
        "deployed_at": record.time,
        "deployed_by": record.run,
        "previous_commit": record.previous_commit,
        "override": record.override,
        "objects": len(live.factory.objects),
        "triggers": {n: tr.runtime_state for n, tr in sorted(live.triggers.items())},
        "interrupted_run": pending.run_id if pending is not None else None,
        "leased_by": lease.holder if lease is not None else None,  # a run holds the factory (docs/locks.md)
        "leased_until": lease.until_text if lease is not None else None,
    }
    if args.format == "json":
        print(json.dumps(info, indent=2))
        return EXIT_OK
    print(f"{s.env.name}: factory {t.factory} in {t.resource_group}")
    if not live.exists:
        print("  the factory does not exist yet")
        return EXIT_OK
    if info["commit"]:
        print(f"  deployed commit {info['commit'][:8]} (plan {str(info['plan'])[:12]}) at {info['deployed_at']}")
        if info["deployed_by"]:
            print(f"  by {info['deployed_by']}")
        if info["previous_commit"]:
            print(f"  previous good commit {info['previous_commit'][:8]}")
        if info["override"]:
            print(f"  went around: {info['override']}")
    else:
        print("  nothing deployed by adf-promote yet")
    started = [n for n, state in info["triggers"].items() if state == "Started"]
    print(f"  {info['objects']} objects; triggers started: {', '.join(started) or 'none'}")
    if info["leased_by"]:
        print(f"  held by a promote run: {inert(info['leased_by'])} until {info['leased_until']} (UTC)")
    if info["interrupted_run"]:
        print(
            f"  an interrupted run ({info['interrupted_run']}) awaits recovery: promote deploy or rollback finishes "
            "it, and so does a plan made from now on, once applied"
        )
    return EXIT_OK


def run_history(args: argparse.Namespace) -> int:
    """Every deployment of the environment, oldest first. The entry each finished run adds (`promote.record.
    history`) says how it ended: a deploy, a rollback and the commit it went back from, the guards gone around."""
    from promote.record.history import TAG_FACTORY, TAG_KIND, TAG_OVERRIDE, TAG_ROLLED_BACK_FROM, is_record

    with open_session(args.env, source=args.source) as s:
        records = s.history()
    factory = s.env.target.factory
    rows: list[dict[str, Any]] = [
        {
            "deployment": r.name,
            "state": r.state,
            "time": r.timestamp,
            "commit": r.tags.get(TAG_COMMIT),
            "plan": r.tags.get(TAG_PLAN),
            "run": r.tags.get(TAG_RUN),
            "error": r.error_code,
            "record": is_record(r),  # the run's entry: it ended well
            "kind": r.tags.get(TAG_KIND) if is_record(r) else None,
            "rolled_back_from": r.tags.get(TAG_ROLLED_BACK_FROM),
            "override": r.tags.get(TAG_OVERRIDE),
        }
        for r in sorted(records, key=lambda r: r.timestamp or "")
        if (r.tags.get(TAG_FACTORY) or factory).casefold() == factory.casefold()
    ]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        print(f"no deployments by adf-promote in {s.env.name} yet")
    for row in rows:
        commit = (row["commit"] or "?")[:8]
        error = f"  {row['error']}" if row["error"] else ""
        by = f"  by {row['run']}" if row["run"] else ""
        if row["record"]:
            what = _ENDED.get(str(row["kind"]), "run ended well")
            if row["rolled_back_from"]:
                what += f" from {str(row['rolled_back_from'])[:8]}"
            override = f"  [{row['override']}]" if row["override"] else ""
            print(f"{row['time'] or '?':<28} {'recorded':<10} {commit}  {what}{by}{override}")
            continue
        print(f"{row['time'] or '?':<28} {row['state']:<10} {commit}  {row['deployment']}{by}{error}")
    return EXIT_OK


_ENDED = {
    "deploy": "deployed",
    "rollback": "ROLLED BACK",
    "rollback-after-failure": "ROLLED BACK after a failure",
}


def run_drift(args: argparse.Namespace) -> int:
    """Live against the last deployed commit: a factory changed by hand shows here (exit 3)."""
    from promote.commands.diff import render

    with open_session(args.env, source=args.source) as s:
        live = s.read_live()  # read once: its tags name the commit, its objects are compared with it
        commit = read_record(live.tags).commit
        if not commit:
            raise InputError.single(
                s.env.file,
                f"{s.env.target.factory} records no deployed commit: nothing to compare against",
                hint="deploy it with promote deploy first",
            )
        diff = s.live_diff(commit, live, drift=True)
    sys.stdout.write(render(diff, args.format))
    return EXIT_CHANGES if diff.changes else EXIT_OK
