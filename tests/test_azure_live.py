"""Reading the live factory through the real SDK clients against the in-process emulator.

The central check: a factory freshly deployed from a published template reads back with NO changes against the
desired state of that template (zero false positives), for the sample and for real publishes from
../shared/reference/templates. Then the details: every collection, paging, trigger and subscription states,
tags, a missing factory, the fingerprint.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promote.azure.connection import ClientSettings, Connection, connect
from promote.azure.operations import deploy_template, ensure_factory, start_trigger
from promote.azure.reader import read_live
from promote.desired import desired_factory
from promote.diff import diff_factories
from promote.emulator import EmulatorCredential
from promote.environment import load_environment
from promote.factory import ObjectKey
from promote.loader import evaluate, open_published
from promote.normalise import SECURE_TOKEN, comparable, comparable_factory, desired_vs_live
from promote.secrets import secret_tag_values, secret_tags
from promote.source import read_path
from tests.conftest import ROOT, reference_path
from tests.emulator_fixtures import FACTORY, EmulatorHandle

SAMPLE = ROOT / "adf_publish_mirror" / "adf-ml-project"
FAST = ClientSettings(
    retry_total=0,
    retry_backoff_factor=0.01,
    retry_backoff_max=0.05,
    connection_timeout=5,
    read_timeout=30,
    call_timeout=30,
    polling_interval=0,
    backoff_initial=0.01,
    backoff_max=0.05,
    max_workers=8,
)


def connection(emulator: EmulatorHandle, factory: str = FACTORY, **changes: Any) -> Connection:
    return connect(
        subscription=emulator.subscription,
        resource_group=emulator.resource_group,
        factory=factory,
        credential=EmulatorCredential(),
        endpoint=emulator.endpoint,
        ca_file=emulator.ca_file,
        settings=dataclasses.replace(FAST, **changes),
    )


@pytest.fixture
def conn(emulator: EmulatorHandle) -> Iterator[Connection]:
    c = connection(emulator)
    yield c
    c.close()


def seed(emulator: EmulatorHandle, objects: list[dict[str, Any]], factory: str = FACTORY) -> None:
    emulator.admin(
        "POST",
        "/seed",
        json={
            "factory": factory,
            "subscriptionId": emulator.subscription,
            "resourceGroup": emulator.resource_group,
            "objects": objects,
        },
    )


def published_deployment(folder: Path, factory: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The published template as a deployment template (the factory resource left out: never PUT a factory) and
    its parameters file's values, with the factory name set and a dummy for each value the file lacks."""
    template = json.loads((folder / "ARMTemplateForFactory.json").read_bytes().decode("utf-8-sig"))
    template["resources"] = [
        r for r in template["resources"] if str(r.get("type", "")).lower() != "microsoft.datafactory/factories"
    ]
    params_file = folder / "ARMTemplateParametersForFactory.json"
    given = json.loads(params_file.read_bytes().decode("utf-8-sig"))["parameters"] if params_file.exists() else {}
    declared = template.get("parameters") or {}
    parameters = {k: v for k, v in given.items() if k in declared}
    for name, spec in declared.items():
        if name.lower() == "factoryname":
            parameters[name] = {"value": factory}
        elif name not in parameters and "defaultValue" not in spec:
            kind = str(spec.get("type", "string")).lower()
            parameters[name] = {"value": {"int": 1, "bool": False, "object": {}, "array": []}.get(kind, "dummy")}
    return template, parameters


def desired_of(folder: Path, parameters: dict[str, Any]) -> Any:
    return evaluate(open_published(read_path(folder)), {k: v.get("value") for k, v in parameters.items()})


def assert_no_changes(desired: Any, live: Any) -> None:
    """`desired` against `live` as promote compares them, the live factory recording what was deployed (here
    through a template deployed directly, so the record promote's deploy leaves is given to it)."""
    recorded = {k: v for k, v in secret_tags(secret_tag_values(desired)).items() if v}
    live = dataclasses.replace(live, tags={**live.tags, **recorded})
    live_side, desired_side = desired_vs_live(desired, live, start="previous")
    diff = diff_factories(live_side, desired_side)
    assert [(str(c.key), c.action, c.paths) for c in diff.changes] == []
    assert diff.unchanged == len(desired.objects)


# ------------------------------------------------------------------------------------- zero false positives


def test_freshly_deployed_sample_shows_no_changes(emulator: EmulatorHandle, conn: Connection) -> None:
    template, parameters = published_deployment(SAMPLE, FACTORY)
    assert ensure_factory(conn) is True
    result = deploy_template(conn, "promote-test-sample", template, parameters)
    assert result.state == "Succeeded"
    live = read_live(conn)
    assert live.exists
    assert len(live.factory.objects) == 19
    assert_no_changes(desired_of(SAMPLE, parameters), live)


