"""Where a target factory is reached (`promote.endpoints`): the `local` endpoint runs the emulator in-process with
state kept in the project, so separate invocations see the same factory; `PROMOTE_EMULATOR_URL` points a `local`
environment, and a `cloud` one only when named, at a running emulator; a credential failure is three lines;
the SDKs stay out of the command line's start-up."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from promote.azure import operations as ops
from promote.azure.connection import LOCAL_SETTINGS
from promote.azure.reader import read_live
from promote.emulator import local_state_dir
from promote.endpoints import EMULATOR_CA, EMULATOR_ENVIRONMENTS, EMULATOR_URL, endpoint_for, open_target
from promote.environment import Environment, Target
from tests.conftest import ROOT
from tests.emulator_fixtures import EmulatorHandle
from tests.engine_project import LOCAL_FACTORY, LOCAL_RESOURCE_GROUP, LOCAL_SUBSCRIPTION, Project

TARGET = Target(
    subscription="00000000-0000-0000-0000-000000000000",
    resource_group="adf-promote-local",
    factory="adf-promote-conn-test",
    location="westeurope",
    endpoint="local",
)
CLOUD = Target(
    subscription="3c1f0b6a-9d2e-4f57-8a41-2b7e6d9c0f13",
    resource_group="rg-staging",
    factory="adf-staging",
    location="westeurope",
    endpoint="cloud",
)


def environment(name: str, target: Target) -> Environment:
    return Environment(name=name, file=f"environments/{name}.yaml", target=target)


def test_local_state_survives_between_invocations(tmp_path: Path) -> None:
    env = environment("local", TARGET)
    with open_target(env, tmp_path, environ={}) as conn:
        assert conn.settings == LOCAL_SETTINGS and conn.endpoint.startswith("https://127.0.0.1:")
        assert read_live(conn).exists is False
        assert ops.ensure_factory(conn) is True
        ops.set_factory_tags(conn, {"promote-commit": "abc123"})
        first_endpoint = conn.endpoint
    assert (local_state_dir(tmp_path) / "state.db").exists()
    with open_target(env, tmp_path, environ={}) as conn:
        live = read_live(conn)
        assert live.exists and live.tags == {"promote-commit": "abc123"}
        assert ops.ensure_factory(conn) is False
    assert first_endpoint.startswith("https://127.0.0.1:")


def test_the_emulator_url_points_local_environments_and_only_named_cloud_ones_at_an_emulator() -> None:
    url = {EMULATOR_URL: "https://127.0.0.1:4443", EMULATOR_CA: "/abs/ca.pem"}
    local, staging = environment("local", TARGET), environment("staging", CLOUD)
    assert endpoint_for(local, {}).kind == "in-process emulator"
    assert endpoint_for(local, url) == endpoint_for(local, {**url, EMULATOR_ENVIRONMENTS: ""})
    assert (endpoint_for(local, url).kind, endpoint_for(local, url).url) == ("emulator", "https://127.0.0.1:4443")
    assert endpoint_for(staging, {}).kind == "azure" and endpoint_for(staging, {}).warning is None
    ignored = endpoint_for(staging, url)
    assert ignored.kind == "azure"
    assert ignored.warning and "PROMOTE_EMULATOR_URL is set but environment staging targets Azure" in ignored.warning
    assert f"{EMULATOR_ENVIRONMENTS}=staging" in ignored.warning
    for chosen in ("staging", "production, staging", "*"):
        taken = endpoint_for(staging, {**url, EMULATOR_ENVIRONMENTS: chosen})
        assert (taken.kind, taken.url, taken.ca_file, taken.warning) == (
            "emulator",
            "https://127.0.0.1:4443",
            "/abs/ca.pem",
            None,
        )
    assert endpoint_for(staging, {**url, EMULATOR_ENVIRONMENTS: "production"}).kind == "azure"


def test_a_cloud_environment_named_for_the_emulator_reaches_it_without_a_credential(
    tmp_path: Path, emulator: EmulatorHandle
) -> None:
    target = Target(CLOUD.subscription, emulator.resource_group, "adf-cloud-on-emulator", "westeurope", "cloud")
    environ = {EMULATOR_URL: emulator.endpoint, EMULATOR_CA: emulator.ca_file, EMULATOR_ENVIRONMENTS: "staging"}
    with open_target(environment("staging", target), tmp_path, environ=environ) as conn:
        assert conn.endpoint == emulator.endpoint
        assert ops.ensure_factory(conn) is True
        assert read_live(conn).exists


def test_a_credential_failure_is_three_lines_saying_what_to_do(tmp_path: Path) -> None:
    """A `cloud` environment with no way to get a token (no Azure CLI login, no OIDC variables, no managed
    identity reachable): the command says so in three lines, once, with what to do; no SDK dump, no traceback."""
    project = tmp_path / "project"
    (project / "environments").mkdir(parents=True)
    (project / "environments" / "staging.yaml").write_text(
        "target:\n"
        f"  subscription: {CLOUD.subscription}\n"
        "  resource_group: rg-staging\n"
        "  factory: adf-staging\n"
        "  endpoint: cloud\n"
    )
    home = tmp_path / "home"
    home.mkdir()
    keep = ("PATH", "SYSTEMROOT", "LANG")
    env = {k: v for k, v in os.environ.items() if k in keep}
    # No login anywhere: an empty home (no Azure CLI profile), nothing answering for managed identity.
    env.update(
        HOME=str(home),
        AZURE_CONFIG_DIR=str(home / ".azure"),
        IDENTITY_ENDPOINT="http://127.0.0.1:9/token",
        IMDS_ENDPOINT="http://127.0.0.1:9",
        EMULATOR_URL_UNUSED="",
    )
    env[EMULATOR_URL] = "https://127.0.0.1:9"  # set, but staging targets Azure: a warning says it is ignored
    promote = str(Path(sys.executable).with_name("promote"))
    result = subprocess.run(
        [promote, "status", "--env", "staging"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    warning = [line for line in lines if line.startswith("warning:")]
    error = [line for line in lines if not line.startswith("warning:")]
    assert warning == [
        f"warning: {EMULATOR_URL} is set but environment staging targets Azure (endpoint: cloud): ignored; "
        f"to point it at the emulator too, set {EMULATOR_ENVIRONMENTS}=staging"
    ], result.stderr
    assert len(error) == 3, result.stderr
    assert error[0].startswith("error: no Azure credential for environment staging (factory adf-staging)")
    assert "az login" in error[1] and "AZURE_CLIENT_ID" in error[2] and "id-token: write" in error[2]
    assert "Traceback" not in result.stderr and "DefaultAzureCredential failed" not in result.stderr


def test_promote_emulator_prints_export_lines_with_an_absolute_ca_path(tmp_path: Path) -> None:
    promote = str(Path(sys.executable).with_name("promote"))
    proc = subprocess.Popen(
        [promote, "emulator", "--state-dir", "state"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    seen: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line.rstrip("\n"))
            if line.startswith(f"export {EMULATOR_CA}="):
                break
        written = json.loads((tmp_path / "state" / "endpoint.json").read_text())  # removed when it stops
    finally:
        proc.terminate()
        proc.communicate(timeout=60)
    exports = dict(line.removeprefix("export ").split("=", 1) for line in seen if line.startswith("export "))
    assert set(exports) == {EMULATOR_URL, EMULATOR_CA}, seen
    assert exports[EMULATOR_URL].startswith("https://127.0.0.1:")
    ca = Path(exports[EMULATOR_CA])
    assert ca.is_absolute() and ca.is_relative_to((tmp_path / "state").resolve()) and ca.is_file()
    assert written["endpoint"] == exports[EMULATOR_URL] and (tmp_path / written["caFile"]).resolve() == ca


@pytest.mark.parametrize("module", ["promote.azure.connection", "promote.azure.reader", "promote.azure.operations"])
def test_the_product_does_not_import_the_emulator(module: str) -> None:
    code = f"import sys, {module}; sys.exit(1 if any(m.startswith('promote.emulator') for m in sys.modules) else 0)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{module} imports the emulator: {result.stderr}"


def test_the_cli_does_not_import_the_sdks() -> None:
    code = (
        "import sys, promote.cli, promote.azure, promote.azure.errors, promote.normalise; "
        "loaded = sorted(m for m in sys.modules if m == 'azure' or m.startswith('azure.')); "
        "print(','.join(loaded)); sys.exit(1 if loaded else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"imported at start-up: {result.stdout or result.stderr}"


def test_a_connection_to_an_emulator_elsewhere_does_not_import_the_server() -> None:
    """`PROMOTE_EMULATOR_URL` set: the process needs the clients' credential, not the server (HTTP, TLS, SQLite, the
    deployment engine) it would start for `endpoint: local` alone. Imported when asked for, and then the same."""
    code = (
        "import sys; from promote.emulator import EmulatorCredential; "
        "server = [m for m in sys.modules if m.startswith('promote.emulator.') and m != 'promote.emulator.credential' "
        "and m != 'promote.emulator.settings']; "
        "from promote.emulator import EmulatorServer, local_state_dir; from promote.emulator.server import "
        "EmulatorServer as S; print(server); sys.exit(1 if server or EmulatorServer is not S else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"imported with the credential: {result.stdout or result.stderr}"


def test_a_promote_process_talking_to_a_factory_never_imports_the_typed_data_factory_client(project: Project) -> None:
    """Every call the product makes to Data Factory goes through the SDK's pipeline as raw JSON
    (`promote.azure.adf_client`): `azure.mgmt.datafactory` (0.2-0.45 s of CPU to import) is never loaded. Checked on
    real `promote` processes against the emulator, with Python's own import log (`PYTHONPROFILEIMPORTTIME`), over a
    deploy that creates the factory, starts triggers and runs a smoke test, a deploy that stops and starts triggers
    and looks for runs in progress, a plan and a status; the log must show the SDK's pipeline loaded, and the
    emulator must have answered each of those calls."""
    commits = project.mirror()
    project.emulator.admin("DELETE", "/requests")
    commands = [
        ("deploy", "--env", "local", "--ref", commits[-2], "--yes"),
        ("deploy", "--env", "local", "--ref", commits[-1], "--full", "--yes"),
        ("plan", "--env", "local", "--ref", commits[-2]),
        ("status", "--env", "local"),
    ]
    for command in commands:
        result = project.promote(*command, PYTHONPROFILEIMPORTTIME="1")
        assert result.returncode in (0, 3), f"{command}: {result.stdout}{result.stderr[-3000:]}"
        imported = {
            line.rpartition("|")[2].strip() for line in result.stderr.splitlines() if line.startswith("import time:")
        }
        assert {"azure.mgmt.core", "promote.azure.adf_client"} <= imported, f"{command}: the import log is not there"
        typed = sorted(m for m in imported if m == "azure.mgmt.datafactory" or m.startswith("azure.mgmt.datafactory."))
        assert typed == [], f"{command} imported {typed}"
    calls = {(r["method"], r["path"].split("?")[0]) for r in project.emulator.requests()}
    group = f"/subscriptions/{LOCAL_SUBSCRIPTION}/resourceGroups/{LOCAL_RESOURCE_GROUP}"
    factory = f"{group}/providers/Microsoft.DataFactory/factories/{LOCAL_FACTORY}"
    assert ("PUT", factory) in calls  # created: it did not exist
    for action in (
        "triggers/*/stop",
        "triggers/*/start",
        "triggers/*/getEventSubscriptionStatus",
        "pipelines/*/createRun",
        "pipelineruns/*",
        "queryPipelineRuns",
    ):
        pattern = re.compile(re.escape(f"{factory}/{action}").replace(r"\*", "[^/]+"))
        assert any(method in ("GET", "POST") and pattern.fullmatch(path) for method, path in calls), action
