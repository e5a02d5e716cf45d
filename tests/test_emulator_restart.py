"""An emulator killed while it runs a deployment, and emulators sharing one state directory: the deployment never
stays `Running` for ever. Killed mid-deployment (a held write makes the moment exact), the next emulator on that
state directory ends it `Failed` with `DeploymentInterrupted` as it starts, or `Canceled` when asked to cancel
it; a cancel reaches the live emulator that runs a deployment; the state file of the previous schema is kept.

The emulators run as processes of their own (`python -m promote.emulator`), killed with SIGKILL; clients are the
real SDK's.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

from promote.emulator import EmulatorServer, Settings
from tests.emulator_fixtures import RESOURCE_GROUP, TEST_SETTINGS, ExternalEmulator
from tests.engine_project import LOCAL_RESOURCE_GROUP, LOCAL_SUBSCRIPTION, Project

RG = RESOURCE_GROUP
FACTORY = "adf-restart"


def _pipeline(name: str, *depends: str) -> dict[str, Any]:
    return {
        "name": f"[concat(parameters('factoryName'), '/{name}')]",
        "type": "Microsoft.DataFactory/factories/pipelines",
        "apiVersion": "2018-06-01",
        "properties": {"activities": []},
        "dependsOn": [
            f"[concat('Microsoft.DataFactory/factories/', parameters('factoryName'), '/pipelines/{d}')]"
            for d in depends
        ],
    }


# p1 -> p2 -> p3: a hold on p2's write stops the deployment with p1 written and p3 not.
DEPLOYMENT = {
    "properties": {
        "mode": "Incremental",
        "parameters": {"factoryName": {"value": FACTORY}},
        "template": {
            "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
            "contentVersion": "1.0.0.0",
            "parameters": {"factoryName": {"type": "string"}},
            "resources": [_pipeline("p1"), _pipeline("p2", "p1"), _pipeline("p3", "p2")],
        },
    }
}
HELD_WRITE = rf"/factories/{FACTORY}/pipelines/p2$"


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def external(state_dir: Path) -> Iterator[ExternalEmulator]:
    emulator = ExternalEmulator(state_dir).start()
    yield emulator
    emulator.stop()


def start_held_deployment(emulator: ExternalEmulator, name: str = "d1") -> tuple[int, str]:
    """The deployment running in `emulator`, waiting in the hold of p2's write; (rule id, status URL)."""
    with emulator.adf_client() as adf:
        adf.factories.create_or_update(RG, FACTORY, {"location": "westeurope"})
    rule = emulator.hold("PUT", HELD_WRITE)
    with emulator.deployments_client() as client:
        poller = client.deployments.begin_create_or_update(RG, name, DEPLOYMENT, polling=False)
        status_url = poller.polling_method()._initial_response.http_response.headers["Azure-AsyncOperation"]
    emulator.wait_until_held(rule)
    return rule, status_url


def state(client: Any, name: str = "d1") -> str:
    return client.deployments.get(RG, name).properties.provisioning_state


def wait_for_state(client: Any, wanted: str, name: str = "d1", timeout: float = 60) -> None:
    """Wait until the deployment reaches `wanted` (read through the client: the outcome, not a moment)."""
    deadline = time.monotonic() + timeout
    while state(client, name) != wanted:
        assert time.monotonic() < deadline, f"{name} is {state(client, name)}, not {wanted}"
        time.sleep(0.02)


def test_a_deployment_killed_with_its_emulator_ends_failed_when_the_emulator_starts_again(
    external: ExternalEmulator,
) -> None:
    _, status_url = start_held_deployment(external)
    external.kill()
    external.start()  # the same state directory and port

    assert any("Ended 1 deployment(s)" in line and "d1" in line for line in external.output), external.output
    with external.deployments_client() as client, external.adf_client() as adf:
        deployment = client.deployments.get(RG, "d1")
        assert deployment.properties.provisioning_state == "Failed"
        error = deployment.properties.error
        assert error.code == "DeploymentInterrupted"
        assert "stopped (killed or crashed) before the deployment ended" in error.message
        assert error.target.endswith("/providers/Microsoft.Resources/deployments/d1")
        # The status a client was polling ends too (the SDK's poller would otherwise wait for ever).
        polled = client.send_request(_get(status_url)).json()
        assert polled["status"] == "Failed" and polled["error"]["code"] == "DeploymentInterrupted"
        # What was written before the kill stays; the held write and what depends on it never happened.
        assert [o.properties.target_resource.resource_name for o in client.deployment_operations.list(RG, "d1")] == [
            f"{FACTORY}/p1"
        ]
        assert {p.name for p in adf.pipelines.list_by_factory(RG, FACTORY)} == {"p1"}
        # Not running: a cancel is refused as for any finished deployment, and the name can be deployed again.
        with pytest.raises(HttpResponseError) as info:
            client.deployments.cancel(RG, "d1")
        assert info.value.status_code == 409
        again = client.deployments.begin_create_or_update(RG, "d1", DEPLOYMENT).result()
        assert again.properties.provisioning_state == "Succeeded"
        assert {p.name for p in adf.pipelines.list_by_factory(RG, FACTORY)} == {"p1", "p2", "p3"}


