"""The routing table: (methods, path regex) -> thin handler, matched case-insensitively.

A handler turns a request into one store or engine call and wraps the result in Azure's envelope; the rules
live in the store (`store/`) and the deployment engine (`deployments.py`). Paths are matched without the query
string and with `resourcegroups` / `resourceGroups` alike, because the two SDKs spell them differently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from promote.emulator import errors
from promote.emulator.store import KINDS, Page, Scope

if TYPE_CHECKING:
    from promote.emulator.control import ControlState
    from promote.emulator.deployments import DeploymentEngine
    from promote.emulator.settings import Settings
    from promote.emulator.store import Store

DATA_FACTORY_API = "2018-06-01"
DEPLOYMENTS_API_RANGE = ("2021-04-01", "2026-06-01")
_API_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})(-preview)?")
MAX_REQUEST_BYTES = 4 * 1024 * 1024


@dataclass
class Request:
    method: str
    path: str  # without the query string, still percent-encoded
    query: dict[str, str]  # keys lower-cased (ARM's query names are case-insensitive)
    headers: dict[str, str]  # keys lower-cased
    body: bytes
    base_url: str  # https://host:port, from the Host header, for absolute Location headers

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        """The body as JSON (None when empty); malformed JSON is ARM's InvalidRequestContent."""
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise errors.invalid_request_content(str(exc)) from None

    @property
    def api_version(self) -> str:
        return self.query.get("api-version", "")


@dataclass
class Response:
    status: int
    body: Any = None  # dict / list -> JSON; str -> JSON text as is; None -> no body
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[["App", Request, dict[str, str]], Response]


@dataclass
class App:
    """What handlers work with."""

    store: Store
    settings: Settings
    control: ControlState
    deployments: DeploymentEngine
    info: dict[str, Any] = field(default_factory=dict)  # endpoint, CA file, state dir (for /_emulator)


@dataclass(frozen=True)
class Route:
    methods: frozenset[str]
    pattern: re.Pattern[str]
    handler: Handler
    api: str | None  # "datafactory", "resources", or None (no api-version check: control API, poll URLs)


