"""The calls the executor makes, each small, time-limited, bounded in retries, raising domain errors.

Retries of transport trouble (429 with `Retry-After`, 5xx, resets) are the SDK's `RetryPolicy`, configured in
`connection`. What is added here are ADF's own "not now" answers, which no HTTP policy can know about:

- starting an event trigger while its subscription is provisioning answers 400 `Resource cannot be updated
  during provisioning`; the start is retried with backoff until a time limit;
- (un)subscribing to events is a long-running operation; its status is polled here with a time limit and
  backoff, never forever (Microsoft's sample script polls every 15 s with no limit and hangs jobs);
- deployments and pipeline runs are waited for with a time limit too; a run over its limit is cancelled. A long
  wait says what it waits for, in what state, and for how long at most (`ClientSettings.progress_interval`,
  `deployment_timeout`): "waiting for deployment X (Running, 40 s of at most 600 s)".

Many triggers are stopped or started concurrently (`stop_triggers` / `start_triggers`, a bounded pool): at
200 ms per call, 200 triggers take 40 s one by one and under 3 s sixteen at a time.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from promote.azure._http import call_error, checked, json_object, pages, sdk_call, send, translate
from promote.azure.connection import Connection
from promote.azure.errors import (
    AzureCallError,
    AzureError,
    DeploymentFailed,
    FailedResource,
    TemplateRejected,
    WaitTimeout,
)
from promote.azure.reader import subscription_status_raw
from promote.factory import ObjectKey, object_key_from_arm
from promote.runs import RUN_IN_PROGRESS, RunInfo, runs_text, top_most
from promote.untrusted import ENVELOPE_DEPTH, parse_json, utc_text

T = TypeVar("T")
Progress = Callable[[str], None]

DEFAULT_TRIGGER_START_LIMIT = 300.0
DEFAULT_SUBSCRIPTION_LIMIT = 300.0
MIN_POLL = 0.02  # our own polls never spin faster than this, even with polling_interval 0

# Contract type -> the path segment of a single object (MPEs are handled apart: they sit below a network).
_SEGMENTS: dict[str, str] = {
    "pipelines": "pipelines",
    "datasets": "datasets",
    "linkedServices": "linkedservices",
    "triggers": "triggers",
    "dataflows": "dataflows",
    "integrationRuntimes": "integrationRuntimes",
    "managedVirtualNetworks": "managedVirtualNetworks",
    "globalParameters": "globalParameters",
    "credentials": "credentials",
    "adfcdcs": "adfcdcs",
}
_RUN_FINAL = frozenset({"Succeeded", "Failed", "Cancelled", "Canceled"})
RUN_HISTORY_DAYS = 45  # how long ADF keeps pipeline runs: no run in progress can have been updated earlier
_RUN_QUERY_CHUNK = 100  # pipeline names per query (the In filter's values)


# --------------------------------------------------------------------------------------------------- results


@dataclass
class BatchResult:
    """Outcome of one call per name, run concurrently: who succeeded, who failed with which error."""

    succeeded: list[str] = field(default_factory=list)
    failed: dict[str, AzureError] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass(frozen=True)
class DeploymentResult:
    name: str
    state: str
    timestamp: str | None = None
    duration: str | None = None
    output_resources: tuple[str, ...] = ()
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeploymentRecord:
    """One entry of the resource group's deployment history."""

    name: str
    state: str
    timestamp: str | None
    tags: dict[str, str]
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True)
class RunResult:
    """How a pipeline run ended. `timed_out`: it ran past the time limit and was cancelled."""

    run_id: str
    pipeline: str
    status: str  # Succeeded | Failed | Cancelled | Canceling | ...
    message: str
    timed_out: bool = False
    seconds: float = 0.0

    @property
    def succeeded(self) -> bool:
        return self.status == "Succeeded" and not self.timed_out


# --------------------------------------------------------------------------------------------------- helpers


def _poll_interval(conn: Connection) -> float:
    return max(conn.settings.polling_interval, MIN_POLL)


