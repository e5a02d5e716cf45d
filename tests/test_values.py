"""Values a reviewer sees: masking and abridging (promote.shown), creates' outlines (promote.outline), impact
classes (promote.impact) and the explaining pass (promote.explain), on hand-made objects and on every pair of
consecutive versions of the reference factories, with secrets planted as canaries that must never be printed."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from typing import Any

import pytest

from promote.desired import SideInput, evaluate_side
from promote.diff import Diff, diff_factories
from promote.explain import explain, referrers, renames
from promote.factory import Factory, FactoryObject, ObjectKey
from promote.impact import CLASSES, classify, counts, started_runs
from promote.outline import Fact, connection_target, outline
from promote.render import json_view, markdown, text
from promote.shown import SECRET, looks_secret, masked, shown
from promote.source import read_path
from tests.test_reference_factories import FACTORIES, folder_of

# --- promote.shown ---------------------------------------------------------------------------------------------

CANARY = "Zq8cAnArY"

SECRET_SHAPED = [
    f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={CANARY}==;EndpointSuffix=core.windows.net",
    f"Server=tcp:sql.example.net,1433;Database=db;User ID=app;Password={CANARY};",
    f"integrated security=False;data source=sql.example.net;initial catalog=db;user id=app;password={CANARY}",
    f"https://acct.blob.core.windows.net/c?sv=2021-08-06&ss=b&sp=r&se=2030-01-01&sig={CANARY}",
    f"sv=2021-08-06&sig={CANARY}",
    f"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey={CANARY}",
    f"https://user:{CANARY}@example.com/path",
    f"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.{CANARY}",
    f"-----BEGIN PRIVATE KEY-----\n{CANARY}\n-----END PRIVATE KEY-----",
]


@pytest.mark.parametrize("value", SECRET_SHAPED)
def test_secret_shaped_strings_are_masked_under_any_key(value: str) -> None:
    assert looks_secret(value)
    assert shown(value) == SECRET
    assert CANARY not in shown({"anything": value, "list": [value]})


@pytest.mark.parametrize(
    "value",
    ["/storesales-prod", "https://kv-mnist-ml-dev.vault.azure.net/", "@pipeline().parameters.x", "a=b", "SELECT 1"],
)
def test_ordinary_values_are_shown_as_json(value: str) -> None:
    assert not looks_secret(value)
    assert shown(value) == json.dumps(value)


def test_secret_keys_objects_and_placeholders_inside_compound_values() -> None:
    value = {
        "url": "https://example.com",
        "password": CANARY,
        "headers": {"Authorization": f"Bearer {CANARY}"},
        "secret": {"type": "SecureString", "value": CANARY},
        "key": {"type": "AzureKeyVaultSecret", "store": {"referenceName": "kv"}, "secretName": CANARY},
        "p": {"type": "securestring", "defaultValue": CANARY},
        "from_vault": "prefix <keyvault:kv/name> suffix",
        "numbers": [1, 2],
    }
    text_ = shown(value)
    assert CANARY not in text_
    assert masked(value) == {
        "url": "https://example.com",
        "password": SECRET,
        "headers": {"Authorization": SECRET},
        "secret": {"type": "SecureString", "value": SECRET},
        "key": {"type": "AzureKeyVaultSecret", "store": {"referenceName": SECRET}, "secretName": SECRET},
        "p": {"type": "securestring", "defaultValue": SECRET},
        "from_vault": "<secret from Key Vault kv/name>",
        "numbers": [1, 2],
    }
    assert shown(CANARY, secret=True) == SECRET and shown(42, secret=True) == SECRET


def test_long_values_keep_start_end_length_and_a_stable_digest() -> None:
    value = "SELECT " + ", ".join(f"column_{i}" for i in range(40)) + " FROM sales"
    whole = json.dumps(value)
    got = shown(value)
    digest = hashlib.sha256(whole.encode()).hexdigest()[:12]
    assert got.startswith('"SELECT column_0') and got.endswith(
        f'FROM sales" ({len(whole):,} characters, sha256 {digest})'
    )
    assert shown(value) == got  # stable
    assert len(got) < 160
    assert shown("x" * 118) == json.dumps("x" * 118)  # 120 characters with the quotes: whole


# --- promote.outline -------------------------------------------------------------------------------------------


def test_outline_of_each_kind() -> None:
    pipeline = {"activities": [{"name": "copy", "type": "Copy"}, {"name": "wait", "type": "Wait"}]}
    assert outline("pipelines", pipeline) == (Fact("activities", "copy (Copy), wait (Wait)"),)
    linked = {
        "type": "AzureSqlDatabase",
        "connectVia": {"referenceName": "ir1", "type": "IntegrationRuntimeReference"},
        "typeProperties": {
            "connectionString": f"data source=sql.example.net;initial catalog=db;user id=app;password={CANARY}",
            "password": {"type": "SecureString", "value": CANARY},
        },
    }
    assert outline("linkedServices", linked) == (
        Fact("type", "AzureSqlDatabase"),
        Fact("connects to", "connectionString data source=sql.example.net; initial catalog=db"),
        Fact("through integration runtime", "ir1"),
    )
    trigger = {
        "type": "ScheduleTrigger",
        "runtimeState": "Started",
        "pipelines": [{"pipelineReference": {"referenceName": "p1", "type": "PipelineReference"}}],
        "typeProperties": {
            "recurrence": {"frequency": "Day", "interval": 1, "startTime": "2024-01-01T00:00:00Z", "timeZone": "UTC"}
        },
    }
    assert outline("triggers", trigger) == (
        Fact("type", "ScheduleTrigger"),
        Fact("recurrence", "every 1 Day from 2024-01-01T00:00:00Z (UTC)"),
        Fact("runtimeState", "Started"),
        Fact("pipelines", "p1"),
    )
    dataset = {"type": "Json", "linkedServiceName": {"referenceName": "blob", "type": "LinkedServiceReference"}}
    assert outline("datasets", dataset) == (Fact("type", "Json"), Fact("linked service", "blob"))
    assert outline("pipelines", None) == ()


def test_connection_target_keeps_only_target_parts() -> None:
    assert connection_target(SECRET_SHAPED[0]) == (
        "DefaultEndpointsProtocol=https; AccountName=acct; EndpointSuffix=core.windows.net"
    )
    assert connection_target("Server=<secure:x>;Database=db") == ""
    assert CANARY not in connection_target(SECRET_SHAPED[1])


# --- promote.impact and promote.explain ------------------------------------------------------------------------


def factory(objects: dict[str, Any]) -> Factory:
    built = {}
    for path, properties in objects.items():
        type_, name = path.split("/", 1) if not path.startswith("managedVirtualNetworks/") else path.rsplit("/", 1)
        if path.startswith("managedVirtualNetworks/managedPrivateEndpoints/"):
            type_, name = "managedVirtualNetworks/managedPrivateEndpoints", path.split("/", 2)[2]
        key = ObjectKey(type_, name)
        built[key] = FactoryObject(key=key, properties=properties)
    return Factory(name="adf", objects=built)


def ref(kind: str, name: str) -> dict[str, str]:
    return {"referenceName": name, "type": kind}


def lookup(dataset: str) -> dict[str, Any]:
    """A pipeline whose one activity reads `dataset`."""
    typed = {"dataset": ref("DatasetReference", dataset)}
    return {"activities": [{"name": "a", "type": "Lookup", "typeProperties": typed}]}


def trigger_of(*pipelines: str, state: str = "Started") -> dict[str, Any]:
    return {
        "type": "ScheduleTrigger",
        "runtimeState": state,
        "pipelines": [{"pipelineReference": ref("PipelineReference", p)} for p in pipelines],
    }


def by_name(diff: Diff) -> dict[str, tuple[str, ...]]:
    return {str(c.key): c.impact for c in diff.changes}


def test_every_class_by_its_rule() -> None:
    child = {"activities": [{"name": "w", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 1}}]}
    parent = {
        "activities": [
            {
                "name": "run",
                "type": "ExecutePipeline",
                "typeProperties": {"pipeline": ref("PipelineReference", "child")},
            }
        ]
    }
    before = factory(
        {
            "integrationRuntimes/ir": {"type": "Managed"},
            "linkedServices/blob": {"type": "AzureBlobStorage", "typeProperties": {"url": "https://a"}},
            "linkedServices/sql": {"type": "AzureSqlDatabase", "description": "a"},
            "datasets/old": {"type": "Json", "linkedServiceName": ref("LinkedServiceReference", "blob")},
            "pipelines/parent": parent,
            "pipelines/child": child,
            "pipelines/params": {"parameters": {"p": {"type": "string", "defaultValue": "a"}}, "activities": []},
            "pipelines/other": {"activities": [], "description": "a"},
            "pipelines/gone": {
                "activities": [
                    {"name": "x", "type": "Lookup", "typeProperties": {"dataset": ref("DatasetReference", "old")}}
                ]
            },
            "triggers/t": trigger_of("parent"),
            "globalParameters/default": {"env": {"type": "String", "value": "dev"}},
        }
    )
    changed_child = copy.deepcopy(child)
    changed_child["activities"][0]["typeProperties"]["waitTimeInSeconds"] = 2
    after = factory(
        {
            "integrationRuntimes/ir": {"type": "Managed", "description": "x"},
            "linkedServices/blob": {"type": "AzureBlobStorage", "typeProperties": {"url": "https://b"}},
            "linkedServices/sql": {"type": "AzureSqlDatabase", "description": "b"},
            "datasets/new": {"type": "Json", "linkedServiceName": ref("LinkedServiceReference", "blob")},
            "pipelines/parent": parent,
            "pipelines/child": changed_child,
            "pipelines/params": {"parameters": {"p": {"type": "string", "defaultValue": "b"}}, "activities": []},
            "pipelines/other": {"activities": [], "description": "b"},
            "triggers/t": trigger_of("parent"),
            "globalParameters/default": {"env": {"type": "String", "value": "prod"}},
        }
    )
    runs = started_runs(["T"], [before.objects, after.objects])
    assert runs == {"parent", "child"}  # the trigger's pipeline and, through Execute Pipeline, its child
    diff = explain(diff_factories(before, after), runs_started=runs)
    assert by_name(diff) == {
        "integrationRuntimes/ir": ("infrastructure",),
        "linkedServices/blob": ("infrastructure",),
        "linkedServices/sql": ("content",),  # a description is not its connection
        "datasets/new": ("destructive",),  # a rename of datasets/old: same properties
        "datasets/old": ("destructive",),
        "pipelines/child": ("trigger-affecting",),
        "pipelines/gone": ("destructive",),
        "pipelines/other": ("content",),
        "pipelines/params": ("parameter-only",),
        "globalParameters/default": ("parameter-only",),
    }
    assert diff.impact == {
        "destructive": 3,
        "trigger-affecting": 1,
        "infrastructure": 2,
        "parameter-only": 2,
        "content": 2,
    }
    changes = {str(c.key): c for c in diff.changes}
    assert changes["datasets/old"].rename == "datasets/new" and changes["datasets/new"].rename == "datasets/old"
    # without a live factory, referrers come from the old side of what changed
    assert changes["datasets/old"].referrers == ("pipelines/gone",)
    # a diff of versions has no started trigger: the child is content there
    plain = explain(diff_factories(before, after))
    assert by_name(plain)["pipelines/child"] == ("content",)


def test_trigger_changes_and_deletes_combine_classes() -> None:
    before = factory({"triggers/t": trigger_of("p"), "linkedServices/ls": {"type": "AzureBlobStorage"}})
    after = factory({"triggers/t": trigger_of("p", state="Stopped")})
    diff = explain(diff_factories(before, after))
    assert by_name(diff) == {
        "linkedServices/ls": ("destructive", "infrastructure"),
        "triggers/t": ("trigger-affecting",),
    }
    assert counts(c.impact for c in diff.changes)["destructive"] == 1
    assert list(diff.impact or {}) == list(CLASSES)


def test_a_case_only_rename_is_an_update_not_destructive() -> None:
    before = factory({"pipelines/Load": {"activities": []}})
    after = factory({"pipelines/load": {"activities": []}})
    [change] = explain(diff_factories(before, after)).changes
    assert change.action == "update" and change.impact == ("content",) and change.rename is None
    assert classify(change) == ("content",)


def test_referrers_in_the_live_factory_and_renames_pair_one_to_one() -> None:
    live = factory(
        {
            "datasets/d": {"type": "Json"},
            "pipelines/p1": {
                "activities": [
                    {"name": "a", "type": "Lookup", "typeProperties": {"dataset": ref("DatasetReference", "D")}}
                ]
            },
            "pipelines/p2": {
                "activities": [
                    {"name": "a", "type": "Lookup", "typeProperties": {"dataset": ref("DatasetReference", "d")}}
                ]
            },
        }
    )
    assert referrers([ObjectKey("datasets", "d")], live.objects) == {
        ObjectKey("datasets", "d"): [ObjectKey("pipelines", "p1"), ObjectKey("pipelines", "p2")]
    }
    assert referrers([], live.objects) == {}
    twins = factory({"datasets/a": {"type": "Json"}, "datasets/b": {"type": "Json"}})
    renamed = factory({"datasets/c": {"type": "Json"}})
    pairs = renames(diff_factories(twins, renamed).changes)
    assert pairs == {
        ObjectKey("datasets", "c"): ObjectKey("datasets", "a"),
        ObjectKey("datasets", "a"): ObjectKey("datasets", "c"),
    }


def test_views_show_impact_outline_referrers_and_rename() -> None:
    live = factory(
        {
            "datasets/d": {"type": "Json", "linkedServiceName": ref("LinkedServiceReference", "ls")},
            "pipelines/p": {
                "activities": [
                    {"name": "a", "type": "Lookup", "typeProperties": {"dataset": ref("DatasetReference", "d")}}
                ]
            },
        }
    )
    desired = factory(
        {"pipelines/p": {"activities": [{"name": "a", "type": "Wait"}]}, "pipelines/q": {"activities": []}}
    )
    diff = explain(diff_factories(live, desired), referrers_in=live.objects)
    out = text.render_diff(diff)
    assert "Impact: 1 destructive, 0 trigger-affecting, 0 infrastructure, 0 parameter-only, 2 content." in out
    assert "  - datasets/d [destructive] (referenced by pipelines/p)" in out
    assert "      linked service: ls" in out
    assert "  + pipelines/q [content]" in out
    md = markdown.render_diff(diff)
    assert "| destructive | trigger-affecting | infrastructure | parameter-only | content |" in md
    assert "| 1 | 0 | 0 | 0 | 2 |" in md
    assert "<details><summary>- datasets/d [destructive] (referenced by pipelines/p)</summary>" in md
    doc = json.loads(json_view.render_diff(diff))
    assert doc["impact"]["destructive"] == 1
    gone = next(c for c in doc["changes"] if c["name"] == "d")
    assert gone["referenced_by"] == ["pipelines/p"] and gone["outline"] == {"type": "Json", "linked service": "ls"}


# --- every reference history, with canaries planted --------------------------------------------------------------


def _plant(factory_: Factory) -> Factory:
    """The factory with a secret planted in every linked service, pipeline and dataset, in every form a template
    can hold one: under secret keys, in secure objects and parameters, and as secret-shaped text under keys that
    say nothing."""
    objects = {}
    for key, obj in factory_.objects.items():
        properties = copy.deepcopy(obj.properties)
        if key.type in ("linkedServices", "datasets", "pipelines"):
            tp = properties.setdefault("typeProperties", {})
            if isinstance(tp, dict):
                tp["connectionString"] = SECRET_SHAPED[0]
                tp["password"] = {"type": "SecureString", "value": CANARY}
                tp["plainLooking"] = SECRET_SHAPED[2]
                tp["sasUri"] = SECRET_SHAPED[3]
                tp["nested"] = {"headers": {"Authorization": CANARY}, "url": SECRET_SHAPED[6]}
            parameters = properties.setdefault("parameters", {})
            if isinstance(parameters, dict):
                parameters["planted"] = {"type": "securestring", "defaultValue": CANARY}
        objects[key] = FactoryObject(key=key, properties=properties)
    return Factory(name=factory_.name, objects=objects)


@pytest.mark.parametrize("name", [name for name, v in FACTORIES if len(v) > 1] or ["none"])
def test_reference_histories_render_values_and_never_a_planted_secret(name: str) -> None:
    entries = dict(FACTORIES).get(name) or pytest.skip("reference templates absent")
    sides = []
    for entry in entries:
        try:
            sides.append(evaluate_side(SideInput("v", read_path(folder_of(entry)), None, None)).factory)
        except Exception:  # the few templates a workflow rewrote do not evaluate (test_reference_factories)
            continue
    shown_values = 0
    for old, new in itertools.pairwise(sides):
        for before, after in ((old, _plant(new)), (_plant(old), new), (_plant(old), _plant(new))):
            diff = explain(diff_factories(before, after), referrers_in=before.objects)
            assert diff.impact is not None and sum(diff.impact.values()) >= len(diff.changes)
            for view in (text, markdown, json_view):
                out = view.render_diff(diff)
                assert CANARY not in out, (name, view.__name__)
            shown_values += sum(d.after is not None for c in diff.changes for d in c.details)
    assert shown_values > 0  # the histories do show values


def test_values_names_and_outlines_stay_inert_in_every_view() -> None:
    hostile = "x\n::error::pwned \x1b[31mred\u202e ##[group]g"
    before = factory({"pipelines/p": {"description": "a"}, "datasets/d": {"type": "Json"}})
    after = factory(
        {
            "pipelines/p": {"description": hostile},
            "pipelines/q": {"activities": [{"name": hostile, "type": hostile}]},
        }
    )
    diff = explain(diff_factories(before, after), referrers_in=before.objects)
    for view in (text, markdown):  # JSON keeps the text as it is; the command's output stream escapes it
        out = view.render_diff(diff)
        assert "\x1b" not in out and "\u202e" not in out and "##[group]" not in out
        assert not any(line.lstrip().startswith("::") for line in out.splitlines())


def test_the_confirm_setting_takes_impact_classes_and_names_a_typo(tmp_path: Any) -> None:
    from promote.environment import load_environment
    from promote.errors import EnvironmentFileError

    target = "target: {subscription: s, resource_group: rg, factory: adf-prod, endpoint: local}\n"
    good = tmp_path / "production.yaml"
    good.write_text(target + "confirm: [destructive, infrastructure, destructive]\n")
    assert load_environment(good).confirm == ("destructive", "infrastructure")
    bad = tmp_path / "staging.yaml"
    bad.write_text(target + "confirm: [destructve]\n")
    with pytest.raises(EnvironmentFileError) as caught:
        load_environment(bad)
    assert "confirm[0]: unknown impact class 'destructve' (did you mean 'destructive'?)" in str(caught.value)


def test_the_pull_request_preview_shows_the_same_values_impact_and_outlines() -> None:
    from promote.render.preview import Preview, render_preview

    before = factory({"pipelines/p": {"parameters": {"x": {"type": "string", "defaultValue": "/a"}}}})
    after = factory(
        {
            "pipelines/p": {"parameters": {"x": {"type": "string", "defaultValue": "/b"}}},
            "linkedServices/ls": {"type": "AzureSqlDatabase", "typeProperties": {"connectionString": SECRET_SHAPED[1]}},
        }
    )
    diff = explain(diff_factories(before, after))
    body = render_preview(Preview("abc", "staging", None, json.loads(json_view.render_diff(diff))))
    assert "| destructive | trigger-affecting | infrastructure | parameter-only | content |" in body
    assert "| 0 | 0 | 1 | 1 | 0 |" in body
    assert "- `~ pipelines/p` (parameter-only): `parameters.x.defaultValue`" in body
    assert '  - `~ parameters.x.defaultValue: "/a" -> "/b"`' in body
    assert "- `+ linkedServices/ls` (infrastructure)" in body and "  - `type: AzureSqlDatabase`" in body
    assert CANARY not in body
