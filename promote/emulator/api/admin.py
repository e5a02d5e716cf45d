"""The control API under `/_emulator` (README.md, "Control API"): settings, faults, the request log, counters,
clock, seed, reset. Tests use it to make the emulator deterministic; no token is needed, and these requests are
never faulted, delayed or logged themselves.
"""

from __future__ import annotations

from typing import Any

from promote.emulator import errors
from promote.emulator.app import App
from promote.emulator.routing import Request, Response, Router
from promote.emulator.store import GroupScope

ADMIN_PREFIX = "/_emulator"

# Where the seed endpoint writes when the request names no subscription / resource group: the `local`
# environment's (the evaluator's DeploymentContext defaults).
DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
DEFAULT_RESOURCE_GROUP = "local"


def _json_body(req: Request) -> Any:
    try:
        return req.json()
    except errors.EmulatorError as exc:
        raise _bad(exc.message) from None


def _bad(message: str) -> errors.EmulatorError:
    return errors.EmulatorError(400, "InvalidControlRequest", message)


def admin_info(app: App, req: Request, p: dict[str, str]) -> Response:
    return Response(200, {**app.info, "settings": app.settings.as_dict(), "clock": app.control.clock.now()})


def admin_reset(app: App, req: Request, p: dict[str, str]) -> Response:
    """Everything back to the start: state, faults, log, settings, clock. Running deployments are cancelled."""
    app.reset()
    return Response(200, {"reset": True})


def admin_settings(app: App, req: Request, p: dict[str, str]) -> Response:
    if req.method == "PATCH":
        values = _json_body(req)
        if not isinstance(values, dict):
            raise _bad("settings are a JSON object")
        try:
            app.settings.update(values)
        except (ValueError, TypeError) as exc:
            raise _bad(str(exc)) from None
    return Response(200, app.settings.as_dict())


def admin_faults(app: App, req: Request, p: dict[str, str]) -> Response:
    if req.method == "POST":
        try:
            rule = app.control.add_fault(_json_body(req))
        except (ValueError, TypeError) as exc:
            raise _bad(str(exc)) from None
        return Response(201, rule.as_dict())
    if req.method == "DELETE":
        return Response(200, {"removed": app.control.remove_fault(None)})
    return Response(200, {"value": app.control.faults()})


def admin_release(app: App, req: Request, p: dict[str, str]) -> Response:
    """Let the requests a `hold` rule holds go on."""
    if not p["id"].isdigit() or not app.control.release(int(p["id"])):
        raise errors.EmulatorError(404, "NotFound", f"There is no fault rule {p['id']}.")
    return Response(200, {"released": True})


def admin_fault(app: App, req: Request, p: dict[str, str]) -> Response:
    if not p["id"].isdigit() or not app.control.remove_fault(int(p["id"])):
        raise errors.EmulatorError(404, "NotFound", f"There is no fault rule {p['id']}.")
    return Response(200, {"removed": 1})


def admin_requests(app: App, req: Request, p: dict[str, str]) -> Response:
    if req.method == "DELETE":
        app.control.clear_requests()
        return Response(200, {"cleared": True})
    since = req.query.get("since", "0")
    entries = app.control.requests(
        since=int(since) if since.isdigit() else 0, method=req.query.get("method"), path=req.query.get("path")
    )
    return Response(200, {"value": entries})


def admin_stats(app: App, req: Request, p: dict[str, str]) -> Response:
    return Response(200, {"requests": app.control.request_counts(), "objectWrites": app.store.write_counts()})


def admin_clock(app: App, req: Request, p: dict[str, str]) -> Response:
    body = _json_body(req) or {}
    try:
        app.control.clock.advance(float(body.get("advance", 0)))
    except (ValueError, TypeError, AttributeError) as exc:
        raise _bad(f"give {{'advance': seconds}}: {exc}") from None
    return Response(200, {"now": app.control.clock.now()})


def admin_seed(app: App, req: Request, p: dict[str, str]) -> Response:
    """Write many objects at once (benchmarks, fixtures), through the same rules as a PUT."""
    body = _json_body(req)
    if not isinstance(body, dict) or not isinstance(body.get("objects"), list) or not body.get("factory"):
        raise _bad("give {'factory': name, 'objects': [{'type', 'name', 'properties'}], ...}")
    scope = GroupScope(
        str(body.get("subscriptionId") or DEFAULT_SUBSCRIPTION),
        str(body.get("resourceGroup") or DEFAULT_RESOURCE_GROUP),
    )
    count = app.store.seed(scope, str(body["factory"]), body["objects"], app.settings.location)
    return Response(200, {"written": count})


def admin_start_run(app: App, req: Request, p: dict[str, str]) -> Response:
    """A run that stays InProgress until ended here: what a schedule or a person started before a deployment."""
    body = _json_body(req)
    if not isinstance(body, dict) or not body.get("factory") or not body.get("pipeline"):
        raise _bad("give {'factory': name, 'pipeline': name, 'parameters'?: {...}, 'invokedBy'?: {...}, ...}")
    scope = GroupScope(
        str(body.get("subscriptionId") or DEFAULT_SUBSCRIPTION),
        str(body.get("resourceGroup") or DEFAULT_RESOURCE_GROUP),
    )
    run = app.store.start_held_run(
        scope, str(body["factory"]), str(body["pipeline"]), body.get("parameters"), body.get("invokedBy")
    )
    return Response(201, run)


def admin_end_run(app: App, req: Request, p: dict[str, str]) -> Response:
    """End a run that has not finished (and the runs it started): `{"status": "Succeeded", "message"?: ...}`."""
    body = _json_body(req) or {}
    if not isinstance(body, dict):
        raise _bad("give {'status': 'Succeeded' | 'Failed' | 'Cancelled', 'message'?: text}")
    return Response(200, app.store.end_run(p["run"], str(body.get("status") or "Succeeded"), body.get("message")))


def admin_router() -> Router[App]:
    r: Router[App] = Router()
    r.add("GET", ADMIN_PREFIX, admin_info, None)
    r.add("POST", f"{ADMIN_PREFIX}/reset", admin_reset, None)
    r.add("GET PATCH", f"{ADMIN_PREFIX}/settings", admin_settings, None)
    r.add("GET POST DELETE", f"{ADMIN_PREFIX}/faults", admin_faults, None)
    r.add("DELETE", f"{ADMIN_PREFIX}/faults/(?P<id>[^/]+)", admin_fault, None)
    r.add("POST", f"{ADMIN_PREFIX}/faults/(?P<id>[^/]+)/release", admin_release, None)
    r.add("GET DELETE", f"{ADMIN_PREFIX}/requests", admin_requests, None)
    r.add("GET", f"{ADMIN_PREFIX}/stats", admin_stats, None)
    r.add("POST", f"{ADMIN_PREFIX}/clock", admin_clock, None)
    r.add("POST", f"{ADMIN_PREFIX}/seed", admin_seed, None)
    r.add("POST", f"{ADMIN_PREFIX}/runs", admin_start_run, None)
    r.add("POST", f"{ADMIN_PREFIX}/runs/(?P<run>[^/]+)/end", admin_end_run, None)
    return r
