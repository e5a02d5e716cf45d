"""Pipeline runs in flight, through the real CLI against the emulator: a deploy that changes a pipeline while it
runs waits for the run (ended through the emulator's control API while promote waits), cancels it (with the runs
it started), or refuses (exit 2, nothing written), as the environment's `runs.in_progress` says; the plan shows
the runs it would cut into in text, markdown and the plan file.

The sample's publishes used: commit 2 (`e540262`) has `mnist_orchestrator` calling `ingest_mnist` (a top-level
Execute Pipeline activity) and `train_mnist` (inside a ForEach); commit 3 changes `train_mnist`. Nothing here waits
on time: promote's progress is read from the emulator's request log (each query for runs in progress is logged
before it is answered), and runs end only when the control API ends them.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.engine_project import LOCAL_FACTORY, LOCAL_RESOURCE_GROUP, LOCAL_SUBSCRIPTION, Project
from tests.test_engine_safety import last_seq, out, writes_since

QUERY = r"/queryPipelineRuns$"


def set_runs(project: Project, setting: str) -> None:
    """`runs:` in the clone's environments/local.yaml."""
    path = project.path / "environments" / "local.yaml"
    path.write_text(path.read_text() + f"\nruns: {setting}\n")


def start_run(project: Project, pipeline: str) -> dict[str, Any]:
    """A run that stays InProgress until the control API ends it (a schedule's run, say)."""
    body = {
        "subscriptionId": LOCAL_SUBSCRIPTION,
        "resourceGroup": LOCAL_RESOURCE_GROUP,
        "factory": LOCAL_FACTORY,
        "pipeline": pipeline,
        "invokedBy": {"name": "nightly_training", "invokedByType": "ScheduleTrigger"},
    }
    return project.emulator.admin("POST", "/runs", json=body)


def run_status(project: Project, run_id: str) -> str:
    with project.emulator.adf_client() as adf:
        adf._config.subscription_id = LOCAL_SUBSCRIPTION
        return str(adf.pipeline_runs.get(LOCAL_RESOURCE_GROUP, LOCAL_FACTORY, run_id).status)


def runs_of(project: Project, pipeline: str) -> list[Any]:
    """Every run of a pipeline, through the SDK's query (the test's own queries are not in promote's count: it
    counts before them)."""
    import datetime as dt

    now = dt.datetime.now(dt.timezone.utc)
    query = {
        "lastUpdatedAfter": now - dt.timedelta(days=1),
        "lastUpdatedBefore": now + dt.timedelta(days=1),
        "filters": [{"operand": "PipelineName", "operator": "Equals", "values": [pipeline]}],
    }
    with project.emulator.adf_client() as adf:
        adf._config.subscription_id = LOCAL_SUBSCRIPTION
        return list(adf.pipeline_runs.query_by_factory(LOCAL_RESOURCE_GROUP, LOCAL_FACTORY, query).value)


def wait_for_queries(project: Project, count: int, since: int, proc: subprocess.Popen[str], timeout: float = 120):
    """Wait until promote has sent `count` queries for runs in progress since log entry `since` (an event in the
    request log, not a moment), failing early if promote ended instead."""
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in project.emulator.requests(method="POST", path=QUERY) if r["seq"] > since]
        if len(found) >= count:
            return found
        assert proc.poll() is None, f"promote ended (exit {proc.returncode}) before querying runs {count} times"
        assert time.monotonic() < deadline, f"promote did not query runs {count} times within {timeout} s"
        time.sleep(0.02)


def deployments_since(project: Project, seq: int) -> list[dict[str, Any]]:
    return [r for r in project.emulator.requests(method="PUT", path=r"/deployments/[^/]+$") if r["seq"] > seq]


def test_a_deploy_waits_for_a_run_of_a_pipeline_it_changes_then_deploys(project: Project):
    commits = project.mirror()
    assert project.deploy(commits[2]).returncode == 0
    set_runs(project, "{in_progress: wait, timeout: 10m}")
    held = start_run(project, "train_mnist")["runId"]
    since = last_seq(project)
    proc = project.start("deploy", "--env", "local", "--ref", commits[3], "--yes")
    try:
        # 1: the plan's look; 2: the runs step's, which finds the run; 3: the wait's first poll. The third is
        # logged only after the second was answered (promote asks one at a time): promote is waiting now.
        wait_for_queries(project, 3, since, proc)
        assert deployments_since(project, since) == []  # nothing written while the run is in progress
        assert run_status(project, held) == "InProgress"
        project.emulator.admin("POST", f"/runs/{held}/end", json={"status": "Succeeded"})
        output, _ = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, output
    assert f"pipelines/train_mnist run {held} (InProgress" in output  # named while it waits
    assert "waiting for them to end, at most 10 min (runs.in_progress: wait)" in output
    assert f"1 run ended: train_mnist {held}" in output
    assert run_status(project, held) == "Succeeded"  # waited for, not cancelled
    assert deployments_since(project, since)  # and then deployed
    assert project.in_sync(commits[3])


