"""`requires:`: an environment takes only commits that succeeded in the one it follows.

The question "did commit C succeed in environment E" is asked of a `SuccessRecord`. Two answer it:

- `TagRecord`: the factory's tags (the deployed commit and the last `GOOD_KEPT` good ones): one read, and all a
  factory deployed before the history record existed has;
- `HistoryRecord`: the record deployments in the resource group's history (`promote.record.history`), one per
  finished run, as far back as ARM keeps the history (`history.RETENTION`). It also knows why a commit did not
  succeed: its run failed (deployments of it and no record of success), it was rolled back, it never ran, or it
  may have run before the record begins (committed before the oldest entry still kept, in a history ARM has
  pruned; a history shorter than ARM prunes it to is whole, and a commit it does not hold never ran).

`either` asks them in order. The plan carries the answer (`GateCheck`), shows it up front, and a run refuses the
plan (or goes around the gate, recorded) as `promote.plan` decides; the refusal's wording lives here once.

A commit that already succeeded in the environment itself passed the gate when it was deployed there: going
back to it (`promote rollback`, or `--to` it) is not asked again (`exempt`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Protocol

from promote.errors import InputError
from promote.record.history import RETENTION, History, same_commit
from promote.record.tags import GOOD_KEPT, TAG_COMMIT, FactoryRecord
from promote.untrusted import instant


class Evidence(Enum):
    """What a record knows of a commit in an environment."""

    SUCCEEDED = "succeeded"
    NOT_RECORDED = "not recorded"  # the tags' good list neither holds it nor can say why
    NEVER_RAN = "never ran"
    FAILED = "failed"
    ROLLED_BACK = "rolled back"
    OLDER_THAN_RECORD = "older than the record"


@dataclass(frozen=True)
class Verdict:
    commit: str
    environment: str
    evidence: Evidence
    detail: str = ""  # what the record holds instead, for the message

    @property
    def succeeded(self) -> bool:
        return self.evidence is Evidence.SUCCEEDED


class SuccessRecord(Protocol):
    """Answers whether a commit succeeded in one environment."""

    def verdict(self, commit: str) -> Verdict: ...


@dataclass(frozen=True)
class TagRecord:
    """The factory's tags as a `SuccessRecord`: the deployed commit and the recorded good ones."""

    environment: str
    record: FactoryRecord

    def verdict(self, commit: str) -> Verdict:
        if self.record.succeeded(commit):
            deployed = self.record.commit is not None and same_commit(self.record.commit, commit)
            detail = f"it runs there now (since {self.record.time or '?'})" if deployed else "its tags list it as good"
            return Verdict(commit, self.environment, Evidence.SUCCEEDED, detail)
        runs = (self.record.commit or "")[:8] or "nothing"
        detail = f"it runs {runs}"
        if len(self.record.good) >= GOOD_KEPT:
            detail += f"; its tags hold only the last {GOOD_KEPT} good commits"
        return Verdict(commit, self.environment, Evidence.NOT_RECORDED, detail)


@dataclass(frozen=True)
class HistoryRecord:
    """The environment's runs in the deployment history as a `SuccessRecord`. `committed(commit)` is when the
    commit was made (git's committer time), to tell "never ran" from "older than the record"."""

    environment: str
    history: History
    committed: Callable[[str], str | None] = field(default=lambda commit: None, compare=False)

    def verdict(self, commit: str) -> Verdict:
        env = self.environment
        last = None
        for run in self.history.runs:  # oldest first: the last word about the commit counts
            if same_commit(run.commit, commit) or same_commit(run.rolled_back_from, commit):
                last = run
        if last is not None:
            by = f" by {last.run}" if last.run else ""
            if same_commit(last.commit, commit):
                return Verdict(commit, env, Evidence.SUCCEEDED, f"its run ended well at {last.time}{by}")
            to = f"to {last.commit[:8]} at {last.time}{by}"
            if last.kind == "rollback-after-failure":
                return Verdict(commit, env, Evidence.FAILED, f"its deploy failed and was rolled back {to}")
            return Verdict(commit, env, Evidence.ROLLED_BACK, f"{env} was rolled back from it {to}")
        written = [d for d in self.history.deployments if same_commit(d.tags.get(TAG_COMMIT), commit)]
        if written:
            d = written[-1]
            return Verdict(
                commit,
                env,
                Evidence.FAILED,
                f"its run wrote deployment {d.name} ({d.state}, {d.timestamp or '?'}) and never recorded success",
            )
        oldest = self.history.oldest
        if oldest is None:
            return Verdict(commit, env, Evidence.NEVER_RAN, f"{env}'s deployment history holds no run")
        when = self.committed(commit)
        if not self.history.whole and when is not None and _instant(when) < _instant(oldest):
            return Verdict(
                commit,
                env,
                Evidence.OLDER_THAN_RECORD,
                f"it was committed {when}, before the oldest run {env}'s deployment history still holds ({oldest}): "
                f"it may have run before then ({RETENTION})",
            )
        return Verdict(commit, env, Evidence.NEVER_RAN, f"no run of it in {env}'s deployment history (since {oldest})")


