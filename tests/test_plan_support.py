"""Hand-built factories, live states and environments for the plan tests (no I/O), and checks of the helpers.

The realistic factory has every kind of reference the planner must order by: linked service -> Key Vault
linked service (`store`) and -> integration runtime (`connectVia`), dataset -> linked service, data flow ->
datasets and a flowlet, pipelines calling pipelines (inside an If Condition), triggers -> pipelines,
a tumbling-window trigger depending on another, a managed integration runtime in a managed network with a
private endpoint, and global parameters.
"""

from __future__ import annotations

import copy
import dataclasses
from datetime import datetime, timezone
from typing import Any

from promote.diff import diff_factories
from promote.environment import DeletionPolicy, Environment, SmokePipeline, Target, TriggerPolicy
from promote.explain import explain_live
from promote.factory import Factory, FactoryObject, ObjectKey
from promote.live import LiveState, TriggerState
from promote.normalise import comparable_factory, desired_vs_live
from promote.plan import build_plan
from promote.secrets import secret_tag_values, secret_tags

NOW = datetime(2024, 5, 1, 12, 30, 45, tzinfo=timezone.utc)
COMMIT = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"


def ref(kind: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"referenceName": name, "type": kind, **extra}


def obj(type_: str, name: str, properties: dict[str, Any]) -> FactoryObject:
    return FactoryObject(ObjectKey(type_, name), properties)


def factory(objects: list[FactoryObject], name: str = "adf-dev") -> Factory:
    return Factory(name=name, objects={o.key: o for o in objects}, source="test")


def key(text: str) -> ObjectKey:
    """`pipelines/p` -> ObjectKey; private endpoints are `managedVirtualNetworks/managedPrivateEndpoints/default/x`."""
    mpe = "managedVirtualNetworks/managedPrivateEndpoints"
    if text.startswith(mpe + "/"):
        return ObjectKey(mpe, text[len(mpe) + 1 :])
    type_, _, name = text.partition("/")
    return ObjectKey(type_, name)


def copy_activity(name: str, source: str, sink: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "Copy",
        "dependsOn": [],
        "inputs": [ref("DatasetReference", source)],
        "outputs": [ref("DatasetReference", sink)],
        "typeProperties": {"source": {"type": "DelimitedTextSource"}, "sink": {"type": "AzureSqlSink"}},
    }


def execute(name: str, pipeline: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "ExecutePipeline",
        "typeProperties": {"pipeline": ref("PipelineReference", pipeline), "waitOnCompletion": True},
    }


def schedule_trigger(pipeline: str, state: str = "Started") -> dict[str, Any]:
    return {
        "type": "ScheduleTrigger",
        "runtimeState": state,
        "pipelines": [{"pipelineReference": ref("PipelineReference", pipeline), "parameters": {}}],
        "typeProperties": {"recurrence": {"frequency": "Day", "interval": 1, "startTime": "2024-01-01T00:00:00Z"}},
    }


def window_trigger(pipeline: str, depends_on: str | None = None, state: str = "Started") -> dict[str, Any]:
    props: dict[str, Any] = {
        "type": "TumblingWindowTrigger",
        "runtimeState": state,
        "pipeline": {"pipelineReference": ref("PipelineReference", pipeline), "parameters": {}},
        "typeProperties": {"frequency": "Hour", "interval": 1, "startTime": "2024-01-01T00:00:00Z"},
    }
    if depends_on:
        props["typeProperties"]["dependsOn"] = [
            {
                "type": "TumblingWindowTriggerDependencyReference",
                "referenceTrigger": ref("TriggerReference", depends_on),
            }
        ]
    return props


def blob_trigger(pipeline: str, state: str = "Started") -> dict[str, Any]:
    return {
        "type": "BlobEventsTrigger",
        "runtimeState": state,
        "pipelines": [{"pipelineReference": ref("PipelineReference", pipeline)}],
        "typeProperties": {
            "blobPathBeginsWith": "/in/blobs/",
            "events": ["Microsoft.Storage.BlobCreated"],
            "scope": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa",
        },
    }


