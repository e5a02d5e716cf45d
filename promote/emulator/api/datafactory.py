"""Data Factory 2018-06-01: factories, their child objects, triggers and event subscriptions, pipeline runs and
change data capture. Each handler is one store call wrapped in Azure's envelope; ADF's rules are the store's.
"""

from __future__ import annotations

import json
from typing import Any

from promote.emulator import errors
from promote.emulator.app import App
from promote.emulator.routing import (
    DATA_FACTORY_API,
    Request,
    Response,
    Router,
    conditions,
    json_object,
    list_body,
    lro_headers,
    read_answer,
)
from promote.emulator.store import KINDS, GroupScope, Page

_SEG = r"[^/]+"
RESOURCE_GROUP = rf"/subscriptions/(?P<sub>{_SEG})/resourcegroups/(?P<rg>{_SEG})"
_F = rf"{RESOURCE_GROUP}/providers/Microsoft\.DataFactory/factories/(?P<factory>{_SEG})"
_COLLECTIONS = (
    r"(?P<collection>pipelines|datasets|linkedservices|triggers|dataflows|integrationruntimes|"
    r"managedvirtualnetworks|globalparameters|credentials|adfcdcs)"
)


def _scope(p: dict[str, str]) -> GroupScope:
    return GroupScope(p["sub"], p["rg"])


def next_link(req: Request, page: Page) -> str | None:
    return None if page.next_token is None else req.url(**{"$skiptoken": page.next_token})


# --- factories ---------------------------------------------------------------------------------------------


def list_factories_in_subscription(app: App, req: Request, p: dict[str, str]) -> Response:
    return Response(200, list_body(app.store.list_factories(p["sub"], None), None))


def list_factories(app: App, req: Request, p: dict[str, str]) -> Response:
    return Response(200, list_body(app.store.list_factories(p["sub"], p["rg"]), None))


def get_factory(app: App, req: Request, p: dict[str, str]) -> Response:
    etag, body = app.store.get_factory(_scope(p), p["factory"])
    return read_answer(req, etag, body)


def put_factory(app: App, req: Request, p: dict[str, str]) -> Response:
    return Response(200, app.store.put_factory(_scope(p), p["factory"], req.json(), **conditions(req)))


def patch_factory(app: App, req: Request, p: dict[str, str]) -> Response:
    return Response(200, app.store.patch_factory(_scope(p), p["factory"], req.json(), **conditions(req)))


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
    return read_answer(req, etag, body)


def put_object(app: App, req: Request, p: dict[str, str]) -> Response:
    kind, name = _object(p)
    return Response(200, app.store.put_object(_scope(p), p["factory"], kind, name, req.json(), **conditions(req)))


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
        return Response(202, headers=lro_headers(app.settings.lro_retry_after, "Location", _status_url(req, p)))
    return Response(200, {"triggerName": name, "status": status})


def subscription_status(app: App, req: Request, p: dict[str, str]) -> Response:
    """POST (the operation): always 200 with the status. GET (the Location a subscribe answer points at, polled
    by the SDK): 202 while the subscription is still changing, then 200 with the final status."""
    name, status = app.store.subscription_status(_scope(p), p["factory"], p["name"])
    body = {"triggerName": name, "status": status}
    if req.method == "GET" and status in ("Provisioning", "Deprovisioning"):
        url = f"{req.base_url}{req.path}?api-version={DATA_FACTORY_API}"
        return Response(202, body, lro_headers(app.settings.lro_retry_after, "Location", url))
    return Response(200, body)


def query_triggers(app: App, req: Request, p: dict[str, str]) -> Response:
    query = json_object(req)
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
    recursive = req.query.get("isrecursive", "").lower() == "true"
    app.store.cancel_run(_scope(p), p["factory"], p["run"], recursive=recursive)
    return Response(200)


def query_runs(app: App, req: Request, p: dict[str, str]) -> Response:
    query = json_object(req)
    runs, token = app.store.query_runs(_scope(p), p["factory"], query)
    body: dict[str, Any] = {"value": runs}
    if token:
        body["continuationToken"] = token
    return Response(200, body)


# --- the table ---------------------------------------------------------------------------------------------


def add_routes(r: Router[App]) -> None:
    df = "datafactory"
    r.add(
        "GET",
        rf"/subscriptions/(?P<sub>{_SEG})/providers/Microsoft\.DataFactory/factories",
        list_factories_in_subscription,
        df,
    )
    r.add("GET", rf"{RESOURCE_GROUP}/providers/Microsoft\.DataFactory/factories", list_factories, df)
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


def _no_method(app: App, req: Request, p: dict[str, str]) -> Response:
    raise errors.method_not_allowed(req.method, req.path)
