"""GitHub Actions OIDC end to end, offline: local HTTPS stand-ins for GitHub's ID-token endpoint and for Microsoft
Entra's token endpoint, a clock the test moves, and the emulator as the Azure Resource Manager.

The stand-ins behave as the real services do where it matters:
- GitHub (`ACTIONS_ID_TOKEN_REQUEST_URL`, bearer `ACTIONS_ID_TOKEN_REQUEST_TOKEN`) issues a JWT whose `aud` is
  the `audience` asked for, whose `sub` names the job's GitHub environment, and which expires 5 minutes later;
- Entra (`AZURE_AUTHORITY_HOST`) exchanges it for an access token only when it arrives as a JWT-bearer client
  assertion of the right app, issued by GitHub for `api://AzureADTokenExchange` with the federated subject, and
  not expired (AADSTS700024 otherwise, the error long deploys die of after `azure/login`).

What azure-identity asks Entra for: `ClientAssertionCredential` (azure-identity 1.27) is built on the library's
own `AadClient`, not on msal's application objects, so it fetches no OpenID metadata and makes no instance
discovery: one POST of a form to `{authority}/{tenant}/oauth2/v2.0/token`. `disable_instance_discovery` is not
needed. The stand-in answers 404 to anything else, and the first test checks that nothing else was asked.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from promote.azure.credentials import GITHUB_AUDIENCE, cloud_credential
from promote.emulator.certs import ensure_certificates
from tests.emulator_fixtures import EmulatorHandle

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT = "5b1c6a4e-1f7d-4c3a-9e2b-8d0f6a7c9e11"
REQUEST_TOKEN = "runner-request-token"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
SUBJECT = "repo:example/adf-factory:environment:production"  # the app's federated credential
SCOPE = "https://management.azure.com/.default"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ID_TOKEN_LIFETIME = 300  # GitHub's ID tokens live minutes
ACCESS_TOKEN_LIFETIME = 3599  # Entra's access tokens about an hour


class Clock:
    """`time.time()` for everyone in this process, moved forward by the test instead of waited for."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = 0.0
        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() + self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@dataclass
class Services:
    """The two stand-ins: what they were asked, what they issued, and the environment a GitHub job would have."""

    env: dict[str, str]
    github_requests: list[dict[str, Any]] = field(default_factory=list)
    issued_id_tokens: list[str] = field(default_factory=list)
    entra_requests: list[dict[str, Any]] = field(default_factory=list)
    issued_access_tokens: list[str] = field(default_factory=list)


def _serve(handler: type[BaseHTTPRequestHandler], context: ssl.SSLContext) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, f"https://127.0.0.1:{server.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    svc = Services(env={})

    class GitHub(_Handler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            svc.github_requests.append({"path": url.path, "query": query, "auth": self.headers.get("Authorization")})
            if self.headers.get("Authorization") != f"bearer {REQUEST_TOKEN}":
                self.answer(401, {"message": "Bad credentials"})
                return
            now = int(time.time())
            claims = {
                "iss": GITHUB_ISSUER,
                "aud": query.get("audience", [GITHUB_ISSUER])[0],
                "sub": SUBJECT,
                "environment": "production",
                "iat": now,
                "nbf": now,
                "exp": now + ID_TOKEN_LIFETIME,
                "jti": str(uuid.uuid4()),
            }
            token = f"{_b64({'alg': 'RS256', 'typ': 'JWT'})}.{_b64(claims)}.c2lnbmVk"
            svc.issued_id_tokens.append(token)
            self.answer(200, {"count": len(svc.issued_id_tokens), "value": token})

    class Entra(_Handler):
        def do_GET(self) -> None:
            svc.entra_requests.append({"method": "GET", "path": self.path})
            self.answer(404, {"error": "not_found"})

        def do_POST(self) -> None:
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode()).items()}
            svc.entra_requests.append({"method": "POST", "path": self.path, "form": form})
            if urlsplit(self.path).path != f"/{TENANT}/oauth2/v2.0/token":
                self.answer(404, {"error": "not_found"})
                return
            assertion = form.get("client_assertion", "")
            claims = _claims(assertion) if assertion.count(".") == 2 else {}
            refusal = None
            if form.get("client_id") != CLIENT or form.get("grant_type") != "client_credentials":
                refusal = "AADSTS700016: Application not found in the directory."
            elif form.get("client_assertion_type") != JWT_BEARER or not claims:
                refusal = "AADSTS50027: JWT token is invalid or malformed."
            elif (claims.get("iss"), claims.get("aud"), claims.get("sub")) != (GITHUB_ISSUER, GITHUB_AUDIENCE, SUBJECT):
                refusal = "AADSTS70021: No matching federated identity record found for presented assertion."
            elif claims["exp"] <= time.time():
                refusal = "AADSTS700024: Client assertion is not within its valid time range."
            if refusal:
                self.answer(400, {"error": "invalid_client", "error_description": refusal})
                return
            token = f"azure-token-{len(svc.issued_access_tokens) + 1}"
            svc.issued_access_tokens.append(token)
            self.answer(200, {"token_type": "Bearer", "expires_in": ACCESS_TOKEN_LIFETIME, "access_token": token})

    certs = ensure_certificates(tmp_path / "certs")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.cert, certs.key)
    github, github_url = _serve(GitHub, context)
    entra, entra_url = _serve(Entra, context)
    # How the process trusts the stand-ins' throwaway CA: urllib (GitHub's endpoint) reads SSL_CERT_FILE,
    # requests (azure-identity's pipeline) REQUESTS_CA_BUNDLE. The code under test gets no test-only argument.
    monkeypatch.setenv("SSL_CERT_FILE", str(certs.ca))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certs.ca))
    svc.env = {
        "ACTIONS_ID_TOKEN_REQUEST_URL": f"{github_url}/_apis/distributedtask/hubs/build/plans/p/jobs/j/idtoken"
        "?api-version=2.0",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": REQUEST_TOKEN,
        "AZURE_CLIENT_ID": CLIENT,
        "AZURE_TENANT_ID": TENANT,
        "AZURE_AUTHORITY_HOST": entra_url,
    }
    try:
        yield svc
    finally:
        for server in (github, entra):
            server.shutdown()
            server.server_close()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def test_the_credential_presents_a_fresh_github_token_each_time_it_needs_an_azure_token(
    services: Services, clock: Clock
) -> None:
    credential = cloud_credential(services.env)  # what a cloud connection uses inside GitHub Actions
    assert type(credential).__name__ == "ClientAssertionCredential"
    first = credential.get_token(SCOPE)
    assert credential.get_token(SCOPE).token == first.token  # a valid Azure token is reused: no new ID token
    assert len(services.issued_id_tokens) == 1

    clock.advance(ACCESS_TOKEN_LIFETIME + 60)  # an hour into a long deploy: both tokens have expired
    second = credential.get_token(SCOPE)
    assert (first.token, second.token) == ("azure-token-1", "azure-token-2")
    assert len(services.issued_id_tokens) == 2

    # GitHub was asked with the job's request token, for the token exchange audience
    for request in services.github_requests:
        assert request["auth"] == f"bearer {REQUEST_TOKEN}"
        assert request["query"]["audience"] == [GITHUB_AUDIENCE]
        assert request["query"]["api-version"] == ["2.0"]
    # Entra got exactly GitHub's tokens, each as a JWT-bearer client assertion, and nothing else was asked
    assert [r["form"]["client_assertion"] for r in services.entra_requests] == services.issued_id_tokens
    for request in services.entra_requests:
        assert (request["method"], request["path"]) == ("POST", f"/{TENANT}/oauth2/v2.0/token")
        assert request["form"]["client_assertion_type"] == JWT_BEARER
        assert request["form"]["client_id"] == CLIENT and request["form"]["scope"] == SCOPE
        assert _claims(request["form"]["client_assertion"])["aud"] == GITHUB_AUDIENCE
    assert _claims(services.issued_id_tokens[1])["iat"] >= _claims(services.issued_id_tokens[0])["exp"]


