"""Which triggers stop, which start, and why: only what must, never a stopped one, event subscriptions."""

from __future__ import annotations

from promote.factory import FactoryObject, ObjectKey
from promote.live import TriggerState
from promote.plan import DeleteObject, RecordTriggers, StartTrigger, StopTrigger
from tests.test_plan_support import (
    blob_trigger,
    changed,
    environment,
    factory,
    live_of,
    obj,
    plan_for,
    realistic,
    schedule_trigger,
    without,
)


def _stops(plan) -> dict[str, StopTrigger]:
    return {s.name: s for s in plan.steps_of(StopTrigger)}


def _starts(plan) -> dict[str, StartTrigger]:
    return {s.name: s for s in plan.steps_of(StartTrigger)}


def _change_copy(properties):
    properties["activities"][0]["typeProperties"]["sink"]["writeBatchSize"] = 1000


def test_every_live_trigger_is_recorded_first():
    live = live_of(realistic(), states={"t_daily": "Stopped"})
    plan = plan_for(realistic(), live)
    record = plan.steps[0]
    assert isinstance(record, RecordTriggers)
    by_name = {t.name: t for t in record.triggers}
    assert set(by_name) == {"t_daily", "t_window_base", "t_window", "t_blob", "t_stopped"}
    assert by_name["t_daily"].runtime_state == "Stopped"
    assert by_name["t_blob"].trigger_type == "BlobEventsTrigger"
    assert by_name["t_blob"].subscription_status == "Enabled"


def test_pipeline_change_alone_stops_nothing_under_changed():
    desired = changed(realistic(), "pipelines/p_child", _change_copy)
    plan = plan_for(desired, live_of(realistic()), environment(stop="changed"))
    assert _stops(plan) == {}
    assert _starts(plan) == {}


def test_pipeline_change_stops_the_triggers_that_run_it_under_pipelines():
    desired = changed(realistic(), "pipelines/p_child", _change_copy)
    plan = plan_for(desired, live_of(realistic()), environment(stop="pipelines"))
    stops = _stops(plan)
    # t_window and t_blob run p_child; t_daily runs p_top -> p_parent -> p_child (Execute Pipeline, any depth).
    assert set(stops) == {"t_window", "t_blob", "t_daily"}
    assert stops["t_daily"].reasons == ("it runs changed pipeline p_child",)
    # A stop for a pipeline change needs no unsubscribe: the trigger itself does not change.
    assert not stops["t_blob"].unsubscribe
    # Restarted afterwards, exactly those; the event trigger subscribes first.
    starts = _starts(plan)
    assert set(starts) == {"t_window", "t_blob", "t_daily"}
    assert starts["t_blob"].subscribe and starts["t_blob"].subscription_timeout == 120
    assert not starts["t_daily"].subscribe


def test_a_stopped_trigger_is_never_stopped_or_started():
    # t_stopped runs p_flow; change both it and its pipeline, under the most stopping policy.
    desired = changed(realistic(), "pipelines/p_flow", lambda p: p["activities"][0].update(description="x"))
    desired = changed(desired, "triggers/t_stopped", lambda p: p["typeProperties"]["recurrence"].update(interval=2))
    for start in ("previous", "template"):
        plan = plan_for(desired, live_of(realistic()), environment(stop="pipelines", start=start))
        assert "t_stopped" not in _stops(plan)
        assert "t_stopped" not in _starts(plan)
        assert "t_window_base" in _stops(plan)  # the started trigger running p_flow does stop


def test_disabled_triggers_count_as_not_started():
    desired = changed(realistic(), "triggers/t_daily", lambda p: p["typeProperties"]["recurrence"].update(interval=3))
    plan = plan_for(desired, live_of(realistic(), states={"t_daily": "Disabled"}))
    assert _stops(plan) == {} and _starts(plan) == {}


def test_a_changed_started_trigger_is_stopped_and_restarted():
    desired = changed(realistic(), "triggers/t_daily", lambda p: p["typeProperties"]["recurrence"].update(interval=3))
    plan = plan_for(desired, live_of(realistic()))
    assert _stops(plan)["t_daily"].reasons == ("its definition changes",)
    assert not _stops(plan)["t_daily"].unsubscribe
    assert _starts(plan)["t_daily"].reason == "it was Started before the deployment"


def test_event_trigger_change_unsubscribes_and_subscribes():
    desired = changed(
        realistic(), "triggers/t_blob", lambda p: p["typeProperties"].update(blobPathBeginsWith="/in/blobs/new/")
    )
    plan = plan_for(desired, live_of(realistic()), environment(timeout=90))
    stop = _stops(plan)["t_blob"]
    assert stop.unsubscribe and stop.subscription_timeout == 90
    start = _starts(plan)["t_blob"]
    assert start.subscribe and start.subscription_timeout == 90
    assert set(_stops(plan)) == {"t_blob"}  # nothing else


