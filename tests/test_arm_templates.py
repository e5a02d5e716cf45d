"""Whole templates: reading the JSON, parameters, variables, resources, errors, and every reference template."""

from __future__ import annotations

import codecs
import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from promote.arm import DeploymentContext, EvaluatedTemplate, evaluate_template, parse_template
from promote.arm.expressions import is_expression
from promote.errors import InputError, TemplateError
from tests.conftest import REFERENCE, reference_path

FILE = "factory/ARMTemplateForFactory.json"


def template(
    resources: list[dict] | None = None, parameters: dict | None = None, variables: dict | None = None
) -> dict:
    return {
        "$schema": "http://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {"factoryName": {"type": "string", "metadata": "Data Factory name"}, **(parameters or {})},
        "variables": {
            "factoryId": "[concat('Microsoft.DataFactory/factories/', parameters('factoryName'))]",
            **(variables or {}),
        },
        "resources": resources or [],
    }


def pipeline(short: str, properties: Any = None, **extra: Any) -> dict:
    resource = {
        "name": f"[concat(parameters('factoryName'), '/{short}')]",
        "type": "Microsoft.DataFactory/factories/pipelines",
        "apiVersion": "2018-06-01",
        "properties": {"activities": []} if properties is None else properties,
        "dependsOn": [],
    }
    resource.update(extra)
    return resource


def evaluate(tpl: dict, values: dict[str, Any] | None = None, **kwargs: Any) -> EvaluatedTemplate:
    return evaluate_template(tpl, {"factoryName": "adf-dev", **(values or {})}, file=FILE, **kwargs)


def template_error(tpl: dict, values: dict[str, Any] | None = None) -> TemplateError:
    with pytest.raises(TemplateError) as info:
        evaluate(tpl, values)
    return info.value


# -- parse_template -------------------------------------------------------------------------------------------

DOC = {"resources": [], "parameters": {"name": {"type": "string", "defaultValue": "café ü"}}}


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.encode("utf-8"),
        lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
        lambda text: text.encode("utf-16"),  # with its BOM
        lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
        lambda text: text,
        lambda text: "\ufeff" + text,
    ],
    ids=["utf8", "utf8-bom", "utf16-le-bom", "utf16-be-bom", "str", "str-bom"],
)
def test_parse_template_encodings(encode: Any) -> None:
    assert parse_template(encode(json.dumps(DOC, ensure_ascii=False)), FILE) == DOC


def test_parse_template_bad_json_names_file_line_and_column() -> None:
    with pytest.raises(TemplateError) as info:
        parse_template('{\n  "resources": [\n    {"name": "a",}\n  ]\n}', FILE)
    (problem,) = info.value.problems
    assert problem.file == FILE
    assert problem.line == 3
    assert problem.message == "invalid JSON: Expecting property name enclosed in double quotes at line 3 column 18"
    assert problem.hint
    assert isinstance(info.value, InputError) and info.value.exit_code == 2


def test_parse_template_rejects_what_is_not_an_object() -> None:
    with pytest.raises(TemplateError, match="must be a JSON object, this file holds an array"):
        parse_template("[1, 2]", FILE)


def test_parse_template_rejects_undecodable_bytes() -> None:
    with pytest.raises(TemplateError, match="cannot decode") as info:
        parse_template(b'{\n"a": "\xff\xfe\xfd"}', FILE)
    assert info.value.problems[0].line == 2


def test_parse_template_leaves_missing_resources_to_the_loader() -> None:
    assert parse_template("{}", FILE) == {}
    result = evaluate_template({}, {}, file=FILE)
    assert result.resources == [] and result.parameters == {}


# -- parameters -----------------------------------------------------------------------------------------------


