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
from tests.engine_project import PROMOTE
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


def test_validate_reads_a_secure_value_from_the_secrets_and_prints_it_nowhere(tmp_path: Path):
    """The sample's staging file with its storage key as `${STORAGE_KEY}`: unset, validate names the variable
    (exit 2); given in PROMOTE_SECRETS, validate passes; neither run prints the value."""
    project = tmp_path / "project"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(project)], check=True)
    staging = project / "environments" / "staging.yaml"
    text = staging.read_text()
    start = text.index("  ls_adls_mnist_accountKey:")
    end = text.index("  # Key Vault the factory itself")
    staging.write_text(text[:start] + "  ls_adls_mnist_accountKey: ${STORAGE_KEY}\n" + text[end:])
    git(project, "commit", "-q", "-am", "staging's storage key from a secret")

    def validate(**extra: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in ("STORAGE_KEY", "PROMOTE_SECRETS")}
        return subprocess.run(
            [PROMOTE, "validate", "--env", "staging"],
            cwd=project,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )

    unset = validate()
    assert unset.returncode == 2 and "environment variable STORAGE_KEY is not set" in unset.stderr, unset.stderr
    given = validate(PROMOTE_SECRETS=json.dumps({"STORAGE_KEY": SECRET, "OTHER": "x"}))
    assert given.returncode == 0, given.stdout + given.stderr
    assert SECRET not in unset.stdout + unset.stderr + given.stdout + given.stderr
    assert "valid" in given.stdout.splitlines()
