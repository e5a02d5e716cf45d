"""Running one accepted deployment on a worker thread: the resources in dependency waves, each written through
the store under exactly the rules of a direct PUT, its operation recorded, and the deployment's final state and
error set.

ARM is not transactional: what was written stays written, and a failure stops only what depends on it.
"""

from __future__ import annotations

import contextlib
import json
import threading
from typing import Any, Protocol

from promote.emulator import errors
from promote.emulator.deployments.model import PlannedResource, Prepared
from promote.emulator.deployments.recording import deployment_id, operation_record, render_deployment
from promote.emulator.settings import Settings
from promote.emulator.store import GroupScope, Store

HISTORY_PRUNE_ABOVE = 700  # ARM deletes old entries once the history passes 700 ...
HISTORY_PRUNE_TO = 600  # ... down to 600


class WriteHooks(Protocol):
    """What the test controls do to a deployment's writes (`ControlState.internal_write`): delay or fail the
    write of the resource at `path` (its ARM id) as a matching fault rule says."""

    def internal_write(self, path: str) -> None: ...


class Run:
    """One deployment being executed; `cancel` stops it after the resource being written."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        hooks: WriteHooks,
        prepared: Prepared,
        op_id: str,
        started: float,
        correlation: str,
    ) -> None:
        self.store = store
        self.settings = settings
        self.hooks = hooks
        self.prepared = prepared
        self.op_id = op_id
        self.started = started
        self.correlation = correlation
        self.cancel = threading.Event()
        self.t0 = started  # when the resource being written started

    def render(self, state: str, written: list[str] | None = None, error: dict[str, Any] | None = None) -> dict:
        return render_deployment(
            self.prepared,
            state,
            self.started,
            self.store.clock.now(),
            self.correlation,
            self.settings.location,
            written,
            error,
        )

    def execute(self) -> None:
        """Write the resources wave by wave, as ARM does: a failed resource does not stop those that do not
        depend on it; what depends on a failed one (directly or not) is not attempted. Each attempt is recorded
        as an operation. Ends Succeeded, Failed (every failed resource's error in the details) or Canceled."""
        prepared = self.prepared
        scope, name = prepared.scope, prepared.name
        try:
            self.store.update_deployment(scope, name, "Running", self.render("Running"))
            failures: list[errors.EmulatorError] = []
            blocked: set[int] = set()  # resources failed or not attempted: their dependents are not attempted
            written: list[str] = []
            canceled = False
            seq = 0
            for resource in prepared.resources:  # wave by wave (graph.order)
                if self.cancelled():
                    canceled = True
                    break
                if any(id(d) in blocked for d in resource.depends_on):
                    blocked.add(id(resource))
                    continue
                seq += 1
                failure = self._attempt(resource)
                op_id, body = operation_record(scope, name, seq, resource, self.t0, self.store.clock.now(), failure)
                self.store.add_operation(scope, name, seq, op_id, body)
                if failure is None:
                    written.append(resource.id)
                else:
                    failures.append(failure)
                    blocked.add(id(resource))
            if not failures and not canceled and prepared.mode == "Complete":
                delete_unlisted_factories(self.store, prepared)
            if not failures and not canceled:  # a cancel accepted while the last resource was written counts too
                canceled = self.cancelled() or self._linger()
            error = None
            if failures:
                target = deployment_id(scope, name)
                error = errors.deployment_failed([f.as_error() for f in failures], target).as_error()
            self.finish("Failed" if failures else "Canceled" if canceled else "Succeeded", written, error)
            if self.settings.deployment_history_prune and self.store.count_deployments(scope) > HISTORY_PRUNE_ABOVE:
                self.store.prune_deployments(scope, HISTORY_PRUNE_TO)
        except Exception as exc:  # a bug must still end the operation, or the client polls forever
            error = errors.internal(f"The emulator failed while deploying: {exc!r}").as_error()
            with contextlib.suppress(Exception):  # the store may be closed (the server stopping)
                self.finish("Failed", [], error)
            raise

    def cancelled(self) -> bool:
        """Asked to stop: by this emulator (cancel, reset, stop) or by another sharing the state file."""
        return self.cancel.is_set() or self.store.cancel_requested(self.prepared.scope, self.prepared.name)

    def _linger(self) -> bool:
        """Stay Running until `deployment_seconds` after the start (by the emulator's clock); True if cancelled
        meanwhile. Checks for a cancel at least every 0.05 s."""
        while True:
            remaining = self.started + self.settings.deployment_seconds - self.store.clock.now()
            if remaining <= 0:
                return False
            if self.cancel.wait(min(remaining, 0.05)) or self.cancelled():
                return True

    def _attempt(self, resource: PlannedResource) -> errors.EmulatorError | None:
        """Write one resource (after what the test controls do to it); its error, or None."""
        self.t0 = self.store.clock.now()
        try:
            self.hooks.internal_write(resource.id)
            write_resource(self.store, self.prepared.scope, resource)
        except errors.EmulatorError as exc:
            return exc
        return None

    def finish(self, state: str, written: list[str], error: dict[str, Any] | None) -> None:
        """Record the final state on the deployment and on the operation status clients poll."""
        self.store.update_deployment(self.prepared.scope, self.prepared.name, state, self.render(state, written, error))
        status: dict[str, Any] = {"status": state}
        if error is not None:
            status["error"] = error
        self.store.set_async(self.op_id, state, status)


def write_resource(store: Store, scope: GroupScope, resource: PlannedResource) -> None:
    """One resource of a deployment, through the same store method (and so the same rules) as a direct PUT."""
    if resource.kind is None:
        body: dict[str, Any] = {
            key: resource.other[key] for key in ("location", "tags", "identity") if key in resource.other
        }
        body["properties"] = resource.properties if isinstance(resource.properties, dict) else {}
        store.put_factory(scope, resource.factory, body)
    else:
        assert resource.child is not None
        store.put_object(scope, resource.factory, resource.kind, resource.child, {"properties": resource.properties})


def delete_unlisted_factories(store: Store, prepared: Prepared) -> None:
    """Complete mode deletes the resource group's top-level resources that the template does not hold."""
    keep = {r.factory.lower() for r in prepared.resources}
    for text in store.list_factories(prepared.scope.subscription, prepared.scope.resource_group):
        factory = json.loads(text)["name"]
        if factory.lower() not in keep:
            store.delete_factory(prepared.scope, factory)
