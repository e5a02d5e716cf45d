"""HTTP types and routing: the request and response the handlers see, the routing table, api-version checks and
Azure's answer envelopes. Nothing here knows a resource: the table is filled by `api/`, the rules live in
`store/` and `deployments/`.

Paths are matched without the query string, case-insensitively (`resourcegroups` and `resourceGroups` both
occur: the two SDKs spell them differently).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote, unquote

from promote.emulator import errors

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

    def bounded_json(self) -> Any:
        """The body as JSON, refusing what ARM refuses by size (413) before parsing it."""
        if len(self.body) > MAX_REQUEST_BYTES:
            raise errors.request_too_large()
        return self.json()

    @property
    def api_version(self) -> str:
        return self.query.get("api-version", "")

    def url(self, path: str | None = None, **query: str) -> str:
        """An absolute URL on this server (for Location headers and next links), with this api-version."""
        text = f"{self.base_url}{self.path if path is None else path}?api-version={quote(self.api_version)}"
        return text + "".join(f"&{k}={v}" for k, v in query.items())


@dataclass
class Response:
    status: int
    body: Any = None  # dict / list -> JSON; str -> JSON text as is; None -> no body
    headers: dict[str, str] = field(default_factory=dict)


C = TypeVar("C")  # what handlers work with (the server's App); generic so that routing imports nothing of it
Handler = Callable[[C, Request, dict[str, str]], Response]


@dataclass(frozen=True)
class Route(Generic[C]):
    methods: frozenset[str]
    pattern: re.Pattern[str]
    handler: Handler[C]
    api: str | None  # "datafactory", "resources", or None (no api-version check: control API, poll URLs)


class Router(Generic[C]):
    """An ordered table of routes; the first whose regex matches the path and allows the method wins."""

    def __init__(self) -> None:
        self.routes: list[Route[C]] = []

    def add(self, methods: str, pattern: str, handler: Handler[C], api: str | None) -> None:
        self.routes.append(Route(frozenset(methods.split()), re.compile(pattern + "/?", re.IGNORECASE), handler, api))

    def match(self, method: str, path: str) -> tuple[Route[C], dict[str, str]]:
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


def paged_in_memory(req: Request, items: list[str], size: int) -> Response:
    """A page of a list held in memory (deployment history, operations), by position (`$skiptoken`)."""
    token = req.query.get("$skiptoken") or "0"
    start = int(token) if token.isdigit() else 0
    link = req.url(**{"$skiptoken": str(start + size)}) if start + size < len(items) else None
    return Response(200, list_body(items[start : start + size], link))


def lro_headers(retry_after: float | None, header: str, url: str) -> dict[str, str]:
    """The header of a long-running operation's answer (`Location` or `Azure-AsyncOperation`), and a
    `Retry-After` when the emulator is set to send one."""
    headers = {header: url}
    if retry_after is not None:
        headers["Retry-After"] = f"{retry_after:g}"
    return headers


def read_answer(req: Request, etag: str, body: str) -> Response:
    """A GET answer, or 304 when If-None-Match names the current etag."""
    inm = req.header("If-None-Match")
    if inm is not None and inm.strip().strip('"') in ("*", etag.strip('"')):
        return Response(304)
    return Response(200, body)


def conditions(req: Request) -> dict[str, str | None]:
    """The conditional headers of a write, as the store's keyword arguments."""
    return {"if_match": req.header("If-Match"), "if_none_match": req.header("If-None-Match")}


def json_object(req: Request) -> dict[str, Any]:
    """A body that must be a JSON object (queries): `{}` when empty."""
    body = req.json() or {}
    if not isinstance(body, dict):
        raise errors.bad_body("The query must be a JSON object.")
    return body
