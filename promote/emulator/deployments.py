"""Resource group deployments: validate, evaluate, write in `dependsOn` order, report as ARM does.

A deployment is checked synchronously (ARM's template validation: parameters, limits, expressions, dependencies),
answered with 201 `Accepted` and an `Azure-AsyncOperation` URL, then executed by a worker thread: each resource
is written through the store, under exactly the rules of a direct PUT. The first failure stops it with
`DeploymentFailed` and the failed resource's own error in `details`; what was written before stays written
(ARM is not transactional). The template is evaluated by the shared evaluator (`promote.arm`), so the emulator
and the promoter can never disagree about what a template means.

Key Vault references in the parameters cannot be resolved locally: each becomes an opaque placeholder
(`emulator-keyvault-placeholder:<vault>/<secret>`), so no secret is ever needed, stored or logged.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from promote.arm import DeploymentContext, evaluate_template, parse_template
from promote.emulator import errors
from promote.emulator.routes import Response, list_body, lro_headers
from promote.emulator.store import FACTORY_TYPE, KIND_BY_TYPE, Kind, Scope, Store, iso, mask_secure_strings
from promote.errors import TemplateError
from promote.factory import object_key_from_arm

if TYPE_CHECKING:
    from promote.emulator.control import ControlState
    from promote.emulator.routes import Request
    from promote.emulator.settings import Settings

DEPLOYMENT_TYPE = "Microsoft.Resources/deployments"
MAX_RESOURCES = 800
MAX_PARAMETERS = 256
MAX_TEMPLATE_BYTES = 4 * 1024 * 1024
HISTORY_QUOTA = 800
_FACTORY_READ_ONLY = ("provisioningState", "createTime", "version")  # what-if leaves them out
HISTORY_PRUNE_ABOVE = 700  # ARM deletes old entries once the history passes 700 ...
HISTORY_PRUNE_TO = 600  # ... down to 600
PLACEHOLDER_PREFIX = "emulator-keyvault-placeholder:"
_TYPE_NAMES = {
    "string": "String",
    "securestring": "SecureString",
    "int": "Int",
    "number": "Int",
    "bool": "Bool",
    "object": "Object",
    "secureobject": "SecureObject",
    "array": "Array",
}


@dataclass
class PlannedResource:
    """One resource of the template, evaluated and placed: the factory itself (`kind` None) or a child."""

    index: int
    type: str  # as written
    name: str  # evaluated full name: "factory" or "factory/child[/grandchild]"
    api_version: str
    properties: Any
    other: dict[str, Any]
    id: str
    factory: str
    kind: Kind | None
    child: str | None  # the name below the factory ("default/mpe1" for a private endpoint)
    depends_raw: list[str] = field(default_factory=list)  # dependsOn as evaluated
    depends_on: list[PlannedResource] = field(default_factory=list)  # ... resolved


@dataclass
class Prepared:
    """A validated deployment, ready to run (or to answer validate / what-if)."""

    scope: Scope
    name: str
    mode: str
    template: dict[str, Any]
    parameters: dict[str, Any]  # as the deployment shows them: secure values left out
    resources: list[PlannedResource]  # in execution order
    template_hash: str
    on_error: Any = None
    tags: dict[str, str] | None = None  # the deployment's own tags (ARM keeps them in the history)


class DeploymentEngine:
    """Runs deployments on worker threads and answers for them."""

    def __init__(self, store: Store, settings: Settings, control: ControlState) -> None:
        self.store = store
        self.settings = settings
        self.control = control
        self._lock = threading.Lock()
        self._running: dict[tuple[str, str], tuple[threading.Thread, threading.Event]] = {}

    # --- lifecycle ---------------------------------------------------------------------------------------

    def shutdown(self, timeout: float = 5.0) -> None:
        """Cancel every running deployment and wait for the workers (server stop, reset)."""
        with self._lock:
            running = list(self._running.values())
        for _, cancel in running:
            cancel.set()
        for thread, _ in running:
            thread.join(timeout)

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until no deployment is running (tests that read the final state without polling)."""
        with self._lock:
            threads = [thread for thread, _ in self._running.values()]
        for thread in threads:
            thread.join(timeout)

    def is_running(self, scope: Scope, name: str) -> bool:
        with self._lock:
            entry = self._running.get((scope.key, name.lower()))
        return entry is not None and entry[0].is_alive()

    # --- validation --------------------------------------------------------------------------------------

    def prepare(self, scope: Scope, name: str, body: Any) -> Prepared:
        """ARM's template validation; raises the error ARM answers (400 InvalidTemplate, 413, ...)."""
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            raise errors.invalid_request_content("The deployment must have a 'properties' object.")
        props: dict[str, Any] = body["properties"]
        for link in ("templateLink", "parametersLink"):
            if props.get(link) is not None:
                where = props[link].get("uri") or props[link].get("id") if isinstance(props[link], dict) else None
                raise errors.EmulatorError(
                    400,
                    "InvalidContentLink",
                    f"The local emulator does not download linked content ('{link}': '{where}'); send the "
                    f"template and its parameters inline in 'properties.template' and 'properties.parameters'.",
                )
        template = props.get("template")
        if not isinstance(template, dict):
            raise errors.invalid_request_content("The deployment must have 'properties.template' (an object).")
        text = json.dumps(template, separators=(",", ":"))
        if len(text.encode()) > MAX_TEMPLATE_BYTES:
            raise errors.request_too_large()
        if '"[[' in text:  # a property name escaped as `[[...]`: ARM unescapes names too, as parse_template does
            try:
                template = parse_template(text, f"deployment '{name}'")
            except TemplateError as exc:
                raise errors.invalid_template("; ".join(p.message for p in exc.problems)) from None
        mode = str(props.get("mode") or "Incremental")
        if mode.lower() not in ("incremental", "complete"):
            raise errors.invalid_request_content(f"The deployment mode '{mode}' is not valid: Incremental or Complete.")
        mode = mode.capitalize()

        declared = template.get("parameters") or {}
        if not isinstance(declared, dict):
            raise errors.invalid_template("The template 'parameters' must be an object")
        if len(declared) > MAX_PARAMETERS:
            raise errors.invalid_template(
                f"The number of template parameters limit exceeded. Limit: '{MAX_PARAMETERS}' and actual: "
                f"'{len(declared)}'."
            )
        given = props.get("parameters") or {}
        if not isinstance(given, dict):
            raise errors.invalid_request_content("'properties.parameters' must be an object.")
        declared_lower = {k.lower(): k for k in declared}
        unknown = [k for k in given if k.lower() not in declared_lower]
        if unknown:
            raise errors.invalid_template(
                f"The template parameters '{', '.join(unknown)}' in the parameters file are not valid; they are not "
                "present in the original template and can therefore not be provided at deployment time. The only "
                f"supported parameters for this template are '{', '.join(declared)}'. Please see "
                "https://aka.ms/arm-pass-parameter-values for usage details."
            )
        values, shown = _parameter_values(given, declared, declared_lower)

        raw_resources = template.get("resources") or []
        if isinstance(raw_resources, list) and len(raw_resources) > MAX_RESOURCES:
            raise _too_many(len(raw_resources))
        context = DeploymentContext(
            subscription_id=scope.subscription,
            resource_group=scope.resource_group,
            deployment_name=name,
            location=self.settings.location,
        )
        try:
            evaluated = evaluate_template(template, values, file=f"deployment '{name}'", context=context)
        except TemplateError as exc:
            raise errors.invalid_template(
                "; ".join(f"{p.object}: {p.message}" if p.object else p.message for p in exc.problems)
            ) from None
        if len(evaluated.resources) > MAX_RESOURCES:
            raise _too_many(len(evaluated.resources))
        for spec_name, spec in evaluated.parameters.items():
            if spec_name not in shown:
                entry: dict[str, Any] = {"type": _TYPE_NAMES.get(spec.type, spec.type)}
                if not spec.secure:
                    entry["value"] = evaluated.parameter_values.get(spec_name)
                shown[spec_name] = entry

        planned = [self._place(scope, r) for r in evaluated.resources]
        ordered = _order(planned)
        digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
        return Prepared(
            scope=scope,
            name=name,
            mode=mode,
            template=template,
            parameters=shown,
            resources=ordered,
            template_hash=str(int.from_bytes(digest[:8], "big")).zfill(19)[:19],
            on_error=props.get("onErrorDeployment"),
            tags=body.get("tags") if isinstance(body.get("tags"), dict) else None,
        )

    def _place(self, scope: Scope, r: Any) -> PlannedResource:
        """Classify one evaluated resource: the factory, a child object, or something the emulator refuses."""
        base = f"{scope.prefix}/providers"
        lower = r.type.lower()
        if lower == DEPLOYMENT_TYPE.lower():
            raise errors.invalid_template(
                f"The template resource '{r.name}' is a nested deployment ({DEPLOYMENT_TYPE}); the local emulator "
                "does not run nested or linked deployments: deploy each template directly"
            )
        kind: Kind | None
        child: str | None
        if lower == FACTORY_TYPE.lower():
            _check_segments(r.type, r.name)
            resource_id, factory, kind, child = f"{base}/{FACTORY_TYPE}/{r.name}", r.name, None, None
        else:
            key = object_key_from_arm(r.type, r.name)
            if key is None:
                raise errors.invalid_template(
                    f"The template resource '{r.name}' of type '{r.type}' is not supported by the local emulator "
                    "(it serves Microsoft.DataFactory/factories and their child objects)"
                )
            _check_segments(r.type, r.name)
            kind, child = KIND_BY_TYPE[key.type], key.name
            factory = r.name.split("/", 1)[0]
            resource_id = Store.object_id(scope, scope.resource_group, factory, kind, child)
        return PlannedResource(
            index=r.index,
            type=r.type,
            name=r.name,
            api_version=r.api_version,
            properties=r.properties,
            other=r.other,
            id=resource_id,
            factory=factory,
            kind=kind,
            child=child,
            depends_raw=list(r.depends_on),
        )

    # --- the HTTP-facing operations ----------------------------------------------------------------------

    def create(self, scope: Scope, name: str, body: Any, req: Request) -> Response:
        if self.is_running(scope, name):
            raise errors.deployment_active(name)
        prepared = self.prepare(scope, name, body)
        if isinstance(prepared.on_error, dict) and str(prepared.on_error.get("type")).lower() == "lastsuccessful":
            last = self._last_succeeded(scope)
            if last is not None:
                prepared.on_error = {**prepared.on_error, "deploymentName": last}
        key = (scope.key, name.lower())
        with self._lock:  # check and register as one step: two PUTs of one name cannot both start
            entry = self._running.get(key)
            if entry is not None and entry[0].is_alive():
                raise errors.deployment_active(name)
            existed = self.store.deployment_state(scope, name) is not None
            if not existed and not self.settings.deployment_history_prune:
                count = self.store.count_deployments(scope)
                if count >= HISTORY_QUOTA:
                    raise errors.deployment_quota(count)
            op_id = uuid.uuid4().hex
            started = self.store.clock.now()
            correlation = str(uuid.uuid4())
            rendered = self._render(prepared, "Accepted", started, started, correlation)
            self.store.save_deployment(scope, name, "Accepted", rendered, prepared.template)
            self.store.clear_operations(scope, name)
            self.store.set_async(op_id, "Running", {"status": "Running"})
            cancel = threading.Event()
            thread = threading.Thread(
                target=self._run,
                args=(prepared, op_id, started, correlation, cancel),
                name=f"deployment-{name}",
                daemon=True,
            )
            self._running[key] = (thread, cancel)
            thread.start()
        url = f"{req.base_url}{req.path.rstrip('/')}/operationStatuses/{op_id}?api-version={req.api_version}"
        return Response(200 if existed else 201, rendered, lro_headers(self, "Azure-AsyncOperation", url))

    def _last_succeeded(self, scope: Scope) -> str | None:
        """The newest Succeeded deployment of the resource group (what `onErrorDeployment: LastSuccessful` names)."""
        for text in reversed(self.store.list_deployments(scope)):
            body = json.loads(text)
            if body["properties"].get("provisioningState") == "Succeeded":
                return body["name"]
        return None

    def validate(self, scope: Scope, name: str, body: Any) -> Response:
        prepared = self.prepare(scope, name, body)
        now = self.store.clock.now()
        rendered = self._render(prepared, "Succeeded", now, now, str(uuid.uuid4()))
        rendered["properties"].pop("outputResources", None)
        rendered["properties"]["validatedResources"] = [{"id": r.id} for r in prepared.resources]
        return Response(200, rendered)

    def what_if(self, scope: Scope, name: str, body: Any, req: Request) -> Response:
        prepared = self.prepare(scope, name, body)
        op_id = uuid.uuid4().hex
        result = {"status": "Succeeded", "properties": {"changes": self._changes(prepared)}}
        self.store.set_async(op_id, "Succeeded", result)
        url = f"{req.base_url}{req.path.rsplit('/', 1)[0]}/whatIfOperationResults/{op_id}?api-version={req.api_version}"
        return Response(202, headers=lro_headers(self, "Location", url))

    def what_if_result(self, op_id: str, req: Request) -> Response:
        found = self.store.get_async(op_id)
        if found is None:
            raise errors.EmulatorError(404, "NotFound", f"The what-if operation '{op_id}' was not found.")
        return Response(200, found[1])

    def operation_status(self, op_id: str) -> Response:
        found = self.store.get_async(op_id)
        if found is None:
            raise errors.EmulatorError(404, "NotFound", f"The deployment operation status '{op_id}' was not found.")
        status, body = found
        headers = {}
        if status == "Running" and self.settings.lro_retry_after is not None:
            headers["Retry-After"] = f"{self.settings.lro_retry_after:g}"
        return Response(200, body, headers)

    def delete(self, scope: Scope, name: str) -> Response:
        if self.is_running(scope, name):
            raise errors.EmulatorError(
                409, "DeploymentActive", f"The deployment '{name}' is running and cannot be deleted; cancel it first."
            )
        self.store.delete_deployment(scope, name)
        return Response(204)

    def cancel(self, scope: Scope, name: str) -> Response:
        with self._lock:
            entry = self._running.get((scope.key, name.lower()))
        if entry is None or not entry[0].is_alive():
            if self.store.deployment_state(scope, name) is None:
                raise errors.deployment_not_found(name)
            raise errors.EmulatorError(
                409, "DeploymentCannotBeCancelled", f"The deployment '{name}' is not running and cannot be cancelled."
            )
        entry[1].set()
        return Response(204)

    def list_all(self, scope: Scope, req: Request) -> Response:
        items = self.store.list_deployments(scope)
        wanted = _state_filter(req.query.get("$filter"))
        if wanted is not None:
            items = [i for i in items if json.loads(i)["properties"].get("provisioningState", "").lower() == wanted]
        if req.query.get("$top"):
            items = items[-int(req.query["$top"]) :]
        return _paged(req, items, self.settings.page_size)

    def operations(self, scope: Scope, name: str, req: Request) -> Response:
        if self.store.deployment_state(scope, name) is None:
            raise errors.deployment_not_found(name)
        items = self.store.list_operations(scope, name)
        if req.query.get("$top"):
            items = items[: int(req.query["$top"])]
        return _paged(req, items, self.settings.page_size)

    # --- execution ---------------------------------------------------------------------------------------

    def _run(self, prepared: Prepared, op_id: str, started: float, correlation: str, cancel: threading.Event) -> None:
        scope, name = prepared.scope, prepared.name
        try:
            self.store.update_deployment(
                scope, name, "Running", self._render(prepared, "Running", started, self.store.clock.now(), correlation)
            )
            failure: errors.EmulatorError | None = None
            written: list[str] = []
            canceled = False
            for seq, resource in enumerate(prepared.resources, start=1):
                if cancel.is_set():
                    canceled = True
                    break
                t0 = self.store.clock.now()
                try:
                    self.control.internal_write(resource.id)
                    self._write(scope, resource)
                except errors.EmulatorError as exc:
                    failure = exc
                self._record(scope, name, seq, resource, t0, failure)
                if failure is not None:
                    break
                written.append(resource.id)
            if failure is None and not canceled and prepared.mode == "Complete":
                self._complete_mode(prepared)
            remaining = started + self.settings.deployment_seconds - self.store.clock.now()
            if remaining > 0 and failure is None and not canceled and cancel.wait(remaining):
                canceled = True
            state = "Failed" if failure is not None else "Canceled" if canceled else "Succeeded"
            error = errors.deployment_failed([failure.as_error()]).as_error() if failure is not None else None
            body = self._render(prepared, state, started, self.store.clock.now(), correlation, written, error)
            self.store.update_deployment(scope, name, state, body)
            status: dict[str, Any] = {"status": state}
            if error is not None:
                status["error"] = error
            self.store.set_async(op_id, state, status)
            if self.settings.deployment_history_prune and self.store.count_deployments(scope) > HISTORY_PRUNE_ABOVE:
                self.store.prune_deployments(scope, HISTORY_PRUNE_TO)
        except Exception as exc:  # a bug must still end the operation, or the client polls forever
            error = errors.internal(f"The emulator failed while deploying: {exc!r}").as_error()
            with contextlib.suppress(Exception):  # the store may be closed (the server stopping)
                self.store.set_async(op_id, "Failed", {"status": "Failed", "error": error})
                failed = self._render(prepared, "Failed", started, self.store.clock.now(), correlation, [], error)
                self.store.update_deployment(scope, name, "Failed", failed)
            raise
        finally:
            with self._lock:
                entry = self._running.get((scope.key, name.lower()))
                if entry is not None and entry[0] is threading.current_thread():
                    del self._running[(scope.key, name.lower())]

    def _write(self, scope: Scope, resource: PlannedResource) -> None:
        if resource.kind is None:
            body: dict[str, Any] = {
                key: resource.other[key] for key in ("location", "tags", "identity") if key in resource.other
            }
            body["properties"] = resource.properties if isinstance(resource.properties, dict) else {}
            self.store.put_factory(scope, resource.factory, body)
        else:
            assert resource.child is not None
            self.store.put_object(
                scope, resource.factory, resource.kind, resource.child, {"properties": resource.properties}
            )

    def _complete_mode(self, prepared: Prepared) -> None:
        """Complete mode deletes the resource group's top-level resources that the template does not hold."""
        keep = {r.factory.lower() for r in prepared.resources}
        for text in self.store.list_factories(prepared.scope.subscription, prepared.scope.resource_group):
            factory = json.loads(text)["name"]
            if factory.lower() not in keep:
                self.store.delete_factory(prepared.scope, factory)

    def _record(
        self,
        scope: Scope,
        name: str,
        seq: int,
        resource: PlannedResource,
        t0: float,
        failure: errors.EmulatorError | None,
    ) -> None:
        op_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{scope.key}/{name}/{seq}/{t0}").hex[:16].upper()
        now = self.store.clock.now()
        properties: dict[str, Any] = {
            "provisioningOperation": "Create",
            "provisioningState": "Failed" if failure else "Succeeded",
            "timestamp": iso(now),
            "duration": _duration(now - t0),
            "trackingId": str(uuid.uuid4()),
            "serviceRequestId": str(uuid.uuid4()),
            "statusCode": _status_text(failure.status) if failure else "OK",
            "targetResource": {"id": resource.id, "resourceType": resource.type, "resourceName": resource.name},
        }
        if failure is not None:
            properties["statusMessage"] = {"status": "Failed", "error": failure.as_error()}
        body = {
            "id": f"{scope.prefix}/providers/{DEPLOYMENT_TYPE}/{name}/operations/{op_id}",
            "operationId": op_id,
            "properties": properties,
        }
        self.store.add_operation(scope, name, seq, op_id, body)

    # --- rendering ---------------------------------------------------------------------------------------

    def _render(
        self,
        prepared: Prepared,
        state: str,
        started: float,
        now: float,
        correlation: str,
        written: list[str] | None = None,
        error: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        types = sorted({r.type.split("/", 1)[1] for r in prepared.resources})
        properties: dict[str, Any] = {
            "templateHash": prepared.template_hash,
            "parameters": prepared.parameters,
            "mode": prepared.mode,
            "provisioningState": state,
            "timestamp": iso(now),
            "duration": _duration(now - started),
            "correlationId": correlation,
            "providers": [
                {
                    "namespace": "Microsoft.DataFactory",
                    "resourceTypes": [{"resourceType": t, "locations": [self.settings.location]} for t in types],
                }
            ]
            if types
            else [],
            "dependencies": [
                {
                    "dependsOn": [{"id": d.id, "resourceType": d.type, "resourceName": d.name} for d in r.depends_on],
                    "id": r.id,
                    "resourceType": r.type,
                    "resourceName": r.name,
                }
                for r in prepared.resources
                if r.depends_on
            ],
        }
        if state == "Succeeded":
            properties["outputs"] = {}
            properties["outputResources"] = [{"id": written_id} for written_id in written or []]
        if error is not None:
            properties["error"] = error
        if prepared.on_error is not None:
            properties["onErrorDeployment"] = prepared.on_error
        rendered: dict[str, Any] = {
            "id": f"{prepared.scope.prefix}/providers/{DEPLOYMENT_TYPE}/{prepared.name}",
            "name": prepared.name,
            "type": DEPLOYMENT_TYPE,
            "properties": properties,
        }
        if prepared.tags is not None:
            rendered["tags"] = prepared.tags
        return rendered

    def _changes(self, prepared: Prepared) -> list[dict[str, Any]]:
        """What-if: Create / Modify / NoChange per template resource; objects the template lacks are Ignore
        (Incremental), or Delete for factories in Complete mode."""
        scope = prepared.scope
        changes: list[dict[str, Any]] = []
        seen: set[str] = set()
        for r in prepared.resources:
            seen.add(r.id.lower())
            head = {"id": r.id, "name": r.name, "type": r.type, "apiVersion": r.api_version}
            if r.kind is None:
                live = self.store.factory_body(scope, r.factory)
                before = None
                if live is not None:
                    kept = {k: v for k, v in live["properties"].items() if k not in _FACTORY_READ_ONLY}
                    before = {
                        **head,
                        "location": live.get("location"),
                        "tags": live.get("tags") or {},
                        "properties": kept,
                    }
                after: dict[str, Any] = {**head, **{k: r.other[k] for k in ("location", "tags") if k in r.other}}
                after["properties"] = r.properties if isinstance(r.properties, dict) else {}
            else:
                assert r.child is not None
                props = self.store.object_properties(scope, r.factory, r.kind, r.child)
                before = {**head, "properties": props} if props is not None else None
                after = {**head, "properties": mask_secure_strings(r.properties)}
            change: dict[str, Any] = {"resourceId": r.id, "changeType": "Create", "after": after}
            if before is not None:
                change["before"] = before
                delta = _delta(
                    {k: v for k, v in before.items() if k not in head},
                    {k: v for k, v in after.items() if k not in head},
                    "",
                )
                change["changeType"] = "Modify" if delta else "NoChange"
                if delta:
                    change["delta"] = delta
            changes.append(change)
        for factory in {r.factory for r in prepared.resources}:
            for type_, name in self.store.object_names(scope, factory):
                kind = KIND_BY_TYPE[type_]
                object_id = Store.object_id(scope, scope.resource_group, factory, kind, name)
                if object_id.lower() not in seen:
                    changes.append({"resourceId": object_id, "changeType": "Ignore"})
        for text in self.store.list_factories(scope.subscription, scope.resource_group):
            live = json.loads(text)
            if (
                live["id"].lower() not in seen
                and f"{scope.prefix}/providers/{FACTORY_TYPE}/{live['name']}".lower() not in seen
            ):
                changes.append(
                    {"resourceId": live["id"], "changeType": "Delete" if prepared.mode == "Complete" else "Ignore"}
                )
        return changes


# --- helpers -----------------------------------------------------------------------------------------------


def _parameter_values(
    given: dict[str, Any], declared: dict[str, Any], declared_lower: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Plain values for the evaluator, and the parameters as the deployment shows them (no secret values)."""
    values: dict[str, Any] = {}
    shown: dict[str, Any] = {}
    for key, entry in given.items():
        name = declared_lower[key.lower()]
        found = declared.get(name)
        spec: dict[str, Any] = found if isinstance(found, dict) else {}
        type_ = str(spec.get("type", "string")).lower()
        secure = type_ in ("securestring", "secureobject")
        if isinstance(entry, dict) and isinstance(entry.get("reference"), dict):
            reference = entry["reference"]
            vault = str((reference.get("keyVault") or {}).get("id", "")).rstrip("/").rsplit("/", 1)[-1]
            secret = reference.get("secretName")
            if not vault or not secret:
                raise errors.invalid_template(
                    f"The Key Vault reference of parameter '{key}' needs 'keyVault.id' and 'secretName'"
                )
            values[name] = f"{PLACEHOLDER_PREFIX}{vault}/{secret}"
            shown[name] = {"type": _TYPE_NAMES.get(type_, "SecureString"), "reference": reference}
        elif isinstance(entry, dict) and "value" in entry:
            values[name] = entry["value"]
            shown[name] = {"type": _TYPE_NAMES.get(type_, "String")}
            if not secure:
                shown[name]["value"] = entry["value"]
        else:
            raise errors.invalid_template(
                f"The value of deployment parameter '{key}' is not valid: give it as {{\"value\": ...}} or as a "
                'Key Vault {"reference": ...}'
            )
    return values, shown


def _too_many(count: int) -> errors.EmulatorError:
    return errors.invalid_template(
        f"The number of template resources limit exceeded. Limit: '{MAX_RESOURCES}' and actual: '{count}'."
    )


def _check_segments(type_: str, name: str) -> None:
    """ARM's rule: a nested resource's name has one segment fewer than its type."""
    if len(type_.strip("/").split("/")) != len(name.strip("/").split("/")) + 1:
        raise errors.invalid_template(
            f"The template resource '{name}' for type '{type_}' has incorrect segment lengths. A nested resource "
            "type must have identical number of segments as its resource name. A root resource type must have "
            "segment length one greater than its resource name. Please see https://aka.ms/arm-template/#resources "
            "for usage details"
        )


def _resource_key(reference: str) -> tuple[str, str] | None:
    """(type, name), lower case, of a dependsOn entry written as a resource id or `Namespace/type/name...`."""
    text = reference.strip()
    if text.lower().startswith("/subscriptions/"):
        marker = text.lower().rfind("/providers/")
        if marker < 0:
            return None
        text = text[marker + len("/providers/") :]
    parts = text.strip("/").split("/")
    if len(parts) < 3 or "." not in parts[0] or len(parts) % 2 == 0:
        return None
    type_ = "/".join([parts[0], parts[1], *parts[3::2]])
    name = "/".join(parts[2::2])
    return type_.lower(), name.lower()


def _order(resources: list[PlannedResource]) -> list[PlannedResource]:
    """Resources in an order that honours every dependsOn (template order among equals), as ARM requires."""
    by_key = {(r.type.lower(), r.name.lower()): r for r in resources}
    by_name: dict[str, list[PlannedResource]] = {}
    for r in resources:
        by_name.setdefault(r.name.lower(), []).append(r)
    incoming: dict[int, int] = {id(r): 0 for r in resources}
    dependents: dict[int, list[PlannedResource]] = {id(r): [] for r in resources}
    for r in resources:
        r.depends_on = []
        for entry in r.depends_raw:
            key = _resource_key(entry)
            target = by_key.get(key) if key else None
            if target is None and key is None:
                matches = by_name.get(entry.strip().lower(), [])
                target = matches[0] if len(matches) == 1 else None
            if target is None:
                raise errors.invalid_template(
                    f"The resource '{entry}' is not defined in the template. Please see https://aka.ms/arm-syntax "
                    "for usage details"
                )
            if target is r or target in r.depends_on:
                continue
            r.depends_on.append(target)
            incoming[id(r)] += 1
            dependents[id(target)].append(r)
    ready = [(r.index, n, r) for n, r in enumerate(resources) if incoming[id(r)] == 0]
    heapq.heapify(ready)
    ordered: list[PlannedResource] = []
    while ready:
        _, _, r = heapq.heappop(ready)
        ordered.append(r)
        for d in dependents[id(r)]:
            incoming[id(d)] -= 1
            if incoming[id(d)] == 0:
                heapq.heappush(ready, (d.index, resources.index(d), d))
    if len(ordered) != len(resources):
        stuck = next(r for r in resources if r not in ordered)
        raise errors.invalid_template(
            f"Circular dependency detected on resource: '{stuck.id}'. Please see "
            "https://aka.ms/arm-template/#resources for usage details"
        )
    return ordered


def _state_filter(text: str | None) -> str | None:
    if not text:
        return None
    m = re.fullmatch(r"\s*provisioningState\s+eq\s+'(\w+)'\s*", text, re.IGNORECASE)
    if m is None:
        raise errors.EmulatorError(400, "InvalidFilter", f"The filter '{text}' is not supported.")
    return m.group(1).lower()


def _paged(req: Request, items: list[str], size: int) -> Response:
    """A page of a list held in memory (deployment history, operations), by position."""
    token = req.query.get("$skiptoken") or "0"
    start = int(token) if token.isdigit() else 0
    page = items[start : start + size]
    link = None
    if start + size < len(items):
        link = f"{req.base_url}{req.path}?api-version={req.api_version}&$skiptoken={start + size}"
    return Response(200, list_body(page, link))


def _duration(seconds: float) -> str:
    return f"PT{max(seconds, 0):.7f}S"


def _status_text(status: int) -> str:
    names = {400: "BadRequest", 404: "NotFound", 409: "Conflict", 412: "PreconditionFailed", 500: "InternalServerError"}
    return names.get(status, str(status))


def _shape(live: dict[str, Any], r: PlannedResource) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "type": r.type,
        "apiVersion": r.api_version,
        "properties": live.get("properties"),
    }


def _delta(before: Any, after: Any, path: str) -> list[dict[str, Any]]:
    """Property changes between two values, by dotted path (lists compared whole)."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[dict[str, Any]] = []
        for key in sorted(set(before) | set(after)):
            sub = f"{path}.{key}" if path else key
            if key not in before:
                out.append({"path": sub, "propertyChangeType": "Create", "after": after[key]})
            elif key not in after:
                out.append({"path": sub, "propertyChangeType": "Delete", "before": before[key]})
            else:
                out.extend(_delta(before[key], after[key], sub))
        return out
    if before == after:
        return []
    kind = "Array" if isinstance(before, list) and isinstance(after, list) else "Modify"
    return [{"path": path, "propertyChangeType": kind, "before": before, "after": after}]
