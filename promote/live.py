"""The live side: what a target factory holds now, as data (read by `promote.azure`, used by plan and drift)."""

from __future__ import annotations

from dataclasses import dataclass, field

from promote.factory import Factory

EVENT_TRIGGER_TYPES = frozenset({"BlobEventsTrigger", "CustomEventsTrigger"})


def is_event_trigger(trigger_type: object) -> bool:
    """Blob and Custom event triggers own an Event Grid subscription that must be (un)subscribed explicitly. The
    type comes from a template or from the factory's answer: anything but one of those names is not one."""
    return isinstance(trigger_type, str) and trigger_type in EVENT_TRIGGER_TYPES


@dataclass(frozen=True)
class TriggerState:
    """A trigger's runtime state and, for event triggers, its event subscription status."""

    name: str
    runtime_state: str  # Started | Stopped | Disabled
    subscription_status: str | None = None  # Enabled | Provisioning | Deprovisioning | Disabled | Unknown


@dataclass
class LiveState:
    """The live factory: its objects (properties normalised like the desired side), trigger states, tags.

    `fingerprint` identifies exactly what was read (raw JSON of every object plus trigger states), so that a
    saved plan can be refused when the factory changed since it was computed.
    """

    factory: Factory
    triggers: dict[str, TriggerState] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    fingerprint: str = ""
    exists: bool = True  # False when the factory itself does not exist yet
    etag: str | None = None  # the factory resource's etag as read (a lease is taken on it: `promote.apply.lease`)
