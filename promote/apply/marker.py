"""A run in progress, recorded on the factory itself for a runner that has no journal.

The journal lives beside the run; a CI job runs on a fresh machine each time, so a job killed between stopping
triggers and starting them again leaves the next job nothing to say which triggers were running. When a plan
stops triggers, the executor therefore also writes, with one tags-only update, the run's id and the names of the
triggers that were Started; the deployment's last step removes them. A run that finds them and no journal
recovers from them as it would from a journal.

Tag values hold at most 256 characters, so the names are spread over a few numbered tags.
"""

from __future__ import annotations

from promote.plan.steps import TriggerRecord

TAG_RUN_ID = "promote-run-id"
TAG_STARTED = "promote-started"  # then promote-started-2, -3, ...
MAX_TAGS = 10
TAG_VALUE_LIMIT = 256


def fits(started: list[str]) -> bool:
    """Whether every name fits in the marker's tags (about 100 to 250 trigger names, by their length)."""
    return len(_chunks(started)) <= MAX_TAGS


def marker_tags(run_id: str, started: list[str]) -> dict[str, str | None]:
    """The tags that record a run in progress and the triggers that were Started before it (as many as fit)."""
    chunks = _chunks(started)
    tags: dict[str, str | None] = {TAG_RUN_ID: run_id}
    for i in range(MAX_TAGS):
        tags[_key(i)] = chunks[i] if i < len(chunks) else None
    return tags


def _chunks(started: list[str]) -> list[str]:
    chunks: list[str] = []
    for name in sorted(started):
        if chunks and len(chunks[-1]) + 1 + len(name) <= TAG_VALUE_LIMIT:
            chunks[-1] += f" {name}"
        else:
            chunks.append(name[:TAG_VALUE_LIMIT])
    return chunks


def cleared(tags: dict[str, str]) -> dict[str, str | None]:
    """Removals (None values) for every marker tag present."""
    return {k: None for k in tags if k == TAG_RUN_ID or k.startswith(TAG_STARTED)}


def read_marker(tags: dict[str, str]) -> tuple[str, list[TriggerRecord]] | None:
    """(run id, the Started triggers it recorded), or None when no run is recorded in progress."""
    run_id = tags.get(TAG_RUN_ID)
    if not run_id:
        return None
    names = [n for i in range(MAX_TAGS) for n in (tags.get(_key(i)) or "").split()]
    return run_id, [TriggerRecord(name, "", "Started") for name in names]


def _key(i: int) -> str:
    return TAG_STARTED if i == 0 else f"{TAG_STARTED}-{i + 1}"