def test_parameters_defaults_types_and_metadata() -> None:
    tpl = template(
        parameters={
            "Region": {"type": "String", "defaultValue": "westeurope"},
            "url": {"type": "string", "defaultValue": "[concat('https://', parameters('factoryName'), '.example')]"},
            "secret": {"type": "secureString"},
            "count": {"type": "int", "defaultValue": 3},
            "size": {"type": "number"},
            "described": {"type": "string", "defaultValue": "", "metadata": {"description": "説明"}},
        }
    )
    result = evaluate(tpl, {"secret": "s3cret", "size": "7", "count": None, "undeclared": "ignored"})
    specs = result.parameters
    assert list(specs) == ["factoryName", "Region", "url", "secret", "count", "size", "described"]
    assert specs["Region"].type == "string"
    assert specs["secret"].type == "securestring" and specs["secret"].secure
    assert not specs["secret"].has_default and specs["secret"].default is None
    assert specs["url"].has_default and specs["url"].default == "https://adf-dev.example"
    assert specs["described"].metadata == {"description": "説明"}
    assert specs["factoryName"].metadata == "Data Factory name"
    assert result.parameter_values == {
        "factoryName": "adf-dev",
        "Region": "westeurope",
        "url": "https://adf-dev.example",
        "secret": "s3cret",
        "count": 3,  # None counts as not given: the default applies
        "size": 7,  # a hand-edited `number` is treated as int; "7" converts
        "described": "",
    }
    assert "undeclared" not in result.parameter_values


def test_given_values_win_over_defaults_and_are_case_insensitive() -> None:
    tpl = template(parameters={"region": {"type": "string", "defaultValue": "a"}})
    assert evaluate(tpl, {"REGION": "b"}).parameter_values["region"] == "b"


def test_every_missing_required_parameter_is_reported() -> None:
    tpl = template(
        parameters={"a": {"type": "securestring"}, "b": {"type": "int"}, "c": {"type": "string", "defaultValue": ""}}
    )
    error = template_error(tpl)
    assert [p.object for p in error.problems] == ["parameters.a", "parameters.b"]
    assert error.problems[0].message == "required parameter 'a' has no value"
    assert "parameters file" in (error.problems[0].hint or "")
    assert all(p.file == FILE for p in error.problems)


@pytest.mark.parametrize(
    ("declared", "given", "message"),
    [
        ("int", "five", "parameter 'p' expects an int, got 'five'"),
        ("int", True, "expects an int, got a bool"),
        ("bool", "yes", "expects a bool"),
        ("string", ["a"], "expects a string, got an array"),
        ("object", "x", "expects an object, got a string"),
        ("array", "x", "expects an array, got a string"),
    ],
)
def test_given_values_that_do_not_convert(declared: str, given: Any, message: str) -> None:
    error = template_error(template(parameters={"p": {"type": declared}}), {"p": given})
    assert message in error.problems[0].message
    assert error.problems[0].object == "parameters.p"


@pytest.mark.parametrize(
    ("declared", "given", "expected"),
    [("int", "5", 5), ("int", 5.0, 5), ("bool", "True", True), ("string", 8080, "8080"), ("array", [], [])],
)
def test_cheap_conversions(declared: str, given: Any, expected: Any) -> None:
    value = evaluate(template(parameters={"p": {"type": declared}}), {"p": given}).parameter_values["p"]
    assert value == expected and type(value) is type(expected)


def test_unknown_parameter_type_is_an_error() -> None:
    error = template_error(template(parameters={"p": {"type": "float", "defaultValue": 1}}))
    assert "unknown type 'float'" in error.problems[0].message


def test_parameter_default_cycle_is_named() -> None:
    tpl = template(
        parameters={
            "a": {"type": "string", "defaultValue": "[parameters('b')]"},
            "b": {"type": "string", "defaultValue": "[concat(parameters('a'), 'x')]"},
        }
    )
    error = template_error(tpl)
    assert "circular reference: parameters('a') -> parameters('b') -> parameters('a')" in str(error)


# -- variables ------------------------------------------------------------------------------------------------


