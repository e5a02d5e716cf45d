"""The ARM expression language: literals and escaping, grammar, every supported function, and the errors."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from promote.arm import DeploymentContext
from promote.arm.expressions import (
    SUPPORTED_FUNCTIONS,
    ExpressionError,
    Scope,
    arm_guid,
    compile_expression,
    evaluate_string,
    is_expression,
    unique_string,
)

CONTEXT = DeploymentContext(subscription_id="sub-1", resource_group="rg-1", deployment_name="dep-1", location="eastus")

PARAMS: dict[str, Any] = {
    "factoryName": "adf-dev",
    "n": 5,
    "flag": True,
    "obj": {"a": [10, {"b": "deep"}], "Mixed": "case"},
    "arr": ["x", "y", "z"],
    "path": "/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id_dev",
    "empty": "",
}
VARIABLES: dict[str, Any] = {"factoryId": "Microsoft.DataFactory/factories/adf-dev"}


def ev(text: str, **params: Any) -> Any:
    scope = Scope(parameters={**PARAMS, **params}, variables=VARIABLES, context=CONTEXT)
    return evaluate_string(text, scope)


def error_of(text: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        ev(text)
    return info.value


# -- literals and escaping ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("", ""),
        ("[", "["),
        ("x]", "x]"),
        ("[not an expression", "[not an expression"),  # ARM: only [...] is an expression
        ("[[dbo].[table]", "[dbo].[table]"),  # the escape ADF writes: first bracket dropped
        ("[[':@computed']", "[':@computed']"),
        ("[[no closing", "[[no closing"),  # an escape only where an expression would be
        ("[[]", "[]"),
    ],
)
def test_literals_and_escapes(text: str, expected: str) -> None:
    assert ev(text) == expected


def test_is_expression() -> None:
    assert is_expression("[parameters('a')]")
    assert not is_expression("[[escaped]")
    assert not is_expression("[open")
    assert not is_expression("plain")
    assert not is_expression(5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("['it''s']", "it's"),
        ("['']", ""),
        ("[concat('a''', '''b')]", "a''b"),
        ("['with ] and [ and ( and , inside']", "with ] and [ and ( and , inside"),
        ("[5]", 5),
        ("[-12]", -12),
        ("[add(-3, 5)]", 2),
        ("[true()]", True),
        ("[true]", True),
        ("[FALSE]", False),
        ("[false()]", False),
        ("[null()]", None),
        ("[null]", None),
        ("[  concat( 'a' ,\t'b' )  ]", "ab"),
        ("[CONCAT('a', 'b')]", "ab"),
        ("[Parameters('FACTORYNAME')]", "adf-dev"),
        ("[VARIABLES('factoryid')]", "Microsoft.DataFactory/factories/adf-dev"),
    ],
)
def test_grammar(text: str, expected: Any) -> None:
    assert ev(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[parameters('obj').a[0]]", 10),
        ("[parameters('obj').a[1].b]", "deep"),
        ("[parameters('obj')['a'][1]['b']]", "deep"),
        ("[parameters('obj').mixed]", "case"),  # property names are case-insensitive
        ("[parameters('arr')[add(1, 1)]]", "z"),
        ("[createObject('k', createArray(1, 2)).k[1]]", 2),
        ("[resourceGroup().location]", "eastus"),
        ('[json(\'{"a": {"b": [1, 2]}}\').a.b[1]]', 2),
    ],
)
def test_property_and_index_access(text: str, expected: Any) -> None:
    assert ev(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[parameters('obj').missing]", "property 'missing' does not exist"),
        ("[parameters('arr')[3]]", "index 3 is out of range"),
        ("[parameters('arr')['x']]", "an array index must be an int"),
        ("[parameters('n').x]", "cannot read property 'x' of a int value"),
        ("[parameters('factoryName')[0]]", "cannot index a string value"),
    ],
)
def test_access_errors(text: str, message: str) -> None:
    assert message in error_of(text).message


# -- functions ------------------------------------------------------------------------------------------------

FUNCTION_CASES: list[tuple[str, Any]] = [
    # what ADF writes
    ("[parameters('factoryName')]", "adf-dev"),
    ("[concat(parameters('factoryName'), '/pipeline1')]", "adf-dev/pipeline1"),
    (
        "[concat(variables('factoryId'), '/linkedServices/ls')]",
        "Microsoft.DataFactory/factories/adf-dev/linkedServices/ls",
    ),
    ("[concat('a', parameters('factoryName'), 'b', '', 'c')]", "aadf-devbc"),
    ("[concat(parameters('n'), '/x')]", "5/x"),
    ("[concat(parameters('flag'), '-')]", "True-"),
    ("[concat()]", ""),
    ("[concat(parameters('arr'), createArray('w'))]", ["x", "y", "z", "w"]),
    ("[last(split(parameters('path'), '/'))]", "id_dev"),
    (
        "[resourceId('Microsoft.Resources/deployments', 'adf-dev_ArmTemplate_0')]",
        "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.Resources/deployments/adf-dev_ArmTemplate_0",
    ),
    # strings
    ("[format('{0}-{1}', 'a', 7)]", "a-7"),
    ("[format('{{literal}} {0:N0} {1,4}|{2,-3}|', 8175133, 'r', 'l')]", "{literal} 8,175,133    r|l  |"),
    ("[format('{0:D3} {0:X}', 10)]", "010 A"),
    ("[replace('a-b-c', '-', '')]", "abc"),
    ("[toLower('AbC')]", "abc"),
    ("[toUpper('AbC')]", "ABC"),
    ("[string(5)]", "5"),
    ("[string(true())]", "True"),
    ("[string(parameters('obj'))]", '{"a":[10,{"b":"deep"}],"Mixed":"case"}'),
    ("[string(createArray('a', 'b'))]", '["a","b"]'),
    ("[string('s')]", "s"),
    ("[trim('  x y  ')]", "x y"),
    ("[substring('hello', 1, 3)]", "ell"),
    ("[substring('hello', 2)]", "llo"),
    ("[startsWith('Hello', 'he')]", True),  # case-insensitive, as in ARM
    ("[startsWith('Hello', 'lo')]", False),
    ("[endsWith('Hello', 'LO')]", True),
    ("[indexOf('abcdef', 'CD')]", 2),  # case-insensitive, as in ARM
    ("[indexOf('abc', 'z')]", -1),
    ("[lastIndexOf('test', 't')]", 3),
    ("[split('a,b;c', createArray(',', ';'))]", ["a", "b", "c"]),
    ("[split('abc', '')]", ["abc"]),
    ("[join(createArray('a', 'b', 1), ',')]", "a,b,1"),
    ("[padLeft('7', 3, '0')]", "007"),
    ("[padLeft(123, 2)]", "123"),
    ("[base64('one, two, three')]", "b25lLCB0d28sIHRocmVl"),
    ("[base64ToString('b25lLCB0d28sIHRocmVl')]", "one, two, three"),
    ("[base64ToJson(base64('{\"a\": 1}'))]", {"a": 1}),
    ("[dataUri('Hello')]", "data:text/plain;charset=utf8;base64,SGVsbG8="),
    ("[dataUriToString('data:text/plain;charset=utf8;base64,SGVsbG8sIFdvcmxkIQ==')]", "Hello, World!"),
    ("[uriComponent('a b/c')]", "a%20b%2Fc"),
    ("[uriComponentToString('a%20b%2Fc')]", "a b/c"),
    # conversion and logic
    ("[int('42')]", 42),
    ("[int(' -3 ')]", -3),
    ("[bool('TRUE')]", True),
    ("[bool(0)]", False),
    ("[json('null')]", None),
    ("[json('[1, \"a\"]')]", [1, "a"]),
    ("[if(equals(parameters('n'), 5), 'five', 'other')]", "five"),
    ("[if(false(), 'a', 'b')]", "b"),
    ("[if(true(), 'safe', div(1, 0))]", "safe"),  # only the selected branch runs
    ("[equals(1, 1)]", True),
    ("[equals(1, true())]", False),  # true is not 1
    ("[equals('a', 'A')]", False),
    ("[equals(createArray(1, createObject('a', 'b')), createArray(1, createObject('a', 'b')))]", True),
    ("[not(true())]", False),
    ("[and(true(), true(), false())]", False),
    ("[or(false(), true())]", True),
    ("[coalesce(null(), null(), 'x', 'y')]", "x"),
    ("[coalesce(null())]", None),
    ("[less(1, 2)]", True),
    ("[lessOrEquals(2, 2)]", True),
    ("[greater('b', 'a')]", True),
    ("[greaterOrEquals(1, 2)]", False),
    # arrays and objects
    ("[empty('')]", True),
    ("[empty(createArray())]", True),
    ("[empty(createObject())]", True),
    ("[empty(null())]", True),
    ("[empty(parameters('arr'))]", False),
    ("[length('abc')]", 3),
    ("[length(parameters('arr'))]", 3),
    ("[length(parameters('obj'))]", 2),
    ("[first(parameters('arr'))]", "x"),
    ("[first('One')]", "O"),
    ("[first(createArray())]", None),
    ("[last(parameters('arr'))]", "z"),
    ("[last('One')]", "e"),
    ("[contains('OneTwo', 'Two')]", True),
    ("[contains('OneTwo', 'two')]", False),  # strings: case-sensitive
    ("[contains(parameters('obj'), 'MIXED')]", True),  # object keys: case-insensitive
    ("[contains(parameters('arr'), 'y')]", True),
    ("[contains(createArray(1, 2), 3)]", False),
    ("[createArray(1, 'a', createArray())]", [1, "a", []]),
    ("[createObject('a', 1, 'b', createArray(2))]", {"a": 1, "b": [2]}),
    ("[array('x')]", ["x"]),
    ("[array(parameters('arr'))]", ["x", "y", "z"]),
    ("[union(createArray(1, 2), createArray(2, 3))]", [1, 2, 3]),
    (
        '[union(json(\'{"p": {"one": "a", "three": "c1"}, "arr": [1, 2]}\'), '
        'json(\'{"p": {"three": "c2", "four": "d"}, "arr": [3]}\'))]',
        {"p": {"one": "a", "three": "c2", "four": "d"}, "arr": [3]},  # deep merge; arrays replaced
    ),
    ("[intersection(createArray(1, 2, 3), createArray(3, 2))]", [2, 3]),
    ("[intersection(createObject('a', 1, 'b', 2), createObject('a', 1, 'b', 3))]", {"a": 1}),
    ("[take(parameters('arr'), 2)]", ["x", "y"]),
    ("[take('abc', 10)]", "abc"),
    ("[take('abc', -1)]", ""),
    ("[skip(parameters('arr'), 2)]", ["z"]),
    ("[skip('abc', 0)]", "abc"),
    ("[skip('abc', 5)]", ""),
    ("[range(2, 3)]", [2, 3, 4]),
    ("[min(3, 1, 2)]", 1),
    ("[max(createArray(3, 9, 2))]", 9),
    # arithmetic: .NET integer semantics
    ("[add(2, 3)]", 5),
    ("[sub(2, 3)]", -1),
    ("[mul(-4, 3)]", -12),
    ("[div(7, 2)]", 3),
    ("[div(-7, 2)]", -3),  # truncates toward zero
    ("[mod(7, 3)]", 1),
    ("[mod(-7, 2)]", -1),  # sign of the dividend
    # deployment
    ("[resourceGroup().id]", "/subscriptions/sub-1/resourceGroups/rg-1"),
    ("[resourceGroup().name]", "rg-1"),
    ("[subscription().subscriptionId]", "sub-1"),
    ("[subscription().id]", "/subscriptions/sub-1"),
    ("[deployment().name]", "dep-1"),
    (
        "[resourceId('Microsoft.DataFactory/factories/pipelines', parameters('factoryName'), 'p1')]",
        "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.DataFactory/factories/adf-dev/pipelines/p1",
    ),
    (
        "[resourceId('other-rg', 'Microsoft.DataFactory/factories', 'f')]",
        "/subscriptions/sub-1/resourceGroups/other-rg/providers/Microsoft.DataFactory/factories/f",
    ),
    (
        "[resourceId('sub-2', 'other-rg', 'Microsoft.Network/virtualNetworks/subnets', 'vnet', 'sn')]",
        "/subscriptions/sub-2/resourceGroups/other-rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/sn",
    ),
    (
        "[resourceId('Microsoft.DataFactory/factories/managedVirtualNetworks', 'adf-dev/default')]",
        "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.DataFactory/factories/adf-dev"
        "/managedVirtualNetworks/default",
    ),
    (
        "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'r1')]",
        "/subscriptions/sub-1/providers/Microsoft.Authorization/roleDefinitions/r1",
    ),
    ("[tenantResourceId('Microsoft.Billing/accounts', 'b')]", "/providers/Microsoft.Billing/accounts/b"),
    (
        "[extensionResourceId('/subscriptions/s/resourceGroups/r', 'Microsoft.Authorization/locks', 'l')]",
        "/subscriptions/s/resourceGroups/r/providers/Microsoft.Authorization/locks/l",
    ),
    ("[uniqueString('test')]", "rbgf3xv4ufgzg"),
    ("[guid('a', 'b')]", str(uuid.uuid5(uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830"), "a-b"))),
]


@pytest.mark.parametrize(("text", "expected"), FUNCTION_CASES)
def test_function(text: str, expected: Any) -> None:
    result = ev(text)
    assert result == expected
    assert type(result) is type(expected)


def test_every_supported_function_is_exercised() -> None:
    """Each function the evaluator claims has at least one case above (keeps the table honest)."""
    used = " ".join(text for text, _ in FUNCTION_CASES).lower()
    missing = sorted(name for name in SUPPORTED_FUNCTIONS if f"{name}(" not in used)
    assert missing == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # Values reported for real deployments by independent public reimplementations of ARM's algorithm.
        (("test",), "rbgf3xv4ufgzg"),
        (("hello", "world"), "a7wkljktk6wne"),
        (("abc",), "cgtzqvhu4i23s"),
        (("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/my-rg",), "bmg7c6xu4tw46"),
        (("foo", "bar", "baz"), "xzi4ioaxtmth4"),
    ],
)
def test_unique_string_matches_arm(args: tuple[str, ...], expected: str) -> None:
    assert unique_string(*args) == expected


def test_unique_string_shape_and_every_tail_length() -> None:
    """All tail lengths of the hash (0 to 7 bytes past a block) give 13 base32 characters, deterministically."""
    for n in range(0, 20):
        value = unique_string("x" * n)
        assert len(value) == 13
        assert set(value) <= set("abcdefghijklmnopqrstuvwxyz234567")
        assert value == unique_string("x" * n)
    assert unique_string("é") != unique_string("e")


def test_guid_is_deterministic_version_5() -> None:
    value = uuid.UUID(arm_guid("a", "b", "c"))
    assert value.version == 5
    assert arm_guid("a", "b", "c") == arm_guid("a", "b", "c") != arm_guid("a", "b")


def test_shapes_are_shared_but_literals_are_not() -> None:
    """Expressions of one shape compile once; each must still see its own literals and parameters."""
    scope = Scope(parameters={"a": "A", "b": "B"})
    assert evaluate_string("[concat(parameters('a'), '-x')]", scope) == "A-x"
    assert evaluate_string("[concat(parameters('b'), '-y')]", scope) == "B-y"
    assert evaluate_string("[concat('x-', parameters('a'), 'z')]", scope) == "x-Az"
    assert evaluate_string("[concat('y-', parameters('b'), 'w')]", scope) == "y-Bw"
    assert evaluate_string("[replace('a''b', '''', '-')]", scope) == "a-b"
    assert evaluate_string("[replace('c''d', '''', '+')]", scope) == "c+d"


def test_results_are_memoised_per_scope() -> None:
    scope = Scope(parameters={"o": {"k": 1}})
    first = evaluate_string("[createObject('k', 1)]", scope)
    assert evaluate_string("[createObject('k', 1)]", scope) is first
    assert evaluate_string("[createObject('k', 1)]", Scope()) is not first


def test_compile_expression() -> None:
    compiled = compile_expression("[concat(parameters('a'), '!')]")
    assert compiled(Scope(parameters={"a": "x"})) == "x!"
    assert compiled(Scope(parameters={"a": "y"})) == "y!"


# -- errors ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[listKeys('x', '2019-01-01')]", "unsupported function 'listKeys'"),
        ("[reference('x')]", "unsupported function 'reference'"),
        ("[utcNow()]", "unsupported function 'utcNow': it is not deterministic"),
        ("[newGuid()]", "unsupported function 'newGuid'"),
        ("[copyIndex()]", "unsupported function 'copyIndex'"),
        ("[frobnicate(1)]", "unsupported function 'frobnicate'"),
        ("[if(true(), 'a', listKeys('x'))]", "unsupported function 'listKeys'"),  # even in a branch not taken
        ("[ns.myFunction(1)]", "unsupported function 'ns.myFunction'"),
    ],
)
def test_unsupported_functions_are_errors(text: str, message: str) -> None:
    error = error_of(text)
    assert message in error.message
    assert error.expression == text
    assert text in error.describe()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", "empty expression"),
        ("[   ]", "empty expression"),
        ("[concat('a', 'b']", "expected ')'"),
        ("[concat('a' 'b')]", "expected ')'"),
        ("[concat('a)]", "unterminated string literal"),
        ("[parameters(factoryName)]", "expected '(' after 'factoryName'"),
        ("[concat(parameters(factoryName), /x)]", "unexpected character '/' at position 33"),
        ("[concat('a'), 'b']", "unexpected ','"),
        ("[parameters('obj').]", "expected a property name"),
        ("[parameters('obj')[0]", "expected ']'"),
        ("[1.5]", "expected a property name"),
        ("[concat('a', #)]", "unexpected character '#'"),
        ("[substring('a', 1, 2, 3)]", "takes 1 to 3 argument(s), got 4"),
        ("[not()]", "takes 1 argument(s), got 0"),
        ("[and(true())]", "takes at least 2 argument(s), got 1"),
    ],
)
def test_syntax_errors_name_the_expression(text: str, message: str) -> None:
    error = error_of(text)
    assert message in error.message
    assert error.expression == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[parameters('nope')]", "parameter 'nope' is not declared"),
        ("[variables('nope')]", "variable 'nope' is not declared"),
        ("[concat('a', createArray(1))]", "concat() cannot mix a array with strings"),
        ("[concat(parameters('obj'), 'x')]", "concat() cannot mix a object with strings"),
        ("[substring('abc', 2, 5)]", "must refer to a location within the string"),
        ("[div(1, 0)]", "division by zero"),
        ("[mod(1, 0)]", "division by zero"),
        ("[int('x1')]", "int() cannot convert 'x1'"),
        ("[bool('yes')]", "bool() cannot convert 'yes'"),
        ("[json('{a: 1}')]", "json(): not valid JSON"),
        ("[base64ToString('***')]", "not valid base64"),
        ("[if('yes', 1, 2)]", "if() expects a bool condition"),
        ("[not(1)]", "not() expects a bool argument"),
        ("[add('1', 2)]", "add() expects an int argument, got string"),
        ("[less(1, 'a')]", "compares two ints or two strings"),
        ("[createObject('a')]", "pairs of key and value"),
        ("[union(createArray(), createObject())]", "only arrays or only objects"),
        ("[format('{1}', 'a')]", "refers to a missing argument"),
        ("[format('{0:P2}', 1)]", "format specifier 'P2' is not supported"),
        ("[format('{0', 1)]", "unmatched '{'"),
        ("[replace('abc', '', 'x')]", "cannot replace an empty string"),
        ("[padLeft('a', 3, 'xy')]", "single padding character"),
        ("[resourceId('Microsoft.DataFactory/factories/pipelines', 'only-one')]", "needs 2 name(s), got 1"),
        ("[resourceId('no-slash', 'x')]", "needs a resource type"),
        ("[resourceId('a', 'b', 'c', 'Microsoft.X/y', 'n')]", "at most a subscription id and a resource group"),
        ("[first(5)]", "first() expects an array or string"),
        ("[length(5)]", "length() expects an array, object or string"),
        ("[empty(5)]", "empty() expects an array, object or string"),
        ("[take(5, 1)]", "take() expects an array or string"),
        ("[range(1, -1)]", "must not be negative"),
    ],
)
def test_evaluation_errors(text: str, message: str) -> None:
    error = error_of(text)
    assert message in error.message
    assert error.expression == text


def test_functions_that_need_a_context_say_so() -> None:
    with pytest.raises(ExpressionError, match="needs a deployment context"):
        evaluate_string("[resourceGroup().id]", Scope())
