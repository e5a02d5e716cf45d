"""The runner and the executor against an in-process target factory (`tests/fake_factory.py`, behind the
`FactoryApi` protocol): what a run reads and writes, in which order, how it rolls back, what it leaves for the
next run. The same paths run with real `promote` processes against the emulator in tests/test_engine_*.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from promote.apply.executor import Executor
from promote.apply.lock import TargetKey
from promote.apply.runner import (
    ALREADY_APPLIED,
    ROLLBACK_FAILED,
    ROLLED_BACK,
    SUCCEEDED,
    AlreadyApplied,
    RunContext,
    Undo,
    run,
)
from promote.factory import Factory, ObjectKey
from promote.live import LiveState
from promote.plan import Plan
from promote.record import journal as journals
from promote.record.marker import marker_tags
from promote.record.tags import read_record
from promote.secrets import secret_tag_values, secret_tags
from tests.fake_factory import FakeFactory
from tests.test_plan_support import changed, environment, plan_for, realistic

OLD, NEW = "a" * 40, "b" * 40
ENVIRON = {"BLOB_CONNECTION": "secret"}  # the realistic factory's one secure value


def new_factory() -> Factory:
    """`realistic()` with the started schedule trigger's definition changed: it stops, is written, starts."""
    return changed(realistic(), "triggers/t_daily", lambda p: p["typeProperties"]["recurrence"].update(interval=2))


def deployed(tags: dict[str, str] | None = None, states: dict[str, str] | None = None) -> FakeFactory:
    """The factory as a deploy of `realistic()` at OLD leaves it: its objects, and the record on its tags (the
    deployed commit, and where its secrets come from: without that record, every secret counts as changed)."""
    fake = FakeFactory.holding(realistic(), states)
    secrets = {k: v for k, v in secret_tags(secret_tag_values(realistic())).items() if v is not None}
    fake.tags = {**secrets, **(tags if tags is not None else {"promote-commit": OLD, "promote-good": OLD[:12]})}
    return fake


def context(tmp_path: Path, fake: FakeFactory, **kwargs: object) -> RunContext:
    lines: list[str] = []
    return RunContext(
        root=tmp_path,
        environment="staging",
        start_policy="previous",
        factory=fake,
        target=TargetKey("00000000-0000-0000-0000-000000000001", "rg-data", "adf-staging"),
        progress=lines.append,
        environ=ENVIRON,
        **kwargs,  # type: ignore[arg-type]
    )


def planner(desired: Factory, commit: str):
    def make_plan(live: LiveState, interrupted: journals.Journal | None) -> Plan:
        return plan_for(desired, live, environment(), commit=commit)

    return make_plan


UNDONE: list[Undo] = []  # what each rollback planned here was told the failed plan writes


def rollback_to_old(commit: str, live: LiveState, undo: Undo) -> Plan:
    assert commit == OLD
    UNDONE.append(undo)
    return plan_for(realistic(), live, environment(), commit=commit, rollback=True, undo_creates=undo.created)


def objects_of(factory: Factory) -> dict[ObjectKey, dict]:
    return {k: o.properties for k, o in factory.objects.items()}


# --------------------------------------------------------------------------------------------------- success