def test_a_deleted_started_trigger_is_stopped_first_and_never_started():
    desired = without(realistic(), "triggers/t_blob")
    plan = plan_for(desired, live_of(realistic()))
    stop = _stops(plan)["t_blob"]
    assert stop.reasons == ("it is deleted",) and stop.unsubscribe
    assert "t_blob" not in _starts(plan)


def test_a_kept_trigger_is_not_stopped():
    desired = without(realistic(), "triggers/t_blob")
    plan = plan_for(desired, live_of(realistic()), environment(deletion=False))
    assert _stops(plan) == {}


def test_a_new_trigger_is_started_only_under_start_template():
    desired = factory(
        [*realistic().objects.values(), obj("triggers", "t_new", schedule_trigger("p_top", state="Started"))]
    )
    previous = plan_for(desired, live_of(realistic()), environment(start="previous"))
    assert _starts(previous) == {} and _stops(previous) == {}
    assert any("t_new is new and is created Stopped" in note for note in previous.notes)

    template = plan_for(desired, live_of(realistic()), environment(start="template"))
    assert set(_starts(template)) == {"t_new"}
    assert _starts(template)["t_new"].reason == "the template marks it Started (new)"


def test_a_new_event_trigger_subscribes_under_start_template():
    desired = factory([*realistic().objects.values(), obj("triggers", "t_blob2", blob_trigger("p_child"))])
    plan = plan_for(desired, live_of(realistic()), environment(start="template"))
    assert _starts(plan)["t_blob2"].subscribe


def test_start_template_follows_the_template_and_leaves_running_ones_alone():
    source = realistic()
    # The template marks t_daily Stopped (it runs live), t_stopped Started (it does not run live).
    desired = changed(source, "triggers/t_daily", lambda p: p.update(runtimeState="Stopped"))
    desired = changed(desired, "triggers/t_stopped", lambda p: p.update(runtimeState="Started"))
    plan = plan_for(desired, live_of(source), environment(start="template"))
    # runtimeState is read-only: neither is a change, so nothing is stopped ...
    assert _stops(plan) == {}
    # ... and only the trigger the template wants running and that is not running is started.
    assert set(_starts(plan)) == {"t_stopped"}


def test_start_template_keeps_stopped_a_changed_trigger_the_template_marks_stopped():
    source = realistic()
    desired = changed(
        source, "triggers/t_daily", lambda p: p.update(runtimeState="Stopped", description="paused for now")
    )
    plan = plan_for(desired, live_of(source), environment(start="template"))
    assert "t_daily" in _stops(plan)
    assert "t_daily" not in _starts(plan)
    assert any("t_daily was Started and stays stopped" in note for note in plan.notes)


def test_full_deployment_stops_and_restarts_every_started_trigger_it_rewrites():
    plan = plan_for(realistic(), live_of(realistic()), full=True)
    stops = _stops(plan)
    assert set(stops) == {"t_daily", "t_window_base", "t_window", "t_blob"}
    assert stops["t_daily"].reasons == ("the full deployment rewrites it",)
    assert set(_starts(plan)) == set(stops)


def test_tumbling_window_dependencies_order_stops_and_starts():
    plan = plan_for(realistic(), live_of(realistic()), full=True)
    stop_names = [s.name for s in plan.steps_of(StopTrigger)]
    start_names = [s.name for s in plan.steps_of(StartTrigger)]
    # t_window depends on t_window_base: it stops first and starts last.
    assert stop_names.index("t_window") < stop_names.index("t_window_base")
    assert start_names.index("t_window_base") < start_names.index("t_window")


def test_letter_case_of_trigger_names_does_not_create_stops_or_deletes():
    """ADF names are case-insensitive: a live `T_Daily` published as `t_daily` with a change is one trigger."""
    source = realistic()
    live = live_of(source)
    old = live.factory.objects.pop(ObjectKey("triggers", "t_daily"))
    renamed = ObjectKey("triggers", "T_Daily")
    live.factory.objects[renamed] = FactoryObject(renamed, old.properties)
    live.triggers.pop("t_daily")
    live.triggers["T_Daily"] = TriggerState("T_Daily", "Started")
    desired = changed(source, "triggers/t_daily", lambda p: p["typeProperties"]["recurrence"].update(interval=5))
    plan = plan_for(desired, live)
    assert set(_stops(plan)) == {"T_Daily"}
    assert set(_starts(plan)) == {"t_daily"}
    assert not plan.steps_of(DeleteObject)
