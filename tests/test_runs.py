"""Pipeline runs in flight, without I/O: which pipelines a plan affects (`promote.runs`), the `runs:` setting of
the environment file, the runs step the planner places, and what the runner and the executor do about runs in
progress under `wait`, `cancel` and `fail`, against the in-process fake factory (`tests/fake_factory.py`). The
same paths run through the real CLI against the emulator in tests/test_engine_runs.py."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from promote.apply.runner import ROLLED_BACK, SUCCEEDED, run
from promote.azure.errors import WaitTimeout
from promote.environment import Environment, RunsPolicy
from promote.environment.reader import load_environment
from promote.errors import EXIT_INPUT, EnvironmentFileError
from promote.factory import Factory, ObjectKey
from promote.live import LiveState
from promote.plan import Plan, SettleRuns, from_json, runs_seen, to_json, with_runs_seen
from promote.plan.proof import differences
from promote.record import journal as journals
from promote.runs import (
    AffectedPipeline,
    RunInfo,
    RunsInFlight,
    RunsSeen,
    affected_pipelines,
    duration_text,
    run_line,
    top_most,
)
from tests.fake_factory import FakeFactory
from tests.test_apply_runner import NEW, OLD, context, deployed, rollback_to_old
from tests.test_plan_support import changed, environment, execute, obj, plan_for, realistic, without

WRITES = {"set_factory_tags", "stop_trigger", "start_trigger", "deploy_template", "delete_object", "cancel_run"}


def run_info(run_id: str, pipeline: str, parent: str | None = None) -> RunInfo:
    kind, by = ("PipelineActivity", "call") if parent else ("ScheduleTrigger", "nightly")
    return RunInfo(run_id, pipeline, "InProgress", "2024-05-01T02:00:00Z", None, by, kind, parent)


def child_changed() -> Factory:
    """`realistic()` with p_child changed: p_parent calls it (inside an If Condition), p_top calls p_parent."""
    return changed(realistic(), "pipelines/p_child", lambda p: p["activities"][0].update(description="v2"))


def env_with(policy: str, timeout: float = 60) -> Environment:
    return dataclasses.replace(environment(), runs=RunsPolicy(policy, timeout))  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------- affected


def test_changed_and_deleted_pipelines_and_their_callers_at_any_depth_are_affected():
    calls = {"top": {"Parent"}, "parent": {"child"}, "child": set(), "other": set(), "gone": set()}
    found = affected_pipelines({"child": "it changes", "gone": "it is deleted"}, calls)
    assert found == (
        AffectedPipeline("child", "it changes"),
        AffectedPipeline("gone", "it is deleted"),
        AffectedPipeline("parent", "it calls child"),  # names compared ignoring case, as ADF does
        AffectedPipeline("top", "it calls parent"),
    )


def test_a_call_cycle_ends_and_a_caller_is_named_with_the_nearest_change():
    calls = {"a": {"b"}, "b": {"a", "c"}, "c": set(), "d": {"c", "a"}}
    found = {p.name: p.reason for p in affected_pipelines({"c": "it changes"}, calls)}
    assert found == {"c": "it changes", "b": "it calls c", "d": "it calls c", "a": "it calls b"}


def test_top_most_runs_are_those_no_other_run_started():
    runs = [run_info("top", "p_top"), run_info("mid", "p_parent", "top"), run_info("alone", "p_x", "gone")]
    assert [r.run_id for r in top_most(runs)] == ["top", "alone"]


def test_a_run_says_what_started_it():
    assert run_line(run_info("r1", "p")) == (
        "pipelines/p run r1 (InProgress since 2024-05-01T02:00:00Z, started by trigger nightly (ScheduleTrigger))"
    )
    assert "started by run r0 (activity call)" in run_line(run_info("r1", "p", "r0"))
    manual = RunInfo("r2", "p", "Queued", None, None, "Manual", "Manual")
    assert run_line(manual) == "pipelines/p run r2 (Queued, started by hand)"


def test_durations_read_as_people_say_them():
    assert [duration_text(s) for s in (1800, 90, 7200, 5400, 0.5)] == ["30 min", "90 s", "2 h", "1 h 30 min", "0.5 s"]


def test_a_refusal_names_the_setting_and_every_run():
    error = RunsInFlight("production", [run_info("r1", "p_top"), run_info("r2", "p_parent", "r1")])
    assert error.exit_code == EXIT_INPUT
    text = str(error)
    assert "environments/production.yaml: runs.in_progress: fail: 2 runs in progress" in text
    assert "nothing was written" in text and "pipelines/p_top run r1" in text and "pipelines/p_parent run r2" in text


# --------------------------------------------------------------------------------------------------- the file

TARGET = "target: {subscription: 00000000-0000-0000-0000-000000000001, resource_group: rg, factory: adf-x}\n"


def load(tmp_path: Path, text: str) -> Environment:
    path = tmp_path / "staging.yaml"
    path.write_text(TARGET + text)
    return load_environment(path, env={})


def test_the_runs_setting_is_read_with_a_default_and_time_limits_with_units(tmp_path: Path):
    assert load(tmp_path, "").runs == RunsPolicy("wait", 1800)
    assert load(tmp_path, "runs: {in_progress: cancel, timeout: 30m}").runs == RunsPolicy("cancel", 1800)
    assert load(tmp_path, "runs: {in_progress: fail}").runs == RunsPolicy("fail", 1800)
    assert load(tmp_path, "runs:\n  timeout: 2h").runs == RunsPolicy("wait", 7200)
    assert load(tmp_path, "runs:\n  timeout: 90").runs == RunsPolicy("wait", 90.0)


@pytest.mark.parametrize(
    ("text", "line", "where", "said"),
    [
        ("runs: wait", 2, "runs", "expected a mapping, got a string (write runs: {in_progress: wait"),
        ("runs: {in_progress: wiat}", 2, "runs.in_progress", "invalid value 'wiat' (did you mean 'wait'?"),
        ("runs:\n  in_progress: wait\n  timeout: 2x", 4, "runs.timeout", "'2x' is not a time limit"),
        ("runs:\n  timeout: 0", 3, "runs.timeout", "0 is out of range"),
        ("runs:\n  inprogress: cancel", 3, "runs", "unknown key 'inprogress' (did you mean 'in_progress'?)"),
    ],
)
def test_a_bad_runs_setting_is_an_error_naming_the_file_the_line_and_the_key(
    tmp_path: Path, text: str, line: int, where: str, said: str
):
    with pytest.raises(EnvironmentFileError) as caught:
        load(tmp_path, text)
    assert caught.value.exit_code == EXIT_INPUT
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.object) == (str(tmp_path / "staging.yaml"), line, where)
    assert said in problem.render()


# --------------------------------------------------------------------------------------------------- the plan


def settle(plan: Plan) -> SettleRuns | None:
    found = plan.steps_of(SettleRuns)
    return found[0] if found else None


def test_a_changed_pipeline_gets_a_runs_step_after_the_trigger_stops_and_before_the_first_write():
    live = deployed().read_live()
    desired = changed(
        child_changed(), "triggers/t_daily", lambda p: p["typeProperties"]["recurrence"].update(interval=2)
    )
    plan = plan_for(desired, live, env_with("cancel", 600))
    step = settle(plan)
    assert step is not None and (step.policy, step.timeout) == ("cancel", 600.0)
    assert step.pipelines == (
        AffectedPipeline("p_child", "it changes"),
        AffectedPipeline("p_parent", "it calls p_child"),
        AffectedPipeline("p_top", "it calls p_parent"),
    )
    kinds = [type(s).__name__ for s in plan.steps]
    assert kinds.index("StopTrigger") < kinds.index("SettleRuns") < kinds.index("Deploy")


def test_a_deleted_pipeline_is_affected_and_a_new_or_rewritten_one_or_a_trigger_is_not():
    live = deployed().read_live()
    deleted = settle(plan_for(without(realistic(), "pipelines/p_smoke"), live))
    assert deleted is not None and deleted.pipelines == (AffectedPipeline("p_smoke", "it is deleted"),)
    new = Factory(
        "adf-dev",
        {
            **realistic().objects,
            ObjectKey("pipelines", "p_new"): obj("pipelines", "p_new", {"activities": [execute("call", "p_child")]}),
        },
        "test",
    )
    assert settle(plan_for(new, live)) is None  # new: no runs; it calls p_child, which does not change
    assert settle(plan_for(realistic(), live, full=True)) is None  # rewritten unchanged: the same definition
    trigger = changed(realistic(), "triggers/t_daily", lambda p: p["typeProperties"]["recurrence"].update(interval=2))
    assert settle(plan_for(trigger, live)) is None


def test_what_was_seen_is_in_the_plan_file_and_apply_makes_the_plan_again_with_it():
    live = deployed().read_live()
    plan = plan_for(child_changed(), live, env_with("fail"))
    seen = RunsSeen((run_info("r1", "p_top"), run_info("r2", "p_parent", "r1")))
    shown = with_runs_seen(plan, seen)
    assert shown.hash != plan.hash and runs_seen(shown) == seen
    again = from_json(to_json(shown))
    assert again == shown and runs_seen(again) == seen
    # apply makes the plan again with the approved plan's `seen`: the same plan, whatever runs now
    assert differences(shown, with_runs_seen(plan_for(child_changed(), live, env_with("fail")), seen)) == []
    assert differences(shown, plan) != []  # a plan whose reviewer saw other runs is another plan


# --------------------------------------------------------------------------------------------------- runner


def planner(desired: Factory, env: Environment):
    def make_plan(live: LiveState, interrupted: journals.Journal | None) -> Plan:
        return plan_for(desired, live, env, commit=NEW)

    return make_plan


def with_runs() -> FakeFactory:
    fake = deployed()
    fake.start_run("p_top", "r-top")
    fake.start_run("p_parent", "r-parent", parent="r-top")
    fake.start_run("p_child", "r-child", parent="r-parent")
    fake.start_run("p_flow", "r-flow")  # a pipeline the plan does not affect
    return fake


def test_fail_refuses_before_the_first_step_naming_the_runs_and_writes_nothing(tmp_path: Path):
    fake = with_runs()
    with pytest.raises(RunsInFlight) as caught:
        run(context(tmp_path, fake), planner(child_changed(), env_with("fail")), rollback_to_old)
    assert {r.run_id for r in caught.value.runs} == {"r-top", "r-parent", "r-child"}
    assert "r-flow" not in str(caught.value)
    assert not {kind for kind, _ in fake.calls} & WRITES
    assert not journals.journal_path(tmp_path, "staging").exists()
    # once they have ended, the same deploy goes ahead
    fake.runs = {k: v for k, v in fake.runs.items() if k == "r-flow"}
    report = run(context(tmp_path, fake), planner(child_changed(), env_with("fail")), rollback_to_old)
    deployments = [name for kind, name in fake.calls if kind == "deploy_template" and not name.endswith("-record")]
    assert report.status == SUCCEEDED and len(deployments) == 1  # besides the run's entry in the history


def test_wait_waits_for_them_after_the_stops_and_before_the_first_write(tmp_path: Path):
    fake = with_runs()
    report = run(context(tmp_path, fake), planner(child_changed(), env_with("wait")), rollback_to_old)
    assert report.status == SUCCEEDED
    kinds = [kind for kind, _ in fake.calls]
    assert kinds.index("wait_for_runs") < kinds.index("deploy_template")
    assert fake.count("cancel_run") == 0
    assert fake.ended == {"r-top": "Succeeded", "r-parent": "Succeeded", "r-child": "Succeeded"}
    assert "r-flow" in fake.runs  # not affected: left alone
    assert report.outcome is not None
    (step,) = [r for r in report.outcome.done if isinstance(r.step, SettleRuns)]
    assert step.detail.startswith("3 runs ended: ")


def test_cancel_cancels_the_top_most_run_of_each_tree_recursively_then_deploys(tmp_path: Path):
    fake = with_runs()
    report = run(context(tmp_path, fake), planner(child_changed(), env_with("cancel")), rollback_to_old)
    assert report.status == SUCCEEDED
    assert [what for kind, what in fake.calls if kind == "cancel_run"] == ["r-top"]  # the others go with it
    assert fake.ended == {"r-top": "Cancelled", "r-parent": "Cancelled", "r-child": "Cancelled"}
    kinds = [kind for kind, _ in fake.calls]
    assert kinds.index("cancel_run") < kinds.index("deploy_template")


def test_a_wait_past_its_limit_fails_the_deploy_with_nothing_written_and_the_triggers_back(tmp_path: Path):
    fake = with_runs()
    fake.runs_end = False
    desired = changed(
        child_changed(), "triggers/t_daily", lambda p: p["typeProperties"]["recurrence"].update(interval=2)
    )
    report = run(context(tmp_path, fake), planner(desired, env_with("wait", 5)), rollback_to_old)
    assert report.status == ROLLED_BACK and report.exit_code == 4
    assert report.outcome is not None and isinstance(report.outcome.error, WaitTimeout)
    assert fake.count("deploy_template") == 0 and report.rollback_plan is None
    assert fake.states["t_daily"] == "Started"  # stopped for the deploy, put back
    assert "Nothing had been written" in report.render()


def test_no_run_in_progress_costs_one_look_and_the_automatic_rollback_does_not_look(tmp_path: Path):
    fake = deployed()
    fake.fail("start_trigger")  # after the deployment: the run fails and rolls back
    desired = changed(
        child_changed(), "triggers/t_daily", lambda p: p["typeProperties"]["recurrence"].update(interval=2)
    )
    report = run(context(tmp_path, fake), planner(desired, env_with("wait")), rollback_to_old)
    assert report.status == ROLLED_BACK and report.rollback_plan is not None
    assert fake.count("runs_in_progress") == 1 and fake.count("wait_for_runs") == 0
    assert settle(report.rollback_plan) is None and report.plan is not None and settle(report.plan) is not None
    assert f"Rolled back to {OLD[:8]}" in report.render()
