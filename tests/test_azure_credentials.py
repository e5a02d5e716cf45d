"""GitHub Actions OIDC without the network: local stand-ins for GitHub's ID token endpoint (plain http on
127.0.0.1) and for the Entra token endpoint (https on 127.0.0.1 through AZURE_AUTHORITY_HOST, the emulator's
throwaway CA), to show that every Azure token is bought with a FRESH GitHub ID token. That is what keeps a long
deploy alive past the 5-10 minutes a GitHub ID token lives (AADSTS700024 otherwise)."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from promote.azure.credentials import (
    GITHUB_AUDIENCE,
    CredentialError,
    cloud_credential,
    github_oidc_available,
    github_oidc_credential,
)
from promote.emulator.certs import ensure_certificates

REQUEST_TOKEN = "gh-request-token"
TENANT = "11111111-1111-1111-1111-111111111111"
CLIENT = "22222222-2222-2222-2222-222222222222"
SCOPE = "https://management.azure.com/.default"


@dataclass
class Recorder:
    """What each stand-in saw; `lifetime` is how long the Entra stand-in says its tokens live."""

    id_token_requests: list[dict[str, Any]] = field(default_factory=list)
    assertions: list[str] = field(default_factory=list)
    lifetime: int = 3600
    github_status: int = 200


def _serve(handler: type[BaseHTTPRequestHandler], context: ssl.SSLContext | None) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    scheme = "https" if context else "http"
    return server, f"{scheme}://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def stand_ins(tmp_path: Path) -> Iterator[tuple[Recorder, dict[str, str], str]]:
    """(recorder, the environment a GitHub job would have, the CA file of the Entra stand-in)."""
    rec = Recorder()

    class GitHub(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            rec.id_token_requests.append({"query": query, "authorization": self.headers.get("Authorization")})
            if rec.github_status != 200:
                self.send_response(rec.github_status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = json.dumps({"value": f"github-id-token-{len(rec.id_token_requests)}"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Entra(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
            assertion = form.get("client_assertion", [""])[0]
            ok = (
                self.path.startswith(f"/{TENANT}/oauth2/v2.0/token")
                and form.get("client_id") == [CLIENT]
                and assertion
                and assertion not in rec.assertions  # a used (or expired) assertion is refused, as Entra does
            )
            rec.assertions.append(assertion)
            if ok:
                status, body = (
                    200,
                    {
                        "access_token": f"azure-token-{len(rec.assertions)}",
                        "expires_in": rec.lifetime,
                        "token_type": "Bearer",
                    },
                )
            else:
                status, body = 400, {"error": "invalid_client", "error_description": "AADSTS700024: expired"}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    certs = ensure_certificates(tmp_path / "certs")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.cert, certs.key)
    github, github_url = _serve(GitHub, None)
    entra, entra_url = _serve(Entra, context)
    env = {
        "ACTIONS_ID_TOKEN_REQUEST_URL": f"{github_url}/token?api-version=2.0",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": REQUEST_TOKEN,
        "AZURE_CLIENT_ID": CLIENT,
        "AZURE_TENANT_ID": TENANT,
        "AZURE_AUTHORITY_HOST": entra_url,
    }
    try:
        yield rec, env, str(certs.ca)
    finally:
        for server in (github, entra):
            server.shutdown()
            server.server_close()


def test_each_azure_token_uses_a_fresh_github_id_token(stand_ins: tuple[Recorder, dict[str, str], str]) -> None:
    rec, env, ca = stand_ins
    rec.lifetime = 0  # expired at once: the second get_token must buy a new token, as after 10 minutes of deploy
    credential = github_oidc_credential(env, connection_verify=ca)
    first = credential.get_token(SCOPE)
    second = credential.get_token(SCOPE)  # "mid-run": the first GitHub ID token would have expired by now
    assert (first.token, second.token) == ("azure-token-1", "azure-token-2")
    assert rec.assertions == ["github-id-token-1", "github-id-token-2"]
    assert len(rec.id_token_requests) == 2
    for request in rec.id_token_requests:
        assert request["query"]["audience"] == [GITHUB_AUDIENCE]
        assert request["query"]["api-version"] == ["2.0"]
        assert request["authorization"] == f"bearer {REQUEST_TOKEN}"


def test_a_valid_azure_token_is_reused(stand_ins: tuple[Recorder, dict[str, str], str]) -> None:
    rec, env, ca = stand_ins
    credential = github_oidc_credential(env, connection_verify=ca)
    assert credential.get_token(SCOPE).token == credential.get_token(SCOPE).token
    assert len(rec.id_token_requests) == 1


def test_github_refusing_an_id_token_is_a_clear_error(stand_ins: tuple[Recorder, dict[str, str], str]) -> None:
    rec, env, ca = stand_ins
    rec.github_status = 403
    credential = github_oidc_credential(env, connection_verify=ca)
    with pytest.raises(CredentialError, match="id-token: write"):
        credential.get_token(SCOPE)
    assert rec.assertions == []  # nothing was sent to Entra


def test_which_credential(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "ACTIONS_ID_TOKEN_REQUEST_URL": "http://127.0.0.1:9/token",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "t",
        "AZURE_CLIENT_ID": CLIENT,
        "AZURE_TENANT_ID": TENANT,
    }
    assert github_oidc_available(env)
    assert type(cloud_credential(env)).__name__ == "ClientAssertionCredential"
    without_client = {k: v for k, v in env.items() if k != "AZURE_CLIENT_ID"}
    assert not github_oidc_available(without_client)
    assert type(cloud_credential(without_client)).__name__ == "DefaultAzureCredential"
    with pytest.raises(CredentialError, match="AZURE_CLIENT_ID"):
        github_oidc_credential(without_client)