def test_variables_are_evaluated_recursively_and_lazily() -> None:
    tpl = template(
        variables={
            "names": {"list": ["[variables('factoryId')]", "[[literal]"], "n": "[length(variables('factoryId'))]"},
            "Upper": "[toUpper(parameters('factoryName'))]",
        }
    )
    result = evaluate(tpl)
    assert result.variables == {
        "factoryId": "Microsoft.DataFactory/factories/adf-dev",
        "names": {"list": ["Microsoft.DataFactory/factories/adf-dev", "[literal]"], "n": 39},
        "Upper": "ADF-DEV",
    }


def test_variable_cycle_names_the_cycle() -> None:
    tpl = template(variables={"a": "[variables('b')]", "b": "[concat(variables('c'), '')]", "c": "[variables('A')]"})
    error = template_error(tpl)
    (problem,) = error.problems
    assert "circular reference: variables('a') -> variables('b') -> variables('c') -> variables('a')" in problem.message
    assert problem.object == "variables.a"


def test_error_inside_a_variable_names_the_variable() -> None:
    tpl = template(variables={"bad": {"deep": ["[listKeys('x', '2020-01-01')]"]}}, resources=[pipeline("p1")])
    (problem,) = template_error(tpl).problems
    assert problem.object == "variables.bad"
    assert problem.file == FILE
    assert problem.message.startswith("deep[0]: unsupported function 'listKeys'")
    assert "[listKeys('x', '2020-01-01')]" in problem.message


def test_variable_copy_loops_are_refused() -> None:
    tpl = template(variables={"copy": [{"name": "x", "count": 2, "input": "[copyIndex('x')]"}]})
    assert "variable copy loops are not supported" in str(template_error(tpl))


# -- resources ------------------------------------------------------------------------------------------------


def test_resource_fields() -> None:
    tpl = template(
        parameters={"irName": {"type": "string", "defaultValue": "ir1"}},
        resources=[
            pipeline(
                "p1", dependsOn=["[concat(variables('factoryId'), '/integrationRuntimes/', parameters('irName'))]"]
            ),
            {
                "name": "[concat(parameters('factoryName'), '/ls1')]",
                "type": "Microsoft.DataFactory/factories/linkedServices",
                "apiVersion": "2018-06-01",
                "properties": {"type": "AzureBlobFS", "typeProperties": {"url": "[[not-an-expression]"}},
                "location": "[resourceGroup().location]",
                "tags": {"env": "[parameters('factoryName')]"},
            },
        ],
    )
    first, second = evaluate(tpl, context=DeploymentContext(location="northeurope")).resources
    assert first.name == "adf-dev/p1" and first.index == 0
    assert first.type == "Microsoft.DataFactory/factories/pipelines" and first.api_version == "2018-06-01"
    assert first.depends_on == ["Microsoft.DataFactory/factories/adf-dev/integrationRuntimes/ir1"]
    assert first.other == {}
    assert first.name_as_written == "[concat(parameters('factoryName'), '/p1')]"
    assert second.depends_on == []  # no dependsOn at all
    assert second.properties == {"type": "AzureBlobFS", "typeProperties": {"url": "[not-an-expression]"}}
    assert second.other == {"location": "northeurope", "tags": {"env": "adf-dev"}}
    assert second.index == 1


def test_property_names_are_never_evaluated_nor_unescaped() -> None:
    tpl = template(resources=[pipeline("p1", {"[[':@col']": "[concat('[', '''', ':@col'']')]", "[x]": "y"})])
    (resource,) = evaluate(tpl).resources
    assert resource.properties == {"[[':@col']": "[':@col']", "[x]": "y"}


