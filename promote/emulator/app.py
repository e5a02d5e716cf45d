"""What every handler works with: the store, the deployment engine, the test controls and the settings.

One object per running server, built by `server.EmulatorServer.start`; the handlers in `api/` receive it as
their first argument. It holds no behaviour of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from promote.emulator.control import ControlState
from promote.emulator.deployments import Deployments
from promote.emulator.settings import Settings
from promote.emulator.store import Store


@dataclass
class App:
    store: Store
    settings: Settings
    control: ControlState
    deployments: Deployments
    info: dict[str, Any] = field(default_factory=dict)  # endpoint, CA file, state dir (for GET /_emulator)

    def reset(self) -> None:
        """Everything back to the start: running deployments cancelled, state, faults, log, settings, clock."""
        self.control.release_holds()
        self.deployments.shutdown()
        self.store.reset()
        self.control.reset()