def test_sample_with_the_local_environment_shows_no_changes(emulator: EmulatorHandle) -> None:
    """Secure values as they really flow: a Key Vault reference becomes `<keyvault:...>` on the desired side and
    `**********` on the live side; both are the same opaque token once comparable."""
    env = load_environment(ROOT / "environments" / "local.yaml")
    env = dataclasses.replace(env, overrides=())  # the raw published template carries no override
    published = open_published(read_path(SAMPLE))
    desired, values, _ = desired_factory(published, env)
    secure = desired.objects[ObjectKey("linkedServices", "ls_adls_mnist")].properties["typeProperties"]["accountKey"]
    assert secure["value"].startswith("<keyvault:")
    conn = connection(emulator, env.target.factory)
    try:
        ensure_factory(conn)
        template = json.loads((SAMPLE / "ARMTemplateForFactory.json").read_text())
        deploy_template(conn, "promote-test-local-env", template, values.deployment)
        live = read_live(conn)
    finally:
        conn.close()
    live_secure = live.factory.objects[ObjectKey("linkedServices", "ls_adls_mnist")].properties["typeProperties"]
    assert live_secure["accountKey"] == {"type": "SecureString", "value": SECURE_TOKEN}
    assert_no_changes(desired, live)


# Real publishes the emulator accepts, chosen for what they hold (see reference/templates/README.md).
REFERENCE_FACTORIES = [
    "bphc-tech__cib-multi-env-provisioning/46fe3698",  # managed VNet + private endpoint, flowlet data flow
    "himanshujayant-de__ShopSense-E-Commerce-Analytics-Platform/f128b172/adf",  # adfcdcs
    "leroymasongov__spokacc-adf-01/f8709f9b/ra-df-01",  # Batch custom activities, BlobEventsTriggers
    "aschalewat__ADF/44283ff1/Demo-ADF-PoC",  # CustomEventsTrigger
    "KenshoHigashi__labs-adf/14ae78c4/labs-adf-20250701",  # hand-edited functions, object metadata
    "taizawa512__adfTest01/efe02934/ADF-taizawa002",  # 232 resources
    "SuddhasattaBiswas__DataDiscovery/d69e6c04",  # secure parameters without values
    "devlace__datadevops/2173c621/ddodfdev",  # 2019 publish
]


@pytest.mark.parametrize("relative", REFERENCE_FACTORIES)
def test_freshly_deployed_reference_factory_shows_no_changes(emulator: EmulatorHandle, relative: str) -> None:
    folder = reference_path("templates", relative)
    emulator.settings(page_size=50)
    factory = "adf-ref-" + relative.split("/")[1]
    template, parameters = published_deployment(folder, factory)
    conn = connection(emulator, factory)
    try:
        ensure_factory(conn)
        deploy_template(conn, "promote-test-ref", template, parameters)
        live = read_live(conn)
    finally:
        conn.close()
    assert_no_changes(desired_of(folder, parameters), live)


def test_escaped_property_names_are_unescaped_by_a_deployment(emulator: EmulatorHandle) -> None:
    folder = reference_path("templates", "devlace__datadevops/484a59dd/ddodfdev")
    template, parameters = published_deployment(folder, "adf-ref-escaped")
    conn = connection(emulator, "adf-ref-escaped")
    try:
        ensure_factory(conn)
        deploy_template(conn, "promote-test-escaped", template, parameters)
        live = read_live(conn)
    finally:
        conn.close()
    assert_no_changes(desired_of(folder, parameters), live)


def test_a_real_change_is_still_seen(emulator: EmulatorHandle, conn: Connection) -> None:
    """The normalisation hides ADF's noise, not changes: a secure string turned Key Vault secret, an activity
    edited and a trigger deleted all show."""
    template, parameters = published_deployment(SAMPLE, FACTORY)
    ensure_factory(conn)
    deploy_template(conn, "promote-test-sample", template, parameters)
    live = read_live(conn)
    desired = desired_of(SAMPLE, parameters)
    objects = dict(desired.objects)
    ls_key = ObjectKey("linkedServices", "ls_adls_mnist")
    ls = objects[ls_key]
    secret = {
        "type": "AzureKeyVaultSecret",
        "store": {"referenceName": "ls_keyvault", "type": "LinkedServiceReference"},
    }
    objects[ls_key] = dataclasses.replace(
        ls, properties={**ls.properties, "typeProperties": {**ls.properties["typeProperties"], "accountKey": secret}}
    )
    del objects[ObjectKey("triggers", "hourly_ingest")]
    changed = dataclasses.replace(desired, objects=objects)
    diff = diff_factories(live.factory, comparable_factory(changed))
    assert {(str(c.key), c.action) for c in diff.changes} == {
        ("linkedServices/ls_adls_mnist", "update"),
        ("triggers/hourly_ingest", "delete"),
    }
    ls_change = next(c for c in diff.changes if c.key == ls_key)
    assert {"typeProperties.accountKey.type", "typeProperties.accountKey.store"} <= set(ls_change.paths)


