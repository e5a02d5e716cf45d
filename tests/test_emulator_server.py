"""The server itself: HTTPS with its own CA on 127.0.0.1, bearer tokens, case-insensitive routing,
api-versions, concurrency, state kept across restarts, and `python -m promote.emulator`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.core.rest import HttpRequest

from promote.emulator import EmulatorCredential, EmulatorServer, Settings

RG = "rg-promote-test"
ROOT = Path(__file__).resolve().parents[1]


def test_listens_on_loopback_with_its_own_ca(emulator: Any) -> None:
    assert emulator.endpoint.startswith("https://127.0.0.1:")
    assert emulator.server._httpd.server_address[0] == "127.0.0.1"
    assert Path(emulator.ca_file).read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_request_without_a_bearer_token_is_401(emulator: Any) -> None:
    with (
        emulator.adf_client(authentication_policy=SansIOHTTPPolicy()) as client,
        pytest.raises(ClientAuthenticationError) as info,
    ):
        client.factories.get(RG, "adf-any")
    assert info.value.status_code == 401 and info.value.error.code == "AuthenticationFailed"


def test_routing_is_case_insensitive(emulator: Any, adf_client: Any, emulator_factory: str) -> None:
    adf_client.pipelines.create_or_update(RG, emulator_factory, "p", {"properties": {"activities": []}})
    url = (
        f"/SUBSCRIPTIONS/{emulator.subscription}/resourcegroups/{RG.upper()}/providers/microsoft.datafactory"
        f"/FACTORIES/{emulator_factory.upper()}/Pipelines/P?api-version=2018-06-01"
    )
    response = adf_client.send_request(HttpRequest("GET", url))
    assert response.status_code == 200 and response.json()["name"] == "p"


def test_api_versions(emulator: Any, adf_client: Any, emulator_factory: str) -> None:
    base = emulator.factory_path(emulator_factory)
    missing = adf_client.send_request(HttpRequest("GET", base))
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "MissingApiVersionParameter"
    wrong = adf_client.send_request(HttpRequest("GET", base + "?api-version=2017-09-01-preview"))
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "NoRegisteredProviderFound"


def test_unknown_paths_and_methods(emulator: Any, adf_client: Any, emulator_factory: str) -> None:
    base = emulator.factory_path(emulator_factory)
    unknown = adf_client.send_request(HttpRequest("GET", base + "/widgets?api-version=2018-06-01"))
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "InvalidResourceType"
    # The API has no DELETE of a managed virtual network.
    adf_client.managed_virtual_networks.create_or_update(RG, emulator_factory, "default", {"properties": {}})
    no_delete = adf_client.send_request(
        HttpRequest("DELETE", base + "/managedVirtualNetworks/default?api-version=2018-06-01")
    )
    assert no_delete.status_code == 405


def test_concurrent_requests(emulator: Any, emulator_factory: str) -> None:
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            with emulator.adf_client() as client:
                for i in range(15):
                    name = f"w{worker}-{i}"
                    client.pipelines.create_or_update(RG, emulator_factory, name, {"properties": {"activities": []}})
                    assert client.pipelines.get(RG, emulator_factory, name).name == name
        except BaseException as exc:  # collected: a thread's exception must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with emulator.adf_client() as client:
        assert len(list(client.pipelines.list_by_factory(RG, emulator_factory))) == 90


def test_state_and_certificates_survive_a_restart(tmp_path: Path) -> None:
    with EmulatorServer(tmp_path) as first:
        ca = Path(first.ca_file).read_bytes()
        with _client(first.endpoint, first.ca_file) as client:
            client.factories.create_or_update(RG, "adf-kept", {"location": "westeurope"})
            client.pipelines.create_or_update(RG, "adf-kept", "p", {"properties": {"activities": []}})
    with EmulatorServer(tmp_path, settings=Settings()) as second:
        assert Path(second.ca_file).read_bytes() == ca
        with _client(second.endpoint, second.ca_file) as client:
            assert [p.name for p in client.pipelines.list_by_factory(RG, "adf-kept")] == ["p"]


def _client(endpoint: str, ca_file: Path | str) -> Any:
    from azure.mgmt.datafactory import DataFactoryManagementClient

    return DataFactoryManagementClient(
        EmulatorCredential(),
        "00000000-0000-0000-0000-000000000001",
        base_url=endpoint,
        connection_verify=str(ca_file),
        retry_total=0,
    )


def test_command_line(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "promote.emulator", "--port", "0", "--state-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        endpoint = process.stdout.readline().strip().rsplit(" ", 1)[-1]
        ca_file = process.stdout.readline().strip().split(": ", 1)[1]
        assert endpoint.startswith("https://127.0.0.1:") and Path(ca_file).is_file()
        assert (tmp_path / "endpoint.json").is_file()
        with _client(endpoint, ca_file) as client:
            client.factories.create_or_update(RG, "adf-cli", {"location": "westeurope"})
            assert client.factories.get(RG, "adf-cli").name == "adf-cli"
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "stopped" in out
    assert (tmp_path / "state.db").is_file() and not (tmp_path / "endpoint.json").exists()


def test_command_line_reports_a_busy_port(tmp_path: Path, emulator: Any) -> None:
    port = emulator.endpoint.rsplit(":", 1)[1]
    result = subprocess.run(
        [sys.executable, "-m", "promote.emulator", "--port", port, "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=30,
    )
    assert result.returncode == 1 and "cannot listen" in result.stderr