def test_another_emulator_on_the_state_directory_ends_the_deployment_of_one_that_was_killed(
    state_dir: Path,
) -> None:
    """The `local` environment runs an emulator inside each `promote` process, so a killed `promote` leaves its
    deployment to another emulator already running on the same state directory: a cancel ends it (no 409), a
    read shows it ended."""
    with EmulatorServer(state_dir, settings=Settings(**TEST_SETTINGS)) as survivor:
        dying = ExternalEmulator(state_dir).start()
        try:
            start_held_deployment(dying, "d1")
            start_held_deployment(dying, "d2")
            dying.kill()
        finally:
            dying.stop()
        controls = ExternalEmulator(state_dir, _endpoint=survivor.endpoint)
        with controls.deployments_client() as client:
            client.deployments.cancel(RG, "d1")  # 204: cancelled, not "not running"
            assert state(client, "d1") == "Canceled"
            assert state(client, "d2") == "Failed"  # any other read ends it as interrupted
            assert client.deployments.get(RG, "d2").properties.error.code == "DeploymentInterrupted"
        controls.session.close()


def test_a_cancel_reaches_the_live_emulator_that_runs_the_deployment(state_dir: Path) -> None:
    with EmulatorServer(state_dir, settings=Settings(**TEST_SETTINGS)) as other:
        runner = ExternalEmulator(state_dir).start()
        try:
            rule, _ = start_held_deployment(runner)
            controls = ExternalEmulator(state_dir, _endpoint=other.endpoint)
            with controls.deployments_client() as client, controls.adf_client() as adf:
                with pytest.raises(HttpResponseError) as info:  # it runs elsewhere: not replaced
                    client.deployments.begin_create_or_update(RG, "d1", DEPLOYMENT)
                assert (info.value.status_code, info.value.error.code) == (409, "DeploymentActive")
                client.deployments.cancel(RG, "d1")
                assert state(client) == "Running"  # the runner is still in the held write
                runner.release(rule)
                wait_for_state(client, "Canceled")
                # ARM cancels after the resource being written: p2 went through, p3 never started.
                assert {p.name for p in adf.pipelines.list_by_factory(RG, FACTORY)} == {"p1", "p2"}
            controls.session.close()
        finally:
            runner.stop()


def test_a_state_file_of_the_previous_schema_is_kept(state_dir: Path) -> None:
    with EmulatorServer(state_dir, settings=Settings(**TEST_SETTINGS)) as server:
        controls = ExternalEmulator(state_dir, _endpoint=server.endpoint)
        with controls.adf_client() as adf, controls.deployments_client() as client:
            adf.factories.create_or_update(RG, FACTORY, {"location": "westeurope"})
            client.deployments.begin_create_or_update(RG, "d1", DEPLOYMENT).result()
            run_id = adf.pipelines.create_run(RG, FACTORY, "p1").run_id
        controls.session.close()
    db = sqlite3.connect(state_dir / "state.db")  # back to version 1: what versions 2 and 3 added, dropped
    for column in ("owner", "op_id", "cancel"):
        db.execute(f"ALTER TABLE deployments DROP COLUMN {column}")
    db.execute("DROP INDEX runs_by_parent")
    for column in ("parent", "invoked_by", "ended", "end_status", "end_message"):
        db.execute(f"ALTER TABLE runs DROP COLUMN {column}")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with EmulatorServer(state_dir, settings=Settings(**TEST_SETTINGS)) as server:
        controls = ExternalEmulator(state_dir, _endpoint=server.endpoint)
        with controls.adf_client() as adf, controls.deployments_client() as client:
            assert {p.name for p in adf.pipelines.list_by_factory(RG, FACTORY)} == {"p1", "p2", "p3"}
            assert state(client) == "Succeeded"
            assert adf.pipeline_runs.get(RG, FACTORY, run_id).pipeline_name == "p1"
            assert client.deployments.begin_create_or_update(RG, "d2", DEPLOYMENT).result().name == "d2"
        controls.session.close()


def _get(url: str) -> Any:
    from azure.core.rest import HttpRequest

    return HttpRequest("GET", url)


def test_promote_finishes_after_its_emulator_was_killed_mid_deployment_and_restarted(
    project: Project, tmp_path: Path
) -> None:
    """`promote deploy` against an emulator in its own process, killed while a deployment writes (v03 -> v04 of
    the sample: train_mnist written, the trigger after it held); the emulator restarted on the same state
    directory ends that deployment; `promote rollback` then finishes, with the factory back at the last good
    commit (train_mnist rewritten) and the triggers as they were."""
    commits = project.mirror()
    old, new = commits[2], commits[3]
    external = ExternalEmulator(tmp_path / "emulator-state", subscription=LOCAL_SUBSCRIPTION).start()
    try:
        local = Project(project.path, external)  # type: ignore[arg-type]  # a handle of the same shape
        first = local.deploy(old)
        assert first.returncode == 0, first.stdout + first.stderr
        before = local.live_triggers()
        rule = external.hold("PUT", r"/triggers/nightly_training$")  # after train_mnist, in the deployment
        run = local.start("deploy", "--env", "local", "--ref", new, "--yes")
        external.wait_until_held(rule)
        external.kill()
        output = run.communicate(timeout=300)[0]
        assert run.returncode not in (0, 4), output  # it lost its emulator: neither done nor rolled back
        external.start()
        restarted = "".join(external.output)
        assert "Ended 1 deployment(s)" in restarted and "(DeploymentInterrupted)" in restarted, restarted

        with external.deployments_client() as client:
            [deployment] = [
                d
                for d in client.deployments.list_by_resource_group(LOCAL_RESOURCE_GROUP)
                if d.properties.provisioning_state not in ("Succeeded",)
            ]
            assert deployment.properties.error.code == "DeploymentInterrupted"
        again = local.promote("rollback", "--env", "local", "--yes")
        assert again.returncode == 0, f"{output}\n---\n{again.stdout}{again.stderr}"
        assert local.in_sync(old), again.stdout
        assert local.live_triggers() == before
        assert "Recovering the interrupted deploy" in again.stdout, again.stdout
        assert "pipelines/train_mnist" in again.stdout, again.stdout  # written before the kill: put back
    finally:
        external.stop()