def run_concurrently(
    conn: Connection, call: Callable[[str], Any], names: Iterable[str], *, workers: int | None = None
) -> BatchResult:
    """`call(name)` for every name on a bounded thread pool (`workers`, default the connection's max_workers;
    1 runs them one by one). Every name is tried; errors are collected, not raised, so that one failed stop does
    not leave the others undone and the executor sees the full picture."""
    todo = list(dict.fromkeys(names))
    result = BatchResult()
    size = max(1, min(workers or conn.settings.max_workers, len(todo) or 1))

    def one(name: str) -> tuple[str, AzureError | None]:
        try:
            call(name)
        except AzureError as exc:
            return name, exc
        return name, None

    if size == 1:
        outcomes = [one(name) for name in todo]
    else:
        with ThreadPoolExecutor(max_workers=size, thread_name_prefix="promote-azure") as pool:
            outcomes = list(pool.map(one, todo))
    for name, error in outcomes:
        if error is None:
            result.succeeded.append(name)
        else:
            result.failed[name] = error
    return result


# --------------------------------------------------------------------------------------------------- triggers


def stop_trigger(conn: Connection, name: str) -> None:
    """Stop a trigger (200 with no body; stopping a stopped trigger is fine)."""
    with sdk_call(f"stop trigger {name}"):
        conn.adf.begin("POST", conn.factory_url("triggers", name, "stop")).result()


def start_trigger(conn: Connection, name: str, *, time_limit: float = DEFAULT_TRIGGER_START_LIMIT) -> None:
    """Start a trigger, retrying ADF's `Resource cannot be updated during provisioning` (an event trigger whose
    subscription is still changing) with backoff until `time_limit` seconds; then WaitTimeout."""
    deadline = time.monotonic() + time_limit
    delay = conn.settings.backoff_initial
    while True:
        try:
            with sdk_call(f"start trigger {name}"):
                conn.adf.begin("POST", conn.factory_url("triggers", name, "start")).result()
            return
        except AzureCallError as exc:
            if not exc.provisioning:
                raise
            left = deadline - time.monotonic()
            if left <= 0:
                raise WaitTimeout(f"start trigger {name}", time_limit, "Provisioning", exc) from exc
            time.sleep(min(delay, left))
            delay = min(delay * 2, conn.settings.backoff_max)


def stop_triggers(conn: Connection, names: Iterable[str], *, workers: int | None = None) -> BatchResult:
    """Stop many triggers concurrently (bounded pool); every one is tried."""
    return run_concurrently(conn, lambda name: stop_trigger(conn, name), names, workers=workers)


def start_triggers(
    conn: Connection,
    names: Iterable[str],
    *,
    workers: int | None = None,
    time_limit: float = DEFAULT_TRIGGER_START_LIMIT,
) -> BatchResult:
    """Start many triggers concurrently (bounded pool), each with `start_trigger`'s retry and time limit."""
    return run_concurrently(conn, lambda name: start_trigger(conn, name, time_limit=time_limit), names, workers=workers)


def subscribe_trigger(conn: Connection, name: str, *, time_limit: float = DEFAULT_SUBSCRIPTION_LIMIT) -> str:
    """Subscribe an event trigger to its events and wait until the subscription is `Enabled` (WaitTimeout
    after `time_limit` seconds). Safe to repeat: a subscription deleted outside ADF is re-created."""
    return _change_subscription(conn, name, subscribe=True, time_limit=time_limit)


def unsubscribe_trigger(conn: Connection, name: str, *, time_limit: float = DEFAULT_SUBSCRIPTION_LIMIT) -> str:
    """Unsubscribe an event trigger and wait until the subscription is `Disabled` (WaitTimeout after the limit)."""
    return _change_subscription(conn, name, subscribe=False, time_limit=time_limit)


def request_subscription(conn: Connection, name: str, *, subscribe: bool = True) -> str | None:
    """Ask for (un)subscription without waiting: POST subscribeToEvents / unsubscribeFromEvents, 200 or 202 with
    a Location to poll. Sent raw through the client's pipeline: the SDK's poller would follow the Location
    with no time limit, and its no-polling mode fails to parse the empty 202. The status when ADF answered
    200 with one (already done), else None."""
    action = "subscribeToEvents" if subscribe else "unsubscribeFromEvents"
    body = checked(
        conn.adf,
        "POST",
        conn.factory_url("triggers", name, action),
        operation=f"{'subscribe' if subscribe else 'unsubscribe'} trigger {name}",
    )
    status = body.get("status") if isinstance(body, dict) else None
    return str(status) if status else None