def realistic() -> Factory:
    """A factory with every reference kind (see the module docstring)."""
    return factory(
        [
            obj("globalParameters", "default", {"env": {"type": "string", "value": "dev"}}),
            obj("managedVirtualNetworks", "default", {}),
            obj(
                "managedVirtualNetworks/managedPrivateEndpoints",
                "default/mpe_blob",
                {"privateLinkResourceId": "/subscriptions/s/x", "groupId": "blob"},
            ),
            obj(
                "integrationRuntimes",
                "ir-managed",
                {
                    "type": "Managed",
                    "typeProperties": {"computeProperties": {"location": "AutoResolve"}},
                    "managedVirtualNetwork": {"type": "ManagedVirtualNetworkReference", "referenceName": "default"},
                },
            ),
            obj("integrationRuntimes", "ir-selfhosted", {"type": "SelfHosted", "typeProperties": {}}),
            obj(
                "linkedServices",
                "ls_keyvault",
                {"type": "AzureKeyVault", "typeProperties": {"baseUrl": "https://kv.vault.azure.net/"}},
            ),
            obj(
                "linkedServices",
                "ls_sql",
                {
                    "type": "AzureSqlDatabase",
                    "typeProperties": {
                        "connectionString": "Server=tcp:db;Database=d",
                        "password": {
                            "type": "AzureKeyVaultSecret",
                            "store": ref("LinkedServiceReference", "ls_keyvault"),
                            "secretName": "sql-password",
                        },
                    },
                    "connectVia": ref("IntegrationRuntimeReference", "ir-selfhosted"),
                },
            ),
            obj(
                "linkedServices",
                "ls_blob",
                {
                    "type": "AzureBlobStorage",
                    "typeProperties": {"connectionString": "<secure:blob_connection>"},
                    "connectVia": ref("IntegrationRuntimeReference", "ir-managed"),
                },
            ),
            obj(
                "datasets",
                "ds_in",
                {"type": "DelimitedText", "linkedServiceName": ref("LinkedServiceReference", "ls_blob")},
            ),
            obj(
                "datasets",
                "ds_out",
                {"type": "AzureSqlTable", "linkedServiceName": ref("LinkedServiceReference", "ls_sql")},
            ),
            obj(
                "dataflows",
                "flowlet_clean",
                {"type": "Flowlet", "typeProperties": {"sources": [], "sinks": [], "script": "x"}},
            ),
            obj(
                "dataflows",
                "df_transform",
                {
                    "type": "MappingDataFlow",
                    "typeProperties": {
                        "sources": [{"name": "src", "dataset": ref("DatasetReference", "ds_in")}],
                        "sinks": [{"name": "snk", "dataset": ref("DatasetReference", "ds_out")}],
                        "transformations": [{"name": "clean", "flowlet": ref("DataFlowReference", "flowlet_clean")}],
                    },
                },
            ),
            obj("pipelines", "p_child", {"activities": [copy_activity("copy", "ds_in", "ds_out")]}),
            obj(
                "pipelines",
                "p_parent",
                {
                    "activities": [
                        {
                            "name": "if",
                            "type": "IfCondition",
                            "typeProperties": {
                                "expression": {"value": "@true", "type": "Expression"},
                                "ifTrueActivities": [execute("run_child", "p_child")],
                            },
                        }
                    ]
                },
            ),
            obj("pipelines", "p_top", {"activities": [execute("run_parent", "p_parent")]}),
            obj(
                "pipelines",
                "p_flow",
                {
                    "activities": [
                        {
                            "name": "flow",
                            "type": "ExecuteDataFlow",
                            "typeProperties": {"dataflow": ref("DataFlowReference", "df_transform")},
                        }
                    ]
                },
            ),
            obj("pipelines", "p_smoke", {"activities": [{"name": "wait", "type": "Wait"}]}),
            obj("triggers", "t_daily", schedule_trigger("p_top")),
            obj("triggers", "t_window_base", window_trigger("p_flow")),
            obj("triggers", "t_window", window_trigger("p_child", depends_on="t_window_base")),
            obj("triggers", "t_blob", blob_trigger("p_child")),
            obj("triggers", "t_stopped", schedule_trigger("p_flow", state="Stopped")),
        ]
    )