def test_a_one_time_github_token_fails_once_it_has_expired(services: Services, clock: Clock) -> None:
    """What `azure/login` + a later Azure CLI credential amounts to: one GitHub token, exchanged again when the
    Azure token runs out. The stand-in refuses it as Entra does, so the test above shows a real difference."""
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import ClientAssertionCredential

    from promote.azure.credentials import github_id_token_fetcher

    once = github_id_token_fetcher(
        services.env["ACTIONS_ID_TOKEN_REQUEST_URL"], services.env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]
    )()
    stale = ClientAssertionCredential(TENANT, CLIENT, lambda: once, authority=services.env["AZURE_AUTHORITY_HOST"])
    assert stale.get_token(SCOPE).token == "azure-token-1"
    clock.advance(ACCESS_TOKEN_LIFETIME + 60)
    with pytest.raises(ClientAuthenticationError, match="AADSTS700024"):
        stale.get_token(SCOPE)


def test_a_long_run_against_the_emulator_refreshes_its_token_in_the_middle(
    services: Services, clock: Clock, emulator: EmulatorHandle
) -> None:
    """The real clients (`promote.azure.connection.connect`) with the OIDC credential, against the emulator (which
    accepts any bearer token): the Authorization header carries Entra's token, and the token is renewed, with a
    new GitHub ID token, when it expires between two calls of one run."""
    from azure.core.rest import HttpRequest

    from promote.azure.connection import LOCAL_SETTINGS, connect
    from promote.azure.reader import read_live

    sent: list[str] = []

    def hook(request: Any) -> None:
        sent.append(request.http_request.headers["Authorization"])

    conn = connect(
        subscription=emulator.subscription,
        resource_group=emulator.resource_group,
        factory="adf-oidc",
        credential=cloud_credential(services.env),
        endpoint=emulator.endpoint,
        ca_file=emulator.ca_file,
        settings=LOCAL_SETTINGS,
    )

    def put(url: str, body: dict[str, Any]) -> None:
        response = conn.adf.send_request(HttpRequest("PUT", url, json=body), raw_request_hook=hook)
        assert response.status_code == 200, response.text()

    try:
        put(conn.factory_url(), {"location": "westeurope"})
        put(conn.factory_url("pipelines", "p1"), {"properties": {"activities": []}})
        clock.advance(ACCESS_TOKEN_LIFETIME + 60)  # the deploy goes on for more than an hour
        put(conn.factory_url("pipelines", "p2"), {"properties": {"activities": []}})
        live = read_live(conn)  # promote's own reader, through the same clients and credential
    finally:
        conn.close()

    assert sent == ["Bearer azure-token-1", "Bearer azure-token-1", "Bearer azure-token-2"]
    assert sorted(key.name for key in live.factory.objects) == ["p1", "p2"]
    assert len(services.issued_id_tokens) == 2  # one per Azure token, fetched when needed
    assert services.issued_access_tokens == ["azure-token-1", "azure-token-2"]