def _change_subscription(conn: Connection, name: str, *, subscribe: bool, time_limit: float) -> str:
    verb, wanted = ("subscribe", "Enabled") if subscribe else ("unsubscribe", "Disabled")
    if request_subscription(conn, name, subscribe=subscribe) == wanted:
        return wanted
    return wait_for(
        f"{verb} trigger {name}",
        lambda: subscription_status_raw(conn, name),
        lambda status: status == wanted,
        time_limit=time_limit,
        interval=_poll_interval(conn),
        backoff_max=conn.settings.backoff_max,
    )


class WaitReport:
    """Says, every `every` seconds of a wait, what it waits for: "waiting for deployment X (Running, 40 s of at
    most 600 s)". Silent without `progress`."""

    def __init__(self, what: str, time_limit: float, every: float, progress: Progress | None) -> None:
        self.what = what
        self.time_limit = time_limit
        self.every = every
        self.progress = progress
        self.started = time.monotonic()
        self._next = self.started + every

    def tick(self, state: str) -> None:
        now = time.monotonic()
        if self.progress is not None and now >= self._next:
            self._next = now + self.every
            self.progress(
                f"waiting for {self.what} ({state or 'no state yet'}, {now - self.started:.0f} s of at most "
                f"{self.time_limit:g} s)"
            )


def wait_for(
    what: str,
    read: Callable[[], T],
    done: Callable[[T], bool],
    *,
    time_limit: float,
    interval: float,
    backoff_max: float,
    progress: Progress | None = None,
    progress_every: float = 30.0,
) -> T:
    """Poll `read` until `done(value)`; the interval grows by half each time up to `backoff_max`. WaitTimeout
    (with the last value seen) when `time_limit` seconds pass. With `progress`, says every `progress_every`
    seconds what it is waiting for (`WaitReport`)."""
    deadline = time.monotonic() + time_limit
    report = WaitReport(what, time_limit, progress_every, progress)
    delay = interval
    while True:
        value = read()
        if done(value):
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            raise WaitTimeout(what, time_limit, str(value))
        report.tick(str(value))
        time.sleep(min(delay, left))
        delay = min(delay * 1.5, max(backoff_max, interval))


# --------------------------------------------------------------------------------------------------- deploy


def deploy_template(
    conn: Connection,
    name: str,
    template: Mapping[str, Any],
    parameters: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    *,
    time_limit: float | None = None,
    progress: Progress | None = None,
) -> DeploymentResult:
    """Run one resource group deployment in Incremental mode (never Complete: it deletes what the template lacks)
    and wait for it, at most `time_limit` seconds (default: the connection's `deployment_timeout`), saying
    through `progress` every `progress_interval` seconds what it waits for.

    `parameters` are ARM deployment parameters (`{"name": {"value": ...}}` or a Key Vault `{"reference": ...}`).
    Raises TemplateRejected when ARM refuses it up front (nothing written), DeploymentFailed with each failed
    resource's code and message (read from the deployment's operations) when it fails while running, and
    WaitTimeout when it is still running after `time_limit` seconds (it goes on in Azure).
    """
    limit = conn.settings.deployment_timeout if time_limit is None else time_limit
    body: dict[str, Any] = {
        "properties": {"mode": "Incremental", "template": dict(template), "parameters": dict(parameters or {})}
    }
    if tags:
        body["tags"] = dict(tags)
    from azure.core.exceptions import AzureError as SdkAzureError
    from azure.core.exceptions import HttpResponseError

    try:
        poller = conn.deployments.deployments.begin_create_or_update(conn.resource_group, name, body)
    except HttpResponseError as exc:
        error = translate(exc, f"deploy {name}")
        if error.status is not None and 400 <= error.status < 500 and error.status not in (401, 403, 404, 409, 429):
            raise TemplateRejected(
                error.code, error.message, error.target, error.status, operation=error.operation, details=error.details
            ) from exc
        raise error from exc
    except SdkAzureError as exc:
        raise translate(exc, f"deploy {name}") from exc

    try:
        _wait_for_poller(poller, f"deployment {name}", limit, conn.settings.progress_interval, progress)
        result = poller.result()
    except HttpResponseError as exc:
        error = translate(exc, f"deploy {name}")
        if error.status is None or error.status >= 300:
            raise error from exc  # the poll itself failed: the deployment's outcome is not known
        # The poll answered and said Failed or Canceled: the deployment ended without success.
        state = _poll_status(exc) or "Failed"
        code = error.code if error.code != "Unknown" else f"Deployment{state}"
        raise DeploymentFailed(
            name, _failed_resources(conn, name, error), code=code, message=error.message, state=state
        ) from exc
    except SdkAzureError as exc:
        raise translate(exc, f"deploy {name}") from exc
    properties = result.properties
    state = _text(getattr(properties, "provisioning_state", None)) or "Succeeded"
    if state != "Succeeded":
        raise DeploymentFailed(name, _failed_resources(conn, name, None), code=state, state=state)
    return DeploymentResult(
        name=name,
        state=state,
        timestamp=str(properties.timestamp) if getattr(properties, "timestamp", None) else None,
        duration=getattr(properties, "duration", None),
        output_resources=tuple(r.id for r in (getattr(properties, "output_resources", None) or []) if r.id),
        outputs=dict(getattr(properties, "outputs", None) or {}),
    )


