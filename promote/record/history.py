"""The long record of an environment's runs: one entry per finished run in the resource group's deployment
history, so that "did commit C succeed in staging" has an answer for any commit staging ran, not only for the
few that fit in a factory tag.

Why the deployment history: it is Azure's own, readable by a fresh runner with the same role that deploys, and
it keeps every run's deployments already. A run's deployments alone cannot say whether the run succeeded (the
smoke runs, the deletes and the trigger starts come after them, and a rollback may follow), so the plan's record
step, after writing the factory's tags, adds one more deployment: an empty template (no resource: nothing in
the resource group changes) whose tags say what the run was and how it ended. Retention is ARM's: at most 800
deployments per resource group, the oldest deleted automatically as the history nears it; with one deployment
per changed run plus its record, a few hundred runs back.

| tag | meaning |
|---|---|
| `promote-result` | `succeeded`: the run this entry records ended well (only finished runs are recorded) |
| `promote-kind` | `deploy`, `rollback` (a person's), `rollback-after-failure` (a run's automatic one) |
| `promote-commit`, `promote-plan`, `promote-run` | what was deployed, by which plan, by whom (`promote.record.tags`) |
| `promote-factory` | the target factory (several factories can share a resource group) |
| `promote-rolled-back-from` | a rollback: the commit it went back from (which stops counting as good) |
| `promote-override` | the guards a person went around for this run, and why (`promote.record.overrides`) |

Entries are read back by `promote history` and by `promote.record.gate.HistoryRecord` (`requires:`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from promote.record.overrides import TAG_OVERRIDE
from promote.record.tags import TAG_COMMIT, TAG_PLAN, TAG_RUN

TAG_RESULT = "promote-result"
TAG_KIND = "promote-kind"
TAG_FACTORY = "promote-factory"
TAG_ROLLED_BACK_FROM = "promote-rolled-back-from"
SUCCEEDED = "succeeded"
KINDS = ("deploy", "rollback", "rollback-after-failure")
RECORD_SUFFIX = "record"  # the record deployment's name ends with it (`promote.plan.builder.deployment_name`)
ARM_HISTORY_LIMIT = 800  # deployments ARM keeps per resource group
ARM_PRUNED_TO = 600  # ARM deletes the oldest once the history passes 700, down to 600: a shorter one is whole
RETENTION = (
    f"ARM keeps at most {ARM_HISTORY_LIMIT} deployments per resource group and deletes the oldest as the history "
    "nears that"
)

EMPTY_TEMPLATE: dict[str, Any] = {
    "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
    "contentVersion": "1.0.0.0",
    "resources": [],
}


class HistoryEntry(Protocol):
    """One deployment of the resource group's history (`promote.azure.operations.DeploymentRecord`)."""

    @property
    def name(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def timestamp(self) -> str | None: ...
    @property
    def tags(self) -> dict[str, str]: ...


def record_tags(
    *,
    factory: str,
    commit: str,
    plan_hash: str,
    run: str,
    kind: str,
    rolled_back_from: str | None = None,
    override: str | None = None,
) -> dict[str, str]:
    """The tags of the record deployment a finished run adds to the history (tag values hold 256 characters)."""
    tags = {
        TAG_RESULT: SUCCEEDED,
        TAG_KIND: kind,
        TAG_FACTORY: factory,
        TAG_COMMIT: commit,
        TAG_PLAN: plan_hash,
        TAG_RUN: run[:256],
    }
    if rolled_back_from:
        tags[TAG_ROLLED_BACK_FROM] = rolled_back_from
    if override:
        tags[TAG_OVERRIDE] = override[:256]
    return tags


@dataclass(frozen=True)
class RunRecord:
    """A finished run as its record deployment tells it."""

    name: str
    time: str
    commit: str
    kind: str
    run: str = ""
    rolled_back_from: str | None = None
    override: str | None = None


@dataclass(frozen=True)
class History:
    """One environment's part of the history: its runs' records and its deployments, oldest first."""

    runs: tuple[RunRecord, ...]
    deployments: tuple[HistoryEntry, ...]  # the deployments that wrote objects (not the records)
    whole: bool = False  # the resource group's history is shorter than ARM ever prunes it to: nothing was deleted

    @property
    def oldest(self) -> str | None:
        """When the oldest entry still in the history was made: how far back the record reaches."""
        times = [r.time for r in self.runs] + [d.timestamp or "" for d in self.deployments]
        return min((t for t in times if t), default=None)


def is_record(entry: HistoryEntry) -> bool:
    return entry.tags.get(TAG_RESULT) == SUCCEEDED


def of_factory(entries: Iterable[HistoryEntry], factory: str, *, prefix: str = "") -> History:
    """The history of one target factory, from the resource group's whole history (`entries`): the record
    deployments that name it, and the deployments whose names start with `prefix` that wrote objects (older
    ones, made before records existed, carry no factory: they are kept, the prefix chose them). The history is
    whole when it holds fewer entries than ARM prunes it to (`ARM_PRUNED_TO`)."""
    entries = list(entries)
    whole = len(entries) < ARM_PRUNED_TO
    entries = [e for e in entries if e.name.startswith(prefix)]
    runs: list[RunRecord] = []
    deployments: list[HistoryEntry] = []
    for entry in entries:
        named = entry.tags.get(TAG_FACTORY)
        if named is not None and named.casefold() != factory.casefold():
            continue
        if is_record(entry):
            if named is None:
                continue
            runs.append(
                RunRecord(
                    name=entry.name,
                    time=entry.timestamp or "",
                    commit=entry.tags.get(TAG_COMMIT, ""),
                    kind=entry.tags.get(TAG_KIND, "deploy"),
                    run=entry.tags.get(TAG_RUN, ""),
                    rolled_back_from=entry.tags.get(TAG_ROLLED_BACK_FROM) or None,
                    override=entry.tags.get(TAG_OVERRIDE) or None,
                )
            )
        elif entry.tags.get(TAG_COMMIT):
            deployments.append(entry)
    runs.sort(key=lambda r: (r.time, r.name))
    deployments.sort(key=lambda d: (d.timestamp or "", d.name))
    return History(tuple(runs), tuple(deployments), whole)


def same_commit(recorded: str | None, commit: str) -> bool:
    """A recorded commit (full or short) names `commit` (full or short)."""
    if not recorded or not commit:
        return False
    return recorded.startswith(commit) or commit.startswith(recorded)
