"""`${VAR}` values from GitHub secrets: PROMOTE_SECRETS (`${{ toJSON(secrets) }}` in a job that names an
environment) gives promote that environment's secrets without a workflow edit per secret, and never prints them.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from promote.environment.variables import variables
from promote.errors import InputError
from tests.conftest import ROOT
from tests.engine_project import PROMOTE, Project
from tests.gitrepo import git

SECRET = "s3cr3t-account-key-Zq8"


def test_secrets_join_the_process_environment_which_wins():
    environ = {"PROMOTE_SECRETS": json.dumps({"STORAGE_KEY": SECRET, "PATH": "x", "github_token": "t"}), "PATH": "/bin"}
    got = variables(environ)
    assert got["STORAGE_KEY"] == SECRET and got["PATH"] == "/bin" and got["github_token"] == "t"
    assert variables({"A": "1"}) == {"A": "1"}  # without it, the process environment alone


@pytest.mark.parametrize("raw", ["not json " + SECRET, json.dumps([SECRET]), json.dumps({"A": {"nested": SECRET}})])
def test_a_malformed_secrets_object_is_refused_without_quoting_it(raw: str):
    with pytest.raises(InputError) as caught:
        variables({"PROMOTE_SECRETS": raw})
    assert caught.value.exit_code == 2
    assert SECRET not in str(caught.value) and "PROMOTE_SECRETS" in str(caught.value)


def _secure_from_variable(project: Path, env: str) -> None:
    """The sample's `env` file with the storage key as `${STORAGE_KEY}` instead of a Key Vault reference."""
    path = project / "environments" / f"{env}.yaml"
    text = path.read_text()
    start = text.index("  ls_adls_mnist_accountKey:")
    end = text.index("\n  ls_keyvault_properties_typeProperties_baseUrl")
    path.write_text(text[:start] + "  ls_adls_mnist_accountKey: ${STORAGE_KEY}" + text[end:])
    git(project, "commit", "-q", "-am", f"{env}: the storage key from a secret")


def _run(project: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("STORAGE_KEY", "PROMOTE_SECRETS", "GITHUB_ACTIONS")}
    return subprocess.run(
        [PROMOTE, *args], cwd=project, env={**env, **extra}, capture_output=True, text=True, timeout=180
    )


def test_a_secure_value_from_a_variable_is_read_only_when_a_deployment_needs_it(project: Project):
    """Jobs that only read (validate, diff, plan, drift; production's check of `requires: staging`) need no
    secret: a secure `${VAR}` is read by apply. Unset there, the deploy is refused before anything is touched;
    given through PROMOTE_SECRETS, it deploys; no run prints the value."""
    _secure_from_variable(project.path, "local")
    emulator = {"PROMOTE_EMULATOR_URL": project.emulator.endpoint, "PROMOTE_EMULATOR_CA": project.emulator.ca_file}
    outputs = []

    checked = _run(project.path, "validate", "--env", "local")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    planned = _run(project.path, "plan", "--env", "local", **emulator)
    assert planned.returncode == 0 and "STORAGE_KEY" in planned.stdout, planned.stdout + planned.stderr
    refused = _run(project.path, "deploy", "--env", "local", "--yes", **emulator)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "environment variable STORAGE_KEY is not set" in refused.stderr
    assert [r for r in project.emulator.requests() if r["method"] == "PUT" and "/deployments/" in r["path"]] == []
    secrets = json.dumps({"STORAGE_KEY": SECRET, "OTHER": "x"})
    deployed = _run(project.path, "deploy", "--env", "local", "--yes", PROMOTE_SECRETS=secrets, **emulator)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert [r for r in project.emulator.requests() if r["method"] == "PUT" and "/deployments/" in r["path"]] != []
    outputs += [checked, planned, refused, deployed]
    assert all(SECRET not in o.stdout + o.stderr for o in outputs)


def test_a_plain_value_from_an_unset_variable_is_refused_naming_it(tmp_path: Path):
    project = tmp_path / "project"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(project)], check=True)
    path = project / "environments" / "local.yaml"
    text = path.read_text()
    path.write_text(
        text.replace(
            "ls_batch_mnist_properties_typeProperties_poolName: local-pool",
            "ls_batch_mnist_properties_typeProperties_poolName: ${POOL}",
        )
    )
    refused = _run(project, "validate", "--env", "local")
    assert refused.returncode == 2
    assert "parameters.ls_batch_mnist_properties_typeProperties_poolName" in refused.stderr
    assert "environment variable POOL is not set" in refused.stderr
    given = _run(project, "validate", "--env", "local", PROMOTE_SECRETS=json.dumps({"POOL": "gpu"}))
    assert given.returncode == 0, given.stdout + given.stderr
