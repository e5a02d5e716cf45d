"""URLs in Azure's answers are untrusted: a list's `nextLink` and a long-running operation's
`Azure-AsyncOperation` / `Location` never take a request of promote's, nor its bearer token, to another host,
and a `nextLink` never makes promote read another factory as this one (`promote.azure.origin`).

The emulator answers what no Azure would (a fault rule's `answer`); a second HTTPS server on 127.0.0.1, with
the emulator's certificate, stands for the other host and records whatever reaches it: nothing may. The same
rules answer odd shapes where the reader looks (tags, lists, items, trigger types): an answer, a refusal, never
a crash."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.emulator_fixtures import EmulatorHandle
from tests.engine_project import LOCAL_FACTORY, LOCAL_RESOURCE_GROUP, LOCAL_SUBSCRIPTION
from tests.gitrepo import Repo
from tests.test_bad_input_target import promote, writes
from tests.test_bad_input_target import repo as repo  # a fixture

FACTORY_PATH = (
    f"/subscriptions/{LOCAL_SUBSCRIPTION}/resourceGroups/{LOCAL_RESOURCE_GROUP}"
    f"/providers/Microsoft.DataFactory/factories/{LOCAL_FACTORY}"
)


@dataclass
class Stranger:
    """Another host: every request that reaches it, with whether it carried a token."""

    url: str
    seen: list[tuple[str, str, bool]] = field(default_factory=list)


@pytest.fixture
def stranger(emulator: EmulatorHandle) -> Iterator[Stranger]:
    certs = Path(emulator.ca_file).parent
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs / "server.pem", certs / "server-key.pem")
    found = Stranger("")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            found.seen.append((self.command, self.path, "authorization" in {k.lower() for k in self.headers}))
            body = json.dumps({"value": [], "status": "Succeeded"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    found.url = f"https://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()


def test_the_stranger_answers_a_request_with_a_token(stranger: Stranger, emulator: EmulatorHandle) -> None:
    """The stand-in for another host works: a client trusting the emulator's CA reaches it (so that an empty
    record in the tests below means nothing was sent, not that nothing could have been)."""
    import requests

    answer = requests.get(
        f"{stranger.url}/x", headers={"Authorization": "Bearer t"}, verify=emulator.ca_file, timeout=30
    )
    assert answer.status_code == 200 and stranger.seen == [("GET", "/x", True)]


def test_a_next_link_to_another_host_is_refused_and_not_followed(
    repo: Repo, emulator: EmulatorHandle, stranger: Stranger
) -> None:
    link = f"{stranger.url}{FACTORY_PATH}/pipelines?api-version=2018-06-01&$skiptoken=x"
    emulator.fault(
        method="GET",
        path=f"{LOCAL_FACTORY}/pipelines$",
        answer={"status": 200, "body": {"value": [], "nextLink": link}},
    )
    result = promote(repo, emulator, "diff", "--env", "local")
    assert result.returncode == 2, result.stderr
    assert (
        f"GET {stranger.url}{FACTORY_PATH}/pipelines: an answer of Azure's led here, outside {emulator.endpoint}: "
        "promote sends requests only to its endpoint" in result.stderr
    )
    assert "skiptoken" not in result.stderr and "Traceback" not in result.stderr
    assert stranger.seen == []


def test_a_next_link_to_another_factory_is_refused_and_not_read(repo: Repo, emulator: EmulatorHandle) -> None:
    """Followed, the other factory's pipelines would be this factory's live state: a plan would delete them here."""
    other = FACTORY_PATH.replace(f"/factories/{LOCAL_FACTORY}", "/factories/someone-elses")
    link = f"{emulator.endpoint}{other}/pipelines?api-version=2018-06-01"
    emulator.fault(
        method="GET",
        path=f"{LOCAL_FACTORY}/pipelines$",
        answer={"status": 200, "body": {"value": [], "nextLink": link}},
    )
    result = promote(repo, emulator, "plan", "--env", "local", "--ref", "HEAD")
    assert result.returncode == 2, result.stderr
    assert "/factories/someone-elses/pipelines, not to the next page" in result.stderr
    assert [r for r in emulator.requests() if "someone-elses" in r["path"]] == []
    assert writes(emulator) == []


def test_a_poll_url_on_another_host_is_refused_before_the_token_leaves(
    repo: Repo, emulator: EmulatorHandle, stranger: Stranger
) -> None:
    """The deployment's PUT answered 201 with its operation to poll elsewhere: the SDK's poller would send the
    bearer token there; the transport refuses the request first, and the deploy fails saying where the answer
    led, without a traceback."""
    emulator.fault(
        method="PUT",
        path="/providers/Microsoft.Resources/deployments/",
        answer={
            "status": 201,
            "body": {"name": "d", "properties": {"provisioningState": "Accepted"}},
            "headers": {"Azure-AsyncOperation": f"{stranger.url}/operations/1?api-version=2024-03-01"},
        },
    )
    result = promote(repo, emulator, "deploy", "--env", "local", "--ref", "HEAD", "--yes")
    assert result.returncode != 0, result.stdout[-2000:]
    told = result.stdout + result.stderr
    assert f"GET {stranger.url}/operations/1: an answer of Azure's led here, outside {emulator.endpoint}" in told
    assert "api-version" not in told.split("led here")[0][-200:]  # the URL shown without its query
    assert "Traceback" not in result.stderr and "a bug in promote" not in result.stderr
    assert stranger.seen == []


# Answers no ADF gives, of every shape the reader looks into: promote answers (a diff, a plan, drift), refuses
# (exit 2), or reports Azure's error on a request that follows (exit 1, the emulator has no such trigger); it
# never fails as "a bug in promote".
ODD_ANSWERS = {
    "tags-a-list": ("GET", f"{LOCAL_FACTORY}$", {"name": LOCAL_FACTORY, "location": "westeurope", "tags": ["a"]}),
    "body-a-list": ("GET", f"{LOCAL_FACTORY}$", [1, 2]),
    "tags-text": ("GET", f"{LOCAL_FACTORY}$", {"name": LOCAL_FACTORY, "tags": "promote-commit=abc"}),
    "tag-values-not-text": ("GET", f"{LOCAL_FACTORY}$", {"name": 5, "tags": {"promote-commit": 5, "promote-good": []}}),
    "etag-an-object": ("GET", f"{LOCAL_FACTORY}$", {"name": LOCAL_FACTORY, "etag": {"x": 1}, "eTag": []}),
    "value-a-number": ("GET", "/pipelines$", {"value": 5}),
    "items-of-every-kind": ("GET", "/pipelines$", {"value": [5, "x", None, [], {"name": 7, "properties": []}]}),
    "item-without-name": ("GET", "/datasets$", {"value": [{"properties": {"type": "Binary"}}]}),
    "activities-a-number": ("GET", "/pipelines$", {"value": [{"name": "p", "properties": {"activities": 5}}]}),
    "activity-name-a-number": (
        "GET",
        "/pipelines$",
        {"value": [{"name": "p", "properties": {"activities": [{"name": 1, "type": ["Copy"], "dependsOn": 3}]}}]},
    ),
    "trigger-state-a-number": (
        "GET",
        "/triggers$",
        {"value": [{"name": "t", "properties": {"type": "BlobEventsTrigger", "runtimeState": 5, "pipelines": 3}}]},
    ),
    "trigger-type-a-list": ("GET", "/triggers$", {"value": [{"name": "t", "properties": {"type": ["x"]}}]}),
    "linked-service-secret-odd": (
        "GET",
        "/linkedservices$",
        {"value": [{"name": "ls_adls_mnist", "properties": {"type": 5, "typeProperties": {"accountKey": [1]}}}]},
    ),
}


@pytest.mark.parametrize("case", sorted(ODD_ANSWERS))
def test_odd_answers_get_an_answer_never_a_crash(repo: Repo, emulator: EmulatorHandle, case: str) -> None:
    method, path, body = ODD_ANSWERS[case]
    emulator.fault(method=method, path=path, answer={"status": 200, "body": body}, every=True)
    # `plan` reads all of the live factory, compares it, and shows live values (diff and drift read the same way)
    result = promote(repo, emulator, "plan", "--env", "local", "--ref", "HEAD")
    assert result.returncode in (0, 1, 2), (result.stdout[-1500:], result.stderr[-1500:])
    assert "a bug in promote" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert writes(emulator) == []


def test_tags_that_are_not_an_object_are_refused_not_taken_for_none(repo: Repo, emulator: EmulatorHandle) -> None:
    """The record of what is deployed lives in the tags: read as "no tags", a factory would look never deployed
    (every secret rewritten, no last good commit to roll back to). Refused, naming the request."""
    body = {"name": LOCAL_FACTORY, "location": "westeurope", "tags": ["promote-commit"]}
    emulator.fault(method="GET", path=f"{LOCAL_FACTORY}$", answer={"status": 200, "body": body}, every=True)
    result = promote(repo, emulator, "plan", "--env", "local", "--ref", "HEAD")
    assert result.returncode == 2, result.stderr
    assert "Azure's answer cannot be read: the factory's tags are a list, not an object" in result.stderr
    assert writes(emulator) == []
