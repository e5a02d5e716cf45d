"""Which credential a cloud connection uses, and GitHub Actions OIDC done so that long deploys keep working.

`azure/login` with OIDC exchanges GitHub's ID token once (`az login --federated-token`); that token lives 5-10
minutes, so the first token refresh after that fails (AADSTS700024) in the middle of a long deploy (azure-cli
issue 28708, azure/login issue 372). `ClientAssertionCredential` calls its callback each time it needs a new
Azure token; the callback here asks GitHub for a fresh ID token every time, so there is nothing to expire.

`AZURE_AUTHORITY_HOST` is honoured by azure-identity itself, which lets tests point the exchange at a local
stand-in; `ACTIONS_ID_TOKEN_REQUEST_URL` is GitHub's own variable, so the same holds for the ID token request.
"""

from __future__ import annotations

import logging
import os
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from promote.azure.errors import AzureError
from promote.untrusted import parse_json

GITHUB_AUDIENCE = "api://AzureADTokenExchange"
GITHUB_ENV = ("ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
AZURE_ENV = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID")
ID_TOKEN_TIMEOUT = 30.0


class CredentialError(AzureError):
    """GitHub would not give an ID token, or the environment does not say how to authenticate."""


def github_oidc_available(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process runs in a GitHub Actions job that may request ID tokens (`id-token: write`) and
    knows which Entra application to exchange them for."""
    env = os.environ if environ is None else environ
    return all(env.get(name) for name in (*GITHUB_ENV, *AZURE_ENV))


def github_id_token_fetcher(
    request_url: str, request_token: str, *, audience: str = GITHUB_AUDIENCE, timeout: float = ID_TOKEN_TIMEOUT
) -> Callable[[], str]:
    """A callable returning a fresh GitHub ID token on each call (never cached: the point is freshness)."""
    separator = "&" if urllib.parse.urlsplit(request_url).query else "?"
    url = f"{request_url}{separator}audience={urllib.parse.quote(audience, safe='')}"

    def fetch() -> str:
        request = urllib.request.Request(url, headers={"Authorization": f"bearer {request_token}"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                body = parse_json(response.read().decode())
        except (OSError, ValueError) as exc:
            raise CredentialError(
                f"GitHub did not give an ID token ({exc}); the workflow needs `permissions: id-token: write`"
            ) from exc
        token = body.get("value") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise CredentialError("GitHub's ID token answer holds no 'value'")
        return token

    return fetch


def github_oidc_credential(environ: Mapping[str, str] | None = None, **kwargs: Any) -> Any:
    """`ClientAssertionCredential` for the Entra app in AZURE_CLIENT_ID / AZURE_TENANT_ID, asserting with a fresh
    GitHub ID token each time. `kwargs` go to the credential (e.g. `authority`)."""
    from azure.identity import ClientAssertionCredential

    env = os.environ if environ is None else environ
    missing = [name for name in (*GITHUB_ENV, *AZURE_ENV) if not env.get(name)]
    if missing:
        raise CredentialError(f"GitHub OIDC needs {', '.join(missing)} in the environment")
    fetch = github_id_token_fetcher(env["ACTIONS_ID_TOKEN_REQUEST_URL"], env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"])
    if "authority" not in kwargs and env.get("AZURE_AUTHORITY_HOST"):
        kwargs["authority"] = env["AZURE_AUTHORITY_HOST"]
    return ClientAssertionCredential(env["AZURE_TENANT_ID"], env["AZURE_CLIENT_ID"], fetch, **kwargs)


def cloud_credential(environ: Mapping[str, str] | None = None) -> Any:
    """GitHub OIDC when running in Actions with an Entra app configured, else `DefaultAzureCredential`
    (environment variables, workload identity, managed identity, Azure CLI, ...)."""
    if github_oidc_available(environ):
        return github_oidc_credential(environ)
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def credential_help(target: str, cause: str = "") -> str:
    """The three lines a credential failure is reported in: what failed, and what to do here or in CI."""
    first = next((line.strip() for line in cause.splitlines() if line.strip()), "")
    because = f": {first[:200]}" if first and not first.startswith("DefaultAzureCredential failed") else ""
    return (
        f"no Azure credential for {target}{because}\n"
        "  on a workstation: run `az login` (and `az account set --subscription <id>` for another subscription)\n"
        "  in GitHub Actions: set AZURE_CLIENT_ID and AZURE_TENANT_ID and give the job `permissions: id-token: write`"
    )


class ExplainedCredential:
    """A credential whose failure is `CredentialError` with `credential_help`'s three lines, instead of the SDK's
    dump of every credential it tried. Everything else is the wrapped credential's."""

    def __init__(self, inner: Any, target: str) -> None:
        # azure-identity also logs each failure as a warning, which Python prints to stderr when nothing handles
        # it: the same 40 lines twice. The failure is reported once, here.
        azure_logger = logging.getLogger("azure")
        if not azure_logger.handlers:
            azure_logger.addHandler(logging.NullHandler())
        self.inner = inner
        self.target = target

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.exceptions import ClientAuthenticationError

        try:
            return self.inner.get_token(*scopes, **kwargs)
        except ClientAuthenticationError as exc:
            raise CredentialError(credential_help(self.target, str(exc.message or exc))) from None

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()