def test_a_run_reads_the_live_factory_once_then_writes_only_what_its_plan_shows(tmp_path: Path):
    fake = deployed()
    report = run(context(tmp_path, fake), planner(new_factory(), NEW), rollback_to_old)
    assert report.status == SUCCEEDED and report.exit_code == 0
    assert fake.count("read_live") == 1 and fake.count("read_triggers") == 0
    assert objects_of(new_factory()).items() <= fake.objects.items()
    assert fake.states["t_daily"] == "Started"
    # every write is a step of the plan, in its order: the marker, the stop, the deployment, the start, the record
    # (the factory's tags, then the run's entry in the deployment history)
    writes = [(k, w) for k, w in fake.calls if k not in ("read_live", "settle_deployments")]
    assert [k for k, _ in writes] == [
        "set_factory_tags",
        "stop_trigger",
        "deploy_template",
        "start_trigger",
        "set_factory_tags",
        "deploy_template",
    ]
    assert writes[-1][1].startswith("promote-staging-bbbbbbb-") and writes[-1][1].endswith("-record")
    assert report.plan is not None
    kinds = [type(s).__name__ for s in report.plan.steps]
    assert kinds == ["RecordTriggers", "MarkRunInProgress", "StopTrigger", "Deploy", "StartTrigger", "TagFactory"]
    record = read_record(fake.tags)
    assert (record.commit, record.plan, record.previous_commit) == (NEW, report.plan.hash, OLD)
    assert record.good == (NEW[:12], OLD[:12]) and record.in_progress is None
    assert not journals.journal_path(tmp_path, "staging").exists()  # archived
    (archived,) = (tmp_path / ".promote" / "runs" / "staging").iterdir()
    assert journals.load(archived) is not None


def test_the_marker_names_the_triggers_that_were_started_and_the_record_step_removes_it(tmp_path: Path):
    fake = deployed()
    seen: list[dict[str, str]] = []
    original = fake.stop_trigger

    def stop_and_look(name: str) -> None:
        seen.append(dict(fake.tags))  # the factory's tags while the run is in progress
        original(name)

    fake.stop_trigger = stop_and_look  # type: ignore[method-assign]
    report = run(context(tmp_path, fake), planner(new_factory(), NEW), rollback_to_old)
    assert report.status == SUCCEEDED
    (during,) = seen
    marker = read_record(during).in_progress
    assert marker is not None and set(marker.started) == {"t_daily", "t_window_base", "t_window", "t_blob"}
    assert "promote-run-id" not in fake.tags


def test_a_missing_factory_is_created_only_when_the_context_says_so(tmp_path: Path):
    fake = FakeFactory(exists=False)
    with pytest.raises(Exception, match="does not exist"):
        run(context(tmp_path, fake), planner(realistic(), NEW), rollback_to_old)
    assert fake.count("ensure_factory") == 0 and not fake.exists
    report = run(context(tmp_path, fake, create_missing_factory=True), planner(realistic(), NEW), rollback_to_old)
    assert report.status == SUCCEEDED and fake.count("ensure_factory") == 1
    assert set(fake.objects) == set(realistic().objects)  # every object written into the new factory


# --------------------------------------------------------------------------------------------------- failure


def test_a_failed_step_rolls_back_to_the_last_good_commit_and_puts_triggers_back(tmp_path: Path):
    fake = deployed()
    before = dict(fake.states)
    fake.fail("start_trigger")  # after the new t_daily is written: the deploy fails with the factory changed
    UNDONE.clear()
    failing = planner(new_factory(), NEW)
    report = run(context(tmp_path, fake), failing, rollback_to_old)
    assert report.status == ROLLED_BACK and report.exit_code == 4
    assert report.rollback_target == OLD
    # the rollback was told every object the failed plan writes (those holding secrets are written again) and
    # which of them it creates (deleted again without counting against deletion.max_share)
    writes = [w for d in report.plan.deployments for w in d.writes]
    (undo,) = UNDONE
    assert undo.written == {w.key for w in writes} and undo.created == {w.key for w in writes if w.action == "create"}
    assert undo.created < undo.written  # updates too, not only creates
    assert fake.objects == {k: v for k, v in objects_of(realistic()).items()}
    assert fake.states == before
    assert read_record(fake.tags).commit == OLD  # the record names the commit gone back to
    assert read_record(fake.tags).in_progress is None
    assert "Triggers restored" in report.render() or "undone" in report.render()


