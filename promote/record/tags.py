"""The factory's tags as the record of what is deployed: their names, what they mean, how they are read back,
and what a deployment writes into them.

Azure itself is the record, so that a fresh CI runner (no journal, no local state) can answer "what runs in
this environment, what ran before it, which commits succeeded here": the tags are written with a tags-only
update of the factory (never a PUT, which would wipe its git, Purview and key settings) by the plan's last
step, and read back by `status`, `rollback`, `requires` and a run recovering a killed one.

| tag | meaning |
|---|---|
| `promote-environment` | the environment that deployed it |
| `promote-commit` | the commit deployed, the last good one |
| `promote-plan` | the hash of the plan that deployed it |
| `promote-time` | when that plan's last step ran (apply time, UTC) |
| `promote-run` | who applied it: the CI run's address, or user@host (apply time) |
| `promote-previous-commit` | the good commit before it: where `promote rollback` goes |
| `promote-good` | short shas of the recent good commits, newest first (what `requires:` accepts) |
| `promote-run-id`, `promote-started[-N]` | a run in progress and the triggers it found Started (`marker`) |
| `promote-secrets[-N]` | digests of where the deployed secrets come from (`promote.secrets`) |
| `promote-override` | the guards a person went around for this deployment, and why (`promote.record.overrides`) |

A tag value holds at most 256 characters, which caps the good list at `GOOD_KEPT` commits. The longer record is
the deployment history (`promote.record.history`: one record deployment per finished run, as far back as ARM
keeps 800 deployments per resource group); both answer `promote.record.gate.SuccessRecord`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from promote.record.marker import RunInProgress, marker_removal, read_marker
from promote.record.overrides import TAG_OVERRIDE
from promote.secrets import secret_tags

TAG_ENVIRONMENT = "promote-environment"
TAG_COMMIT = "promote-commit"
TAG_PLAN = "promote-plan"
TAG_TIME = "promote-time"
TAG_RUN = "promote-run"
TAG_PREVIOUS_COMMIT = "promote-previous-commit"
TAG_GOOD = "promote-good"
GOOD_KEPT = 18  # 18 x 13 characters stays under ARM's 256-character tag value limit
SHORT = 12  # characters of a commit kept in the good list


@dataclass(frozen=True)
class RecordBasis:
    """What a plan's record step was decided from: the deployment the factory recorded when the plan was made.
    A saved plan whose basis is no longer the factory's is stale (another plan was applied since, or this one)."""

    commit: str | None = None
    plan: str | None = None
    good: tuple[str, ...] = ()


@dataclass(frozen=True)
class FactoryRecord:
    """What the factory's tags say: the deployed commit and how it got there, the good commits, a run in
    progress. Every field is None (or empty) on a factory adf-promote never deployed to."""

    environment: str | None = None
    commit: str | None = None
    plan: str | None = None
    time: str | None = None
    run: str | None = None  # who applied the plan
    previous_commit: str | None = None
    good: tuple[str, ...] = ()  # short shas, newest first
    in_progress: RunInProgress | None = None
    override: str | None = None  # the guards gone around for the deployed commit, and why

    @property
    def basis(self) -> RecordBasis:
        return RecordBasis(self.commit, self.plan, self.good)

    def succeeded(self, commit: str) -> bool:
        """Whether `commit` is the deployed commit or one of the recorded good ones."""
        good = {self.commit or "", *self.good}
        return any(g and commit.startswith(g) for g in good)


def read_record(tags: Mapping[str, str]) -> FactoryRecord:
    """The record held by a factory's tags (other tags are ignored: other teams tag factories too)."""
    return FactoryRecord(
        environment=tags.get(TAG_ENVIRONMENT) or None,
        commit=tags.get(TAG_COMMIT) or None,
        plan=tags.get(TAG_PLAN) or None,
        time=tags.get(TAG_TIME) or None,
        run=tags.get(TAG_RUN) or None,
        previous_commit=tags.get(TAG_PREVIOUS_COMMIT) or None,
        good=tuple(tags.get(TAG_GOOD, "").split()),
        in_progress=read_marker(tags),
        override=tags.get(TAG_OVERRIDE) or None,
    )


@dataclass(frozen=True)
class NextRecord:
    """What a deployment of `commit` will record, decided when the plan is made (the plan shows it)."""

    previous_commit: str | None  # None: no previous good commit (the tag is removed when `undoes`)
    undoes: str | None  # a rollback: the commit rolled back from, which stops counting as good
    good: tuple[str, ...]


def next_record(current: FactoryRecord, commit: str, *, rollback: bool = False) -> NextRecord:
    """The record after `commit` is deployed over `current`.

    A deploy: the previous good commit is the deployed one (or, when it is `commit` again, the one before it),
    and `commit` goes to the head of the good list. A rollback to an earlier good commit: the deployed commit is
    undone: out of the good list, and the previous good commit is the one before `commit` in that list (never
    the one undone, so that a second rollback goes further back, not forward).
    """
    deployed = current.commit
    previous = deployed if deployed != commit else current.previous_commit
    undoes = deployed if rollback and deployed and deployed != commit else None
    good = [g for g in current.good if g != commit[:SHORT] and (undoes is None or g != undoes[:SHORT])]
    if undoes:
        listed = [g for g in current.good if g != undoes[:SHORT]]
        after = listed[listed.index(commit[:SHORT]) + 1 :] if commit[:SHORT] in listed else []
        previous = after[0] if after else None
    return NextRecord(previous_commit=previous, undoes=undoes, good=(commit[:SHORT], *good)[:GOOD_KEPT])


def deployment_tags(
    *,
    environment: str,
    commit: str,
    record: NextRecord,
    plan_hash: str,
    applied_at: datetime,
    run: str,
    secrets: tuple[str, ...] = (),
    override: str | None = None,
) -> dict[str, str | None]:
    """The tags the record step merges into the factory's (None: remove the tag). `plan_hash`, `applied_at` and
    `run` are known only when the plan is applied (the hash covers the step that holds this); everything else
    was decided by `next_record` when the plan was made. The run in progress is over: its marker goes."""
    when = applied_at if applied_at.tzinfo else applied_at.replace(tzinfo=timezone.utc)
    tags: dict[str, str | None] = {
        TAG_ENVIRONMENT: environment,
        TAG_COMMIT: commit,
        TAG_PLAN: plan_hash,
        TAG_TIME: when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        TAG_RUN: run[:256],
        TAG_GOOD: " ".join(record.good),
    }
    if record.previous_commit:
        tags[TAG_PREVIOUS_COMMIT] = record.previous_commit
    elif record.undoes:  # the recorded previous commit is the one rolled back to, or the one undone
        tags[TAG_PREVIOUS_COMMIT] = None
    tags[TAG_OVERRIDE] = override[:256] if override else None  # about this deployment only
    tags.update(secret_tags(secrets))  # where the deployed secrets come from; removes what a larger record left
    tags.update(marker_removal())
    return tags


def arm_deployment_tags(commit: str, plan_hash: str, run: str | None = None) -> dict[str, str]:
    """The tags of each resource group deployment a plan makes: ARM's history then says which commit and plan
    each deployment carried, and who ran it (`promote history`)."""
    tags = {TAG_COMMIT: commit, TAG_PLAN: plan_hash}
    if run is not None:
        tags[TAG_RUN] = run[:256]
    return tags
