"""Failure and recovery paths, with real `promote` processes against the emulator: a deploy that fails half way
and its rollback, a rollback that fails in turn, a run killed or interrupted and the run after it, triggers put
back as they were, and what counts as good afterwards.

The sample's publish history (see tests/test_engine_faults.py): v03 -> v04 (commits[2] -> commits[3]) stops,
rewrites and restarts the started schedule trigger `nightly_training` and creates the blob event trigger
`score_on_inference_data`, which `local.yaml` (`start: template`) starts.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

from promote.apply.lease import TAG_LEASE, read_lease
from tests.engine_project import (
    LOCAL_FACTORY,
    LOCAL_RESOURCE_GROUP,
    LOCAL_SUBSCRIPTION,
    Project,
    kill_after,
    local_lock,
)
from tests.test_engine_safety import out, write_env
from tests.test_lease import expire_lease, factory_tags, tag_factory

SMOKE_RUN = r"/pipelines/ingest_mnist/createRun$"


def deployed(project: Project, *refs: str, env: str = "local") -> dict[str, str]:
    """Deploy each ref in turn (each must succeed; in this process: the scene, not the action); the trigger
    states the last one leaves."""
    return project.deployed(*refs, env=env)


def fail(
    project: Project, path: str, *, method: str = "*", nth: int = 1, times: int | None = 1, status: int = 400
) -> None:
    """The `nth` matching request (and the following ones, `times` in all; None: every one) fails with ADF's
    error shape."""
    code = "InternalServerError" if status >= 500 else "BadRequest"
    project.emulator.fault(method=method, path=path, nth=nth, times=times, status=status, code=code, message="injected")


def status(project: Project, env: str = "local") -> dict[str, Any]:
    """What `promote status` shows (a subprocess: what it shows is the behaviour under test)."""
    result = project.promote("status", "--env", env, "--format", "json")
    assert result.returncode == 0, out(result)
    return json.loads(result.stdout)


def journal(project: Project, env: str = "local") -> dict[str, Any] | None:
    path = project.path / ".promote" / "journal" / f"{env}.json"
    return json.loads(path.read_text()) if path.is_file() else None


# --------------------------------------------------------------------------------------------------- rollback


def test_a_failed_smoke_run_rolls_back_the_triggers_it_created_stopping_them_first(project: Project):
    commits = project.mirror()
    old, new = commits[2], commits[3]
    before = deployed(project, old)
    assert before == {"nightly_training": "Started"}
    fail(project, SMOKE_RUN, method="POST")
    result = project.deploy(new)
    assert result.returncode == 4, out(result)
    project.emulator.admin("DELETE", "/faults")
    assert project.in_sync(old), out(result)
    assert project.live_triggers() == before
    # the new event trigger was running: unsubscribed and stopped before ADF was asked to delete it
    calls = [
        (r["method"], r["path"].rsplit("/", 1)[-1])
        for r in project.emulator.requests(path="/triggers/score_on_inference_data")
        if r["method"] in ("POST", "DELETE") and not r["path"].endswith("getEventSubscriptionStatus")
    ]
    assert calls[-3:] == [
        ("POST", "unsubscribeFromEvents"),
        ("POST", "stop"),
        ("DELETE", "score_on_inference_data"),
    ], calls
    assert "TriggerEnabledCannotUpdate" not in result.stdout


def test_a_recovered_run_that_fails_before_writing_still_rolls_back_what_the_killed_run_wrote(project: Project):
    commits = project.mirror()
    old, new = commits[2], commits[3]
    before = deployed(project, old)
    proc = project.start("deploy", "--env", "local", "--ref", new, "--yes")
    kill_after(proc, "] smoke: run pipeline")  # every write and start of `new` done, nothing recorded
    fail(project, SMOKE_RUN, method="POST")
    again = project.deploy(new)  # nothing left to write: only the smoke run, which fails
    project.emulator.admin("DELETE", "/faults")
    assert again.returncode == 4, out(again)
    assert "Recovering the interrupted deploy" in again.stdout
    assert "Nothing had been written" not in again.stdout, out(again)
    assert project.in_sync(old), out(again)
    assert project.live_triggers() == before
    assert project.record().commit == old


def test_a_rollback_that_fails_is_finished_by_the_next_rollback_to_the_same_commit(project: Project):
    commits = project.mirror()
    older, old, new = commits[1], commits[2], commits[3]
    before = deployed(project, older, old)
    fail(project, SMOKE_RUN, method="POST")
    # the rollback's deployment writes nightly_training back: that write fails too (the first is the deploy's)
    fail(project, r"/triggers/nightly_training$", method="PUT", nth=2)
    failed = project.deploy(new)
    assert failed.returncode == 5, out(failed)
    project.emulator.admin("DELETE", "/faults")
    assert "Rolled back to" not in failed.stdout and f"The rollback to {old[:8]} did not complete" in failed.stdout
    assert status(project)["interrupted_run"], "the unfinished rollback must stay visible"
    again = project.promote("rollback", "--env", "local", "--yes")
    assert again.returncode == 0, out(again)
    assert project.in_sync(old), "the rollback went to another commit than the last good one:\n" + out(again)
    assert project.live_triggers() == before
    assert status(project)["interrupted_run"] is None
    # and exit 5 said what to run
    assert f"`promote rollback --env local` to finish going back to {old[:8]}" in failed.stdout, out(failed)


def test_the_rollback_that_finishes_a_failed_one_puts_triggers_back_as_they_were_whatever_the_policy(
    project: Project,
):
    commits = project.mirror()
    old, new = commits[2], commits[3]
    deployed(project, old)
    with project.emulator.adf_client() as adf:  # someone stopped the schedule the template marks Started
        adf._config.subscription_id = LOCAL_SUBSCRIPTION
        adf.triggers.begin_stop(LOCAL_RESOURCE_GROUP, LOCAL_FACTORY, "nightly_training").result()
    before = project.live_triggers()
    assert before == {"nightly_training": "Stopped"}
    fail(project, SMOKE_RUN, method="POST")
    fail(project, r"/triggers/nightly_training$", method="PUT", nth=2)  # the rollback's write
    failed = project.deploy(new)  # `start: template` starts nightly_training, then the smoke run fails
    project.emulator.admin("DELETE", "/faults")
    assert failed.returncode == 5, out(failed)
    again = project.promote("rollback", "--env", "local", "--yes")
    assert again.returncode == 0, out(again)
    assert project.in_sync(old, stopped=("nightly_training",))  # as someone left it: a deploy would start it
    assert project.live_triggers() == before, out(again)


def test_a_run_killed_during_its_rollback_is_finished_by_the_next_rollback(project: Project):
    commits = project.mirror()
    older, old, new = commits[1], commits[2], commits[3]
    before = deployed(project, older, old)
    fail(project, SMOKE_RUN, method="POST")
    proc = project.start("deploy", "--env", "local", "--ref", new, "--yes")
    output = kill_after(proc, "Rolling back to the last good commit")
    project.emulator.admin("DELETE", "/faults")
    assert proc.returncode == -signal.SIGKILL, output
    assert journal(project)["status"] == "rolling-back"
    again = project.promote("rollback", "--env", "local", "--yes")
    assert again.returncode == 0, out(again)
    assert project.in_sync(old), out(again)
    assert project.live_triggers() == before


# --------------------------------------------------------------------------------------------------- triggers


def test_a_trigger_that_cannot_be_restarted_does_not_keep_the_others_stopped(project: Project):
    write_env(project, "previous", replace={"start: template": "start: previous"})
    commits = project.mirror()
    old, new = commits[3], commits[2]  # back in history: score_on_inference_data goes, nightly_training changes
    before = deployed(project, old)
    assert before == {"nightly_training": "Started", "score_on_inference_data": "Started"}
    fail(project, SMOKE_RUN, method="POST")
    # the deploy restarts nightly_training; every later start of it fails (the rollback's, the restore's)
    fail(project, r"/triggers/nightly_training/start$", method="POST", nth=2, times=None, status=500)
    result = project.promote("deploy", "--env", "previous", "--ref", new, "--yes")
    project.emulator.admin("DELETE", "/faults")
    assert result.returncode == 5, out(result)
    assert project.in_sync(old, env="previous"), out(result)
    triggers = project.live_triggers()
    assert triggers["score_on_inference_data"] == "Started", out(result)
    assert "nightly_training" in result.stdout.split("left:", 1)[-1], "the report must name what is left stopped"


# --------------------------------------------------------------------------------------------------- good commits


def test_a_rolled_back_commit_no_longer_counts_as_good(project: Project):
    write_env(
        project,
        "prodlike",
        replace={
            "factory: adf-ml-project-local": "factory: adf-ml-project-prodlike",
            "\nsmoke:": "\nrequires: local\nsmoke:",
        },
    )
    commits = project.mirror()
    older, old, new = commits[3], commits[4], commits[5]
    deployed(project, older, old, new)
    rolled = project.promote("rollback", "--env", "local", "--yes")
    assert rolled.returncode == 0, out(rolled)
    assert project.in_sync(old)
    record = project.record()
    assert record.commit == old
    # a second rollback goes further back, never forward to the commit just rolled back
    assert record.previous_commit and older.startswith(record.previous_commit), record
    refused = project.promote("deploy", "--env", "prodlike", "--ref", new, "--yes")
    assert refused.returncode == 2, "a commit rolled back in local still counts as good there:\n" + out(refused)
    assert "has not succeeded in local" in refused.stderr
    accepted = project.promote("deploy", "--env", "prodlike", "--ref", old, "--yes")
    assert accepted.returncode == 0, "the last good commit must stay good after a rollback:\n" + out(accepted)


# --------------------------------------------------------------------------------------------------- deletion guard


def test_a_rollback_may_delete_everything_the_failed_run_created(project: Project):
    commits = project.mirror()
    old, new = commits[0], commits[1]  # one linked service -> eight objects more
    deployed(project, old)
    # the deployment's last write fails: seven of the eight new objects are written
    fail(project, r"/pipelines/ingest_mnist$", method="PUT")
    result = project.deploy(new)
    project.emulator.admin("DELETE", "/faults")
    assert result.returncode == 4, out(result)
    assert project.in_sync(old), out(result)


# --------------------------------------------------------------------------------------------------- interrupted


def test_sigterm_during_apply_exits_130_releases_the_lock_and_the_next_run_recovers(project: Project):
    commits = project.mirror()
    old, new = commits[2], commits[3]
    deployed(project, old)
    project.emulator.settings(run_seconds=3600)  # the smoke run waits until the test moves the clock
    proc = project.start("deploy", "--env", "local", "--ref", new, "--yes")
    seen: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if "] smoke: run pipeline" in line:
            proc.send_signal(signal.SIGTERM)
            break
    rest, _ = proc.communicate(timeout=60)
    output = "".join(seen) + rest
    project.emulator.settings(run_seconds=0.2)
    project.emulator.advance(3600)
    assert proc.returncode == 130, output
    assert "interrupted" in output
    assert local_lock(project).read_text() == ""  # released: no holder in it
    assert journal(project)["status"] == "running"
    again = project.deploy(new)
    assert again.returncode == 0, out(again)
    assert "Recovering the interrupted deploy" in again.stdout
    assert project.in_sync(new)
    assert project.live_triggers() == {"nightly_training": "Started", "score_on_inference_data": "Started"}


def test_a_rollback_after_a_kill_waits_for_the_deployment_the_killed_run_left_running(project: Project):
    commits = project.mirror()
    old, new = commits[2], commits[3]
    before = deployed(project, old)
    # the deployment's write of train_mnist is held: the run is killed while ARM is still deploying
    held = project.emulator.hold("PUT", r"/pipelines/train_mnist$", nth=1, times=1)
    proc = project.start("deploy", "--env", "local", "--ref", new, "--yes")
    try:
        project.emulator.wait_until_held(held)
    finally:
        proc.kill()
        proc.communicate(timeout=60)
    project.emulator.admin("DELETE", "/requests")
    rollback = project.start("rollback", "--env", "local", "--yes")
    try:  # the rollback cancels the deployment left running; only then does the held write go on
        project.emulator.wait_for_request("POST", r"/deployments/[^/]+/cancel$")
        project.emulator.release(held)
        output, _ = rollback.communicate(timeout=180)
    finally:
        rollback.kill()
    assert rollback.returncode == 0, output
    assert "Cancelled 1 deployment an earlier run left running, and waited for it" in output, output
    project.emulator.wait_for_deployments()
    assert project.in_sync(old), "the killed run's deployment wrote after the rollback:\n" + output
    assert project.live_triggers() == before


# --------------------------------------------------------------------------------------------------- refusals


def test_a_plan_is_stale_once_a_trigger_was_started_or_stopped_by_hand(project: Project, tmp_path: Path):
    commits = project.mirror()
    deployed(project, commits[4])
    plan_file = tmp_path / "plan.json"
    project.planned(commits[5], plan_file)
    with project.emulator.adf_client() as adf:  # the plan recorded it Started and leaves it alone
        adf._config.subscription_id = LOCAL_SUBSCRIPTION
        adf.triggers.begin_stop(LOCAL_RESOURCE_GROUP, LOCAL_FACTORY, "hourly_ingest").result()
    stale = project.promote("apply", str(plan_file))
    assert stale.returncode == 2 and "saved plan is stale" in stale.stderr, out(stale)
    assert project.in_sync(commits[4], stopped=("hourly_ingest",))  # nothing written; stopped as by hand


def test_a_rollback_with_no_previous_good_commit_is_refused_with_what_to_do(project: Project):
    deployed(project, project.mirror()[4])
    writes = len(project.emulator.requests(method="PUT")) + len(project.emulator.requests(method="DELETE"))
    refused = project.promote("rollback", "--env", "local", "--yes")
    assert refused.returncode == 2, out(refused)
    assert "records no previous good commit" in refused.stderr and "--to REF" in refused.stderr, out(refused)
    assert len(project.emulator.requests(method="PUT")) + len(project.emulator.requests(method="DELETE")) == writes


def test_a_run_killed_on_a_machine_that_is_gone_is_recovered_from_the_factory(project: Project):
    """A CI job killed after stopping triggers leaves no journal on the next (fresh) runner: the factory's own
    tags say which triggers were running, and the next run starts them again under `start: previous`."""
    import shutil

    commits = project.mirror()
    old, new = commits[2], commits[3]  # v03 -> v04 stops nightly_training (its schedule changes)
    before = deployed(project, old)  # `local` starts what the template marks Started
    assert before["nightly_training"] == "Started"
    write_env(project, "previous", replace={"start: template": "start: previous"})
    proc = project.start("deploy", "--env", "previous", "--ref", new, "--yes")
    output = kill_after(proc, "[4/")  # after step 3 (record, mark, stop): nightly_training stopped, nothing restarted
    assert "stop trigger nightly_training" in output, output
    assert project.live_triggers()["nightly_training"] == "Stopped"
    shutil.rmtree(project.path / ".promote" / "journal")  # a fresh runner: no journal, no lock
    shutil.rmtree(project.path / ".promote" / "locks", ignore_errors=True)
    # ... on another machine: the killed run's lease names a machine that is not this one. (Without this, the
    # new lock file may get the old one's inode back, and promote rightly takes over a lease of this machine's
    # own lock file: the file was freed, so its holder is gone.)
    lease = read_lease(factory_tags(project))
    assert lease is not None
    tag_factory(project, {TAG_LEASE: f"{lease.token} {lease.until_text} a-runner-that-is-gone:0:0"})
    refused = project.promote("deploy", "--env", "previous", "--ref", new, "--yes")
    assert refused.returncode == 2 and "is leased by another promote run" in refused.stderr, out(refused)
    holder = expire_lease(project)  # the killed run's lease on the factory runs out (PROMOTE_LEASE_SECONDS)

    again = project.promote("deploy", "--env", "previous", "--ref", new, "--yes")
    assert again.returncode == 0, out(again)
    assert f"from {holder}: it had expired" in again.stdout
    assert "which the factory records as in progress" in again.stdout
    assert project.live_triggers()["nightly_training"] == "Started"
    assert project.in_sync(new, env="previous")
    assert project.record("previous").commit == new
    with project.emulator.adf_client() as adf:
        adf._config.subscription_id = LOCAL_SUBSCRIPTION
        tags = adf.factories.get(LOCAL_RESOURCE_GROUP, LOCAL_FACTORY).tags or {}
    assert not [k for k in tags if k in ("promote-run-id", "promote-started")], tags  # no run in progress now
