"""`promote.apply.factory_api.FactoryApi` over a `Connection`: the runner's and executor's calls, each one of
`operations` or `reader` bound to the connection's factory."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promote.apply.factory_api import Progress
from promote.apply.lease import TagsRead
from promote.azure import operations, reader
from promote.azure.connection import Connection
from promote.factory import ObjectKey
from promote.live import LiveState, TriggerState
from promote.runs import RunInfo


@dataclass(frozen=True)
class AzureFactoryApi:
    """One target factory reached through `conn` (Azure or an emulator: `promote.endpoints` chose)."""

    conn: Connection

    def read_live(self) -> LiveState:
        return reader.read_live(self.conn)

    def read_triggers(self) -> dict[str, TriggerState]:
        return reader.read_triggers(self.conn)

    def ensure_factory(self) -> bool:
        return operations.ensure_factory(self.conn)

    def set_factory_tags(self, tags: Mapping[str, str | None]) -> Mapping[str, str]:
        return operations.set_factory_tags(self.conn, tags)

    def settle_deployments(self, prefix: str, *, progress: Progress | None = None) -> list[str]:
        return operations.settle_deployments(self.conn, prefix, progress=progress)

    def deploy_template(
        self,
        name: str,
        template: Mapping[str, Any],
        parameters: Mapping[str, Any],
        tags: Mapping[str, str],
        *,
        progress: Progress | None = None,
    ) -> operations.DeploymentResult:
        return operations.deploy_template(self.conn, name, template, parameters, tags=tags, progress=progress)

    def delete_object(self, key: ObjectKey) -> bool:
        return operations.delete_object(self.conn, key)

    def stop_trigger(self, name: str) -> None:
        operations.stop_trigger(self.conn, name)

    def start_trigger(self, name: str, *, time_limit: float) -> None:
        operations.start_trigger(self.conn, name, time_limit=time_limit)

    def subscribe_trigger(self, name: str, *, time_limit: float) -> str:
        return operations.subscribe_trigger(self.conn, name, time_limit=time_limit)

    def unsubscribe_trigger(self, name: str, *, time_limit: float) -> str:
        return operations.unsubscribe_trigger(self.conn, name, time_limit=time_limit)

    def run_pipeline(self, name: str, parameters: Mapping[str, Any], *, timeout: float) -> operations.RunResult:
        return operations.run_pipeline(self.conn, name, parameters, timeout=timeout)

    def runs_in_progress(self, pipelines: Sequence[str]) -> list[RunInfo]:
        return operations.runs_in_progress(self.conn, pipelines)

    def wait_for_runs(
        self, pipelines: Sequence[str], *, time_limit: float, cancel: bool, progress: Progress | None = None
    ) -> list[RunInfo]:
        return operations.wait_for_runs(self.conn, pipelines, time_limit=time_limit, cancel=cancel, progress=progress)


@dataclass(frozen=True)
class AzureLeaseStore:
    """`promote.apply.lease.LeaseStore` over a connection: the factory's tags, written with If-Match."""

    conn: Connection

    def read(self) -> TagsRead | None:
        read = operations.read_factory_tags(self.conn)
        return TagsRead(read.tags, read.etag) if read is not None else None

    def write(self, tags: Mapping[str, str], *, if_match: str | None) -> TagsRead | None:
        written = operations.write_factory_tags(self.conn, tags, if_match=if_match)
        return TagsRead(written.tags, written.etag) if written is not None else None