class Router:
    """An ordered table of routes; the first whose regex matches the path and allows the method wins."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, methods: str, pattern: str, handler: Handler, api: str | None) -> None:
        self.routes.append(Route(frozenset(methods.split()), re.compile(pattern + "/?", re.IGNORECASE), handler, api))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        path_matched = False
        for route in self.routes:
            m = route.pattern.fullmatch(path)
            if m is None:
                continue
            if method in route.methods:
                return route, {k: unquote(v) for k, v in m.groupdict().items() if v is not None}
            path_matched = True
        if path_matched:
            raise errors.method_not_allowed(method, path)
        raise errors.no_route(method, path)


def check_api_version(api: str | None, version: str) -> None:
    """Refuse what Azure refuses: no api-version, or one the service does not have."""
    if api is None:
        return
    if not version:
        raise errors.missing_api_version()
    if api == "datafactory":
        if version != DATA_FACTORY_API:
            raise errors.unsupported_api_version(version, "factories", DATA_FACTORY_API)
        return
    m = _API_DATE.fullmatch(version)
    low, high = DEPLOYMENTS_API_RANGE
    if m is None or not low <= m.group(1) <= high:
        raise errors.unsupported_api_version(version, "deployments", f"{low} to {high}")


# --- envelopes ---------------------------------------------------------------------------------------------


def list_body(items: list[str], next_link: str | None, *, link_name: str = "nextLink") -> str:
    """`{"value": [...], "nextLink": ...}` from pre-rendered items, without parsing them again."""
    text = '{"value":[' + ",".join(items) + "]"
    if next_link:
        text += f',"{link_name}":' + json.dumps(next_link)
    return text + "}"


def next_link(req: Request, page: Page) -> str | None:
    if page.next_token is None:
        return None
    return f"{req.base_url}{req.path}?api-version={quote(req.api_version)}&$skiptoken={page.next_token}"


def lro_headers(app: App | DeploymentEngine, header: str, url: str) -> dict[str, str]:
    headers = {header: url}
    if app.settings.lro_retry_after is not None:
        headers["Retry-After"] = f"{app.settings.lro_retry_after:g}"
    return headers


def _scope(p: dict[str, str]) -> Scope:
    return Scope(p["sub"], p["rg"])


def _conditions(req: Request) -> dict[str, str | None]:
    return {"if_match": req.header("If-Match"), "if_none_match": req.header("If-None-Match")}


def _read(req: Request, etag: str, body: str) -> Response:
    """A GET answer, or 304 when If-None-Match names the current etag."""
    inm = req.header("If-None-Match")
    if inm is not None and inm.strip().strip('"') in ("*", etag.strip('"')):
        return Response(304)
    return Response(200, body)


# --- factories ---------------------------------------------------------------------------------------------


def list_factories_in_subscription(app: App, req: Request, p: dict[str, str]) -> Response:
    return Response(200, list_body(app.store.list_factories(p["sub"], None), None))


def list_factories(app: App, req: Request, p: dict[str, str]) -> Response:
    return Response(200, list_body(app.store.list_factories(p["sub"], p["rg"]), None))


def get_factory(app: App, req: Request, p: dict[str, str]) -> Response:
    etag, body = app.store.get_factory(_scope(p), p["factory"])
    return _read(req, etag, body)


def put_factory(app: App, req: Request, p: dict[str, str]) -> Response:
    return Response(200, app.store.put_factory(_scope(p), p["factory"], req.json(), **_conditions(req)))


def patch_factory(app: App, req: Request, p: dict[str, str]) -> Response:
    return Response(200, app.store.patch_factory(_scope(p), p["factory"], req.json()))


def delete_factory(app: App, req: Request, p: dict[str, str]) -> Response:
    return Response(200 if app.store.delete_factory(_scope(p), p["factory"]) else 204)


# --- child objects -----------------------------------------------------------------------------------------


def _object(p: dict[str, str]) -> tuple[Any, str]:
    if "endpoint" in p:
        return KINDS["managedvirtualnetworks/managedprivateendpoints"], f"{p['network']}/{p['endpoint']}"
    return KINDS[p["collection"].lower()], p["name"]


def list_objects(app: App, req: Request, p: dict[str, str]) -> Response:
    if "network" in p:
        kind, network = KINDS["managedvirtualnetworks/managedprivateendpoints"], p["network"]
    else:
        kind, network = KINDS[p["collection"].lower()], None
    page = app.store.list_objects(_scope(p), p["factory"], kind, token=req.query.get("$skiptoken"), network=network)
    return Response(200, list_body(page.items, next_link(req, page)))


def get_object(app: App, req: Request, p: dict[str, str]) -> Response:
    kind, name = _object(p)
    etag, body = app.store.get_object(_scope(p), p["factory"], kind, name)
    return _read(req, etag, body)


def put_object(app: App, req: Request, p: dict[str, str]) -> Response:
    kind, name = _object(p)
    return Response(200, app.store.put_object(_scope(p), p["factory"], kind, name, req.json(), **_conditions(req)))


def delete_object(app: App, req: Request, p: dict[str, str]) -> Response:
    kind, name = _object(p)
    return Response(200 if app.store.delete_object(_scope(p), p["factory"], kind, name) else 204)


def patch_integration_runtime(app: App, req: Request, p: dict[str, str]) -> Response:
    return Response(200, app.store.patch_integration_runtime(_scope(p), p["factory"], p["name"], req.json()))


# --- triggers ----------------------------------------------------------------------------------------------


def start_trigger(app: App, req: Request, p: dict[str, str]) -> Response:
    app.store.start_trigger(_scope(p), p["factory"], p["name"])
    return Response(200)  # exactly 200 without long-running-operation headers: the SDK raises on anything else


def stop_trigger(app: App, req: Request, p: dict[str, str]) -> Response:
    app.store.stop_trigger(_scope(p), p["factory"], p["name"])
    return Response(200)


def _status_url(req: Request, p: dict[str, str]) -> str:
    return f"{req.base_url}{req.path.rsplit('/', 1)[0]}/getEventSubscriptionStatus?api-version={DATA_FACTORY_API}"


def change_subscription(app: App, req: Request, p: dict[str, str]) -> Response:
    subscribe = p["action"].lower() == "subscribetoevents"
    status = app.store.change_subscription(_scope(p), p["factory"], p["name"], subscribe)
    name = app.store.subscription_status(_scope(p), p["factory"], p["name"])[0]
    if status in ("Provisioning", "Deprovisioning"):
        return Response(202, headers=lro_headers(app, "Location", _status_url(req, p)))
    return Response(200, {"triggerName": name, "status": status})


def subscription_status(app: App, req: Request, p: dict[str, str]) -> Response:
    """POST (the operation): always 200 with the status. GET (the Location a subscribe answer points at, polled
    by the SDK): 202 while the subscription is still changing, then 200 with the final status."""
    name, status = app.store.subscription_status(_scope(p), p["factory"], p["name"])
    body = {"triggerName": name, "status": status}
    if req.method == "GET" and status in ("Provisioning", "Deprovisioning"):
        return Response(
            202, body, lro_headers(app, "Location", f"{req.base_url}{req.path}?api-version={DATA_FACTORY_API}")
        )
    return Response(200, body)


def query_triggers(app: App, req: Request, p: dict[str, str]) -> Response:
    query = req.json() or {}
    if not isinstance(query, dict):
        raise errors.bad_body("The query must be a JSON object.")
    page = app.store.query_triggers(
        _scope(p), p["factory"], query.get("parentTriggerName"), query.get("continuationToken")
    )
    return Response(200, list_body(page.items, page.next_token, link_name="continuationToken"))


# --- change data capture ---------------------------------------------------------------------------------


def cdc_action(app: App, req: Request, p: dict[str, str]) -> Response:
    action = p["action"].lower()
    if action == "status":
        return Response(200, json.dumps(app.store.cdc_status(_scope(p), p["factory"], p["name"])))
    app.store.set_cdc_state(_scope(p), p["factory"], p["name"], running=action == "start")
    return Response(200)


# --- pipeline runs -----------------------------------------------------------------------------------------


def create_run(app: App, req: Request, p: dict[str, str]) -> Response:
    run_id = app.store.create_run(_scope(p), p["factory"], p["name"], req.json())
    return Response(200, {"runId": run_id})


def get_run(app: App, req: Request, p: dict[str, str]) -> Response:
    return Response(200, app.store.get_run(_scope(p), p["factory"], p["run"]))


def cancel_run(app: App, req: Request, p: dict[str, str]) -> Response:
    app.store.cancel_run(_scope(p), p["factory"], p["run"])
    return Response(200)


def query_runs(app: App, req: Request, p: dict[str, str]) -> Response:
    query = req.json() or {}
    if not isinstance(query, dict):
        raise errors.bad_body("The query must be a JSON object.")
    runs, token = app.store.query_runs(_scope(p), p["factory"], query)
    body: dict[str, Any] = {"value": runs}
    if token:
        body["continuationToken"] = token
    return Response(200, body)


# --- deployments (behaviour in deployments.py) -------------------------------------------------------------


def put_deployment(app: App, req: Request, p: dict[str, str]) -> Response:
    if len(req.body) > MAX_REQUEST_BYTES:
        raise errors.request_too_large()
    return app.deployments.create(_scope(p), p["deployment"], req.json(), req)


def get_deployment(app: App, req: Request, p: dict[str, str]) -> Response:
    _, body, _ = app.store.get_deployment(_scope(p), p["deployment"])
    return Response(200, body)


def head_deployment(app: App, req: Request, p: dict[str, str]) -> Response:
    return Response(204 if app.store.deployment_state(_scope(p), p["deployment"]) else 404)


def delete_deployment(app: App, req: Request, p: dict[str, str]) -> Response:
    return app.deployments.delete(_scope(p), p["deployment"])


def list_deployments(app: App, req: Request, p: dict[str, str]) -> Response:
    return app.deployments.list_all(_scope(p), req)


def validate_deployment(app: App, req: Request, p: dict[str, str]) -> Response:
    if len(req.body) > MAX_REQUEST_BYTES:
        raise errors.request_too_large()
    return app.deployments.validate(_scope(p), p["deployment"], req.json())


def what_if(app: App, req: Request, p: dict[str, str]) -> Response:
    if len(req.body) > MAX_REQUEST_BYTES:
        raise errors.request_too_large()
    return app.deployments.what_if(_scope(p), p["deployment"], req.json(), req)


def cancel_deployment(app: App, req: Request, p: dict[str, str]) -> Response:
    return app.deployments.cancel(_scope(p), p["deployment"])


def export_template(app: App, req: Request, p: dict[str, str]) -> Response:
    _, _, template = app.store.get_deployment(_scope(p), p["deployment"])
    return Response(200, {"template": template})


def deployment_status(app: App, req: Request, p: dict[str, str]) -> Response:
    return app.deployments.operation_status(p["operation"])


def what_if_result(app: App, req: Request, p: dict[str, str]) -> Response:
    return app.deployments.what_if_result(p["operation"], req)


def list_deployment_operations(app: App, req: Request, p: dict[str, str]) -> Response:
    return app.deployments.operations(_scope(p), p["deployment"], req)


def get_deployment_operation(app: App, req: Request, p: dict[str, str]) -> Response:
    body = app.store.get_operation(_scope(p), p["deployment"], p["operation"])
    if body is None:
        raise errors.EmulatorError(
            404, "DeploymentOperationNotFound", f"Deployment operation '{p['operation']}' could not be found."
        )
    return Response(200, body)


# --- the table ---------------------------------------------------------------------------------------------

_SEG = r"[^/]+"
_RG = rf"/subscriptions/(?P<sub>{_SEG})/resourcegroups/(?P<rg>{_SEG})"
_F = rf"{_RG}/providers/Microsoft\.DataFactory/factories/(?P<factory>{_SEG})"
_COLLECTIONS = (
    r"(?P<collection>pipelines|datasets|linkedservices|triggers|dataflows|integrationruntimes|"
    r"managedvirtualnetworks|globalparameters|credentials|adfcdcs)"
)
_D = rf"{_RG}/providers/Microsoft\.Resources/deployments"


def build_router() -> Router:
    """Every route the emulator serves (the control API's routes are added by control.register)."""
    r = Router()
    df, rm = "datafactory", "resources"
    r.add(
        "GET",
        rf"/subscriptions/(?P<sub>{_SEG})/providers/Microsoft\.DataFactory/factories",
        list_factories_in_subscription,
        df,
    )
    r.add("GET", rf"{_RG}/providers/Microsoft\.DataFactory/factories", list_factories, df)
    r.add("GET", _F, get_factory, df)
    r.add("PUT", _F, put_factory, df)
    r.add("PATCH", _F, patch_factory, df)
    r.add("DELETE", _F, delete_factory, df)

    r.add("POST", rf"{_F}/triggers/(?P<name>{_SEG})/start", start_trigger, df)
    r.add("POST", rf"{_F}/triggers/(?P<name>{_SEG})/stop", stop_trigger, df)
    r.add(
        "POST",
        rf"{_F}/triggers/(?P<name>{_SEG})/(?P<action>subscribeToEvents|unsubscribeFromEvents)",
        change_subscription,
        df,
    )
    r.add("POST GET", rf"{_F}/triggers/(?P<name>{_SEG})/getEventSubscriptionStatus", subscription_status, df)
    r.add("POST", rf"{_F}/querytriggers", query_triggers, df)
    r.add("POST", rf"{_F}/pipelines/(?P<name>{_SEG})/createRun", create_run, df)
    r.add("POST", rf"{_F}/adfcdcs/(?P<name>{_SEG})/(?P<action>start|stop)", cdc_action, df)
    r.add("GET", rf"{_F}/adfcdcs/(?P<name>{_SEG})/(?P<action>status)", cdc_action, df)
    r.add("GET", rf"{_F}/pipelineruns/(?P<run>{_SEG})", get_run, df)
    r.add("POST", rf"{_F}/pipelineruns/(?P<run>{_SEG})/cancel", cancel_run, df)
    r.add("POST", rf"{_F}/queryPipelineRuns", query_runs, df)

    mpe = rf"{_F}/managedVirtualNetworks/(?P<network>{_SEG})/managedPrivateEndpoints"
    r.add("GET", mpe, list_objects, df)
    r.add("GET", rf"{mpe}/(?P<endpoint>{_SEG})", get_object, df)
    r.add("PUT", rf"{mpe}/(?P<endpoint>{_SEG})", put_object, df)
    r.add("DELETE", rf"{mpe}/(?P<endpoint>{_SEG})", delete_object, df)

    r.add("GET", rf"{_F}/{_COLLECTIONS}", list_objects, df)
    r.add("PATCH", rf"{_F}/(?P<collection>integrationruntimes)/(?P<name>{_SEG})", patch_integration_runtime, df)
    r.add("GET", rf"{_F}/{_COLLECTIONS}/(?P<name>{_SEG})", get_object, df)
    r.add("PUT", rf"{_F}/{_COLLECTIONS}/(?P<name>{_SEG})", put_object, df)
    # There is no DELETE of a managed virtual network in the API (the route answers 405).
    r.add(
        "DELETE",
        rf"{_F}/(?P<collection>pipelines|datasets|linkedservices|triggers|dataflows|integrationruntimes|"
        rf"globalparameters|credentials|adfcdcs)/(?P<name>{_SEG})",
        delete_object,
        df,
    )
    r.add("DELETE", rf"{_F}/(?P<collection>managedvirtualnetworks)/(?P<name>{_SEG})", _no_method, df)

    r.add("GET", _D, list_deployments, rm)
    r.add("GET", rf"{_D}/(?P<deployment>{_SEG})", get_deployment, rm)
    r.add("HEAD", rf"{_D}/(?P<deployment>{_SEG})", head_deployment, rm)
    r.add("PUT", rf"{_D}/(?P<deployment>{_SEG})", put_deployment, rm)
    r.add("DELETE", rf"{_D}/(?P<deployment>{_SEG})", delete_deployment, rm)
    r.add("POST", rf"{_D}/(?P<deployment>{_SEG})/validate", validate_deployment, rm)
    r.add("POST", rf"{_D}/(?P<deployment>{_SEG})/whatIf", what_if, rm)
    r.add("POST", rf"{_D}/(?P<deployment>{_SEG})/cancel", cancel_deployment, rm)
    r.add("POST", rf"{_D}/(?P<deployment>{_SEG})/exportTemplate", export_template, rm)
    r.add("GET", rf"{_D}/(?P<deployment>{_SEG})/operationStatuses/(?P<operation>{_SEG})", deployment_status, None)
    r.add("GET", rf"{_D}/(?P<deployment>{_SEG})/whatIfOperationResults/(?P<operation>{_SEG})", what_if_result, None)
    r.add("GET", rf"{_RG}/deployments/(?P<deployment>{_SEG})/operations", list_deployment_operations, rm)
    r.add(
        "GET",
        rf"{_RG}/deployments/(?P<deployment>{_SEG})/operations/(?P<operation>{_SEG})",
        get_deployment_operation,
        rm,
    )
    return r


def _no_method(app: App, req: Request, p: dict[str, str]) -> Response:
    raise errors.method_not_allowed(req.method, req.path)
