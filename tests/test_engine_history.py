"""The engine's promise, shown on the sample's publish history against the emulator: every commit deploys to
exactly its desired state, triggers end as policy says, and ADF never refuses a step."""

from __future__ import annotations

import json

from tests.engine_project import Project, error_responses


def started_in_template(project: Project, ref: str) -> set[str]:
    """Triggers the commit's published template marks Started (local.yaml uses `start: template`)."""
    from tests.gitrepo import git

    text = git(project.path, "show", f"{ref}:adf_publish_mirror/adf-ml-project/ARMTemplateForFactory.json")
    resources = json.loads(text)["resources"]
    return {
        r["name"].split("'/")[1].split("'")[0]
        for r in resources
        if r["type"].endswith("/triggers") and r["properties"].get("runtimeState") == "Started"
    }


def test_each_commit_of_the_history_deploys_to_exactly_its_desired_state(project: Project):
    for ref in project.mirror():
        result = project.deploy(ref)
        assert result.returncode == 0, f"{ref[:8]}:\n{result.stdout}\n{result.stderr}"
        assert project.in_sync(ref), ref[:8]
        triggers = project.live_triggers()
        assert {n for n, s in triggers.items() if s == "Started"} == started_in_template(project, ref), ref[:8]
        refused = error_responses(project.emulator)
        assert not refused, f"{ref[:8]}: ADF refused {refused}"
        # no step ever met a started trigger or a referenced object
        assert "TriggerEnabledCannotUpdate" not in result.stdout + result.stderr
        assert "cannot be deleted since it is referenced by" not in result.stdout + result.stderr


def test_a_second_deploy_of_the_same_commit_writes_nothing(project: Project):
    head = project.mirror()[-1]
    project.deployed(head)
    before = project.emulator.stats()
    second = project.deploy(head)
    assert second.returncode == 0, second.stderr
    after = project.emulator.stats()
    written = {k: after["objectWrites"].get(k, 0) - before["objectWrites"].get(k, 0) for k in after["objectWrites"]}
    assert {k: v for k, v in written.items() if v and k not in ("pipelineruns", "factories")} == {}
    assert "(nothing to write)" in second.stdout or "Write objects" in second.stdout


def test_rollback_returns_to_the_previous_good_commit(project: Project):
    commits = project.mirror()
    project.deployed(commits[4])
    project.deployed(commits[5])
    result = project.promote("rollback", "--env", "local", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "smoke: run pipeline" not in result.stdout  # the commit gone back to passed its smoke runs already
    assert project.in_sync(commits[4])
    assert project.record().commit == commits[4]


def test_drift_finds_a_change_made_by_hand(project: Project):
    head = project.mirror()[-1]
    project.deployed(head)
    assert project.promote("drift", "--env", "local").returncode == 0
    with project.emulator.adf_client() as adf:
        rg, factory = "adf-promote-local", "adf-ml-project-local"
        adf._config.subscription_id = "00000000-0000-0000-0000-000000000000"
        pipeline = adf.pipelines.get(rg, factory, "score_mnist")
        pipeline.description = "edited in the portal"
        adf.pipelines.create_or_update(rg, factory, "score_mnist", pipeline)
    drift = project.promote("drift", "--env", "local", "--format", "json")
    assert drift.returncode == 3
    changes = json.loads(drift.stdout)["changes"]
    assert changes == [
        {
            "type": "pipelines",
            "name": "score_mnist",
            "action": "update",
            "paths": ["description"],
            "details": [{"path": "description", "kind": "add", "after": '"edited in the portal"'}],
            "impact": ["trigger-affecting"],  # the started trigger score_on_inference_data runs it
        }
    ]