def live_of(source: Factory, *, states: dict[str, str] | None = None, tags: dict[str, str] | None = None) -> LiveState:
    """The live side of `source`: same objects (deep-copied), runtime states as the template marks them unless
    `states` says otherwise; event triggers that are Started have an Enabled subscription."""
    objects = {k: FactoryObject(k, copy.deepcopy(o.properties)) for k, o in source.objects.items()}
    live_factory = Factory(name="adf-staging", objects=objects, source="live")
    triggers = {}
    for k, o in objects.items():
        if k.type != "triggers":
            continue
        state = (states or {}).get(k.name, o.properties.get("runtimeState", "Stopped"))
        event = o.properties.get("type") in ("BlobEventsTrigger", "CustomEventsTrigger")
        sub = ("Enabled" if state == "Started" else "Disabled") if event else None
        triggers[k.name] = TriggerState(k.name, state, sub)
    # as deployed by promote from `source`: the record says where its secrets came from
    recorded = {k: v for k, v in secret_tags(secret_tag_values(source)).items() if v is not None}
    return LiveState(
        factory=live_factory,
        triggers=triggers,
        tags={**recorded, **(tags or {})},
        fingerprint="fp-" + str(len(objects)),
    )


def environment(
    *,
    name: str = "staging",
    stop: str = "changed",
    start: str = "previous",
    deletion: bool = True,
    protected: tuple[str, ...] = (),
    max_share: float = 0.5,
    smoke: tuple[SmokePipeline, ...] = (),
    timeout: float = 120,
) -> Environment:
    return Environment(
        name=name,
        file=f"environments/{name}.yaml",
        target=Target(
            subscription="00000000-0000-0000-0000-000000000001", resource_group="rg-data", factory="adf-staging"
        ),
        triggers=TriggerPolicy(stop=stop, start=start, subscription_timeout=timeout),  # type: ignore[arg-type]
        deletion=DeletionPolicy(enabled=deletion, protected=protected, max_share=max_share),
        smoke=smoke,
    )


SECURE = {"<secure:blob_connection>": ("blob_connection", "BLOB_CONNECTION")}


def plan_for(desired: Factory, live: LiveState, env: Environment | None = None, **kwargs: Any):
    """build_plan with the diff computed the way the command computes it (live -> desired, through the one
    desired × live comparison)."""
    kwargs.setdefault("secure_parameters", SECURE)
    env = env or environment()
    read = dataclasses.replace(live, factory=comparable_factory(live.factory))  # as promote.azure.reader reads it
    live_side, desired_side = desired_vs_live(desired, read, start=env.triggers.start)
    return build_plan(
        desired=desired,
        live=live,
        diff=explain_live(diff_factories(live_side, desired_side), read, desired),
        env=env,
        commit=kwargs.pop("commit", COMMIT),
        source="adf_publish@1a2b3c4:adf-dev",
        now=kwargs.pop("now", NOW),
        **kwargs,
    )


def without(source: Factory, *keys: str) -> Factory:
    gone = {key(k) for k in keys}
    return Factory(name=source.name, objects={k: o for k, o in source.objects.items() if k not in gone}, source="test")


def changed(source: Factory, text: str, mutate) -> Factory:
    """A copy of `source` where the object `text` has its properties changed by `mutate(properties)`."""
    k = key(text)
    props = copy.deepcopy(source.objects[k].properties)
    mutate(props)
    objects = dict(source.objects)
    objects[k] = FactoryObject(k, props)
    return Factory(name=source.name, objects=objects, source="test")


# --------------------------------------------------------------------------------------------------- checks


def test_realistic_factory_is_consistent():
    f = realistic()
    names = {(k.type, k.name) for k in f.objects}
    for o in f.objects.values():
        for r in o.references:
            assert (r.type, r.name) in names, (o.key, r)


def test_identical_live_plans_nothing_but_bookkeeping():
    f = realistic()
    plan = plan_for(f, live_of(f))
    kinds = [type(s).__name__ for s in plan.steps]
    assert kinds == ["RecordTriggers", "TagFactory"]
    assert not plan.has_changes
