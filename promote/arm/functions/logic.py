"""ARM's functions of scalars: the literals `true()`, `false()`, `null()`, conversions (`int()`, `bool()`,
`json()`, `array()`, `createArray()`, `createObject()`), `if()`, equality, boolean logic, comparisons, and
arithmetic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from promote.arm.errors import ExpressionError
from promote.arm.functions.registry import arm_function
from promote.arm.values import equals, is_int, parse_json, to_text, type_name, want_bool, want_int, want_str

if TYPE_CHECKING:
    from promote.arm.expressions import Compiled, Scope


@arm_function("true", 0)
def _true(scope: Scope, args: list[Any]) -> bool:
    return True


@arm_function("false", 0)
def _false(scope: Scope, args: list[Any]) -> bool:
    return False


@arm_function("null", 0)
def _null(scope: Scope, args: list[Any]) -> None:
    return None


@arm_function("int", 1)
def _int(scope: Scope, args: list[Any]) -> int:
    value = args[0]
    if is_int(value):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?[0-9]+\s*", value):
        return int(value)
    raise ExpressionError(f"int() cannot convert {to_text(value)!r} ({type_name(value)}) to an int")


@arm_function("bool", 1)
def _bool(scope: Scope, args: list[Any]) -> bool:
    value = args[0]
    if isinstance(value, bool):
        return value
    if is_int(value):
        return value != 0
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ExpressionError(f"bool() cannot convert {to_text(value)!r} ({type_name(value)}) to a bool")


@arm_function("json", 1)
def _json(scope: Scope, args: list[Any]) -> Any:
    return parse_json("json", want_str("json", args[0]))


@arm_function("array", 1)
def _array(scope: Scope, args: list[Any]) -> list[Any]:
    value = args[0]
    return value if isinstance(value, list) else [value]


@arm_function("createArray", 0, None)
def _create_array(scope: Scope, args: list[Any]) -> list[Any]:
    return list(args)


@arm_function("createObject", 0, None)
def _create_object(scope: Scope, args: list[Any]) -> dict[str, Any]:
    if len(args) % 2:
        raise ExpressionError("createObject() takes pairs of key and value; got an odd number of arguments")
    return {want_str("createObject", args[i], "key"): args[i + 1] for i in range(0, len(args), 2)}


@arm_function("if", 3, lazy=True)
def _if(scope: Scope, lits: Sequence[str], arg_fns: list[Compiled]) -> Any:
    """Only the branch the condition selects is evaluated, as in ARM."""
    cond = arg_fns[0](scope, lits)
    if not isinstance(cond, bool):
        raise ExpressionError(f"if() expects a bool condition, got {type_name(cond)}")
    return arg_fns[1 if cond else 2](scope, lits)


@arm_function("equals", 2)
def _equals_fn(scope: Scope, args: list[Any]) -> bool:
    return equals(args[0], args[1])


@arm_function("not", 1)
def _not(scope: Scope, args: list[Any]) -> bool:
    return not want_bool("not", args[0])


@arm_function("and", 2, None)
def _and(scope: Scope, args: list[Any]) -> bool:
    return all([want_bool("and", a) for a in args])


@arm_function("or", 2, None)
def _or(scope: Scope, args: list[Any]) -> bool:
    return any([want_bool("or", a) for a in args])


@arm_function("coalesce", 1, None)
def _coalesce(scope: Scope, args: list[Any]) -> Any:
    return next((a for a in args if a is not None), None)


def _compare(fn: str, a: Any, b: Any) -> int:
    if (is_int(a) and is_int(b)) or (isinstance(a, str) and isinstance(b, str)):
        return (a > b) - (a < b)
    raise ExpressionError(f"{fn}() compares two ints or two strings, got {type_name(a)} and {type_name(b)}")


@arm_function("less", 2)
def _less(scope: Scope, args: list[Any]) -> bool:
    return _compare("less", *args) < 0


@arm_function("lessOrEquals", 2)
def _less_or_equals(scope: Scope, args: list[Any]) -> bool:
    return _compare("lessOrEquals", *args) <= 0


@arm_function("greater", 2)
def _greater(scope: Scope, args: list[Any]) -> bool:
    return _compare("greater", *args) > 0


@arm_function("greaterOrEquals", 2)
def _greater_or_equals(scope: Scope, args: list[Any]) -> bool:
    return _compare("greaterOrEquals", *args) >= 0


# -- arithmetic: 64-bit ints in ARM; division truncates toward zero, as in .NET


def _two_ints(fn: str, args: list[Any]) -> tuple[int, int]:
    return want_int(fn, args[0]), want_int(fn, args[1])


@arm_function("add", 2)
def _add(scope: Scope, args: list[Any]) -> int:
    a, b = _two_ints("add", args)
    return a + b


@arm_function("sub", 2)
def _sub(scope: Scope, args: list[Any]) -> int:
    a, b = _two_ints("sub", args)
    return a - b


@arm_function("mul", 2)
def _mul(scope: Scope, args: list[Any]) -> int:
    a, b = _two_ints("mul", args)
    return a * b


def _truncdiv(fn: str, a: int, b: int) -> int:
    if b == 0:
        raise ExpressionError(f"{fn}(): division by zero")
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


@arm_function("div", 2)
def _div(scope: Scope, args: list[Any]) -> int:
    return _truncdiv("div", *_two_ints("div", args))


@arm_function("mod", 2)
def _mod(scope: Scope, args: list[Any]) -> int:
    a, b = _two_ints("mod", args)
    return a - b * _truncdiv("mod", a, b)
