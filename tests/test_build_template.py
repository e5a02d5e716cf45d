"""Template generation: ADF's parameterization, secrets, dependsOn, escaping, the linked split and the layout."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from promote.build import build
from promote.build.definition import NO_DEFAULT, Parameter, parameterize
from promote.build.eras import era
from promote.build.jsonfmt import dumps
from promote.build.linked import PART_SIZE
from promote.errors import InputError
from promote.source import SourceFiles


def declared(template: dict, resource: dict, entity: str = "obj") -> tuple[dict, list[Parameter]]:
    found: list[Parameter] = []

    def declare(p: Parameter) -> str:
        found.append(p)
        return p.name

    return parameterize(resource, template, entity, declare), found


def test_keep_no_default_and_custom_names():
    template = {"properties": {"typeProperties": {"url": "=", "user": "-", "port": "=:thePort:int", "key": "-:-k"}}}
    resource = {"properties": {"typeProperties": {"url": "https://x", "user": "me", "port": 80, "key": "v"}}}
    out, params = declared(template, resource)
    assert out["properties"]["typeProperties"] == {
        "url": "[parameters('obj_properties_typeProperties_url')]",
        "user": "[parameters('obj_properties_typeProperties_user')]",
        "port": "[parameters('obj_properties_typeProperties_thePort')]",
        "key": "[parameters('obj_k')]",
    }
    assert [(p.name, p.type, p.default) for p in params] == [
        ("obj_properties_typeProperties_url", "string", "https://x"),
        ("obj_properties_typeProperties_user", "string", NO_DEFAULT),
        ("obj_properties_typeProperties_thePort", "int", 80),
        ("obj_k", "string", NO_DEFAULT),
    ]
    assert resource["properties"]["typeProperties"]["url"] == "https://x"  # the input is not modified


def test_types_follow_the_value_and_star_covers_one_level():
    template = {"properties": {"*": "=", "typeProperties": {"deep": {"x": "="}}}}
    resource = {"properties": {"fqdns": ["a"], "retries": 3, "flag": True, "typeProperties": {"deep": {"x": {"a": 1}}}}}
    _, params = declared(template, resource)
    assert [(p.name, p.type) for p in params] == [
        ("obj_properties_fqdns", "array"),
        ("obj_properties_retries", "int"),
        ("obj_properties_flag", "bool"),
        ("obj_properties_typeProperties_deep_x", "object"),
    ]


def test_key_vault_secrets_get_their_secret_name_parameterized():
    template = {"properties": {"typeProperties": {"connectionString": "|:-connectionString:secureString"}}}
    kv = {"type": "AzureKeyVaultSecret", "store": {"referenceName": "kv"}, "secretName": "conn"}
    out, params = declared(template, {"properties": {"typeProperties": {"connectionString": kv}}}, "ls1")
    assert out["properties"]["typeProperties"]["connectionString"]["secretName"] == (
        "[parameters('ls1_properties_typeProperties_connectionString_secretName')]"
    )
    assert [(p.name, p.type, p.default) for p in params] == [
        ("ls1_properties_typeProperties_connectionString_secretName", "string", "conn")
    ]
    out, params = declared(template, {"properties": {"typeProperties": {"connectionString": "Server=x"}}}, "ls1")
    assert [(p.name, p.type, p.has_default, p.metadata) for p in params] == [
        ("ls1_connectionString", "secureString", False, "Secure string for 'connectionString' of 'ls1'")
    ]


def test_list_elements_are_named_by_the_path_given_or_their_index():
    template = {"properties": {"pipelines": [{"parameters": {"*": "="}}, "pipelineReference.referenceName"]}}
    resource = {
        "properties": {
            "pipelines": [
                {"pipelineReference": {"referenceName": "pl_a"}, "parameters": {"day": "@trigger().startTime"}},
                {"pipelineReference": {"referenceName": "pl_b"}, "parameters": {}},
            ]
        }
    }
    _, params = declared(template, resource, "t1")
    assert [p.name for p in params] == ["t1_properties_pl_a_parameters_day"]
    _, params = declared(
        {"properties": {"activities": [{"typeProperties": {"path": "="}}]}},
        {"properties": {"activities": [{"typeProperties": {}}, {"typeProperties": {"path": "/nb"}}]}},
        "pl",
    )
    assert [p.name for p in params] == ["pl_properties_1_typeProperties_path"]


def test_a_secure_strings_value_is_named_after_its_property():
    template = {"properties": {"typeProperties": {"password": {"value": "-::secureString"}}}}
    resource = {"properties": {"typeProperties": {"password": {"type": "SecureString", "value": "**********"}}}}
    out, params = declared(template, resource, "ir1")
    assert [(p.name, p.type) for p in params] == [("ir1_properties_typeProperties_password", "secureString")]
    assert out["properties"]["typeProperties"]["password"] == {
        "type": "SecureString",
        "value": "[parameters('ir1_properties_typeProperties_password')]",
    }


LS = {"type": "SqlServer", "typeProperties": {"server": "dev-sql", "userName": "sa", "encryptedCredential": "e30="}}


def files(**objects: dict) -> SourceFiles:
    out = {"factory/f1.json": b'{"name": "f1"}'}
    for path, properties in objects.items():
        folder, name = path.split("__")
        out[f"{folder}/{name}.json"] = json.dumps({"name": name, "properties": properties}, indent="\t").encode()
    return SourceFiles("root", out)


def test_encrypted_secrets_become_secure_parameters_first():
    built = build(files(linkedService__sql1=LS))
    template = json.loads(built.files["ARMTemplateForFactory.json"])
    (resource,) = template["resources"]
    assert "encryptedCredential" not in resource["properties"]["typeProperties"]
    assert resource["properties"]["typeProperties"]["password"] == {
        "type": "SecureString",
        "value": "[parameters('sql1_password')]",
    }
    assert list(template["parameters"]) == [
        "factoryName",
        "sql1_password",
        "sql1_properties_typeProperties_server",
        "sql1_properties_typeProperties_userName",
    ]
    values = json.loads(built.files["ARMTemplateParametersForFactory.json"])["parameters"]
    assert values["sql1_password"] == {"value": ""} and values["factoryName"] == {"value": "f1"}


def test_an_unknown_type_with_an_encrypted_credential_is_warned_about():
    built = build(files(linkedService__odd={"type": "SomethingNew", "typeProperties": {"encryptedCredential": "e30="}}))
    assert any("SomethingNew" in w and "does not know which secret" in w for w in built.warnings)


@pytest.mark.parametrize("kind", [["AzureBlobStorage"], {"x": 1}, None, 5], ids=["list", "object", "null", "number"])
def test_a_linked_service_whose_type_is_not_text_builds_with_a_warning(kind):
    """Found by mutating the reference roots: a `type` that is a list crashed the build ("unhashable type",
    exit 1). Studio never saves one; a hand edit can. Its secrets cannot be known: warned about, not guessed."""
    built = build(files(linkedService__odd={"type": kind, "typeProperties": {"encryptedCredential": "e30="}}))
    assert any("'odd' (no type)" in w and "for a linked service without a type" in w for w in built.warnings)


@pytest.mark.parametrize(
    "section, template, folder",
    [
        ("Microsoft.DataFactory/factories/linkedServices", {"*": {"*": "="}}, "linkedService__sql1"),
        ("Microsoft.DataFactory/factories/pipelines", {"properties": "=::object"}, "pipeline__p1"),
        ("Microsoft.DataFactory/factories/globalparameters", {"*": "="}, None),
    ],
    ids=["linked-service", "pipeline", "global-parameters"],
)
def test_a_definition_making_the_whole_properties_one_parameter_is_bad_input(section, template, folder):
    """Found by mutating ADF's default definition: `{"*": {"*": "="}}` (every type, every top-level key) made
    a linked service's whole `properties` a parameter, and the build crashed reading its references (exit 1).
    Now exit 2, naming the definition file and the object, with what to do."""
    source = files(**({folder: LS if folder.startswith("linked") else {"activities": []}} if folder else {}))
    source.files["arm-template-parameters-definition.json"] = json.dumps({section: template}).encode()
    if folder is None:
        source.files["publish_config.json"] = b'{"publishBranch": "adf_publish", "includeGlobalParamsTemplate": true}'
        source.files["factory/f1.json"] = json.dumps(
            {"name": "f1", "properties": {"globalParameters": {"env": {"type": "string", "value": "dev"}}}}
        ).encode()
    with pytest.raises(InputError) as caught:
        build(source)
    assert caught.value.exit_code == 2
    (problem,) = caught.value.problems
    assert problem.file.endswith("arm-template-parameters-definition.json")
    assert problem.object == (
        f"{'linkedServices/sql1' if folder == 'linkedService__sql1' else 'pipelines/p1'}"
        if folder
        else "globalParameters/default"
    )
    assert "whole 'properties'" in problem.message and "typeProperties" in (problem.hint or "")


def test_depends_on_lists_references_in_document_order_once():
    pipeline = {
        "activities": [
            {
                "name": "a",
                "type": "Lookup",
                "typeProperties": {"dataset": {"referenceName": "DS2", "type": "DatasetReference"}},
            },
            {
                "name": "b",
                "type": "Copy",
                "inputs": [{"referenceName": "ds1", "type": "DatasetReference"}],
                "outputs": [{"referenceName": "ds2", "type": "DatasetReference"}],
            },
        ]
    }
    dataset = {"linkedServiceName": {"referenceName": "sql1", "type": "LinkedServiceReference"}, "type": "Json"}
    built = build(files(pipeline__p1=pipeline, dataset__ds1=dataset, dataset__ds2=dataset, linkedService__sql1=LS))
    template = json.loads(built.files["ARMTemplateForFactory.json"])
    by_name = {r["name"].split("/")[-1][:-3]: r for r in template["resources"]}
    assert by_name["p1"]["dependsOn"] == [
        "[concat(variables('factoryId'), '/datasets/ds2')]",  # spelt as its file spells it
        "[concat(variables('factoryId'), '/datasets/ds1')]",
    ]
    # ADF's resource order: pipelines, datasets, linked services; names in ordinal order
    assert [r["name"].split("/")[-1][:-3] for r in template["resources"]] == ["p1", "ds1", "ds2", "sql1"]


def test_strings_that_look_like_expressions_are_escaped():
    pipeline = {"activities": [], "description": "[not an expression]", "parameters": {"[odd]": {"type": "String"}}}
    built = build(files(pipeline__p1=pipeline))
    (resource,) = json.loads(built.files["ARMTemplateForFactory.json"])["resources"]
    assert resource["properties"]["description"] == "[[not an expression]"
    assert "[[odd]" in resource["properties"]["parameters"]


def test_linked_templates_split_in_dependency_rounds_of_twenty():
    objects = {
        f"dataset__ds{i:02d}": {
            "linkedServiceName": {"referenceName": "sql1", "type": "LinkedServiceReference"},
            "type": "Json",
        }
        for i in range(30)
    }
    built = build(files(linkedService__sql1=LS, **objects))
    master = json.loads(built.files["linkedTemplates/ArmTemplate_master.json"])
    assert [r["name"] for r in master["resources"]] == ["f1_ArmTemplate_0", "f1_ArmTemplate_1"]
    assert master["resources"][1]["dependsOn"] == [
        "[resourceId('Microsoft.Resources/deployments', 'f1_ArmTemplate_0')]"
    ]
    part0 = json.loads(built.files["linkedTemplates/ArmTemplate_0.json"])
    part1 = json.loads(built.files["linkedTemplates/ArmTemplate_1.json"])
    assert len(part0["resources"]) == PART_SIZE and len(part1["resources"]) == 11
    assert part0["resources"][0]["name"].endswith("/sql1')]")  # what the datasets depend on goes first
    assert "sql1_password" in part0["parameters"] and "sql1_password" not in part1["parameters"]
    assert list(master["resources"][0]["properties"]["parameters"]) == list(part0["parameters"])
    params = json.loads(built.files["linkedTemplates/ArmTemplateParameters_master.json"])["parameters"]
    assert params["containerUri"] == {"value": ""} and params["containerSasToken"] == {"value": ""}


def test_the_date_of_a_publish_decides_what_adf_wrote_then():
    pipeline = {"activities": []}
    now = json.loads(build(files(pipeline__p1=pipeline)).files["ARMTemplateForFactory.json"])
    assert now["resources"][0]["properties"]["policy"] == {"elapsedTimeMetric": {}}
    before = build(files(pipeline__p1=pipeline), as_of=dt.date(2019, 6, 1))
    assert "policy" not in json.loads(before.files["ARMTemplateForFactory.json"])["resources"][0]["properties"]
    assert "globalParameters/f1_GlobalParameters.json" not in before.files
    assert era(dt.date(2022, 1, 1)).pipeline_policy == {"elapsedTimeMetric": {}, "cancelAfter": {}}


def test_layout_is_adfs():
    value = {"a": [1, 2.5, 1.0, True, None, {}], "b": {"c": 'é\t"\\<>'}, "d": []}
    assert dumps(value) == json.dumps(value, indent="\t", ensure_ascii=False).replace("1.0", "1").encode()
    built = build(files(pipeline__p1={"activities": []}))
    text = built.files["ARMTemplateForFactory.json"]
    assert text.startswith(b'{\n\t"$schema": ') and not text.endswith(b"\n")
    assert b"\r" not in text and b"    " not in text


def test_an_expression_keeps_its_wrapper_and_its_text_is_the_parameter():
    template = {"properties": {"typeProperties": {"fileName": "="}}}
    resource = {"properties": {"typeProperties": {"fileName": {"value": "@item().name", "type": "Expression"}}}}
    out, params = declared(template, resource, "ds1")
    assert out["properties"]["typeProperties"]["fileName"] == {
        "value": "[parameters('ds1_properties_typeProperties_fileName')]",
        "type": "Expression",
    }
    assert [(p.name, p.type, p.default) for p in params] == [
        ("ds1_properties_typeProperties_fileName", "string", "@item().name")
    ]


def test_a_part_depends_only_on_its_own_resources_and_declares_what_it_uses():
    objects = {
        f"dataset__ds{i:02d}": {
            "linkedServiceName": {"referenceName": "sql1", "type": "LinkedServiceReference"},
            "type": "Json",
            "typeProperties": {"fileName": f"f{i}.json"},
        }
        for i in range(25)
    }
    built = build(files(linkedService__sql1=LS, **objects))
    part0 = json.loads(built.files["linkedTemplates/ArmTemplate_0.json"])
    part1 = json.loads(built.files["linkedTemplates/ArmTemplate_1.json"])
    assert all(r["dependsOn"] for r in part0["resources"][1:])  # sql1 is in part 0 with them
    assert all(r["dependsOn"] == [] for r in part1["resources"])  # in part 1 it is not: the master orders them
    # ADF's order within a part: secrets, then the definition's, each in the part's resource order
    assert list(part0["parameters"])[:5] == [
        "factoryName",
        "sql1_password",
        "sql1_properties_typeProperties_server",
        "sql1_properties_typeProperties_userName",
        "ds00_properties_typeProperties_fileName",
    ]
    assert list(part1["parameters"])[:2] == ["factoryName", "ds19_properties_typeProperties_fileName"]


def test_a_japanese_studio_writes_japanese_descriptions():
    built = build(files(linkedService__sql1=LS), language="ja")
    template = json.loads(built.files["ARMTemplateForFactory.json"])
    assert template["parameters"]["factoryName"]["metadata"] == "データ ファクトリ名"
    assert (
        template["parameters"]["sql1_password"]["metadata"] == "'sql1' の 'password' のセキュリティで保護された文字列"
    )
    assert built.texts.commit.startswith("コラボレーション ブランチのコミット ID に基づいて")
