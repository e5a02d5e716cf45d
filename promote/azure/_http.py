"""Raw JSON requests through a client's own pipeline, and SDK exceptions translated into domain errors.

Raw, because typed models fail to deserialize real ADF payloads ("Unable to deserialize the response"), because
the promoter wants the JSON exactly as Azure sent it (to compare and to fingerprint), and because the typed Data
Factory client costs half a second to import (`promote.azure.adf_client`). Through the client's pipeline
(`client.send_request`), so that the SDK's retry policy, credential and time-outs apply to every request.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from promote.azure.errors import AzureCallError, ConnectionFailed, error_from_body
from promote.errors import InputError
from promote.untrusted import ENVELOPE_DEPTH, JsonRefused, parse_json


def send(
    client: Any,
    method: str,
    url: str,
    body: Any = None,
    *,
    operation: str = "",
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """(status, parsed JSON or None). Network failures become ConnectionFailed; HTTP errors are returned.
    `headers`: more request headers (an `If-Match`)."""
    from azure.core.exceptions import AzureError as SdkAzureError
    from azure.core.rest import HttpRequest

    headers = {"Accept": "application/json", **(headers or {})}
    request = (
        HttpRequest(method, url, headers=headers, json=body)
        if body is not None
        else HttpRequest(method, url, headers=headers)
    )
    try:
        response = client.send_request(request)
    except SdkAzureError as exc:
        raise translate(exc, operation) from exc
    text = response.text()
    parsed: Any = None
    if text:
        try:
            parsed = parse_json(text, max_depth=ENVELOPE_DEPTH)
        except JsonRefused as exc:
            if not exc.syntax:  # JSON, but NaN, out of range or nested too deep: refused, the answer named
                raise InputError.single(
                    f"{method} {url.split('?')[0]}",
                    f"Azure's answer cannot be read: {exc.reason}",
                    hint=f"{operation or 'the request'}: it was written outside ADF's rules; look at it in the portal",
                ) from None
            parsed = text  # not JSON (an HTML error page): the caller reports the status
    return response.status_code, parsed


def checked(
    client: Any, method: str, url: str, body: Any = None, *, operation: str = "", ok: tuple[int, ...] = ()
) -> Any:
    """The JSON of a successful answer; any other status raises AzureCallError with Azure's code and message."""
    status, parsed = send(client, method, url, body, operation=operation)
    if 200 <= status < 300 or status in ok:
        return parsed
    raise call_error(status, parsed, operation)


def call_error(status: int, body: Any, operation: str) -> AzureCallError:
    code, message, target, details = error_from_body(body)
    return AzureCallError(code, message, target, status, operation=operation, details=details)


def translate(exc: BaseException, operation: str = "") -> AzureCallError:
    """An azure-core exception as an AzureCallError carrying Azure's code, message, target and status."""
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    if isinstance(exc, HttpResponseError):
        body: Any = None
        response = exc.response
        if response is not None:
            with contextlib.suppress(Exception):
                text = response.text()
                body = parse_json(text, max_depth=ENVELOPE_DEPTH) if text else None
        code, message, target, details = error_from_body(body)
        if code == "Unknown" and exc.error is not None:  # the SDK parsed something we could not
            code = exc.error.code or code
            message = exc.error.message or message
            target = exc.error.target or target
        if not message:
            message = exc.message or str(exc)
        return AzureCallError(code, message, target, exc.status_code, operation=operation, details=details)
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return ConnectionFailed(type(exc).__name__, str(exc), None, None, operation=operation)
    return AzureCallError(type(exc).__name__, str(exc), None, None, operation=operation)


@contextlib.contextmanager
def sdk_call(operation: str) -> Iterator[None]:
    """Run typed SDK calls inside; their exceptions come out as domain errors."""
    from azure.core.exceptions import AzureError as SdkAzureError

    try:
        yield
    except SdkAzureError as exc:
        raise translate(exc, operation) from exc


def json_object(body: Any, operation: str) -> dict[str, Any]:
    """A successful answer that must be a JSON object; anything else (an empty body, a list, text) raises
    AzureCallError `InvalidResponse` naming the operation."""
    if not isinstance(body, dict):
        raise AzureCallError(
            "InvalidResponse", f"expected a JSON object, got {type(body).__name__}", None, 200, operation=operation
        )
    return body


def pages(client: Any, url: str, *, operation: str) -> Iterator[dict[str, Any]]:
    """Every item of a list answer, following `nextLink` (absolute URLs, as Azure sends them) while it stays on
    the list (`promote.azure.origin.next_page`)."""
    from promote.azure.origin import next_page

    next_url: str | None = url
    while next_url:
        body = json_object(checked(client, "GET", next_url, operation=operation), operation)
        items = body.get("value")
        for item in items if isinstance(items, list) else ():
            if isinstance(item, dict):
                yield item
        next_url = next_page(url, body.get("nextLink"), operation=operation)
