"""Plan files carry no value that came from a secret-bearing variable (issue 13), with real `promote` processes
against the emulator. Secret-bearing: a variable a secure parameter takes (`${NAME}`), and every variable listed
under the environment file's `secrets:`; a listed one may be nothing but a secure parameter's whole value, so a
plan only ever holds its name. A canary value is looked for in plan files, journals, stdout and stderr, the job
summary, annotations and the emulator's state."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.engine_project import Project
from tests.test_engine_safety import SECRET_VAR, assert_nowhere, last_seq, object_writes, out, write_env, writes_since

LISTED = f"\nsecrets: [{SECRET_VAR}, UNUSED_SECRET]\n"
WHOLE = "${" + SECRET_VAR + "}"


def listed_env(project: Project, name: str, **kwargs) -> Path:
    path = write_env(project, name, **kwargs)
    path.write_text(path.read_text() + LISTED)
    return path


def test_a_listed_secret_is_read_at_apply_time_and_shows_nowhere(project: Project, tmp_path: Path):
    canary = f"canary-{uuid.uuid4().hex}"
    listed_env(project, "vault", secret=WHOLE)
    summary = tmp_path / "summary.md"
    commits = project.mirror()
    old, new = commits[4], commits[5]
    plan_file = tmp_path / "plan.json"
    results = []

    def run(*args: str, expect: int | tuple[int, ...] = 0, value: str = canary):
        result = project.promote(
            *args, timeout=120, GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary), **{SECRET_VAR: value}
        )
        results.append(result)
        assert result.returncode in ((expect,) if isinstance(expect, int) else expect), out(result)
        return result

    run("validate", "--env", "vault", "--ref", new)
    run("diff", "--env", "vault", "--ref", new, "--format", "markdown", expect=(0, 3))
    run("plan", "--env", "vault", "--ref", old, "--out", str(plan_file), "--full", value="another-value-at-plan-time")
    plan_text = plan_file.read_text()
    assert SECRET_VAR in plan_text  # the plan names the variable ...
    # ... and apply reads it: the proof compares where the value comes from, never the value
    applied = run("apply", str(plan_file))
    assert "Plan " in applied.stdout
    run("deploy", "--env", "vault", "--ref", new, "--yes", "--full")
    run("status", "--env", "vault", "--format", "json")
    run("history", "--env", "vault")
    run("drift", "--env", "vault", expect=(0, 3))
    project.emulator.fault(
        method="PUT", path=r"/pipelines/", nth=1, times=1, status=500, code="InternalServerError", message="injected"
    )
    run("deploy", "--env", "vault", "--ref", old, "--yes", "--full", expect=4)  # a failure: summary, annotations
    project.emulator.admin("DELETE", "/faults")

    assert summary.exists() and summary.read_text().strip()
    assert_nowhere(project, canary, results, plan_text, summary.read_text())


MISUSES = {
    "a plain parameter": {"poolName: local-pool": "poolName: " + WHOLE},
    "part of a plain parameter": {"poolName: local-pool": "poolName: pool-" + WHOLE},
    "an override": {'    value: "0.00:10:00"': f'    value: "{WHOLE}"'},
    "a smoke parameter": {"    parameters: {}": "    parameters: {snapshot: " + json.dumps(WHOLE) + "}"},
    "the target": {"  location: westeurope": "  location: " + WHOLE},
    "a Key Vault field": {"secret: devstoreaccount1-key": f'secret: "{WHOLE}"'},
}


@pytest.mark.parametrize("where", [*MISUSES, "part of a secure parameter"])
def test_a_listed_secret_anywhere_a_plan_would_hold_it_is_refused_naming_the_file(project: Project, where: str):
    canary = f"canary-{uuid.uuid4().hex}"
    if where == "part of a secure parameter":
        listed_env(project, "leaky", secret="key-" + WHOLE)
    else:
        listed_env(project, "leaky", replace=MISUSES[where])
    commits = project.mirror()
    seq, before = last_seq(project), object_writes(project)
    for args in (("validate", "--env", "leaky"), ("plan", "--env", "leaky"), ("deploy", "--env", "leaky", "--yes")):
        result = project.promote(*args, "--ref", commits[5], timeout=120, **{SECRET_VAR: canary})
        assert result.returncode == 2, out(result)
        assert "environments/leaky.yaml" in result.stderr, out(result)
        assert f"${{{SECRET_VAR}}} is listed under secrets:" in result.stderr, out(result)
        assert canary not in result.stdout + result.stderr
    assert writes_since(project, seq) == [] and object_writes(project) == before


def test_secrets_must_be_a_list_of_variable_names(project: Project):
    path = write_env(project, "badlist")
    path.write_text(path.read_text() + "\nsecrets: [ADF_SECRET, not-a-name]\n")
    result = project.promote("validate", "--env", "badlist")
    assert result.returncode == 2 and "secrets[1]: is not a variable name" in result.stderr, out(result)