def test_unchanged_subtrees_are_shared_and_the_template_is_untouched() -> None:
    literal = {"activities": [{"name": "a", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 1}}]}
    mixed = {"static": {"deep": ["x", {"y": 1}]}, "dynamic": {"url": "[parameters('factoryName')]"}}
    tpl = template(resources=[pipeline("p1", literal), pipeline("p2", mixed)])
    before = copy.deepcopy(tpl)
    one, two = evaluate(tpl).resources
    assert one.properties is literal  # nothing to evaluate: the same object, no copy
    assert two.properties is not mixed
    assert two.properties["static"] is mixed["static"]  # untouched sibling shared
    assert two.properties["dynamic"] == {"url": "adf-dev"}
    assert tpl == before  # evaluation never writes into the template


def test_condition_false_skips_the_resource() -> None:
    tpl = template(
        parameters={"deploy": {"type": "bool", "defaultValue": False}},
        resources=[pipeline("p1", condition="[parameters('deploy')]"), pipeline("p2")],
    )
    assert [r.name for r in evaluate(tpl).resources] == ["adf-dev/p2"]
    assert [r.index for r in evaluate(tpl, {"deploy": True}).resources] == [0, 1]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"copy": {"name": "loop", "count": 2}}, "copy loops are not supported"),
        ({"resources": [pipeline("child")]}, "nested resources are not supported"),
        ({"dependsOn": "[variables('factoryId')]"}, "'dependsOn' must be an array"),
        ({"dependsOn": [{"a": 1}]}, "dependsOn[0] must be a string"),
        ({"name": 5}, "'name' must be a string, found a number"),
        ({"apiVersion": None}, "'apiVersion' must be a string, found null"),
    ],
)
def test_resource_shape_errors(extra: dict, message: str) -> None:
    tpl = template(resources=[pipeline("p1", **extra)])
    (problem,) = template_error(tpl).problems
    assert message in problem.message
    assert problem.file == FILE


def test_unsupported_function_names_file_object_path_and_function() -> None:
    resource = pipeline("ls1", {"typeProperties": {"connectionString": "[listKeys('sa', '2019-06-01').keys[0]]"}})
    (problem,) = template_error(template(resources=[pipeline("p0"), resource])).problems
    assert problem.file == FILE
    assert problem.object == "[concat(parameters('factoryName'), '/ls1')]"  # the resource name as written
    assert problem.message.startswith("properties.typeProperties.connectionString: unsupported function 'listKeys'")
    assert "[listKeys('sa', '2019-06-01').keys[0]]" in problem.message
    assert problem.render().startswith(f"{FILE}: [concat(parameters('factoryName'), '/ls1')]: properties.")


def test_syntax_error_in_a_resource_name() -> None:
    tpl = template(resources=[pipeline("p1", name="[concat(parameters(factoryName), '/p1')]")])
    (problem,) = template_error(tpl).problems
    assert problem.object == "[concat(parameters(factoryName), '/p1')]"
    assert problem.message.startswith("name: expected '(' after 'factoryName' at position 19")
    assert problem.message.endswith("in \"[concat(parameters(factoryName), '/p1')]\"")


def test_unsupported_function_in_a_parameter_default_names_the_parameter() -> None:
    tpl = template(parameters={"stamp": {"type": "string", "defaultValue": "[utcNow()]"}})
    (problem,) = template_error(tpl).problems
    assert problem.object == "parameters.stamp"
    assert problem.message.startswith("defaultValue: unsupported function 'utcNow': it is not deterministic")
    assert problem.file == FILE


def test_undeclared_parameter_in_a_list_names_the_index() -> None:
    tpl = template(resources=[pipeline("p1", {"activities": [{"name": "ok"}, {"name": "[parameters('nope')]"}]})])
    (problem,) = template_error(tpl).problems
    assert problem.message.startswith("properties.activities[1].name: parameter 'nope' is not declared")


def test_resources_must_be_a_list() -> None:
    tpl = template()
    tpl["resources"] = {"symbolic": {}}
    assert "'resources' must be an array" in str(template_error(tpl))


