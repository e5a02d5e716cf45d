"""Fixtures that run the emulator in-process and build the real Azure SDK clients against it.

One server per test session (per xdist worker); every test starts from a reset (empty state, no faults, the
settings below), so tests never see each other. Durations are short and pages small so that the run, the
subscription and the paging behaviour are exercised without slowing the suite down.

Clients are the real `DataFactoryManagementClient` and `DeploymentsMgmtClient`, over HTTPS with the emulator's
CA, with `polling_interval=0` and `retry_total=0` (a test about retries builds its own client).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from promote.emulator import EmulatorCredential, EmulatorServer, Settings

SUBSCRIPTION = "00000000-0000-0000-0000-0000000000aa"
RESOURCE_GROUP = "rg-promote-test"
FACTORY = "adf-emulator-test"

TEST_SETTINGS = {
    "page_size": 3,
    "run_queue_seconds": 0.05,
    "run_seconds": 0.2,
    "subscription_seconds": 0.2,
    "deployment_seconds": 0.0,
}


class EmulatorControls:
    """The control API and real SDK clients of an emulator, wherever it runs (`endpoint`, `ca_file`)."""

    session: requests.Session
    subscription: str
    resource_group: str

    @property
    def endpoint(self) -> str:
        raise NotImplementedError

    @property
    def ca_file(self) -> str:
        raise NotImplementedError

    def admin(self, method: str, path: str = "", **kwargs: Any) -> Any:
        """Call the control API (`/_emulator` + path) and return its JSON; raises on an error status."""
        # verify= on every call: requests lets REQUESTS_CA_BUNDLE override a session's own `verify`.
        kwargs.setdefault("verify", self.ca_file)
        response = self.session.request(method, f"{self.endpoint}/_emulator{path}", timeout=30, **kwargs)
        response.raise_for_status()
        return response.json()

    def fault(self, **spec: Any) -> dict[str, Any]:
        return self.admin("POST", "/faults", json=spec)

    def hold(self, method: str, path: str, **spec: Any) -> int:
        """Hold the matching request (a deployment's write too) until `release`; the rule's id."""
        return int(self.fault(method=method, path=path, hold=True, **spec)["id"])

    def wait_until_held(self, rule: int, timeout: float = 60) -> None:
        """Wait until a request is waiting in the hold of `rule` (an event, read from the control API)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [r for r in self.admin("GET", "/faults")["value"] if r["id"] == rule]
            assert found, f"no fault rule {rule}"
            if found[0]["held"] > 0:
                return
            assert time.monotonic() < deadline, f"nothing reached the hold of rule {rule} within {timeout} s"
            time.sleep(0.02)

    def wait_for_request(self, method: str, path: str, timeout: float = 120) -> dict[str, Any]:
        """Wait until the emulator has received a request (it logs each before answering it); the first match."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.requests(method=method, path=path)
            if found:
                return found[0]
            assert time.monotonic() < deadline, f"no {method} {path} reached the emulator within {timeout} s"
            time.sleep(0.02)

    def release(self, rule: int) -> None:
        self.admin("POST", f"/faults/{rule}/release")

    def settings(self, **values: Any) -> dict[str, Any]:
        return self.admin("PATCH", "/settings", json=values)

    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        return self.admin("GET", "/requests", params=filters)["value"]

    def stats(self) -> dict[str, Any]:
        return self.admin("GET", "/stats")

    def advance(self, seconds: float) -> None:
        self.admin("POST", "/clock", json={"advance": seconds})

    def factory_path(self, factory: str) -> str:
        """The ARM path of a factory in the test resource group (for raw requests through a client)."""
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.DataFactory/factories/{factory}"
        )

    def client_kwargs(self, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments for a real SDK client pointed at the emulator."""
        return {
            "base_url": self.endpoint,
            "connection_verify": self.ca_file,
            "polling_interval": 0,
            "retry_total": 0,
            **overrides,
        }

    def adf_client(self, **overrides: Any) -> Any:
        from azure.mgmt.datafactory import DataFactoryManagementClient

        return DataFactoryManagementClient(EmulatorCredential(), self.subscription, **self.client_kwargs(**overrides))

    def deployments_client(self, **overrides: Any) -> Any:
        from azure.mgmt.resource.deployments import DeploymentsMgmtClient

        return DeploymentsMgmtClient(EmulatorCredential(), self.subscription, **self.client_kwargs(**overrides))


@dataclass
class EmulatorHandle(EmulatorControls):
    """The running emulator as a test sees it: endpoint, CA file, and the control API."""

    server: EmulatorServer
    session: requests.Session
    subscription: str = SUBSCRIPTION
    resource_group: str = RESOURCE_GROUP

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    @property
    def ca_file(self) -> str:
        return str(self.server.ca_file)

    def wait_for_deployments(self) -> None:
        """Let running deployments finish (their worker threads), without polling through a client."""
        assert self.server.app is not None
        self.server.app.deployments.wait_idle()


@dataclass
class ExternalEmulator(EmulatorControls):
    """An emulator in a process of its own (`python -m promote.emulator`), which a test can kill and start again
    on the same state directory and port."""

    state_dir: Path
    port: int = 0
    session: requests.Session = field(default_factory=requests.Session)
    subscription: str = SUBSCRIPTION
    resource_group: str = RESOURCE_GROUP
    process: subprocess.Popen[str] | None = None
    output: list[str] = field(default_factory=list)  # what it printed up to "listening"
    _endpoint: str = ""

    @property
    def endpoint(self) -> str:
        return self._endpoint

    @property
    def ca_file(self) -> str:
        return str(self.state_dir / "certs" / "ca.pem")

    def start(self) -> ExternalEmulator:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "promote.emulator", "--port", str(self.port), "--state-dir", str(self.state_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        self.output = []
        for line in self.process.stdout:  # it prints everything a client needs, then serves
            self.output.append(line)
            if line.startswith("Clients:"):
                break
        listening = next((line for line in self.output if "listening on" in line), "")
        assert listening, "".join(self.output)
        self._endpoint = listening.split("listening on", 1)[1].strip()
        self.port = int(self._endpoint.rsplit(":", 1)[1])
        self.settings(**TEST_SETTINGS)
        return self

    def kill(self) -> None:
        """SIGKILL: no cleanup runs, as when a machine or a job is killed."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.communicate(timeout=30)
        self.session.close()


@pytest.fixture(scope="session")
def emulator_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatorServer, requests.Session]]:
    server = EmulatorServer(tmp_path_factory.mktemp("emulator"), settings=Settings(**TEST_SETTINGS))
    server.start()
    session = requests.Session()
    try:
        yield server, session
    finally:
        session.close()
        server.stop()


@pytest.fixture
def emulator(emulator_server: tuple[EmulatorServer, requests.Session]) -> EmulatorHandle:
    """The session's emulator, reset to empty for this test."""
    server, session = emulator_server
    handle = EmulatorHandle(server, session)
    handle.admin("POST", "/reset")
    return handle


@pytest.fixture
def adf_client(emulator: EmulatorHandle) -> Iterator[Any]:
    with emulator.adf_client() as client:
        yield client


@pytest.fixture
def deployments_client(emulator: EmulatorHandle) -> Iterator[Any]:
    with emulator.deployments_client() as client:
        yield client


@pytest.fixture
def emulator_factory(emulator: EmulatorHandle, adf_client: Any) -> str:
    """An empty factory named FACTORY in the test resource group."""
    adf_client.factories.create_or_update(emulator.resource_group, FACTORY, {"location": "westeurope"})
    return FACTORY