def _wait_for_poller(poller: Any, what: str, time_limit: float, every: float, progress: Progress | None) -> None:
    """Wait for an SDK poller to be done, at most `time_limit` seconds (then WaitTimeout with its last status),
    reporting every `every` seconds. `poller.wait` re-raises what the polling thread raised."""
    deadline = time.monotonic() + time_limit
    report = WaitReport(what, time_limit, every, progress)
    while not poller.done():
        left = deadline - time.monotonic()
        if left <= 0:
            raise WaitTimeout(what, time_limit, _text(poller.status()) or "Running")
        poller.wait(min(left, every))
        if not poller.done():
            report.tick(_text(poller.status()))


def _poll_status(exc: Any) -> str | None:
    """`status` of the long-running operation's last poll answer (`Failed`, `Canceled`), if readable."""
    try:
        body = parse_json(exc.response.text(), max_depth=ENVELOPE_DEPTH)
    except Exception:  # no body, not JSON: the caller falls back to "Failed"
        return None
    status = body.get("status") if isinstance(body, dict) else None
    return str(status) if isinstance(status, str) and status else None


def _text(value: Any) -> str:
    """An SDK enum member or a string, as Azure's text (`str()` of an enum gives `ProvisioningState.X`)."""
    if value is None:
        return ""
    return str(getattr(value, "value", value))


def _failed_resources(conn: Connection, name: str, error: AzureCallError | None) -> list[FailedResource]:
    """Each failed resource of a deployment with its own error, from the deployment's operations; the error's
    `details` when the operations cannot be read."""
    api = conn.deployments._config.api_version
    url = f"{conn.resource_group_path}/deployments/{name}/operations?api-version={api}"
    found: list[FailedResource] = []
    try:
        for op in pages(conn.deployments, url, operation=f"list operations of deployment {name}"):
            properties = op.get("properties") or {}
            if str(properties.get("provisioningState", "")).lower() != "failed":
                continue
            target = properties.get("targetResource") or {}
            code, message, err_target = _status_message(properties.get("statusMessage"))
            found.append(_failed(target.get("resourceType"), target.get("resourceName"), code, message, err_target))
    except AzureError:
        found = []
    if not found and error is not None:
        for detail in error.details:
            target = detail.get("target")
            resource_type, resource_name = _type_and_name(str(target or ""))
            found.append(
                _failed(
                    resource_type or target,
                    resource_name,
                    str(detail.get("code") or "Unknown"),
                    str(detail.get("message") or ""),
                    target,
                )
            )
    return found


def _type_and_name(resource_id: str) -> tuple[str | None, str | None]:
    """ARM's (type, full name) of a resource id: `.../providers/Microsoft.DataFactory/factories/f/pipelines/p`
    is (`Microsoft.DataFactory/factories/pipelines`, `f/p`); (None, None) for anything else."""
    marker = resource_id.lower().rfind("/providers/")
    parts = resource_id[marker + len("/providers/") :].strip("/").split("/") if marker >= 0 else []
    if len(parts) < 3 or len(parts) % 2 == 0:
        return None, None
    return "/".join([parts[0], parts[1], *parts[3::2]]), "/".join(parts[2::2])


