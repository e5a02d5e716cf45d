"""Where promote sends requests: the endpoint it was given, and nowhere an answer points.

Azure's answers carry URLs the SDK follows on its own: a list's `nextLink`, a long-running operation's
`Location` and `Azure-AsyncOperation`. What the factory returns is untrusted input (docs/architecture.md,
"Untrusted input"): followed blindly, an answer could send the bearer token to another host, or make promote
read another factory's objects as this one's (and plan their deletion here). So:

- `PinnedTransport`, the transport of both clients, sends nothing whose scheme, host and port differ from the
  endpoint's. It is the last step before a connection, below every policy and poller, so no code path of the
  SDK can go around it; the request is refused before the token leaves.
- `next_page` accepts a `nextLink` only on the list's own path (ARM paths compare case-insensitively) and, when
  the list was asked by an absolute URL, its origin; only the query (the skip token) may change.

Both refusals are `InputError`s naming the request and the URL's origin and path (never its query, which may
hold a token): exit 2, as for any answer promote cannot read.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from azure.core.pipeline.transport import RequestsTransport

from promote.errors import InputError

__all__ = ["PinnedTransport", "next_page", "origin_of"]


def origin_of(url: str) -> tuple[str, str]:
    """(scheme, host[:port]) in lower case, the port left out when it is the scheme's default."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port
    default = {"https": 443, "http": 80}.get(parts.scheme.lower())
    return parts.scheme.lower(), host if port in (None, default) else f"{host}:{port}"


def _shown(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class PinnedTransport(RequestsTransport):
    """A requests transport that sends only to `origin` (see the module's docstring)."""

    def __init__(self, *, origin: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._origin = origin_of(origin)
        self._shown = f"{self._origin[0]}://{self._origin[1]}"

    def send(self, request: Any, **kwargs: Any) -> Any:
        if origin_of(request.url) != self._origin:
            raise InputError.single(
                f"{request.method} {_shown(request.url)}",
                f"an answer of Azure's led here, outside {self._shown}: promote sends requests only to its endpoint",
                hint="nothing was sent there; the answer that named this URL was not Azure Resource Manager's",
            )
        return super().send(request, **kwargs)


def next_page(list_url: str, link: Any, *, operation: str) -> str | None:
    """The next page's URL from a list answer's `nextLink`, or None at the end; refused when it leaves the list."""
    if not isinstance(link, str) or not link:
        return None
    asked, found = urlsplit(list_url), urlsplit(link)
    # A list asked by a path relative to the endpoint: the transport holds the origin (`PinnedTransport`).
    elsewhere = bool(asked.netloc) and origin_of(link) != origin_of(list_url)
    if elsewhere or found.path.rstrip("/").lower() != asked.path.rstrip("/").lower():
        raise InputError.single(
            f"GET {_shown(list_url)}",
            f"Azure's answer cannot be read: its nextLink leads to {_shown(link)}, not to the next page of this list",
            hint=f"{operation or 'the list'}: nothing more was read; the answer was not Azure Resource Manager's",
        )
    return link
