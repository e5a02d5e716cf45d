"""`requires:`: an environment takes only commits that succeeded in the one it follows.

The question "did commit C succeed in environment E" is asked of a `SuccessRecord`, so that the answer can come
from more than the factory's tags: today `TagRecord` (the deployed commit and the last `GOOD_KEPT` good ones);
a record over ARM's deployment history (800 deployments per resource group) answers the same protocol with the
other cases of `Evidence` (failed, rolled back, older than the record). The refusal's wording lives here once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from promote.errors import InputError
from promote.record.tags import GOOD_KEPT, FactoryRecord


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
            return Verdict(commit, self.environment, Evidence.SUCCEEDED)
        runs = (self.record.commit or "")[:8] or "nothing"
        detail = f"it runs {runs}"
        if len(self.record.good) >= GOOD_KEPT:
            detail += f"; its tags hold only the last {GOOD_KEPT} good commits"
        return Verdict(commit, self.environment, Evidence.NOT_RECORDED, detail)


def check_requires(verdict: Verdict, *, env_file: str, environment: str) -> None:
    """Refuse (exit 2, nothing touched) a commit that has not succeeded where `environment` requires it."""
    if verdict.succeeded:
        return
    raise InputError.single(
        env_file,
        f"commit {verdict.commit[:8]} has not succeeded in {verdict.environment}, which {environment} requires first"
        + (f" ({verdict.evidence.value})" if verdict.evidence is not Evidence.NOT_RECORDED else ""),
        object="requires",
        hint=f"deploy it to {verdict.environment} first" + (f" ({verdict.detail})" if verdict.detail else ""),
    )
