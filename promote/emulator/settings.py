"""The emulator's tunable behaviour and its clock.

Everything time-based (pipeline runs, event subscriptions, deployments) reads the same `Clock`, which the
control API can move forward, so that tests never sleep to see a state change. `Settings` are changed at run
time through `PATCH /_emulator/settings`; `reset` restores the values the server was started with.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class Settings:
    page_size: int = 50  # items per page of every list (nextLink / continuationToken after that)
    run_queue_seconds: float = 0.5  # a pipeline run stays Queued this long
    run_seconds: float = 2.0  # ... then InProgress this long, then Succeeded or Failed
    subscription_seconds: float = 1.0  # Provisioning / Deprovisioning of an event subscription
    deployment_seconds: float = 0.0  # a deployment stays Running at least this long
    latency_seconds: float = 0.0  # added to every request (benchmarks)
    lro_retry_after: float | None = None  # Retry-After on long-running-operation answers; None: header omitted
    deployment_history_prune: bool = True  # ARM deletes old deployments past 700 itself; False: quota error at 800
    location: str = "westeurope"  # the resource group location used by templates' resourceGroup().location

    def update(self, values: dict[str, Any]) -> None:
        """Apply known fields, refusing unknown ones and wrong types (the control API's input)."""
        fields = {f.name: f for f in dataclasses.fields(self)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}; known: {', '.join(sorted(fields))}")
        for name, value in values.items():
            current = getattr(self, name)
            if name == "lro_retry_after":
                value = None if value is None else float(value)
            elif isinstance(current, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"{name} must be true or false")
            elif isinstance(current, int):
                value = int(value)
                if name == "page_size" and value < 1:
                    raise ValueError("page_size must be at least 1")
            elif isinstance(current, float):
                value = float(value)
                if value < 0:
                    raise ValueError(f"{name} must not be negative")
            elif isinstance(current, str):
                value = str(value)
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def copy(self) -> Settings:
        return dataclasses.replace(self)


class Clock:
    """Wall-clock time plus an offset the control API can advance."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0