def test_a_deploy_cancels_the_runs_it_would_cut_into_with_the_runs_they_started(project: Project):
    commits = project.mirror()
    assert project.deploy(commits[2]).returncode == 0
    set_runs(project, "{in_progress: cancel}")
    orchestrator = start_run(project, "mnist_orchestrator")["runId"]  # calls train_mnist, which changes
    (child,) = [r for r in runs_of(project, "ingest_mnist") if r.status == "InProgress"]  # its Execute Pipeline
    train = start_run(project, "train_mnist")["runId"]
    # a plan made by an identity that may not query runs (Reader) says so, and is made all the same
    denied = "does not have authorization to perform action 'Microsoft.DataFactory/factories/querypipelineruns/action'"
    project.emulator.fault(method="POST", path=QUERY, times=1, status=403, code="AuthorizationFailed", message=denied)
    planned = project.promote("plan", "--env", "local", "--ref", commits[3])
    assert planned.returncode == 0, out(planned)
    assert "runs in progress when the plan was made: not read (" in planned.stdout and denied in planned.stdout
    assert "apply looks again right before the first write" in planned.stdout
    since = last_seq(project)
    result = project.deploy(commits[3])
    assert result.returncode == 0, out(result)
    assert {run_status(project, r) for r in (orchestrator, child.run_id, train)} == {"Cancelled"}
    cancels = [r for r in project.emulator.requests(method="POST", path=r"/cancel$") if r["seq"] > since]
    assert {r["path"].rsplit("/", 2)[1] for r in cancels} == {orchestrator, train}  # the child went with its parent
    assert all("isRecursive=true" in r["query"] for r in cancels), cancels
    first_write = deployments_since(project, since)[0]["seq"]
    assert all(r["seq"] < first_write for r in cancels)  # cancelled before anything was written
    assert f"cancelled run {orchestrator} of mnist_orchestrator (and the runs it started)" in result.stdout
    assert "2 runs cancelled, and ended" in result.stdout
    assert project.in_sync(commits[3])


def test_fail_refuses_a_deploy_and_a_saved_plan_while_a_run_is_in_progress_and_the_plan_shows_it(
    project: Project, tmp_path: Path
):
    commits = project.mirror()
    # a bad value is refused before anything is read: the file, the line and the key
    set_runs(project, "{in_progress: sometimes}")
    bad = project.promote("plan", "--env", "local", "--ref", commits[3])
    assert bad.returncode == 2, out(bad)
    assert "environments/local.yaml:" in bad.stderr and "runs.in_progress: invalid value 'sometimes'" in bad.stderr
    assert project.emulator.requests() == []
    env_file = project.path / "environments" / "local.yaml"
    env_file.write_text(env_file.read_text().replace("sometimes", "fail"))

    assert project.deploy(commits[2]).returncode == 0
    held = start_run(project, "train_mnist")["runId"]
    plan_file = tmp_path / "plan.json"
    planned = project.promote("plan", "--env", "local", "--ref", commits[3], "--out", str(plan_file))
    assert planned.returncode == 0, out(planned)
    up_front = "1 run in progress of pipelines this plan changes, or of their callers, when the plan was made; "
    assert f"Runs this plan would cut into:\n  ! {up_front}apply refuses unless they have ended" in planned.stdout
    assert "pipelines: mnist_orchestrator (it calls train_mnist), train_mnist (it changes)" in planned.stdout
    assert f"pipelines/train_mnist run {held} (InProgress" in planned.stdout
    (step,) = [s for s in json.loads(plan_file.read_text())["steps"] if s["kind"] == "SettleRuns"]
    assert step["policy"] == "fail" and [r["run_id"] for r in step["seen"]["runs"]] == [held]
    markdown = project.promote(
        "plan", "--env", "local", "--ref", commits[3], "--format", "markdown", GITHUB_ACTIONS="true"
    )
    assert markdown.returncode == 0 and "### Runs in progress" in markdown.stdout
    assert "### ⏳ Runs this plan would cut into" in markdown.stdout
    (annotation,) = [line for line in markdown.stderr.splitlines() if line.startswith("::warning") and up_front in line]
    assert "apply refuses unless they have ended" in annotation  # on the run's page too, under GitHub Actions
    assert f"pipelines/train\\_mnist run {held}" in markdown.stdout

    since = last_seq(project)
    for args in (("apply", str(plan_file)), ("deploy", "--env", "local", "--ref", commits[3], "--yes")):
        refused = project.promote(*args)
        assert refused.returncode == 2, out(refused)
        assert "runs.in_progress: fail: 1 run in progress" in refused.stderr and held in refused.stderr
        assert writes_since(project, since) == [], args  # nothing written, not even a trigger stop
    assert "Plan for local" not in refused.stdout  # a deploy is refused before it shows a plan to confirm
    assert run_status(project, held) == "InProgress"  # and the run left alone

    # once it has ended, the plan approved while it ran applies as it is
    project.emulator.admin("POST", f"/runs/{held}/end", json={"status": "Failed", "message": "disk full"})
    applied = project.promote("apply", str(plan_file))
    assert applied.returncode == 0, out(applied)
    assert project.in_sync(commits[3])
