"""The seam between a run and the world: every call the runner and the executor make on a target factory.

`promote.azure.api.AzureFactoryApi` implements it over the real SDK clients (Azure or the emulator); the unit
tests of the runner and the executor implement it in-process (`tests/fake_factory.py`). Each method is bound to
one target factory, so nothing above this seam holds a connection.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from promote.factory import ObjectKey
from promote.live import LiveState, TriggerState
from promote.runs import RunInfo

Progress = Callable[[str], None]


class PipelineRun(Protocol):
    """How a smoke run ended (`promote.azure.operations.RunResult`)."""

    @property
    def run_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def seconds(self) -> float: ...
    @property
    def succeeded(self) -> bool: ...


class FactoryApi(Protocol):
    """What a run does to, and reads from, one target factory. Errors are `promote.azure.errors` domain errors."""

    # reading
    def read_live(self) -> LiveState:
        """The whole factory: objects, trigger states, tags, fingerprint (`exists=False` when it is missing)."""
        ...

    def read_triggers(self) -> dict[str, TriggerState]:
        """Only the triggers' states (cheaper than `read_live`)."""
        ...

    # the factory and its record
    def ensure_factory(self) -> bool:
        """Create the factory when it does not exist (a `local` target only); True when created."""
        ...

    def set_factory_tags(self, tags: Mapping[str, str | None]) -> Mapping[str, str]:
        """Merge `tags` into the factory's (None removes one) with a tags-only update; the tags now set."""
        ...

    # deployments
    def settle_deployments(self, prefix: str, *, progress: Progress | None = None) -> list[str]:
        """Cancel and wait out the deployments named `prefix...` still running; their names. `progress` hears
        what a long wait waits for."""
        ...

    def deploy_template(
        self,
        name: str,
        template: Mapping[str, Any],
        parameters: Mapping[str, Any],
        tags: Mapping[str, str],
        *,
        progress: Progress | None = None,
    ) -> object:
        """One Incremental resource group deployment, waited for; raises when it fails. `progress` hears what a
        long wait waits for."""
        ...

    def delete_object(self, key: ObjectKey) -> bool:
        """Delete one object; False when it was already gone."""
        ...

    # triggers
    def stop_trigger(self, name: str) -> None: ...
    def start_trigger(self, name: str, *, time_limit: float) -> None: ...
    def subscribe_trigger(self, name: str, *, time_limit: float) -> str: ...
    def unsubscribe_trigger(self, name: str, *, time_limit: float) -> str: ...

    # runs
    def run_pipeline(self, name: str, parameters: Mapping[str, Any], *, timeout: float) -> PipelineRun: ...

    def runs_in_progress(self, pipelines: Sequence[str]) -> Sequence[RunInfo]:
        """The runs of these pipelines that have not ended (Queued, InProgress, Canceling), oldest first."""
        ...

    def wait_for_runs(
        self, pipelines: Sequence[str], *, time_limit: float, cancel: bool, progress: Progress | None = None
    ) -> Sequence[RunInfo]:
        """Wait until no run of these pipelines is in progress (WaitTimeout after `time_limit` seconds); with
        `cancel`, cancel each one found first, recursively. Every run waited for. `progress` hears what a long
        wait waits for, and each cancel."""
        ...
