"""A run in progress, recorded on the factory itself for a runner that has no journal.

The journal lives beside the run; a CI job runs on a fresh machine each time, so a job killed between stopping
triggers and starting them again leaves the next job nothing to say which triggers were running. A plan that
stops triggers therefore has a step (`MarkRunInProgress`, right after the trigger states are recorded) that
writes, with one tags-only update, the run's id and the names of the triggers that were Started; the plan's
record step removes them. A run that finds them and no journal recovers from them as it would from a journal.

Tag values hold at most 256 characters, so the names are spread over a few numbered tags.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from promote.record.triggers import TriggerRecord

TAG_RUN_ID = "promote-run-id"
TAG_STARTED = "promote-started"  # then promote-started-2, -3, ...
MAX_TAGS = 10
TAG_VALUE_LIMIT = 256


@dataclass(frozen=True)
class RunInProgress:
    """A run the factory records as in progress: its id and the triggers that were Started before it."""

    run_id: str
    started: tuple[str, ...]

    @property
    def triggers(self) -> list[TriggerRecord]:
        """The recorded triggers as a journal's record of trigger states (type and subscription unknown)."""
        return [TriggerRecord(name, "", "Started") for name in self.started]


def fits(started: Iterable[str]) -> bool:
    """Whether every name fits in the marker's tags (about 100 to 250 trigger names, by their length)."""
    return len(_chunks(started)) <= MAX_TAGS


def marker_tags(run_id: str, started: Iterable[str]) -> dict[str, str | None]:
    """The tags that record a run in progress and the triggers that were Started before it (as many as fit)."""
    chunks = _chunks(started)
    tags: dict[str, str | None] = {TAG_RUN_ID: run_id}
    for i in range(MAX_TAGS):
        tags[_key(i)] = chunks[i] if i < len(chunks) else None
    return tags


def _chunks(started: Iterable[str]) -> list[str]:
    chunks: list[str] = []
    for name in sorted(started):
        if chunks and len(chunks[-1]) + 1 + len(name) <= TAG_VALUE_LIMIT:
            chunks[-1] += f" {name}"
        else:
            chunks.append(name[:TAG_VALUE_LIMIT])
    return chunks


def marker_removal() -> dict[str, str | None]:
    """Removals (None values) of every tag a marker can hold: the run is no longer in progress."""
    return {TAG_RUN_ID: None, **{_key(i): None for i in range(MAX_TAGS)}}


def read_marker(tags: Mapping[str, str]) -> RunInProgress | None:
    """The run recorded in progress, or None."""
    run_id = tags.get(TAG_RUN_ID)
    if not run_id:
        return None
    names = tuple(n for i in range(MAX_TAGS) for n in (tags.get(_key(i)) or "").split())
    return RunInProgress(run_id, names)


def _key(i: int) -> str:
    return TAG_STARTED if i == 0 else f"{TAG_STARTED}-{i + 1}"