def either(records: Sequence[SuccessRecord], commit: str) -> Verdict:
    """The first record that says the commit succeeded; else the last one's account of why not (the later
    records know more: the tags cannot tell "never ran" from "failed")."""
    verdicts = []
    for record in records:
        verdict = record.verdict(commit)
        if verdict.succeeded:
            return verdict
        verdicts.append(verdict)
    informative = [v for v in verdicts if v.evidence is not Evidence.NOT_RECORDED]
    return (informative or verdicts)[-1]


def _instant(text: str) -> datetime:
    """ARM's timestamps and git's as comparable instants; unreadable text sorts first."""
    return instant(text) or datetime.min.replace(tzinfo=timezone.utc)


# --------------------------------------------------------------------------------------------------- the plan's


@dataclass(frozen=True)
class GateCheck:
    """What a plan says about `requires:`: the environment required, what its record says of the commit, and,
    when it was not asked, why (`exempt`: the commit already succeeded here and passed the gate then)."""

    required: str
    commit: str
    evidence: str  # an `Evidence` value
    detail: str = ""
    exempt: str = ""

    @property
    def passed(self) -> bool:
        return bool(self.exempt) or self.evidence == Evidence.SUCCEEDED.value

    def summary(self, environment: str) -> str:
        """One line for people."""
        c = self.commit[:8]
        if self.exempt:
            return f"requires {self.required}: not asked for {c}: {self.exempt}"
        if self.passed:
            return f"requires {self.required}: {c} succeeded in {self.required}" + (
                f" ({self.detail})" if self.detail else ""
            )
        return self.refusal(environment)[0]

    def refusal(self, environment: str) -> tuple[str, str]:
        """(message, hint) of the refusal, in the words every refusal of the gate uses."""
        evidence = Evidence(self.evidence)
        c, req = self.commit[:8], self.required
        message = f"commit {c} has not succeeded in {req}, which {environment} requires first"
        if evidence is not Evidence.NOT_RECORDED:
            message += f" ({evidence.value})"
        if self.detail:
            message += f": {self.detail}"
        around = 'or, to go around the gate for this run, pass --override-gate "REASON" (recorded with who ran it)'
        first = {
            Evidence.FAILED: f"fix it and deploy a commit that succeeds in {req}",
            Evidence.ROLLED_BACK: f"{req} was rolled back from it: deploy a commit that succeeds in {req}",
            Evidence.OLDER_THAN_RECORD: f"deploy it to {req} again",
        }.get(evidence, f"deploy it to {req} first")
        return message, f"{first}; {around}"


def check_of(verdict: Verdict, *, exempt: str = "") -> GateCheck:
    return GateCheck(verdict.environment, verdict.commit, verdict.evidence.value, verdict.detail, exempt)


def check_requires(verdict: Verdict, *, env_file: str, environment: str) -> None:
    """Refuse (exit 2, nothing touched) a commit that has not succeeded where `environment` requires it."""
    if verdict.succeeded:
        return
    message, hint = check_of(verdict).refusal(environment)
    raise InputError.single(env_file, message, object="requires", hint=hint)