def _status_message(message: Any) -> tuple[str, str, str | None]:
    """ARM's `statusMessage` in its several shapes: `{"status", "error": {...}}`, a bare error, or text."""
    if isinstance(message, str):
        try:
            message = parse_json(message, max_depth=ENVELOPE_DEPTH)
        except ValueError:
            return "Unknown", message, None
    if isinstance(message, dict):
        error = message.get("error")
        inner: dict[str, Any] = error if isinstance(error, dict) else message
        return (
            str(inner.get("code") or inner.get("Code") or "Unknown"),
            str(inner.get("message") or inner.get("Message") or ""),
            inner.get("target"),
        )
    return "Unknown", "", None


def _failed(resource_type: Any, resource_name: Any, code: str, message: str, target: str | None) -> FailedResource:
    key = object_key_from_arm(str(resource_type or ""), str(resource_name or ""))
    if key is not None:
        resource = str(key)
    elif resource_name is None:  # a detail without a resource id: what it names, as it is
        resource = str(resource_type or "?")
    else:
        resource = f"{resource_type or '?'}/{resource_name}"
    return FailedResource(resource=resource, code=code, message=message, target=target, key=key)


def list_deployments(conn: Connection, prefix: str = "") -> list[DeploymentRecord]:
    """The resource group's deployment history whose names start with `prefix`, oldest first."""
    api = conn.deployments._config.api_version
    url = f"{conn.resource_group_path}/providers/Microsoft.Resources/deployments?api-version={api}"
    records: list[DeploymentRecord] = []
    for item in pages(conn.deployments, url, operation="list deployments"):
        name = str(item.get("name") or "")
        if not name.startswith(prefix):
            continue
        properties = item.get("properties") or {}
        error = properties.get("error") if isinstance(properties.get("error"), dict) else None
        records.append(
            DeploymentRecord(
                name=name,
                state=str(properties.get("provisioningState") or "Unknown"),
                timestamp=properties.get("timestamp"),
                tags={str(k): str(v) for k, v in (item.get("tags") or {}).items()},
                error_code=error.get("code") if error else None,
                error_message=error.get("message") if error else None,
            )
        )
    records.sort(key=lambda r: (r.timestamp or "", r.name))
    return records


_DEPLOYMENT_FINAL = frozenset({"Succeeded", "Failed", "Canceled"})


def settle_deployments(
    conn: Connection, prefix: str, *, time_limit: float | None = None, progress: Progress | None = None
) -> list[str]:
    """Cancel the deployments named `prefix...` that are still running and wait until they end; their names.

    A run killed or interrupted while ARM deploys, or whose wait for a deployment timed out, leaves that
    deployment running: it goes on writing objects of the commit the run was deploying. A rollback or a new
    plan made meanwhile would be overwritten behind its back. ARM cancels after the resource it is writing.
    Each is waited for at most `time_limit` seconds (default: the connection's `deployment_timeout`), then
    WaitTimeout; `progress` hears every `progress_interval` seconds which one is waited for and in what state.
    """
    limit = conn.settings.deployment_timeout if time_limit is None else time_limit
    api = conn.deployments._config.api_version
    base = f"{conn.resource_group_path}/providers/Microsoft.Resources/deployments"
    running: list[str] = []
    for state in ("Accepted", "Running"):
        url = f"{base}?api-version={api}&$filter=provisioningState%20eq%20%27{state}%27"
        for item in pages(conn.deployments, url, operation="list running deployments"):
            name = str(item.get("name") or "")
            if name.startswith(prefix) and name not in running:
                running.append(name)
    for name in running:
        url = f"{base}/{name}/cancel?api-version={api}"
        checked(conn.deployments, "POST", url, operation=f"cancel deployment {name}", ok=(409,))  # 409: ended

    def state_of(name: str) -> str:
        body = checked(conn.deployments, "GET", f"{base}/{name}?api-version={api}", operation=f"read {name}")
        return str(((body or {}).get("properties") or {}).get("provisioningState") or "Unknown")

    for name in running:
        wait_for(
            f"deployment {name} to stop",
            functools.partial(state_of, name),
            lambda state: state in _DEPLOYMENT_FINAL,
            time_limit=limit,
            interval=_poll_interval(conn),
            backoff_max=conn.settings.backoff_max,
            progress=progress,
            progress_every=conn.settings.progress_interval,
        )
    return running


