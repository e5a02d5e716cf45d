"""Dependency waves for writes, mirrored order for deletes, and the one total order of steps."""

from __future__ import annotations

from promote.factory import FactoryObject, ObjectKey
from promote.plan import DeleteObject, Deploy, Phase
from promote.plan.order import (
    dependencies_of,
    dependency_graph,
    key_from_resource_path,
    mirrored,
    step_order,
    waves,
)
from tests.test_plan_support import (
    environment,
    factory,
    key,
    live_of,
    obj,
    plan_for,
    realistic,
    ref,
    without,
)


def _written(plan) -> list[tuple[ObjectKey, int]]:
    return [(w.key, w.wave) for d in plan.steps_of(Deploy) for w in d.writes]


def test_write_waves_follow_every_reference_kind():
    desired = realistic()
    live = live_of(factory([obj("pipelines", "p_smoke", {"activities": []})]))
    plan = plan_for(desired, live, environment(max_share=1))
    wave = dict(_written(plan))
    assert set(wave) == set(desired.objects)

    def before(a: str, b: str) -> None:
        assert wave[key(a)] < wave[key(b)], f"{a} ({wave[key(a)]}) must come before {b} ({wave[key(b)]})"

    before("linkedServices/ls_keyvault", "linkedServices/ls_sql")  # Key Vault store
    before("integrationRuntimes/ir-selfhosted", "linkedServices/ls_sql")  # connectVia
    before("managedVirtualNetworks/default", "integrationRuntimes/ir-managed")  # managed network
    before("managedVirtualNetworks/default", "managedVirtualNetworks/managedPrivateEndpoints/default/mpe_blob")
    before("integrationRuntimes/ir-managed", "linkedServices/ls_blob")
    before("linkedServices/ls_blob", "datasets/ds_in")
    before("datasets/ds_in", "dataflows/df_transform")
    before("dataflows/flowlet_clean", "dataflows/df_transform")  # flowlet
    before("dataflows/df_transform", "pipelines/p_flow")
    before("pipelines/p_child", "pipelines/p_parent")  # Execute Pipeline inside an If Condition
    before("pipelines/p_parent", "pipelines/p_top")
    before("pipelines/p_top", "triggers/t_daily")
    before("triggers/t_window_base", "triggers/t_window")  # tumbling-window dependency
    # Nothing waits that need not: unreferenced objects are in the first wave.
    assert wave[key("linkedServices/ls_keyvault")] == 0
    assert wave[key("dataflows/flowlet_clean")] == 0
    assert wave[key("globalParameters/default")] == 0


def test_writes_are_in_total_order_wave_then_kind_then_name():
    plan = plan_for(realistic(), live_of(realistic()), full=True)
    writes = [w for d in plan.steps_of(Deploy) for w in d.writes]
    from promote.plan.order import write_key

    keys = [write_key(w.wave, w.key) for w in writes]
    assert keys == sorted(keys)


def test_only_written_objects_count_for_waves():
    """An object comes after what it references *that is also written*; the rest is already live."""
    desired = realistic()
    live = live_of(without(desired, "pipelines/p_top", "datasets/ds_in"))
    plan = plan_for(desired, live)
    assert dict(_written(plan)) == {key("datasets/ds_in"): 0, key("pipelines/p_top"): 0}


def test_delete_order_is_reverse_dependency_order():
    live = live_of(realistic())
    desired = factory([obj("pipelines", "p_smoke", {"activities": [{"name": "wait", "type": "Wait"}]})])
    plan = plan_for(desired, live, environment(max_share=1))
    deleted = [s.key for s in plan.steps_of(DeleteObject)]
    position = {k: i for i, k in enumerate(deleted)}
    assert key("pipelines/p_smoke") not in position
    assert key("globalParameters/default") not in position  # never deleted as an object
    # Every object is deleted before anything it references.
    for k in deleted:
        for dep in dependencies_of(live.factory.objects[k]):
            if dep in position:
                assert position[k] < position[dep], f"{k} must be deleted before {dep}"

    def first(a: str, b: str) -> None:
        assert position[key(a)] < position[key(b)], f"{a} must be deleted before {b}"

    first("triggers/t_daily", "pipelines/p_top")
    first("triggers/t_window", "triggers/t_window_base")
    first("pipelines/p_top", "pipelines/p_parent")  # callers first
    first("pipelines/p_parent", "pipelines/p_child")
    first("dataflows/df_transform", "dataflows/flowlet_clean")
    first("datasets/ds_out", "linkedServices/ls_sql")
    first("linkedServices/ls_sql", "linkedServices/ls_keyvault")  # a Key Vault user before the Key Vault
    first("linkedServices/ls_sql", "integrationRuntimes/ir-selfhosted")
    first("integrationRuntimes/ir-managed", "managedVirtualNetworks/default")
    first("managedVirtualNetworks/managedPrivateEndpoints/default/mpe_blob", "managedVirtualNetworks/default")
    assert deleted[-1] == key("managedVirtualNetworks/default")


