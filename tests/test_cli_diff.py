"""`promote diff` and `promote validate` as a user runs them: real subprocesses over the sample's git history."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.gitrepo import git

MIRROR = "adf_publish_mirror/adf-ml-project"
SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"


def promote(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "AZURE_SUBSCRIPTION_ID": SUBSCRIPTION, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "promote", *args], cwd=cwd, capture_output=True, text=True, env=full_env, timeout=120
    )


def mirror_commits() -> list[str]:
    commits = git(ROOT, "log", "--reverse", "--format=%H", "--", MIRROR).split()
    if len(commits) < 7:
        pytest.skip("the sample's publish history is not in this clone (shallow?); clone with full history")
    return commits


def changes(result: subprocess.CompletedProcess[str]) -> set[tuple[str, str, str]]:
    assert result.returncode in (0, 3), result.stderr
    doc = json.loads(result.stdout)
    return {(c["type"], c["name"], c["action"]) for c in doc["changes"]}


def test_whole_history_lists_every_object_the_history_changed():
    first = mirror_commits()[0]
    result = promote("diff", "--from", first, "--to", "HEAD", "--format", "json")
    doc = json.loads(result.stdout)
    created = {(c["type"], c["name"]) for c in doc["changes"] if c["action"] == "create"}
    assert ("pipelines", "train_mnist") in created
    assert ("triggers", "daily_retrain") in created
    assert ("globalParameters", "default") in created
    assert ("datasets", "mnist_scores") not in created  # renamed away before HEAD
    assert [c for c in doc["changes"] if c["action"] != "create"] == [
        {
            "type": "linkedServices",
            "name": "ls_adls_mnist",
            "action": "update",
            "paths": ["typeProperties.accountKey"],
            "details": [
                {
                    "path": "typeProperties.accountKey",
                    "kind": "add",
                    "after": '{"type": "SecureString", "value": "<secret from parameter ls_adls_mnist_accountKey>"}',
                }
            ],
            "impact": ["infrastructure"],
        }
    ]
    assert doc["summary"] == {"create": 18, "update": 1, "delete": 0, "unchanged": 0}
    assert doc["impact"] == {
        "destructive": 0,
        "trigger-affecting": 4,  # the four triggers created
        "infrastructure": 3,  # the three linked services
        "parameter-only": 0,
        "content": 12,
    }
    assert set(doc) == {"from", "to", "changes", "summary", "impact"}


EXPECTED = {
    # version index -> changes against the version before (from the publish history's own notes)
    1: {
        *{("linkedServices", n, "create") for n in ("ls_keyvault", "ls_batch_mnist")},
        *{("datasets", n, "create") for n in ("mnist_raw", "mnist_train", "mnist_test", "mnist_models")},
        ("pipelines", "ingest_mnist", "create"),
        ("pipelines", "train_mnist", "create"),
        ("linkedServices", "ls_adls_mnist", "update"),
    },
    2: {
        *{("datasets", n, "create") for n in ("mnist_inference", "mnist_scores", "mnist_archive")},
        ("pipelines", "score_mnist", "create"),
        ("pipelines", "mnist_orchestrator", "create"),
        ("triggers", "nightly_training", "create"),
        ("globalParameters", "default", "create"),
    },
    3: {
        ("pipelines", "train_mnist", "update"),
        ("triggers", "nightly_training", "update"),
        ("triggers", "score_on_inference_data", "create"),
    },
    4: {
        ("triggers", "hourly_ingest", "create"),
        ("triggers", "daily_retrain", "create"),
        ("pipelines", "evaluate_mnist", "create"),
        ("datasets", "mnist_eval_results", "create"),
        ("pipelines", "mnist_orchestrator", "update"),
    },
    5: {
        ("pipelines", "evaluate_mnist", "delete"),
        ("datasets", "mnist_eval_results", "delete"),
        ("pipelines", "mnist_orchestrator", "update"),
        ("datasets", "mnist_scores", "delete"),
        ("datasets", "mnist_predictions", "create"),
        ("pipelines", "score_mnist", "update"),
    },
    6: {
        ("pipelines", "score_mnist", "update"),
        ("linkedServices", "ls_batch_mnist", "update"),
        ("triggers", "daily_retrain", "update"),  # runtimeState Stopped -> Started: what gets started
    },
}


@pytest.mark.parametrize("index", sorted(EXPECTED))
def test_each_publish_reports_exactly_what_it_changed(index):
    commits = mirror_commits()
    result = promote("diff", "--from", commits[index - 1], "--to", commits[index], "--format", "json")
    assert changes(result) == EXPECTED[index]


def test_paths_of_a_command_change_and_of_a_reorder():
    commits = mirror_commits()
    doc = json.loads(promote("diff", "--from", commits[2], "--to", commits[3], "--format", "json").stdout)
    paths = {(c["type"], c["name"]): c["paths"] for c in doc["changes"]}
    assert paths[("pipelines", "train_mnist")] == ["activities[name=train_model].typeProperties.command"]
    assert paths[("triggers", "nightly_training")] == ["typeProperties.recurrence.schedule.hours"]
    doc = json.loads(promote("diff", "--from", commits[5], "--to", commits[6], "--format", "json").stdout)
    paths = {(c["type"], c["name"]): c["paths"] for c in doc["changes"]}
    assert paths[("pipelines", "score_mnist")] == ["activities"]


def test_an_environment_that_sets_a_parameter_hides_its_published_value_change():
    """v07 changes only the Batch pool's published value; every environment sets its own pool."""
    commits = mirror_commits()
    result = promote("diff", "--from", commits[5], "--to", commits[6], "--env", "production", "--format", "json")
    assert changes(result) == {("pipelines", "score_mnist", "update"), ("triggers", "daily_retrain", "update")}