# --------------------------------------------------------------------------------------------------- objects


def object_url(conn: Connection, key: ObjectKey) -> str:
    if key.type == "managedVirtualNetworks/managedPrivateEndpoints":
        network, _, endpoint = key.name.partition("/")
        return conn.factory_url("managedVirtualNetworks", network, "managedPrivateEndpoints", endpoint)
    segment = _SEGMENTS.get(key.type)
    if segment is None:
        raise ValueError(f"not a factory object type: {key.type}")
    return conn.factory_url(segment, key.name)


def delete_object(conn: Connection, key: ObjectKey) -> bool:
    """Delete one object; True when it was deleted, False when it was already gone (404 or 204).

    ADF's refusals come out as AzureCallError with its code and message, e.g. `BadRequest` `The document cannot
    be deleted since it is referenced by X.` (`.referenced_by` names X) or `TriggerEnabledCannotUpdate`.
    """
    status, body = send(conn.adf, "DELETE", object_url(conn, key), operation=f"delete {key}")
    if status == 404 or status == 204:
        return False
    if 200 <= status < 300:
        return True
    raise call_error(status, body, f"delete {key}")


# --------------------------------------------------------------------------------------------------- factory


def factory_exists(conn: Connection) -> bool:
    status, body = send(conn.adf, "GET", conn.factory_url(), operation=f"read factory {conn.factory}")
    if status == 404:
        return False
    if 200 <= status < 300:
        return True
    raise call_error(status, body, f"read factory {conn.factory}")


def ensure_factory(conn: Connection, location: str | None = None) -> bool:
    """Create the factory when it does not exist at all; True when created. Never writes an existing factory: a
    PUT replaces its properties and loses git, Purview and key settings. The create carries If-None-Match: *, so
    a factory created meanwhile by someone else is left alone too."""
    if factory_exists(conn):
        return False
    operation = f"create factory {conn.factory}"
    body = {"location": location or conn.location}
    status, answer = send(
        conn.adf, "PUT", conn.factory_url(), body, operation=operation, headers={"If-None-Match": "*"}
    )
    if status == 412:  # created in between: it exists now, which is all that was wanted
        return False
    if not 200 <= status < 300:
        raise call_error(status, answer, operation)
    return True


def factory_tags(conn: Connection) -> dict[str, str]:
    body = checked(conn.adf, "GET", conn.factory_url(), operation=f"read factory {conn.factory}")
    return {str(k): str(v) for k, v in ((body or {}).get("tags") or {}).items()}


@dataclass(frozen=True)
class FactoryTags:
    """The factory's tags and the etag they were read with (what a conditional write names)."""

    tags: dict[str, str]
    etag: str | None


def read_factory_tags(conn: Connection) -> FactoryTags | None:
    """The factory's tags and etag; None when the factory does not exist."""
    operation = f"read factory {conn.factory}"
    status, body = send(conn.adf, "GET", conn.factory_url(), operation=operation)
    if status == 404:
        return None
    if not 200 <= status < 300:
        raise call_error(status, body, operation)
    return _factory_tags(body)


def _factory_tags(body: Any) -> FactoryTags:
    body = body if isinstance(body, dict) else {}
    etag = body.get("eTag") or body.get("etag")
    return FactoryTags({str(k): str(v) for k, v in (body.get("tags") or {}).items()}, str(etag) if etag else None)


def write_factory_tags(conn: Connection, tags: Mapping[str, str], *, if_match: str | None) -> FactoryTags | None:
    """Set exactly `tags` with a tags-only PATCH carrying `If-Match: if_match` (when given); the tags and etag
    now set, or None when the condition failed (412: the factory was written since `if_match` was read)."""
    operation = f"tag factory {conn.factory}"
    headers = {"If-Match": if_match} if if_match else None
    status, body = send(
        conn.adf, "PATCH", conn.factory_url(), {"tags": dict(tags)}, operation=operation, headers=headers
    )
    if status == 412:
        return None
    if not 200 <= status < 300:
        raise call_error(status, body, operation)
    return _factory_tags(body)


TAG_WRITE_ATTEMPTS = 8


