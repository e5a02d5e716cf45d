"""The generated deployment templates: ADF's resource shape, pruned dependsOn, escaping, secrets, splitting,
deployment names."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from promote.errors import InputError
from promote.factory import ObjectKey
from promote.plan import Deploy, DeploymentParameter, Limits, deployment_name
from promote.plan.order import dependencies_of, key_from_resource_path
from promote.plan.template import (
    escape_string,
    generate_template,
    resource_path,
    secure_parameters_from,
    split_templates,
)
from tests.test_plan_support import NOW, environment, factory, live_of, obj, plan_for, realistic

_DEPENDS = re.compile(r"^\[concat\(variables\('factoryId'\), '/(.+)'\)\]$")
_NAME = re.compile(r"^\[concat\(parameters\('factoryName'\), '/(.+)'\)\]$")


def _names_in(template) -> set[str]:
    return {_NAME.match(r["name"]).group(1) for r in template["resources"]}


def _depends_in(resource) -> set[str]:
    return {_DEPENDS.match(d).group(1) for d in resource["dependsOn"]}


def _plan_full(**kwargs):
    return plan_for(
        realistic(), live_of(factory([obj("pipelines", "p_smoke", {})])), environment(max_share=1), **kwargs
    )


def test_resources_have_adf_shape_and_never_the_factory_itself():
    (deploy,) = _plan_full().steps_of(Deploy)
    template = deploy.template
    assert template["parameters"]["factoryName"] == {"type": "string", "defaultValue": "adf-staging"}
    assert (
        template["variables"]["factoryId"] == "[concat('Microsoft.DataFactory/factories/', parameters('factoryName'))]"
    )
    types = {r["type"] for r in template["resources"]}
    assert "Microsoft.DataFactory/factories" not in types
    assert all(t.startswith("Microsoft.DataFactory/factories/") for t in types)
    assert all(r["apiVersion"] == "2018-06-01" for r in template["resources"])
    by_name = {_NAME.match(r["name"]).group(1): r for r in template["resources"] if "Network" not in r["type"]}
    assert by_name["default"]["type"] == "Microsoft.DataFactory/factories/globalparameters"
    (mpe,) = [r for r in template["resources"] if r["type"].endswith("managedPrivateEndpoints")]
    assert _NAME.match(mpe["name"]).group(1) == "default/mpe_blob"
    assert mpe["type"] == "Microsoft.DataFactory/factories/managedVirtualNetworks/managedPrivateEndpoints"
    assert _depends_in(mpe) == {"managedVirtualNetworks/default"}
    assert _depends_in(by_name["ls_sql"]) == {"linkedServices/ls_keyvault", "integrationRuntimes/ir-selfhosted"}
    assert deploy.mode == "Incremental"


def test_depends_on_lists_only_resources_of_the_same_template():
    # ls_blob and ds_in change; the linked services they use are live already and stay out of dependsOn.
    source = realistic()
    desired = factory(
        [
            *[o for k, o in source.objects.items() if k.name not in ("ds_in",)],
            obj(
                "datasets",
                "ds_in",
                {"type": "Json", "linkedServiceName": {"referenceName": "ls_blob", "type": "LinkedServiceReference"}},
            ),
        ]
    )
    (deploy,) = plan_for(desired, live_of(source)).steps_of(Deploy)
    (resource,) = deploy.template["resources"]
    assert resource["dependsOn"] == []
    for d in _plan_full().steps_of(Deploy):
        names = {resource_path(w.key) for w in d.writes}
        for r in d.template["resources"]:
            assert _depends_in(r) <= names


def test_strings_arm_would_evaluate_are_escaped():
    o = obj(
        "pipelines",
        "p",
        {
            "activities": [
                {"name": "sp", "typeProperties": {"storedProcedureName": "[dbo].[usp_write_watermark]"}},
                {"name": "q", "typeProperties": {"columns": ["['Status']", "[test] value", "[", "[]", "a[b]"]}},
            ],
            "parameters": {"[['x']": {"type": "string"}},
        },
    )
    template = generate_template([o], {}, factory="f", secure={})
    props = template.template["resources"][0]["properties"]
    assert props["activities"][0]["typeProperties"]["storedProcedureName"] == "[[dbo].[usp_write_watermark]"
    # Only a string that starts with `[` *and* ends with `]` is an expression to ARM; the others stay as they are.
    assert props["activities"][1]["typeProperties"]["columns"] == ["[['Status']", "[test] value", "[", "[[]", "a[b]"]
    assert list(props["parameters"]) == ["[[['x']"]  # keys too, as ADF's publish does
    assert escape_string("@concat('a', 'b')") == "@concat('a', 'b')"


def test_secure_placeholders_become_secure_parameters():
    o = obj(
        "linkedServices",
        "ls",
        {
            "typeProperties": {
                "connectionString": "<secure:conn>",
                "url": "Server=x;Password=<keyvault:kv/sql-pw>;App='it''s'",
                "bracketed": "[<secure:conn>]",
            }
        },
    )
    secure = secure_parameters_from(
        {
            "<secure:conn>": ("conn", "CONN_STRING"),
            "<keyvault:kv/sql-pw>": (
                "sqlPassword",
                {
                    "keyVault": {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"},
                    "secretName": "sql-pw",
                },
            ),
        }
    )
    generated = generate_template([o], {}, factory="f", secure=secure)
    props = generated.template["resources"][0]["properties"]["typeProperties"]
    assert props["connectionString"] == "[parameters('conn')]"
    assert props["url"] == "[concat('Server=x;Password=', parameters('sqlPassword'), ';App=''it''''s''')]"
    assert props["bracketed"] == "[concat('[', parameters('conn'), ']')]"
    declared = generated.template["parameters"]
    assert declared["conn"] == {"type": "securestring"} and declared["sqlPassword"] == {"type": "securestring"}
    by_name = {p.name: p for p in generated.parameters}
    assert by_name["conn"] == DeploymentParameter("conn", env_var="CONN_STRING")
    assert by_name["sqlPassword"].keyvault["reference"]["secretName"] == "sql-pw"
    assert "<secure" not in json.dumps(generated.template) and "<keyvault" not in json.dumps(generated.template)


def test_the_plan_records_where_secrets_come_from_never_their_value():
    (deploy,) = _plan_full().steps_of(Deploy)
    assert deploy.parameters == (DeploymentParameter("blob_connection", env_var="BLOB_CONNECTION"),)
    assert deploy.template["parameters"]["blob_connection"] == {"type": "securestring"}


def test_a_placeholder_without_a_parameter_is_refused():
    with pytest.raises(InputError, match=r"secure value <secure:blob_connection> has no deployment parameter"):
        _plan_full(secure_parameters={})


def test_split_past_limits_keeps_every_dependency_in_the_same_or_an_earlier_deployment():
    for limits in (Limits(resources=3), Limits(template_bytes=2500)):
        plan = _plan_full(limits=limits)
        deploys = plan.steps_of(Deploy)
        assert len(deploys) > 1, limits
        part_of = {w.key: d.part for d in deploys for w in d.writes}
        assert set(part_of) == set(realistic().objects)
        for d in deploys:
            assert len(d.template["resources"]) <= limits.resources
            assert len(json.dumps(d.template).encode()) == d.template_bytes <= limits.template_bytes
            for w in d.writes:
                for dep in dependencies_of(realistic().objects[w.key]):
                    assert part_of[dep] <= d.part, (w.key, dep)
            earlier = {e.name for e in deploys if e.part < d.part}
            assert set(d.after) <= earlier
        assert [d.part for d in deploys] == list(range(1, len(deploys) + 1))
        assert all(d.parts == len(deploys) for d in deploys)


def test_split_by_parameters_never_exceeds_the_limit():
    objects = [obj("linkedServices", f"ls{i}", {"password": f"<secure:p{i}>"}) for i in range(5)]
    secure = {f"<secure:p{i}>": (f"p{i}", f"P{i}") for i in range(5)}
    parts = split_templates(
        objects, {}, factory="f", secure=secure_parameters_from(secure), limits=Limits(parameters=3)
    )
    assert [len(p.template["parameters"]) for p in parts] == [3, 3, 2]


def test_an_object_too_large_for_any_template_is_refused():
    with pytest.raises(InputError, match="no ARM template can hold it"):
        _plan_full(limits=Limits(template_bytes=600))


def test_deployment_names_are_unique_and_at_most_64_characters():
    plan = _plan_full(limits=Limits(resources=2))
    names = [d.name for d in plan.steps_of(Deploy)]
    assert len(set(names)) == len(names) > 1
    assert names[0] == "promote-staging-1a2b3c4-20240501123045-1"
    long_env = "a-very-long-environment-name-for-the-production-data-platform-westeurope"
    for part in (0, 1, 12, 800):
        name = deployment_name(long_env, "f" * 40, NOW, part)
        assert len(name) <= 64 and re.fullmatch(r"[-\w.()]+", name)
        assert name.endswith(f"-fffffff-20240501123045{'-' + str(part) if part else ''}")
    assert deployment_name("prod/eu west", "abc", NOW) == "promote-prod-eu-west-abc-20240501123045"
    later = deployment_name("staging", "f" * 40, NOW + timedelta(seconds=1))
    assert later != deployment_name("staging", "f" * 40, NOW)
    # A naive time is taken as UTC; an aware one is converted.
    cet = timezone(timedelta(hours=2))
    assert deployment_name("s", "abc", datetime(2024, 5, 1, 14, 30, 45, tzinfo=cet)) == deployment_name("s", "abc", NOW)


def test_resource_path_interleaves_nested_types():
    assert resource_path(ObjectKey("managedVirtualNetworks/managedPrivateEndpoints", "default/mpe")) == (
        "managedVirtualNetworks/default/managedPrivateEndpoints/mpe"
    )
    assert resource_path(ObjectKey("globalParameters", "default")) == "globalparameters/default"


def test_names_with_quotes_are_valid_expressions():
    o = obj("pipelines", "it's", {})
    dep = obj("pipelines", "o'k", {"x": {"referenceName": "it's", "type": "PipelineReference"}})
    generated = generate_template([o, dep], {dep.key: [o.key]}, factory="f", secure={})
    names = [r["name"] for r in generated.template["resources"]]
    assert names == ["[concat(parameters('factoryName'), '/it''s')]", "[concat(parameters('factoryName'), '/o''k')]"]
    assert generated.template["resources"][1]["dependsOn"] == ["[concat(variables('factoryId'), '/pipelines/it''s')]"]


def test_tags_carry_commit_and_plan_hash():
    plan = _plan_full()
    (deploy,) = plan.steps_of(Deploy)
    assert deploy.tags(plan.hash) == {"promote-commit": plan.commit, "promote-plan": plan.hash}


def test_generated_templates_evaluate_back_to_the_desired_objects():
    """Through the project's own ARM evaluator: names, values (escapes undone, secrets filled in), dependsOn."""
    from promote.arm import evaluate_template
    from promote.factory import object_key_from_arm

    tricky = obj(
        "pipelines",
        "p'q",
        {
            "activities": [
                {"name": "sp", "typeProperties": {"proc": "[dbo].[usp]", "cols": ["['a']", "[x] y", "[[z"]}}
            ],
            "description": "it's <secure:blob_connection>!",
        },
    )
    desired = factory([*realistic().objects.values(), tricky])
    plan = plan_for(desired, live_of(factory([obj("pipelines", "p_smoke", {})])), environment(max_share=1))
    seen = {}
    for deploy in plan.steps_of(Deploy):
        evaluated = evaluate_template(deploy.template, {"blob_connection": "S3CRET"}, file=deploy.name)
        here = {object_key_from_arm(r.type, r.name) for r in evaluated.resources}
        for resource in evaluated.resources:
            k = object_key_from_arm(resource.type, resource.name)
            assert resource.name == f"adf-staging/{k.name}"
            seen[k] = resource.properties
            for dep in resource.depends_on:
                assert dep.startswith("Microsoft.DataFactory/factories/adf-staging/")
                assert key_from_resource_path(dep) in here
    assert set(seen) == set(desired.objects)
    for k, o in desired.objects.items():
        expected = json.loads(json.dumps(o.properties).replace("<secure:blob_connection>", "S3CRET"))
        assert seen[k] == expected, k