def test_deployment_context_reaches_resource_ids() -> None:
    tpl = template(
        resources=[
            {
                "name": "[concat(parameters('factoryName'), '_ArmTemplate_1')]",
                "type": "Microsoft.Resources/deployments",
                "apiVersion": "2018-02-01",
                "properties": {"mode": "incremental"},
                "dependsOn": ["[resourceId('Microsoft.Resources/deployments', 'adf-dev_ArmTemplate_0')]"],
            }
        ]
    )
    context = DeploymentContext(subscription_id="s1", resource_group="rg-prod")
    (resource,) = evaluate(tpl, context=context).resources
    assert resource.depends_on == [
        "/subscriptions/s1/resourceGroups/rg-prod/providers/Microsoft.Resources/deployments/adf-dev_ArmTemplate_0"
    ]


# -- every reference template ---------------------------------------------------------------------------------

TEMPLATES = REFERENCE / "templates"

# Root-level copies that a GitHub workflow (modify-arm.yml) rewrote, stripping the quotes from one expression;
# ARM rejects them too, so the right outcome is a clear syntax error (README.md of the corpus notes the workflow).
_STRIPPED = "[concat(parameters(factoryName), /SHIR01-RUN01)]"
BROKEN = {
    "Tara-Morovatdar__KNAUF_RNA_LAB/c954a560/ARMTemplateForFactory.json": _STRIPPED,
    "Tara-Morovatdar__KNAUF_RNA_LAB/dab77185/ARMTemplateForFactory.json": _STRIPPED,
}


def _reference_templates() -> list[str]:
    if not TEMPLATES.is_dir():
        return ["<reference material absent>"]
    found = sorted(TEMPLATES.rglob("ARMTemplateForFactory.json")) + sorted(TEMPLATES.rglob("ArmTemplate_*.json"))
    return [p.relative_to(TEMPLATES).as_posix() for p in found]


def _parameter_values(template_path: Path) -> dict[str, Any]:
    """The values published beside the template (what a deployment of the development factory would use)."""
    beside = (
        "ARMTemplateParametersForFactory.json"
        if template_path.name.startswith("ARM")
        else "ArmTemplateParameters_master.json"
    )
    path = template_path.parent / beside
    if not path.exists():
        return {}
    entries = parse_template(path.read_bytes(), str(path))["parameters"]
    return {name: entry.get("value", f"<keyvault reference {name}>") for name, entry in entries.items()}


def _values_for(tpl: dict, template_path: Path) -> dict[str, Any]:
    values = _parameter_values(template_path)
    if template_path.name == "ArmTemplate_master.json":
        values.update(containerUri="https://storage.example/adf/linkedTemplates", containerSasToken="?sv=test")
    # ADF leaves secure strings out of what it publishes, and two folders have no parameters file at all:
    # an environment would supply these, so the test does.
    for name, spec in tpl.get("parameters", {}).items():
        if "defaultValue" not in spec and values.get(name) is None:
            values[name] = f"<value of {name}>"
    return values


def _assert_fully_evaluated(raw: Any, evaluated: Any, where: str) -> None:
    """Walk raw and evaluated side by side: expressions replaced, escapes unescaped, all else the same object."""
    if isinstance(raw, str):
        if is_expression(raw):
            assert not (isinstance(evaluated, str) and evaluated == raw), f"{where}: left unevaluated"
        elif raw.startswith("[[") and raw.endswith("]"):
            assert evaluated == raw[1:], f"{where}: escape not removed"
        else:
            assert evaluated is raw, f"{where}: a literal changed or was copied"
    elif isinstance(raw, dict):
        assert isinstance(evaluated, dict) and list(evaluated) == list(raw), f"{where}: keys changed"
        for key, value in raw.items():
            _assert_fully_evaluated(value, evaluated[key], f"{where}.{key}")
    elif isinstance(raw, list):
        assert isinstance(evaluated, list) and len(evaluated) == len(raw), f"{where}: length changed"
        for i, value in enumerate(raw):
            _assert_fully_evaluated(value, evaluated[i], f"{where}[{i}]")
    else:
        assert evaluated is raw or (evaluated == raw and type(evaluated) is type(raw)), f"{where}: changed"