def test_a_rollback_that_fails_leaves_its_journal_for_the_next_run(tmp_path: Path):
    fake = deployed()
    fake.fail("start_trigger")
    fake.fail("deploy_template", nth=2)  # the rollback's deployment
    report = run(context(tmp_path, fake), planner(new_factory(), NEW), rollback_to_old)
    assert report.status == ROLLBACK_FAILED and report.exit_code == 5
    left = journals.load(journals.journal_path(tmp_path, "staging"))
    assert left is not None and left.unfinished and left.last_good_commit == OLD
    assert left.triggers_before is not None and {r.name for r in left.triggers_before if r.started} == {
        "t_daily",
        "t_window_base",
        "t_window",
        "t_blob",
    }
    assert f"`promote rollback --env staging` to finish going back to {OLD[:8]}" in report.render()

    # the next run finishes going back, with the trigger states from before the first attempt
    again = run(context(tmp_path, fake), planner(realistic(), OLD), rollback_to_old, kind="rollback")
    assert again.status == SUCCEEDED and again.recovered_run == left.run_id
    assert fake.objects == objects_of(realistic())
    assert fake.states["t_daily"] == "Started"
    assert not journals.journal_path(tmp_path, "staging").exists()


def test_nothing_written_means_nothing_rolled_back(tmp_path: Path):
    fake = deployed()
    fake.fail("stop_trigger")
    report = run(context(tmp_path, fake), planner(new_factory(), NEW), rollback_to_old)
    assert report.status == ROLLED_BACK and report.rollback_plan is None
    assert "Nothing had been written" in report.render()
    assert fake.count("deploy_template") == 0


# --------------------------------------------------------------------------------------------------- recovery


def test_a_run_the_factory_records_in_progress_is_recovered_without_a_journal(tmp_path: Path):
    """A CI job killed after stopping t_daily, on a machine that is gone: the factory's marker says what ran."""
    killed = {"promote-commit": OLD, "promote-good": OLD[:12]}
    killed.update({k: v for k, v in marker_tags("r0", ["t_daily", "t_blob"]).items() if v})
    fake = deployed(killed, states={"t_daily": "Stopped"})
    report = run(context(tmp_path, fake), planner(realistic(), OLD), rollback_to_old)
    assert report.status == SUCCEEDED and report.recovered_run == "r0"
    assert fake.states["t_daily"] == "Started"  # put back from the factory's record
    assert read_record(fake.tags).in_progress is None


def test_the_executor_skips_what_a_resumed_run_did_and_journals_the_rest(tmp_path: Path):
    fake = deployed()
    live = fake.read_live()
    plan = plan_for(new_factory(), live, environment(), commit=NEW)
    journal = journals.Journal("staging", plan.commit, plan.hash)
    journal.path = journals.journal_path(tmp_path, "staging")
    deploy_index = next(i for i, s in enumerate(plan.steps) if type(s).__name__ == "Deploy")
    executor = Executor(
        fake,
        plan,
        journal,
        parameters={d.name: {} for d in plan.deployments},
        progress=lambda line: None,
        skip=frozenset({deploy_index}),
        live_triggers=live.triggers,
    )
    outcome = executor.run()
    # the skipped deployment is not made again; the only one is the run's entry in the history, by the record step
    made = [w for k, w in fake.calls if k == "deploy_template"]
    assert outcome.ok and len(made) == 1 and made[0].endswith("-record")
    assert journal.done == [i for i in range(len(plan.steps)) if i != deploy_index]
    assert journal.triggers_before is not None and fake.count("read_triggers") == 0
    loaded = journals.load(journal.path)
    assert loaded is not None and loaded.done == journal.done


def test_a_plan_the_factory_records_as_applied_ends_the_run_before_its_first_step(tmp_path: Path):
    fake = deployed()
    applied = plan_for(new_factory(), fake.read_live(), environment(), commit=NEW)

    def already(live: LiveState, interrupted: journals.Journal | None) -> Plan:
        raise AlreadyApplied(applied, "Plan was already applied: nothing was done.")

    report = run(context(tmp_path, fake), already, rollback_to_old)
    assert report.status == ALREADY_APPLIED and report.exit_code == 0
    assert report.render() == "Plan was already applied: nothing was done."
    assert {kind for kind, _ in fake.calls} == {"read_live", "settle_deployments"}  # read, nothing written
    assert not journals.journal_path(tmp_path, "staging").exists()