# --------------------------------------------------------------------------------------------------- what is read


def pipeline(name: str, *refs: str) -> dict[str, Any]:
    activities = [
        {
            "name": f"copy_{ref}",
            "type": "Copy",
            "inputs": [{"referenceName": ref, "type": "DatasetReference"}],
            "typeProperties": {},
        }
        for ref in refs
    ] or [{"name": "wait", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 1}}]
    return {"type": "pipelines", "name": name, "properties": {"activities": activities}}


def schedule(name: str, pipeline_name: str) -> dict[str, Any]:
    return {
        "type": "triggers",
        "name": name,
        "properties": {
            "type": "ScheduleTrigger",
            "typeProperties": {"recurrence": {"frequency": "Hour", "interval": 1}},
            "pipelines": [{"pipelineReference": {"referenceName": pipeline_name, "type": "PipelineReference"}}],
        },
    }


def blob_trigger(name: str, pipeline_name: str) -> dict[str, Any]:
    return {
        "type": "triggers",
        "name": name,
        "properties": {
            "type": "BlobEventsTrigger",
            "typeProperties": {"events": ["Microsoft.Storage.BlobCreated"], "scope": "/subscriptions/s/storage"},
            "pipelines": [{"pipelineReference": {"referenceName": pipeline_name, "type": "PipelineReference"}}],
        },
    }


LINKED = {
    "type": "linkedServices",
    "name": "ls",
    "properties": {
        "type": "AzureBlobStorage",
        "typeProperties": {"connectionString": {"type": "SecureString", "value": "DefaultEndpointsProtocol=x"}},
    },
}
DATASET = {
    "type": "datasets",
    "name": "ds",
    "properties": {"type": "Json", "linkedServiceName": {"referenceName": "ls", "type": "LinkedServiceReference"}},
}


def test_every_collection_is_read_with_paging(emulator: EmulatorHandle, conn: Connection) -> None:
    """Page size 3 (the fixture's): every list below spans several pages and nextLinks."""
    objects: list[dict[str, Any]] = [LINKED, DATASET]
    objects += [pipeline(f"p{i:02d}", "ds") for i in range(8)]
    objects += [schedule(f"t{i}", "p00") for i in range(4)]
    objects += [
        {"type": "dataflows", "name": "df", "properties": {"type": "MappingDataFlow", "typeProperties": {}}},
        {"type": "integrationRuntimes", "name": "ir-managed", "properties": {"type": "Managed", "typeProperties": {}}},
        {"type": "managedVirtualNetworks", "name": "default", "properties": {}},
        {
            "type": "managedVirtualNetworks/managedPrivateEndpoints",
            "name": "default/mpe1",
            "properties": {"privateLinkResourceId": "/subscriptions/s/blob", "groupId": "blob"},
        },
        {"type": "globalParameters", "name": "default", "properties": {"env": {"type": "string", "value": "x"}}},
        {
            "type": "credentials",
            "name": "cred",
            "properties": {"type": "ManagedIdentity", "typeProperties": {"resourceId": "/subscriptions/s/uami"}},
        },
        {"type": "adfcdcs", "name": "cdc", "properties": {"sourceConnectionsInfo": [], "targetConnectionsInfo": []}},
    ]
    seed(emulator, objects)
    live = read_live(conn)
    assert sorted(map(str, live.factory.objects)) == sorted(f"{o['type']}/{o['name']}" for o in objects)
    mvn = live.factory.objects[ObjectKey("managedVirtualNetworks", "default")].properties
    assert "vNetId" not in mvn and "alias" not in mvn  # read-only, filled by ADF
    mpe = live.factory.objects[ObjectKey("managedVirtualNetworks/managedPrivateEndpoints", "default/mpe1")]
    assert mpe.properties == {"privateLinkResourceId": "/subscriptions/s/blob", "groupId": "blob", "fqdns": []}
    pipeline_obj = live.factory.objects[ObjectKey("pipelines", "p03")]
    assert ObjectKey("datasets", "ds") in pipeline_obj.references
    pages = emulator.requests(method="GET", path="/pipelines$")
    assert len(pages) == 3  # 8 pipelines, 3 a page, nextLink followed twice