def set_factory_tags(conn: Connection, tags: Mapping[str, str | None], *, replace: bool = False) -> dict[str, str]:
    """Set factory tags with a tags-only PATCH (Factories_Update), never a PUT of the factory.

    Merged into the factory's current tags by default (a PATCH replaces the whole tag set, and other teams tag
    factories too); a None value removes that tag; `replace=True` sets exactly `tags`. Returns the tags now set.
    The merge is a compare-and-set: the PATCH carries `If-Match` with the etag the tags were read with, and is
    merged again from a fresh read when another writer came in between (a run's lease renewal, another team's
    tag), so that no tag written meanwhile is lost (where Azure honours If-Match, see docs/locks.md).
    """
    for _ in range(TAG_WRITE_ATTEMPTS):
        read = None if replace else read_factory_tags(conn)
        current = dict(read.tags) if read is not None else {}
        for key, value in tags.items():
            if value is None:
                current.pop(key, None)
            else:
                current[key] = str(value)
        written = write_factory_tags(conn, current, if_match=read.etag if read is not None else None)
        if written is not None:
            return written.tags
    raise AzureCallError(
        "PreconditionFailed",
        f"the factory's tags changed under every one of {TAG_WRITE_ATTEMPTS} attempts to write them",
        status=412,
        operation=f"tag factory {conn.factory}",
    )


def run_pipeline(
    conn: Connection, name: str, parameters: Mapping[str, Any] | None = None, *, timeout: float
) -> RunResult:
    """Run a pipeline and wait for it to end (Succeeded, Failed, Cancelled). Past `timeout` seconds the run is
    cancelled and the result says `timed_out`; a failed run is a result, not an exception (the caller decides)."""
    started = time.monotonic()
    operation = f"run pipeline {name}"
    url = conn.factory_url("pipelines", name, "createRun")
    created = json_object(checked(conn.adf, "POST", url, dict(parameters or {}), operation=operation), operation)
    run_id = created.get("runId")
    if not isinstance(run_id, str) or not run_id:
        raise AzureCallError("InvalidResponse", "the answer names no runId", None, 200, operation=operation)

    def read() -> dict[str, Any]:
        operation = f"read run {run_id} of {name}"
        return json_object(
            checked(conn.adf, "GET", conn.factory_url("pipelineruns", run_id), operation=operation), operation
        )

    try:
        run = wait_for(
            f"pipeline {name} run {run_id}",
            read,
            lambda r: _text(r.get("status")) in _RUN_FINAL,
            time_limit=timeout,
            interval=_poll_interval(conn),
            backoff_max=conn.settings.backoff_max,
        )
    except WaitTimeout:
        cancel_run(conn, run_id, recursive=True, operation=f"cancel run {run_id} of {name}")
        run = read()
        message = _text(run.get("message"))
        return RunResult(
            run_id=run_id,
            pipeline=name,
            status=_text(run.get("status")),
            message=f"did not finish within {timeout:g} s; cancelled" + (f": {message}" if message else ""),
            timed_out=True,
            seconds=time.monotonic() - started,
        )
    return RunResult(
        run_id=run_id,
        pipeline=name,
        status=_text(run.get("status")),
        message=_text(run.get("message")),
        seconds=time.monotonic() - started,
    )


def runs_in_progress(conn: Connection, pipelines: Iterable[str]) -> list[RunInfo]:
    """The runs of these pipelines that have not ended (Queued, InProgress, Canceling), oldest first.

    One PipelineRuns_QueryByFactory per hundred names (filters `PipelineName In` and `Status In`), every page of
    each, over ADF's whole run history (`lastUpdatedAfter` 45 days back: a run in progress was updated when it
    started or since). A long list of names is asked in several queries.
    """
    import datetime as dt

    names = sorted({p for p in pipelines}, key=str.lower)
    now = dt.datetime.now(dt.timezone.utc)
    url = conn.factory_url("queryPipelineRuns")
    found: dict[str, RunInfo] = {}
    for start in range(0, len(names), _RUN_QUERY_CHUNK):
        chunk = names[start : start + _RUN_QUERY_CHUNK]
        operation = f"query runs in progress of {len(chunk)} pipeline(s)"
        token: str | None = None
        while True:
            query: dict[str, Any] = {  # RunFilterParameters, as the SDK wrote it
                "lastUpdatedAfter": _query_time(now - dt.timedelta(days=RUN_HISTORY_DAYS)),
                "lastUpdatedBefore": _query_time(now + dt.timedelta(days=1)),  # the service's clock may run ahead
                **({"continuationToken": token} if token else {}),
                "filters": [
                    {"operand": "PipelineName", "operator": "In", "values": chunk},
                    {"operand": "Status", "operator": "In", "values": list(RUN_IN_PROGRESS)},
                ],
            }
            page = json_object(checked(conn.adf, "POST", url, query, operation=operation), operation)
            for run in page.get("value") or []:
                if not isinstance(run, dict):
                    continue
                info = _run_info(run)
                if info.status in RUN_IN_PROGRESS:  # what the service filters, checked again
                    found[info.run_id] = info
            next_token = page.get("continuationToken")
            token = next_token if isinstance(next_token, str) and next_token else None
            if token is None:
                break
    return sorted(found.values(), key=lambda r: (r.run_start or "", r.run_id))