def test_delete_waves_mirror_write_waves():
    live = live_of(realistic())
    graph = dependency_graph(live.factory.objects, live.factory.objects)
    levels = waves(graph)
    reverse = mirrored(levels)
    top = max(levels.values())
    assert all(reverse[k] == top - levels[k] for k in levels)


def test_references_resolve_ignoring_letter_case():
    objects = {
        o.key: o
        for o in [
            obj("linkedServices", "LS_Blob", {"type": "AzureBlobStorage"}),
            obj("datasets", "ds", {"linkedServiceName": ref("LinkedServiceReference", "ls_blob")}),
        ]
    }
    graph = dependency_graph(objects, objects)
    assert graph[ObjectKey("datasets", "ds")] == {ObjectKey("linkedServices", "LS_Blob")}


def test_reference_cycles_share_a_wave():
    objects = {
        o.key: o
        for o in [
            obj("pipelines", "a", {"activities": [{"typeProperties": {"pipeline": ref("PipelineReference", "b")}}]}),
            obj("pipelines", "b", {"activities": [{"typeProperties": {"pipeline": ref("PipelineReference", "a")}}]}),
            obj("pipelines", "c", {"activities": [{"typeProperties": {"pipeline": ref("PipelineReference", "a")}}]}),
            obj("pipelines", "self", {"x": ref("PipelineReference", "self")}),
        ]
    }
    levels = waves(dependency_graph(objects, objects))
    assert levels[ObjectKey("pipelines", "a")] == levels[ObjectKey("pipelines", "b")] == 0
    assert levels[ObjectKey("pipelines", "c")] == 1
    assert levels[ObjectKey("pipelines", "self")] == 0


def test_long_chains_need_no_recursion():
    chain = [obj("pipelines", "p0", {})] + [
        obj("pipelines", f"p{i}", {"a": ref("PipelineReference", f"p{i - 1}")}) for i in range(1, 5000)
    ]
    objects = {o.key: o for o in chain}
    levels = waves(dependency_graph(objects, objects))
    assert levels[ObjectKey("pipelines", "p4999")] == 4999


def test_template_depends_on_entries_count_as_dependencies():
    network = FactoryObject(
        ObjectKey("integrationRuntimes", "ir"),
        {"type": "Managed"},
        depends_on=["Microsoft.DataFactory/factories/adf-dev/managedVirtualNetworks/default"],
    )
    assert ObjectKey("managedVirtualNetworks", "default") in dependencies_of(network)
    assert key_from_resource_path(
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DataFactory/factories/f/"
        "managedVirtualNetworks/default/managedPrivateEndpoints/mpe1"
    ) == ObjectKey("managedVirtualNetworks/managedPrivateEndpoints", "default/mpe1")
    assert key_from_resource_path("Microsoft.DataFactory/factories/f/linkedservices/ls") == ObjectKey(
        "linkedServices", "ls"
    )
    assert key_from_resource_path("[parameters('x')]") is None


def test_steps_are_in_one_total_order():
    desired = realistic()
    desired = without(desired, "triggers/t_daily", "pipelines/p_top")
    plan = plan_for(desired, live_of(realistic()), full=True)
    orders = [step_order(s) for s in plan.steps]
    assert orders == sorted(orders)
    phases = [s.phase for s in plan.steps]
    assert phases[0] == Phase.RECORD_TRIGGERS
    assert phases[-1] == Phase.RECORD_DEPLOYMENT
    assert phases == sorted(phases)