def test_a_trigger_state_change_shows_in_every_view():
    """v07 marks daily_retrain Started: what Microsoft's post-deployment script and `start: template` start."""
    commits = mirror_commits()
    args = ("diff", "--from", commits[5], "--to", commits[6], "--format")
    assert '~ runtimeState: "Stopped" -> "Started"' in promote(*args, "text").stdout
    assert '~ runtimeState: "Stopped" -> "Started"' in promote(*args, "markdown").stdout
    doc = json.loads(promote(*args, "json").stdout)
    trigger = next(c for c in doc["changes"] if c["name"] == "daily_retrain")
    change = {"path": "runtimeState", "kind": "change", "before": '"Stopped"', "after": '"Started"'}
    assert trigger["details"] == [change]


def test_an_older_version_with_an_environment_warns_about_what_it_lacks():
    commits = mirror_commits()
    result = promote("diff", "--from", commits[1], "--to", commits[2], "--env", "production", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert "does not declare it; left out" in result.stderr
    assert "override of triggers/nightly_training" in result.stderr
    assert ("triggers", "nightly_training", "create") in changes(result)


def test_exit_code_3_only_with_changes():
    commits = mirror_commits()
    assert promote("diff", "--from", commits[0], "--to", commits[1], "--exit-code").returncode == 3
    assert promote("diff", "--from", commits[0], "--to", commits[1]).returncode == 0
    same = promote("diff", "--from", "HEAD", "--to", "HEAD", "--exit-code")
    assert same.returncode == 0
    assert "No changes" in same.stdout


def test_text_and_markdown_views_say_the_same_as_json():
    commits = mirror_commits()
    text = promote("diff", "--from", commits[4], "--to", commits[5]).stdout
    assert "- pipelines/evaluate_mnist" in text
    assert "+ datasets/mnist_predictions" in text
    assert "Changes: 1 to create, 2 to update, 3 to delete" in text
    markdown = promote("diff", "--from", commits[4], "--to", commits[5], "--format", "markdown").stdout
    assert "<details>" in markdown and "pipelines/score_mnist" in markdown


def test_a_path_and_a_ref_compare_the_same_way(tmp_path):
    commits = mirror_commits()
    folder = tmp_path / "adf-ml-project"
    folder.mkdir()
    for name in ("ARMTemplateForFactory.json", "ARMTemplateParametersForFactory.json"):
        (folder / name).write_bytes(
            subprocess.run(
                ["git", "-C", str(ROOT), "show", f"{commits[3]}:{MIRROR}/{name}"], capture_output=True, check=True
            ).stdout
        )
    by_path = promote("diff", "--from", commits[2], "--to", str(folder), "--format", "json")
    by_ref = promote("diff", "--from", commits[2], "--to", commits[3], "--format", "json")
    assert changes(by_path) == changes(by_ref) == EXPECTED[3]


def test_validate_passes_on_the_sample():
    result = promote("validate")
    assert result.returncode == 0, result.stderr
    assert "environment staging" in result.stdout and "environment production" in result.stdout


def test_help_lists_every_command():
    out = promote("--help").stdout
    for command in ("diff", "validate", "emulator"):
        assert command in out