def test_trigger_states_and_subscription_status(emulator: EmulatorHandle, conn: Connection) -> None:
    seed(emulator, [pipeline("p"), schedule("sched", "p"), schedule("idle", "p"), blob_trigger("blob", "p")])
    start_trigger(conn, "sched")
    live = read_live(conn)
    assert {n: (s.runtime_state, s.subscription_status) for n, s in live.triggers.items()} == {
        "sched": ("Started", None),
        "idle": ("Stopped", None),
        "blob": ("Stopped", "Disabled"),
    }
    # runtimeState is the plan's business, not the diff's: gone from the properties, kept in `triggers`
    assert "runtimeState" not in live.factory.objects[ObjectKey("triggers", "sched")].properties


def test_tags_are_read(emulator: EmulatorHandle, conn: Connection, adf_client: Any) -> None:
    adf_client.factories.create_or_update(
        emulator.resource_group, FACTORY, {"location": "westeurope", "tags": {"promote-commit": "abc123"}}
    )
    assert read_live(conn).tags == {"promote-commit": "abc123"}


def test_missing_factory_reads_as_not_existing(emulator: EmulatorHandle, conn: Connection) -> None:
    live = read_live(conn)
    assert live.exists is False
    assert live.factory.objects == {}
    assert live.triggers == {} and live.tags == {}
    assert live.fingerprint


def test_fingerprint_is_stable_and_changes_with_the_factory(emulator: EmulatorHandle, conn: Connection) -> None:
    seed(emulator, [pipeline("p"), schedule("t", "p")])
    first = read_live(conn).fingerprint
    assert read_live(conn).fingerprint == first
    start_trigger(conn, "t")
    started = read_live(conn).fingerprint
    assert started != first
    seed(emulator, [pipeline("q")])
    assert read_live(conn).fingerprint not in (first, started)


def test_reading_a_large_factory_is_fast(emulator: EmulatorHandle, conn: Connection) -> None:
    emulator.settings(page_size=50)
    objects = [LINKED, DATASET] + [pipeline(f"p{i:04d}", "ds") for i in range(1000)]
    objects += [schedule(f"t{i:03d}", f"p{i:04d}") for i in range(200)]
    seed(emulator, objects)
    started = time.perf_counter()
    live = read_live(conn)
    elapsed = time.perf_counter() - started
    assert len(live.factory.objects) == 1202
    assert elapsed < 5.0, f"reading 1,202 objects took {elapsed:.2f} s"


# --------------------------------------------------------------------------------------------------- normalisation


def test_comparable_maps_every_literal_secure_value_to_one_token_and_keeps_sources() -> None:
    masked = {"typeProperties": {"key": {"type": "SecureString", "value": "**********"}}}
    for desired_value in ("", "literal"):
        desired = {"typeProperties": {"key": {"type": "SecureString", "value": desired_value}}}
        assert comparable(desired, "linkedServices") == comparable(masked, "linkedServices")
    # a placeholder names where the secret comes from: kept, and compared with the deployment's record
    for desired_value in ("<secure:p from $P>", "<keyvault:kv/secret>"):
        desired = {"typeProperties": {"key": {"type": "SecureString", "value": desired_value}}}
        assert comparable(desired, "linkedServices") == desired


def test_comparable_keeps_key_vault_secrets_and_type_changes() -> None:
    vault = {"type": "AzureKeyVaultSecret", "store": {"referenceName": "kv", "type": "LinkedServiceReference"}}
    assert comparable({"k": vault}, "linkedServices") == {"k": vault}
    assert comparable({"k": {"type": "SecureString", "value": "x"}}, "linkedServices") != comparable(
        {"k": vault}, "linkedServices"
    )


def test_comparable_shares_what_it_does_not_change() -> None:
    properties = {"activities": [{"name": "a", "type": "Wait"}], "annotations": []}
    assert comparable(properties, "pipelines") is properties


def test_comparable_rules() -> None:
    assert comparable(
        {"type": "AzureBlobFS", "typeProperties": {"url": "u", "encryptedCredential": "e"}}, "linkedServices"
    ) == {
        "type": "AzureBlobFS",
        "typeProperties": {"url": "u"},
    }
    assert comparable({"env": {"type": "string", "value": "x"}}, "globalParameters") == {
        "env": {"type": "String", "value": "x"}
    }
    assert comparable({"type": "ScheduleTrigger", "runtimeState": "Started"}, "triggers") == {"type": "ScheduleTrigger"}
    assert comparable({"groupId": "blob"}, "managedVirtualNetworks/managedPrivateEndpoints") == {
        "groupId": "blob",
        "fqdns": [],
    }
