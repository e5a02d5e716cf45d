"""Where going back goes: the last good commit, for the automatic rollback of a failed run and for
`promote rollback`; and which unfinished run the next run finishes (`interrupted_run`), found in the journal of
this machine or, for a runner without it, in the factory's record of a run in progress.

Two records can know the answer: the journal of an unfinished run on this machine (it was written when the run
began, from the factory's tags) and the factory's tags. The journal wins when there is one: a run that failed
half way may have been a rollback itself, and its target is what the next rollback must finish going to.
"""

from __future__ import annotations

from promote.record.journal import Journal
from promote.record.tags import FactoryRecord


def last_good(interrupted: Journal | None, record: FactoryRecord) -> str | None:
    """The commit a failed run rolls back to: the interrupted run's target when this run recovers one, else the
    commit the factory records as deployed (a run in progress never recorded its own)."""
    return (interrupted.last_good_commit if interrupted is not None else None) or record.commit


def rollback_target(interrupted: Journal | None, record: FactoryRecord) -> str | None:
    """Where `promote rollback` without `--to` goes: an unfinished run's last good commit; else, when the factory
    records a run in progress (which never recorded its commit), the commit recorded as deployed; else the
    previous good commit. None: nothing is recorded to go back to."""
    if interrupted is not None and interrupted.unfinished and interrupted.last_good_commit:
        return interrupted.last_good_commit
    if record.in_progress is not None:
        return record.commit
    return record.previous_commit


def interrupted_run(local: Journal | None, record: FactoryRecord, environment: str) -> Journal | None:
    """The unfinished run that a run started now finishes: this machine's journal when it is unfinished (it
    knows what that run did), else the run the factory records as in progress (`journal_of_marker`). None: no
    run is left unfinished. Read only: archiving a finished journal is the run's business, not a plan's.

    One rule for the run itself (`promote.apply.runner.run`, inside its lock), for the plan a person approves
    before it (`promote plan`, `promote rollback --out`: what they show and save is what the run will do) and
    for `promote status`."""
    if local is not None and local.unfinished:
        return local
    return journal_of_marker(record, environment)


def journal_of_marker(record: FactoryRecord, environment: str) -> Journal | None:
    """A run the factory records as in progress, for a runner without its journal (a fresh CI machine): what
    it recorded stands in for the journal. Whether it wrote anything is unknown, so it counts as having written:
    a failure rolls back to the last good commit. Its `path` is None: nothing on disk to archive."""
    found = record.in_progress
    if found is None:
        return None
    journal = Journal(
        environment=environment,
        commit="",
        plan_hash="",
        run_id=found.run_id,
        kind="deploy",
        last_good_commit=record.commit,
        triggers_before=found.triggers,
        wrote=True,
    )
    journal.path = None
    return journal
