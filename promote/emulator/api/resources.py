"""Microsoft.Resources: resource group deployments, their long-running operation status, what-if results and
deployment operations. Each handler is one call of the deployment engine (`deployments/`) wrapped in ARM's
envelope: the answer's status, the `Azure-AsyncOperation` or `Location` header, the paging.
"""

from __future__ import annotations

from promote.emulator.api.datafactory import RESOURCE_GROUP
from promote.emulator.app import App
from promote.emulator.routing import Request, Response, Router, lro_headers, paged_in_memory
from promote.emulator.store import GroupScope

_SEG = r"[^/]+"
_D = rf"{RESOURCE_GROUP}/providers/Microsoft\.Resources/deployments"


def _scope(p: dict[str, str]) -> GroupScope:
    return GroupScope(p["sub"], p["rg"])


def _top(req: Request) -> int | None:
    text = req.query.get("$top")
    return int(text) if text and text.isdigit() else None


def put_deployment(app: App, req: Request, p: dict[str, str]) -> Response:
    accepted = app.deployments.create(_scope(p), p["deployment"], req.bounded_json())
    url = req.url(f"{req.path.rstrip('/')}/operationStatuses/{accepted.operation}")
    headers = lro_headers(app.settings.lro_retry_after, "Azure-AsyncOperation", url)
    return Response(200 if accepted.replaced else 201, accepted.body, headers)


def get_deployment(app: App, req: Request, p: dict[str, str]) -> Response:
    return Response(200, app.deployments.get(_scope(p), p["deployment"]))


def head_deployment(app: App, req: Request, p: dict[str, str]) -> Response:
    return Response(204 if app.deployments.exists(_scope(p), p["deployment"]) else 404)


def delete_deployment(app: App, req: Request, p: dict[str, str]) -> Response:
    app.deployments.delete(_scope(p), p["deployment"])
    return Response(204)


def list_deployments(app: App, req: Request, p: dict[str, str]) -> Response:
    items = app.deployments.history(_scope(p), req.query.get("$filter"), _top(req))
    return paged_in_memory(req, items, app.settings.page_size)


def validate_deployment(app: App, req: Request, p: dict[str, str]) -> Response:
    return Response(200, app.deployments.validate(_scope(p), p["deployment"], req.bounded_json()))


def what_if(app: App, req: Request, p: dict[str, str]) -> Response:
    op_id = app.deployments.what_if(_scope(p), p["deployment"], req.bounded_json())
    url = req.url(f"{req.path.rsplit('/', 1)[0]}/whatIfOperationResults/{op_id}")
    return Response(202, headers=lro_headers(app.settings.lro_retry_after, "Location", url))


def cancel_deployment(app: App, req: Request, p: dict[str, str]) -> Response:
    app.deployments.cancel(_scope(p), p["deployment"])
    return Response(204)


def export_template(app: App, req: Request, p: dict[str, str]) -> Response:
    return Response(200, {"template": app.deployments.template(_scope(p), p["deployment"])})


def deployment_status(app: App, req: Request, p: dict[str, str]) -> Response:
    status, body = app.deployments.operation_status(p["operation"])
    headers = {}
    if status == "Running" and app.settings.lro_retry_after is not None:
        headers["Retry-After"] = f"{app.settings.lro_retry_after:g}"
    return Response(200, body, headers)


def what_if_result(app: App, req: Request, p: dict[str, str]) -> Response:
    return Response(200, app.deployments.what_if_result(p["operation"]))


def list_deployment_operations(app: App, req: Request, p: dict[str, str]) -> Response:
    items = app.deployments.operations(_scope(p), p["deployment"], _top(req))
    return paged_in_memory(req, items, app.settings.page_size)


def get_deployment_operation(app: App, req: Request, p: dict[str, str]) -> Response:
    return Response(200, app.deployments.operation(_scope(p), p["deployment"], p["operation"]))


def add_routes(r: Router[App]) -> None:
    rm = "resources"
    r.add("GET", _D, list_deployments, rm)
    r.add("GET", rf"{_D}/(?P<deployment>{_SEG})", get_deployment, rm)
    r.add("HEAD", rf"{_D}/(?P<deployment>{_SEG})", head_deployment, rm)
    r.add("PUT", rf"{_D}/(?P<deployment>{_SEG})", put_deployment, rm)
    r.add("DELETE", rf"{_D}/(?P<deployment>{_SEG})", delete_deployment, rm)
    r.add("POST", rf"{_D}/(?P<deployment>{_SEG})/validate", validate_deployment, rm)
    r.add("POST", rf"{_D}/(?P<deployment>{_SEG})/whatIf", what_if, rm)
    r.add("POST", rf"{_D}/(?P<deployment>{_SEG})/cancel", cancel_deployment, rm)
    r.add("POST", rf"{_D}/(?P<deployment>{_SEG})/exportTemplate", export_template, rm)
    # The poll URLs answer whatever api-version the client repeats (the SDK sends none on some).
    r.add("GET", rf"{_D}/(?P<deployment>{_SEG})/operationStatuses/(?P<operation>{_SEG})", deployment_status, None)
    r.add("GET", rf"{_D}/(?P<deployment>{_SEG})/whatIfOperationResults/(?P<operation>{_SEG})", what_if_result, None)
    r.add("GET", rf"{RESOURCE_GROUP}/deployments/(?P<deployment>{_SEG})/operations", list_deployment_operations, rm)
    r.add(
        "GET",
        rf"{RESOURCE_GROUP}/deployments/(?P<deployment>{_SEG})/operations/(?P<operation>{_SEG})",
        get_deployment_operation,
        rm,
    )
