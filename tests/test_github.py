"""`promote.github`: what promote tells GitHub Actions. The workflow tests show it in whole runs; these pin the
details: escaping, which file an annotation points at, which object a failed step blames, and silence outside
Actions."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from promote import github
from promote.azure.errors import AzureCallError, DeploymentFailed, FailedResource
from promote.errors import InputError, Problem
from promote.factory import ObjectKey
from promote.plan.steps import Deploy, RunPipeline, Write


@pytest.fixture
def actions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git checkout as GITHUB_WORKSPACE, the current directory, and a summary file: as in a job step."""
    workspace = tmp_path / "workspace"
    (workspace / "environments").mkdir(parents=True)
    (workspace / "environments" / "staging.yaml").write_text("target: {}\n")
    subprocess.run(["git", "init", "-q", str(workspace)], check=True)
    monkeypatch.chdir(workspace)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(workspace))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    return workspace


def test_workflow_commands_are_escaped_as_the_runner_decodes_them():
    annotation = github.Annotation("50% done\nnext line", title="a: b, c", file="x/y.json", line=3)
    assert annotation.command() == "::error file=x/y.json,line=3,title=a%3A b%2C c::50%25 done%0Anext line"
    assert github.Annotation("plain").command() == "::error::plain"


def test_annotations_point_at_files_in_the_checkout(actions: Path):
    assert github.workspace_path(str(actions / "environments" / "staging.yaml")) == "environments/staging.yaml"
    assert github.workspace_path("environments/staging.yaml") == "environments/staging.yaml"
    assert github.workspace_path("0a1b2c3d:adf-mnist-dev/ARMTemplateForFactory.json") == (
        "adf-mnist-dev/ARMTemplateForFactory.json"
    )
    assert github.workspace_path("/tmp/elsewhere/plan.json") is None  # outside the checkout: not linkable
    assert github.workspace_path("<command line>") is None


def test_refusals_annotate_each_problem_and_list_them_all(actions: Path, capsys: pytest.CaptureFixture[str]):
    error = InputError(
        [
            Problem(str(actions / "environments/staging.yaml"), "is not a GUID", line=8, object="target.subscription"),
            Problem("<command line>", "needs confirmation", hint="pass --yes"),
        ]
    )
    github.report_error("deploy", error)
    lines = capsys.readouterr().err.splitlines()  # stderr: stdout is the command's output
    assert lines == [
        "::error file=environments/staging.yaml,line=8,title=promote deploy::target.subscription: is not a GUID",
        "::error title=promote deploy::needs confirmation (pass --yes)",
    ]
    summary = Path(actions.parent / "summary.md").read_text()
    assert summary.startswith("### ❌ `promote deploy` refused (exit 2): 2 problems")


def _report(step, error, exit_code: int = 4) -> SimpleNamespace:
    plan = SimpleNamespace(
        environment="staging", commit="c0ffee00" * 5, hash="ab" * 32, steps=(step,), warnings=(), overrides=()
    )
    return SimpleNamespace(
        plan=plan,
        outcome=SimpleNamespace(error=error, failed_step=0),
        rollback_outcome=None,
        problems=[],
        exit_code=exit_code,
        rollback_target="deadbeef" * 5,
        render=lambda: "Plan abab for commit c0ffee00: rolled-back.",
    )


def _deploy(*keys: ObjectKey) -> Deploy:
    writes = tuple(Write(key, "update", 0) for key in keys)
    return Deploy("promote-staging-c0ffee0", 1, 1, writes, {}, (), "c0ffee00" * 5, 10)


def test_a_failed_run_blames_the_objects_on_their_template_file(actions: Path):
    files = {ObjectKey("pipelines", "p1"): "c0ffee00:factory/ARMTemplateForFactory.json"}
    failed = DeploymentFailed(
        "promote-staging-c0ffee0",
        [FailedResource("pipelines/p1", "BadRequest", "invalid reference 'ds9'.", key=ObjectKey("pipelines", "p1"))],
    )
    (annotation,) = github.run_annotations(_report(_deploy(ObjectKey("pipelines", "p1")), failed), files)
    assert (annotation.file, annotation.message) == (
        "factory/ARMTemplateForFactory.json",
        "pipelines/p1: BadRequest: invalid reference 'ds9'.",
    )
    assert annotation.title == "staging: deploy of c0ffee00 rolled back"

    # an ADF error naming the object's ARM id; a smoke run; a deployment error that names no object
    refused = AzureCallError(
        "TriggerEnabledCannotUpdate",
        "Cannot update enabled Trigger",
        target="/subscriptions/s/resourceGroups/g/providers/Microsoft.DataFactory/factories/f/triggers/t1",
        status=400,
    )
    (annotation,) = github.run_annotations(_report(_deploy(ObjectKey("pipelines", "p1")), refused), files)
    assert annotation.message.startswith("triggers/t1: ") and annotation.file == "environments/staging.yaml"
    smoke = RunPipeline("p1", {}, 60)
    (annotation,) = github.run_annotations(_report(smoke, RuntimeError("ended Failed")), files)
    assert (annotation.file, annotation.message) == ("factory/ARMTemplateForFactory.json", "pipelines/p1: ended Failed")
    two = _deploy(ObjectKey("pipelines", "p1"), ObjectKey("datasets", "d1"))
    (annotation,) = github.run_annotations(_report(two, RuntimeError("timed out")), files)
    assert annotation.message == "deployment promote-staging-c0ffee0 (pipelines/p1, datasets/d1): timed out"
    assert annotation.file == "environments/staging.yaml"


def test_a_run_writes_its_outcome_to_the_summary(actions: Path, capsys: pytest.CaptureFixture[str]):
    smoke = RunPipeline("p1", {}, 60)
    github.report_run(_report(smoke, RuntimeError("ended Failed")), locate=lambda plan: {})
    summary = (actions.parent / "summary.md").read_text()
    assert summary.startswith("### ❌ staging: `c0ffee00` failed, rolled back to `deadbeef` (exit 4)")
    assert "Plan abab for commit c0ffee00: rolled-back." in summary
    assert capsys.readouterr().err.startswith("::error file=environments/staging.yaml,title=staging")


def test_nothing_is_written_outside_github_actions(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    github.report_error("validate", InputError(Problem("x.yaml", "bad")))
    github.report_run(_report(RunPipeline("p1", {}, 60), RuntimeError("x")), locate=lambda plan: {})
    assert capsys.readouterr().out == "" and not (tmp_path / "summary.md").exists()
