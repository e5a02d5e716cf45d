"""`requires:` through the real CLI against the emulator: the gate holds for every way into an environment
(`deploy`, `apply`, `rollback --to`), going around it takes a reason and is recorded with who did it, the record of
good commits reaches as far back as the deployment history, and the environment required is read only as far as
its target (production runs with none of staging's variables)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from promote.apply.executor import Executor
from promote.azure.api import AzureFactoryApi
from promote.azure.connection import LOCAL_SETTINGS, connect
from promote.azure.operations import factory_tags
from promote.emulator import EmulatorCredential
from promote.plan import FORMAT_VERSION, Plan, PlanTarget, TagFactory
from promote.plan.planfile import with_hash
from promote.record.journal import Journal
from promote.record.tags import next_record, read_record
from tests.engine_project import LOCAL_RESOURCE_GROUP, LOCAL_SUBSCRIPTION, MIRROR, Project
from tests.gitrepo import git
from tests.test_engine_safety import READ_ONLY_POSTS

STAGING, PRODUCTION = "adf-ml-project-stg", "adf-ml-project-prd"
STAGING_VARIABLES = {"STG_BATCH_ACCOUNT": "stgbatch", "STG_STORAGE_KEY": "stg-storage-key-value"}


def environments(project: Project) -> None:
    """stg: local.yaml on its own factory, with a plain value and a secret from variables only its jobs have;
    prd: local.yaml on another factory, `requires: stg`, no smoke runs."""
    local = (project.path / "environments" / "local.yaml").read_text()
    stg = local.replace("factory: adf-ml-project-local", f"factory: {STAGING}")
    stg = stg.replace("accountName: localbatch", "accountName: ${STG_BATCH_ACCOUNT}")
    stg = stg.replace(
        "  ls_adls_mnist_accountKey:\n    keyvault: {vault: kv-adf-promote-local, secret: devstoreaccount1-key}\n",
        "  ls_adls_mnist_accountKey: ${STG_STORAGE_KEY}\n",
    )
    assert "${STG_BATCH_ACCOUNT}" in stg and "${STG_STORAGE_KEY}" in stg
    (project.path / "environments" / "stg.yaml").write_text(stg)
    prd = local.replace("factory: adf-ml-project-local", f"factory: {PRODUCTION}").split("\nsmoke:")[0]
    (project.path / "environments" / "prd.yaml").write_text(prd + "\nrequires: stg\n")


def out(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n{result.stdout[-4000:]}\n{result.stderr[-3000:]}"


def writes_to(project: Project, factory: str, seq: int = 0) -> list[dict[str, Any]]:
    """Requests after `seq` that changed the factory or made a deployment of prd (not the POSTs that only read)."""
    return [
        r
        for r in project.emulator.requests()
        if r["seq"] > seq
        and r["method"] in ("PUT", "PATCH", "DELETE", "POST")
        and not READ_ONLY_POSTS.search(r["path"])
        and (f"/factories/{factory}" in r["path"] or "/deployments/promote-prd" in r["path"])
    ]


def last_seq(project: Project) -> int:
    requests = project.emulator.requests()
    return requests[-1]["seq"] if requests else 0


def unmerged_commit(project: Project) -> str:
    """A commit on a branch nobody merged: a pipeline's description changed."""
    template = project.path / MIRROR / "ARMTemplateForFactory.json"
    git(project.path, "checkout", "-q", "-b", "hotfix")
    data = json.loads(template.read_text())
    pipeline = next(r for r in data["resources"] if r["type"].endswith("/pipelines"))
    pipeline["properties"]["description"] = "a hotfix nobody merged"
    template.write_text(json.dumps(data, indent="\t"))
    git(project.path, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qam", "hotfix")
    commit = git(project.path, "rev-parse", "HEAD")
    git(project.path, "checkout", "-q", "-")
    return commit


def test_rollback_to_a_commit_that_never_ran_in_staging_is_refused_unless_a_person_says_why(project: Project):
    environments(project)
    good = project.mirror()[5]
    assert project.promote("deploy", "--env", "stg", "--ref", good, "--yes", **STAGING_VARIABLES).returncode == 0
    assert (deployed := project.promote("deploy", "--env", "prd", "--ref", good, "--yes")).returncode == 0, out(
        deployed
    )
    hotfix = unmerged_commit(project)

    seq = last_seq(project)
    refused = project.promote("rollback", "--env", "prd", "--to", hotfix, "--yes")
    assert refused.returncode == 2, out(refused)
    assert f"commit {hotfix[:8]} has not succeeded in stg, which prd requires first (never ran)" in refused.stderr
    assert "--override-gate" in refused.stderr
    assert "Record trigger states" not in refused.stdout  # refused before the run: no plan to approve
    assert writes_to(project, PRODUCTION, seq) == [], "a refused rollback wrote to the factory"

    # a plan of it says so up front, exits 2 and saves nothing
    plan_file = project.path / "rollback.json"
    planned = project.promote("rollback", "--env", "prd", "--to", hotfix, "--out", str(plan_file))
    assert planned.returncode == 2 and not plan_file.exists(), out(planned)
    assert planned.stdout.index("Apply will be refused:") < planned.stdout.index("Record trigger states:")

    # with a reason: applied, and the reason recorded on the factory and in the history, with who ran it
    reason = "ops approved the hotfix in INC-42"
    allowed = project.promote("rollback", "--env", "prd", "--to", hotfix, "--yes", "--override-gate", reason)
    assert allowed.returncode == 0, out(allowed)
    assert f'requires overridden (--override-gate "{reason}")' in allowed.stdout
    status = json.loads(project.promote("status", "--env", "prd", "--format", "json").stdout)
    assert status["commit"] == hotfix and reason in status["override"] and status["deployed_by"]
    history = project.promote("history", "--env", "prd")
    assert history.returncode == 0, out(history)
    (line,) = [line for line in history.stdout.splitlines() if reason in line]
    assert "ROLLED BACK from " + good[:8] in line and f" by {status['deployed_by']}" in line
    rows = json.loads(project.promote("history", "--env", "prd", "--format", "json").stdout)
    (entry,) = [r for r in rows if r["record"] and r["commit"] == hotfix]
    assert entry["kind"] == "rollback" and entry["rolled_back_from"] == good and reason in entry["override"]

    # forward again, then `promote rollback`: back to prd's previous good commit, the hotfix, with no flag: it
    # passed the gate (around it, recorded) when it was deployed there, although stg never ran it
    assert (forward := project.promote("deploy", "--env", "prd", "--ref", good, "--yes")).returncode == 0, out(forward)
    back = project.promote("rollback", "--env", "prd", "--yes")
    assert back.returncode == 0, out(back)
    assert f"requires stg: not asked for {hotfix[:8]}: it succeeded in prd itself" in back.stdout
    assert json.loads(project.promote("status", "--env", "prd", "--format", "json").stdout)["commit"] == hotfix


def test_production_takes_a_commit_forty_successes_back_with_none_of_stagings_variables(project: Project):
    environments(project)
    commits = project.mirror()
    old, never = commits[4], commits[3]
    staged = project.promote("deploy", "--env", "stg", "--ref", old, "--yes", **STAGING_VARIABLES)
    assert staged.returncode == 0, out(staged)
    record_successes(project, STAGING, "stg", [hashlib.sha1(str(i).encode()).hexdigest() for i in range(40)])
    assert not read_record(staging_tags(project)).succeeded(old), "the tags alone still hold the old commit"

    # prd's jobs have none of stg's variables: requires reads stg's target only
    accepted = project.promote("deploy", "--env", "prd", "--ref", old, "--yes")
    assert accepted.returncode == 0, out(accepted)
    assert f"requires stg: {old[:8]} succeeded in stg (its run ended well at" in accepted.stdout
    assert "STG_" not in accepted.stderr

    seq = last_seq(project)
    refused = project.promote("deploy", "--env", "prd", "--ref", never, "--yes")
    assert refused.returncode == 2, out(refused)
    assert f"commit {never[:8]} has not succeeded in stg, which prd requires first (" in refused.stderr
    assert writes_to(project, PRODUCTION, seq) == []


def staging_tags(project: Project) -> dict[str, str]:
    return factory_tags(_connection(project, STAGING))


def _connection(project: Project, factory: str) -> Any:
    return connect(
        subscription=LOCAL_SUBSCRIPTION,
        resource_group=LOCAL_RESOURCE_GROUP,
        factory=factory,
        credential=EmulatorCredential(),
        endpoint=project.emulator.endpoint,
        ca_file=project.emulator.ca_file,
        settings=LOCAL_SETTINGS,
    )


def record_successes(project: Project, factory: str, environment: str, commits: list[str]) -> None:
    """Runs of `commits` that succeeded, as the record step of each run writes them (the factory's tags and the
    run's entry in the deployment history), through the executor against the emulator: the record of forty runs
    without forty deploys."""
    api = AzureFactoryApi(_connection(project, factory))
    for commit in commits:
        after = next_record(read_record(factory_tags(api.conn)), commit)
        step = TagFactory(environment, commit, after.previous_commit, after.undoes, after.good)
        plan = with_hash(
            Plan(
                format=FORMAT_VERSION,
                environment=environment,
                commit=commit,
                source=str(Path(MIRROR)),
                factory="adf-ml-project",
                target=PlanTarget(LOCAL_SUBSCRIPTION, LOCAL_RESOURCE_GROUP, factory),
                live_fingerprint="",
                created=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                full=False,
                summary={},
                steps=(step,),
            )
        )
        outcome = Executor(
            api, plan, Journal(environment, commit, plan.hash), parameters={}, progress=lambda _: None
        ).run()
        assert outcome.ok, outcome.error


def test_a_commit_staging_rolled_back_from_is_refused_in_those_words(project: Project):
    environments(project)
    commits = project.mirror()
    good, bad = commits[4], commits[5]
    for ref in (good, bad):
        staged = project.promote("deploy", "--env", "stg", "--ref", ref, "--yes", **STAGING_VARIABLES)
        assert staged.returncode == 0, out(staged)
    back = project.promote("rollback", "--env", "stg", "--yes", **STAGING_VARIABLES)
    assert back.returncode == 0, out(back)

    seq = last_seq(project)
    refused = project.promote("deploy", "--env", "prd", "--ref", bad, "--yes")
    assert refused.returncode == 2, out(refused)
    assert f"commit {bad[:8]} has not succeeded in stg, which prd requires first (rolled back)" in refused.stderr
    assert f"stg was rolled back from it to {good[:8]}" in refused.stderr
    assert writes_to(project, PRODUCTION, seq) == []
    history = project.promote("history", "--env", "stg")
    assert f"ROLLED BACK from {bad[:8]}" in history.stdout, out(history)