@pytest.mark.parametrize("relative", _reference_templates())
def test_reference_template(relative: str) -> None:
    path = reference_path("templates", relative)
    raw_bytes = path.read_bytes()
    tpl = parse_template(raw_bytes, relative)
    values = _values_for(tpl, path)

    if relative in BROKEN:
        with pytest.raises(TemplateError) as info:
            evaluate_template(tpl, values, file=relative)
        assert BROKEN[relative] in str(info.value)
        assert info.value.problems[0].file == relative
        return

    result = evaluate_template(tpl, values, file=relative)
    factory = result.parameter_values["factoryName"]
    assert isinstance(factory, str) and factory
    assert len(result.resources) == len(tpl["resources"]) > 0
    assert set(result.parameters) == set(tpl["parameters"])
    deployments = [r.name for r in result.resources if r.type == "Microsoft.Resources/deployments"]
    for resource, raw in zip(result.resources, tpl["resources"], strict=True):
        where = f"{relative}: {raw['name']}"
        assert resource.type == raw["type"] and resource.api_version == raw["apiVersion"]
        assert all(isinstance(d, str) and not is_expression(d) for d in resource.depends_on), where
        _assert_fully_evaluated(raw["properties"], resource.properties, f"{where} properties")
        _assert_fully_evaluated(raw.get("dependsOn", []), resource.depends_on, f"{where} dependsOn")
        if raw["type"] != "Microsoft.Resources/deployments":
            assert resource.name.startswith(f"{factory}/") or resource.name == factory, where
            continue
        # A linked master: each nested deployment links its part and waits for the previous ones by resource id.
        # 2019-era masters name the deployments ArmTemplate_N, later ones <factory>_ArmTemplate_N.
        assert re.fullmatch(rf"({re.escape(factory)}_)?ArmTemplate_\d+", resource.name), where
        uri = resource.properties["templateLink"]["uri"]
        assert re.fullmatch(re.escape(values["containerUri"]) + r"/ArmTemplate_\d+\.json\?sv=test", uri), where
        prefix = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/local/providers/"
        for dependency in resource.depends_on:
            assert dependency.startswith(f"{prefix}Microsoft.Resources/deployments/"), where
            assert dependency.rsplit("/", 1)[1] in deployments, where
    # The template itself is untouched (evaluation shares, never writes).
    assert parse_template(raw_bytes, relative) == tpl


def test_reference_hand_edited_functions_and_object_metadata() -> None:
    """The one hand-edited commit uses last(split(...)) in a variable and a parameter with object metadata."""
    templates = reference_path("templates")
    found = [p for p in sorted(templates.rglob("ARMTemplateForFactory.json")) if b"last(split(" in p.read_bytes()]
    assert found
    for path in found:
        tpl = parse_template(path.read_bytes(), str(path))
        result = evaluate_template(tpl, _values_for(tpl, path), file=str(path))
        (name,) = [n for n, v in tpl["variables"].items() if "last(split(" in str(v)]
        source = tpl["variables"][name].split("parameters('")[1].split("')")[0]
        assert result.variables[name] == str(result.parameter_values[source]).split("/")[-1]
        assert any(isinstance(spec.metadata, dict) for spec in result.parameters.values())


def test_escaped_property_names_are_unescaped_like_values():
    """ADF publishes a property name starting with `[` as `[[...]`; ARM deploys it with one bracket."""
    doc = parse_template('{"resources": [{"properties": {"[[x]": "[[y]", "[[z": 1, "k": {"[[n]": []}}}]}', "t.json")
    props = doc["resources"][0]["properties"]
    assert props == {"[x]": "[[y]", "[[z": 1, "k": {"[n]": []}}  # values stay for the evaluator to unescape
