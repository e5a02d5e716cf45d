"""Resource group deployments as ARM answers for them, without HTTP: accept (validate and start a worker),
report, list, cancel, delete, validate, what-if.

A deployment is checked synchronously (`validation.prepare`), recorded as `Accepted`, then executed by a worker
thread (`running.Run`). Everything it shows lives in the store (`store/deployment_records.py`), so that another
process on the same state file sees the same history. The handlers in `api/resources.py` turn these results
into HTTP answers.

Several emulators may share a state file, and one may die (killed, crashed) while its worker runs a deployment.
Azure never loses a deployment; an emulator cannot resume one, because secure parameter values are never
stored. So a deployment whose owner is gone is ended as soon as any emulator looks at it (at its start, and on
every read of deployments): `Failed` with `DeploymentInterrupted`, or `Canceled` when the look was a cancel.
A cancel of a deployment another live emulator runs is passed to it through the store.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from promote.emulator import errors
from promote.emulator.deployments.diffing import changes
from promote.emulator.deployments.recording import render_deployment
from promote.emulator.deployments.running import Run, WriteHooks
from promote.emulator.deployments.validation import prepare
from promote.emulator.settings import Settings
from promote.emulator.store import GroupScope, Store, iso
from promote.emulator.store.deployment_records import RUNNING_STATES, ActiveDeployment

HISTORY_QUOTA = 800


class Liveness(Protocol):
    """Which emulator this is, and whether another one sharing the state file still runs (`instances.Instance`)."""

    token: str

    def alive(self, token: str | None) -> bool: ...


@dataclass(frozen=True)
class Accepted:
    """A deployment accepted for running: its body (Accepted), the id of the operation status clients poll, and
    whether it replaced a finished deployment of the same name (ARM answers 200 then, else 201)."""

    body: dict[str, Any]
    operation: str
    replaced: bool


class Deployments:
    """Runs deployments on worker threads and answers for them."""

    def __init__(self, store: Store, settings: Settings, hooks: WriteHooks, instance: Liveness) -> None:
        self.store = store
        self.settings = settings
        self.hooks = hooks
        self.instance = instance
        self._lock = threading.Lock()
        self._running: dict[tuple[str, str], tuple[threading.Thread, Run]] = {}

    # --- lifecycle ---------------------------------------------------------------------------------------

    def shutdown(self, timeout: float = 5.0) -> None:
        """Cancel every running deployment and wait for the workers (server stop, reset)."""
        with self._lock:
            running = list(self._running.values())
        for _, run in running:
            run.cancel.set()
        for thread, _ in running:
            thread.join(timeout)

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until no deployment is running (tests that read the final state without polling)."""
        with self._lock:
            threads = [thread for thread, _ in self._running.values()]
        for thread in threads:
            thread.join(timeout)

    def is_running(self, scope: GroupScope, name: str) -> bool:
        """Whether a worker runs this deployment: this emulator's, or a live one's sharing the state file."""
        with self._lock:
            entry = self._running.get((scope.key, name.lower()))
        if entry is not None and entry[0].is_alive():
            return True
        self.reconcile(scope)
        return self.store.deployment_state(scope, name) in RUNNING_STATES

    def reconcile(self, scope: GroupScope | None = None) -> list[str]:
        """End the deployments (of `scope`, or all) whose emulator is gone, as interrupted; their names."""
        ended = []
        for active in self.store.active_deployments(scope):
            if self._abandoned(active) and self._end(active, "Failed"):
                ended.append(str(active.body.get("name") or active.lname))
        return ended

    def _abandoned(self, active: ActiveDeployment) -> bool:
        if active.owner == self.instance.token:  # ours: abandoned only if no worker of ours runs it
            with self._lock:
                entry = self._running.get((active.skey, active.lname))
            return entry is None or not entry[0].is_alive()
        return not self.instance.alive(active.owner)

    def _end(self, active: ActiveDeployment, state: str) -> bool:
        error = None
        if state == "Failed":
            error = errors.deployment_interrupted(str(active.body.get("id") or active.lname)).as_error()
        return self.store.end_abandoned(active, state, error, iso(self.store.clock.now()))

    # --- create, validate, what-if -----------------------------------------------------------------------

    def create(self, scope: GroupScope, name: str, body: Any) -> Accepted:
        """Validate and start a deployment; 409 DeploymentActive while one of that name runs."""
        if self.is_running(scope, name):
            raise errors.deployment_active(name)
        prepared = prepare(scope, name, body, self.settings.location)
        if isinstance(prepared.on_error, dict) and str(prepared.on_error.get("type")).lower() == "lastsuccessful":
            last = self._last_succeeded(scope)
            if last is not None:
                prepared.on_error = {**prepared.on_error, "deploymentName": last}
        key = (scope.key, name.lower())
        with self._lock:  # check and register as one step: two PUTs of one name cannot both start
            entry = self._running.get(key)
            if entry is not None and entry[0].is_alive():
                raise errors.deployment_active(name)
            if self.store.deployment_state(scope, name) in RUNNING_STATES:  # another live emulator runs it
                raise errors.deployment_active(name)
            existed = self.store.deployment_state(scope, name) is not None
            if not existed and not self.settings.deployment_history_prune:
                count = self.store.count_deployments(scope)
                if count >= HISTORY_QUOTA:
                    raise errors.deployment_quota(count)
            run = Run(
                self.store,
                self.settings,
                self.hooks,
                prepared,
                uuid.uuid4().hex,
                self.store.clock.now(),
                str(uuid.uuid4()),
            )
            rendered = run.render("Accepted")
            self.store.save_deployment(
                scope, name, "Accepted", rendered, prepared.template, owner=self.instance.token, op_id=run.op_id
            )
            self.store.clear_operations(scope, name)
            self.store.set_async(run.op_id, "Running", {"status": "Running"})
            thread = threading.Thread(target=self._work, args=(run,), name=f"deployment-{name}", daemon=True)
            self._running[key] = (thread, run)
            thread.start()
        return Accepted(rendered, run.op_id, existed)

    def _work(self, run: Run) -> None:
        key = (run.prepared.scope.key, run.prepared.name.lower())
        try:
            run.execute()
        finally:
            with self._lock:
                entry = self._running.get(key)
                if entry is not None and entry[0] is threading.current_thread():
                    del self._running[key]

    def _last_succeeded(self, scope: GroupScope) -> str | None:
        """The newest Succeeded deployment of the resource group (what `onErrorDeployment: LastSuccessful` names)."""
        for text in reversed(self.store.list_deployments(scope)):
            body = json.loads(text)
            if body["properties"].get("provisioningState") == "Succeeded":
                return body["name"]
        return None

    def validate(self, scope: GroupScope, name: str, body: Any) -> dict[str, Any]:
        """ARM's validate: the deployment as it would be accepted, with `validatedResources`; nothing recorded."""
        prepared = prepare(scope, name, body, self.settings.location)
        now = self.store.clock.now()
        rendered = render_deployment(prepared, "Succeeded", now, now, str(uuid.uuid4()), self.settings.location)
        rendered["properties"].pop("outputResources", None)
        rendered["properties"]["validatedResources"] = [{"id": r.id} for r in prepared.resources]
        return rendered

    def what_if(self, scope: GroupScope, name: str, body: Any) -> str:
        """Compute a what-if result now; the id under which it is read (the Location the client polls)."""
        prepared = prepare(scope, name, body, self.settings.location)
        op_id = uuid.uuid4().hex
        self.store.set_async(
            op_id, "Succeeded", {"status": "Succeeded", "properties": {"changes": changes(self.store, prepared)}}
        )
        return op_id

    def what_if_result(self, op_id: str) -> dict[str, Any]:
        found = self.store.get_async(op_id)
        if found is None:
            raise errors.EmulatorError(404, "NotFound", f"The what-if operation '{op_id}' was not found.")
        return found[1]

    # --- reading -----------------------------------------------------------------------------------------

    def operation_status(self, op_id: str) -> tuple[str, dict[str, Any]]:
        """(status, body) of a deployment's long-running operation."""
        self.reconcile()
        found = self.store.get_async(op_id)
        if found is None:
            raise errors.EmulatorError(404, "NotFound", f"The deployment operation status '{op_id}' was not found.")
        return found

    def get(self, scope: GroupScope, name: str) -> dict[str, Any]:
        self.reconcile(scope)
        return self.store.get_deployment(scope, name)[1]

    def exists(self, scope: GroupScope, name: str) -> bool:
        return self.store.deployment_state(scope, name) is not None

    def template(self, scope: GroupScope, name: str) -> Any:
        return self.store.get_deployment(scope, name)[2]

    def history(self, scope: GroupScope, state_filter: str | None, top: int | None) -> list[str]:
        """The history (oldest first), narrowed by `$filter=provisioningState eq '...'`, the last `top`."""
        wanted = _state_filter(state_filter)
        self.reconcile(scope)
        items = self.store.list_deployments(scope)
        if wanted is not None:
            items = [i for i in items if json.loads(i)["properties"].get("provisioningState", "").lower() == wanted]
        if top:
            items = items[-top:]
        return items

    def operations(self, scope: GroupScope, name: str, top: int | None) -> list[str]:
        if self.store.deployment_state(scope, name) is None:
            raise errors.deployment_not_found(name)
        items = self.store.list_operations(scope, name)
        return items[:top] if top else items

    def operation(self, scope: GroupScope, name: str, op_id: str) -> str:
        body = self.store.get_operation(scope, name, op_id)
        if body is None:
            raise errors.EmulatorError(
                404, "DeploymentOperationNotFound", f"Deployment operation '{op_id}' could not be found."
            )
        return body

    # --- delete, cancel ----------------------------------------------------------------------------------

    def delete(self, scope: GroupScope, name: str) -> None:
        if self.is_running(scope, name):
            raise errors.EmulatorError(
                409, "DeploymentActive", f"The deployment '{name}' is running and cannot be deleted; cancel it first."
            )
        self.store.delete_deployment(scope, name)

    def cancel(self, scope: GroupScope, name: str) -> None:
        """Stop a running deployment after the resource it is writing. One another live emulator runs is asked
        to stop through the store; one whose emulator is gone is ended Canceled here. 409 when it is not
        running."""
        with self._lock:
            entry = self._running.get((scope.key, name.lower()))
        if entry is not None and entry[0].is_alive():
            entry[1].cancel.set()
            return
        for active in self.store.active_deployments(scope):
            if active.lname != name.lower():
                continue
            if not self._abandoned(active):
                self.store.request_cancel(scope, name)
                return
            if self._end(active, "Canceled"):
                return
        if self.store.deployment_state(scope, name) is None:
            raise errors.deployment_not_found(name)
        raise errors.EmulatorError(
            409, "DeploymentCannotBeCancelled", f"The deployment '{name}' is not running and cannot be cancelled."
        )


def _state_filter(text: str | None) -> str | None:
    if not text:
        return None
    m = re.fullmatch(r"\s*provisioningState\s+eq\s+'(\w+)'\s*", text, re.IGNORECASE)
    if m is None:
        raise errors.EmulatorError(400, "InvalidFilter", f"The filter '{text}' is not supported.")
    return m.group(1).lower()
