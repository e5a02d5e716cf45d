"""A trigger's state as a run records it before touching anything: what is put back when the run fails.

Recorded by the plan's first step into the journal (and, for a runner without the journal, the names of the
Started ones on the factory: `promote.record.marker`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TriggerRecord:
    """One live trigger as it was when the plan was made: the state to restore if anything goes wrong."""

    name: str
    trigger_type: str  # ScheduleTrigger, TumblingWindowTrigger, BlobEventsTrigger, ... ("" when unknown)
    runtime_state: str  # Started | Stopped | Disabled | Unknown
    subscription_status: str | None = None  # event triggers: Enabled | Provisioning | ... ; others None

    @property
    def started(self) -> bool:
        return self.runtime_state == "Started"
