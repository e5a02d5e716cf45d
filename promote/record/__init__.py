"""The factory-side record: what a target factory says about its deployments, and the local journal of a run.

Every rule of the record lives here once; the planner decides what a run will write with these rules (the plan
shows it), the executor writes exactly that, and the commands read it back.

- `tags`: the tag names and what they mean, the record read back from a factory's tags (`FactoryRecord`), what
  a deployment records next (`next_record`: previous commit, undone commit, good commits) and the tags written.
- `marker`: the run-in-progress marker (the run's id and the triggers it found Started), for a fresh runner.
- `journal`: the journal of a run on this machine, step by step, and its archive.
- `triggers`: a trigger's state as recorded before a run (`TriggerRecord`).
- `rollback`: where going back goes (the last good commit, `promote rollback`'s target).
- `gate`: whether a commit succeeded in an environment (`requires:`), behind the `SuccessRecord` protocol.

Seams for what comes next: a longer record of good commits is another `gate.SuccessRecord`; an override of the
gate or of the deletion guard is recorded by adding its tags to `tags.deployment_tags` (one place) and its
field to `NextRecord`; "this plan was already applied" compares `FactoryRecord.plan` with the plan's hash (a plan's
`record_basis` already makes a replay stale); a lease on the target factory (`promote.apply.lock.TargetLease`)
is a tags write with the factory's etag (the emulator honours If-Match on the tags PATCH) beside `marker`,
which is already a per-factory record of which run is in progress.
"""

from promote.record.gate import Evidence, SuccessRecord, TagRecord, Verdict, check_requires
from promote.record.journal import Journal
from promote.record.marker import RunInProgress
from promote.record.rollback import interrupted_run, journal_of_marker, last_good, rollback_target
from promote.record.tags import FactoryRecord, NextRecord, RecordBasis, next_record, read_record
from promote.record.triggers import TriggerRecord

__all__ = [
    "Evidence",
    "FactoryRecord",
    "Journal",
    "NextRecord",
    "RecordBasis",
    "RunInProgress",
    "SuccessRecord",
    "TagRecord",
    "TriggerRecord",
    "Verdict",
    "check_requires",
    "interrupted_run",
    "journal_of_marker",
    "last_good",
    "next_record",
    "read_record",
    "rollback_target",
]