def _query_time(when: Any) -> str:
    """A time in a run query, as the SDK's serializer wrote it: `2025-03-01T02:00:00.000000Z`."""
    return str(when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


def _run_info(run: Mapping[str, Any]) -> RunInfo:
    """A PipelineRun of ADF's answer (raw JSON) as a RunInfo."""
    invoked = run.get("invokedBy")
    invoked = invoked if isinstance(invoked, dict) else {}
    return RunInfo(
        run_id=_text(run.get("runId")),
        pipeline=_text(run.get("pipelineName")),
        status=_text(run.get("status")),
        run_start=utc_text(run.get("runStart")),
        last_updated=utc_text(run.get("lastUpdated")),
        invoked_by=_text(invoked.get("name")),
        invoked_by_type=_text(invoked.get("invokedByType")),
        parent_run_id=_text(invoked.get("pipelineRunId")) or None,
    )


def cancel_run(conn: Connection, run_id: str, *, recursive: bool = True, operation: str = "") -> None:
    """Cancel a pipeline run, and (`recursive`, the default) the runs its Execute Pipeline activities started,
    which a cancel of the parent alone leaves running. A run that has already ended is left as it is; a run id
    the factory does not know is ADF's 400 `ReferencedPipelineRunNotFound`."""
    url = conn.factory_url("pipelineruns", run_id, "cancel") + f"&isRecursive={'true' if recursive else 'false'}"
    checked(conn.adf, "POST", url, operation=operation or f"cancel run {run_id}")


@dataclass
class _RunsNow:
    """What one look at the runs in progress found (its text is what a long wait reports)."""

    runs: list[RunInfo]

    def __str__(self) -> str:
        return runs_text(self.runs)


def wait_for_runs(
    conn: Connection,
    pipelines: Iterable[str],
    *,
    time_limit: float,
    cancel: bool = False,
    progress: Progress | None = None,
) -> list[RunInfo]:
    """Wait until no run of these pipelines is in progress, at most `time_limit` seconds (then WaitTimeout naming
    the runs still in progress), saying through `progress` every `progress_interval` seconds what it waits for.

    With `cancel`, every run found in progress is cancelled first, recursively (only the top-most of a tree: the
    cancel takes the runs it started with it), and so is a run that starts while waiting. Returns every run
    waited for, in the order first seen.
    """
    names = list(pipelines)
    seen: dict[str, RunInfo] = {}
    cancelled: set[str] = set()

    def look() -> _RunsNow:
        runs = runs_in_progress(conn, names)
        for run in runs:
            seen.setdefault(run.run_id, run)
        if cancel:
            for run in top_most(runs):
                if run.run_id not in cancelled:
                    cancel_run(conn, run.run_id, recursive=True)
                    cancelled.add(run.run_id)
                    if progress is not None:
                        progress(f"cancelled run {run.run_id} of {run.pipeline} (and the runs it started)")
        return _RunsNow(runs)

    wait_for(
        f"the runs in progress of {len(names)} pipeline{'s' if len(names) != 1 else ''} to end",
        look,
        lambda now: not now.runs,
        time_limit=time_limit,
        interval=_poll_interval(conn),
        backoff_max=conn.settings.backoff_max,
        progress=progress,
        progress_every=conn.settings.progress_interval,
    )
    return list(seen.values())
