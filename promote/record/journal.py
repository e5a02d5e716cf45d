"""The journal of a run: what was done, step by step, written before and after each step.

A run can be killed at any moment (a cancelled CI job, a laptop lid). The journal is what the next run reads to
know that the factory is half way between two commits and which triggers were running before anything was
touched: the live factory cannot tell, since the run itself stopped them. It lives beside the run
(`.promote/journal/<env>.json`) and is rewritten atomically after every change, so a reader never sees half a
file. In CI the workflow keeps `.promote/` as an artifact for people to read; a fresh runner does not restore it,
so there recovery relies on what Azure itself records (the factory's tags).
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from promote.errors import InputError
from promote.record.triggers import TriggerRecord
from promote.untrusted import ENVELOPE_DEPTH, load_json

RUNNING = "running"
ROLLING_BACK = "rolling-back"
SUCCEEDED = "succeeded"
ROLLED_BACK = "rolled-back"
ROLLBACK_FAILED = "rollback-failed"
RECOVERED = "recovered"
# A run whose rollback did not complete stays the environment's journal, like an interrupted one: the factory is
# between two commits and its record of trigger states is the only one left, so the next run must inherit both.
UNFINISHED = frozenset({RUNNING, ROLLING_BACK, ROLLBACK_FAILED})


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Entry:
    """One event of a run: a step begun, done or failed, a rollback, a note."""

    at: str
    event: str  # begin | done | failed | note | rollback-begin | rollback-done | rollback-failed
    step: int | None = None
    what: str = ""
    detail: str = ""


@dataclass
class Journal:
    """A run of one plan against one environment."""

    environment: str
    commit: str
    plan_hash: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    started: str = field(default_factory=_now)
    status: str = RUNNING
    kind: str = "deploy"  # deploy | rollback | recovery
    last_good_commit: str | None = None  # what the factory ran before this run (its tags), the rollback target
    triggers_before: list[TriggerRecord] | None = None  # step 1's record: the trigger states to restore
    wrote: bool = False  # a write or delete was begun: the factory may differ from last_good_commit
    done: list[int] = field(default_factory=list)  # indexes of completed steps
    overrides: list[str] = field(default_factory=list)  # the guards the plan goes around, and why
    entries: list[Entry] = field(default_factory=list)
    path: Path | None = field(default=None, repr=False, compare=False)

    # ---------------------------------------------------------------------------------------------- writing

    def log(self, event: str, what: str = "", *, step: int | None = None, detail: str = "") -> None:
        self.entries.append(Entry(_now(), event, step, what, detail))
        self.save()

    def step_done(self, index: int, what: str) -> None:
        self.done.append(index)
        self.log("done", what, step=index)

    def finish(self, status: str) -> None:
        self.status = status
        self.log("note", f"run {status}")

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = asdict(self)
        data.pop("path")
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, self.path)

    @property
    def unfinished(self) -> bool:
        return self.status in UNFINISHED


def journal_path(root: Path, environment: str) -> Path:
    from promote.environment.layout import scoped  # one factory's staging never shares another's journal

    return root / ".promote" / "journal" / f"{scoped(environment)}.json"


def load(path: Path) -> Journal | None:
    """The journal at `path`, or None when there is none. A journal that is not one (edited, truncated by a full
    disk) is refused naming the file: guessing what a killed run did could restart the wrong triggers."""
    if not path.is_file():
        return None
    hint = "it records a run that did not finish; read it, then move it away to start afresh"
    data = load_json(path.read_bytes(), str(path), max_depth=ENVELOPE_DEPTH, what="not a journal", hint=hint)
    try:
        return _journal(data, path)
    except KeyError as exc:
        raise InputError.single(str(path), f"not a journal: it has no {exc}", hint=hint) from None
    except (TypeError, AttributeError, ValueError) as exc:
        raise InputError.single(str(path), f"not a journal: {exc}", hint=hint) from None


def _journal(data: Any, path: Path) -> Journal:
    triggers = data.get("triggers_before")
    journal = Journal(
        environment=data["environment"],
        commit=data["commit"],
        plan_hash=data["plan_hash"],
        run_id=data["run_id"],
        started=data["started"],
        status=data["status"],
        kind=data.get("kind", "deploy"),
        last_good_commit=data.get("last_good_commit"),
        triggers_before=[TriggerRecord(**t) for t in triggers] if triggers is not None else None,
        wrote=bool(data.get("wrote", True)),  # unknown: assume the worst
        done=list(data.get("done", [])),
        overrides=[str(o) for o in data.get("overrides", [])],
        entries=[Entry(**e) for e in data.get("entries", [])],
    )
    journal.path = path
    return journal


def archive(journal: Journal) -> None:
    """Move a finished journal to `runs/` beside it, so the next run starts clean and history stays."""
    if journal.path is None or not journal.path.exists():
        return
    runs = journal.path.parent.parent / "runs" / journal.environment
    runs.mkdir(parents=True, exist_ok=True)
    os.replace(journal.path, runs / f"{journal.started.replace(':', '')}-{journal.run_id}.json")
