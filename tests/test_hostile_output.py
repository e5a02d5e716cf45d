"""Untrusted text printed by the real CLI stays text: no line GitHub Actions would run as a workflow command, no
terminal escape, no endless line. Names, keys and values come from templates (diff, validate, plan) and from the
live factory (drift); errors echo the command line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.emulator_fixtures import EmulatorHandle
from tests.engine_project import LOCAL_FACTORY, LOCAL_RESOURCE_GROUP, LOCAL_SUBSCRIPTION, PROMOTE
from tests.gitrepo import Repo

MIRROR = "adf_publish_mirror/adf-ml-project"
TEMPLATE = f"{MIRROR}/ARMTemplateForFactory.json"

INJECTED_KEYS = {
    "x\n::warning title=INJECTED::from a key": 1,
    "%0A::add-mask::masked": 2,
    "\x1b]0;title\x07\x1b[2J": 3,
    "y\r\n##[error]legacy command": 4,
    "::stop-commands::token": 5,
    "k" * 100_000: 6,
}
INJECTED_VALUE = "\x1b[31mred\n::error::from a value"
INJECTED_NAME = "p\n::warning title=INJECTED::from a name"


def check_inert(*outputs: str, annotations: bool = False, exact: bool = False) -> None:
    """No line starts a workflow command (except promote's own annotations, when asked for), no ESC, no C1
    control, no line of 100,000 characters (except in JSON, `exact`, which carries names whole)."""
    for output in outputs:
        assert "\x1b" not in output and "\x9b" not in output
        for line in output.splitlines():
            assert "##[" not in line, line[:200]
            stripped = line.lstrip()
            if annotations and stripped.startswith("::error "):
                continue
            assert not stripped.startswith("::"), line[:200]
            assert exact or len(line) < 5000, line[:200]


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """A project with the sample factory: commit 1 as published, commit 2 with hostile names, keys and values."""
    repo = Repo(tmp_path / "project")
    shutil.copytree(ROOT / MIRROR, repo.path / MIRROR, ignore=shutil.ignore_patterns("linkedTemplates"))
    shutil.copytree(ROOT / "environments", repo.path / "environments")
    repo.commit("as published")
    doc = json.loads((repo.path / TEMPLATE).read_text())
    train = next(r for r in doc["resources"] if r["name"].endswith("/train_mnist')]"))
    train["properties"].update(INJECTED_KEYS)
    train["properties"]["description"] = INJECTED_VALUE
    train["properties"]["activities"][0]["name"] = "a\n::notice::from an activity name"
    repo.write(TEMPLATE, doc)
    repo.commit("hostile keys")
    return repo


def run(repo: Repo, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PROMOTE, *args],
        cwd=repo.path,
        capture_output=True,
        text=True,
        env={**os.environ, "AZURE_SUBSCRIPTION_ID": LOCAL_SUBSCRIPTION, **env},
        timeout=180,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_diff_of_hostile_keys_and_values(repo: Repo, fmt: str) -> None:
    result = run(repo, "diff", "--from", "HEAD~1", "--to", "HEAD", "--format", fmt)
    assert result.returncode == 0, result.stderr
    check_inert(result.stdout, result.stderr, exact=fmt == "json")
    if fmt == "json":  # still valid JSON, meaning what the template says
        paths = json.loads(result.stdout)["changes"][0]["paths"]
        assert any("x\n::warning title=INJECTED::from a key" in p for p in paths)
    else:
        assert "::warning title=INJECTED::from a key" in result.stdout  # shown, escaped, on the object's line
        assert "(100,0" in result.stdout  # the 100,000-character key, abridged


def test_errors_and_annotations_echo_hostile_text_inertly(repo: Repo, tmp_path: Path) -> None:
    doc = json.loads((repo.path / TEMPLATE).read_text())
    score = next(r for r in doc["resources"] if r["name"].endswith("/score_mnist')]"))
    doc["resources"].append({**score, "name": "[concat(parameters('factoryName'), '/" + INJECTED_NAME + "')]"})
    repo.write(TEMPLATE, doc)
    repo.commit("a hostile name")
    summary = tmp_path / "summary.md"
    result = run(repo, "validate", "--ref", "HEAD", GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary))
    assert result.returncode == 2
    assert "from a name" in result.stderr
    check_inert(result.stdout, result.stderr, annotations=True)
    check_inert(summary.read_text())
    unknown = run(repo, "diff", "--env", "x\n::warning title=INJECTED::env\x1b[2J")
    assert unknown.returncode == 2 and "unknown environment" in unknown.stderr
    check_inert(unknown.stdout, unknown.stderr)


def test_plan_and_drift_show_hostile_text_from_templates_and_from_the_factory(
    repo: Repo, emulator: EmulatorHandle
) -> None:
    env = {"PROMOTE_EMULATOR_URL": emulator.endpoint, "PROMOTE_EMULATOR_CA": emulator.ca_file}
    deployed = run(repo, "deploy", "--env", "local", "--ref", "HEAD~1", "--yes", **env)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    for fmt in ("text", "markdown"):
        plan = run(repo, "plan", "--env", "local", "--ref", "HEAD", "--format", fmt, **env)
        assert plan.returncode == 0, plan.stderr
        assert "pipelines/train_mnist" in plan.stdout
        check_inert(plan.stdout, plan.stderr)
    with emulator.adf_client() as adf:  # someone edits the live factory by hand, with hostile keys
        adf._config.subscription_id = LOCAL_SUBSCRIPTION
        pipeline = adf.pipelines.get(LOCAL_RESOURCE_GROUP, LOCAL_FACTORY, "score_mnist")
        pipeline.description = INJECTED_VALUE
        pipeline.additional_properties = {"z\n::add-mask::live key": 1}
        adf.pipelines.create_or_update(LOCAL_RESOURCE_GROUP, LOCAL_FACTORY, "score_mnist", pipeline)
    for fmt in ("text", "markdown", "json"):
        drift = run(repo, "drift", "--env", "local", "--format", fmt, **env)
        assert drift.returncode == 3, drift.stdout + drift.stderr
        assert "score_mnist" in drift.stdout
        check_inert(drift.stdout, drift.stderr, exact=fmt == "json")
