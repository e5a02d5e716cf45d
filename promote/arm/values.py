"""ARM's values and the operations on them that the functions share.

ARM's types are JSON's, with int distinct from bool. Here: type names for messages, argument checks
(`want_str` ...), ARM's string() conversion, ARM equality, property access and indexing (which the compiled
expressions call directly), concat (also the compiler's fast path) and strict JSON parsing.
"""

from __future__ import annotations

import json
from typing import Any

from promote import untrusted
from promote.arm.errors import ExpressionError


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def want_str(fn: str, value: Any, what: str = "argument") -> str:
    if not isinstance(value, str):
        raise ExpressionError(f"{fn}() expects a string {what}, got {type_name(value)}")
    return value


def want_int(fn: str, value: Any, what: str = "argument") -> int:
    if not is_int(value):
        raise ExpressionError(f"{fn}() expects an int {what}, got {type_name(value)}")
    return value


def want_bool(fn: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ExpressionError(f"{fn}() expects a bool argument, got {type_name(value)}")
    return value


def to_text(value: Any) -> str:
    """ARM's string(): objects and arrays as compact JSON, bools as .NET prints them, null as empty."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def equals(a: Any, b: Any) -> bool:
    """ARM equality: by value and type (true is not 1), deep for arrays and objects."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(equals(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equals(a[k], b[k]) for k in a)
    if type_name(a) != type_name(b) and not (isinstance(a, (int, float)) and isinstance(b, (int, float))):
        return False
    return a == b


def get_property(target: Any, name: str) -> Any:
    if isinstance(target, dict):
        if name in target:
            return target[name]
        lower = name.lower()
        for key, value in target.items():
            if key.lower() == lower:
                return value
        available = ", ".join(list(target)[:12])
        raise ExpressionError(f"property '{name}' does not exist; available properties are: {available}")
    raise ExpressionError(f"cannot read property '{name}' of a {type_name(target)} value")


def get_item(target: Any, index: Any) -> Any:
    if isinstance(target, list):
        if not is_int(index):
            raise ExpressionError(f"an array index must be an int, got {type_name(index)}")
        if not 0 <= index < len(target):
            raise ExpressionError(f"index {index} is out of range for an array of length {len(target)}")
        return target[index]
    if isinstance(target, dict):
        if not isinstance(index, str):
            raise ExpressionError(f"an object is indexed by a string, got {type_name(index)}")
        return get_property(target, index)
    raise ExpressionError(f"cannot index a {type_name(target)} value")


def concat_values(values: list[Any]) -> Any:
    if values and all(isinstance(v, list) for v in values):
        out: list[Any] = []
        for v in values:
            out.extend(v)
        return out
    parts: list[str] = []
    for v in values:
        if isinstance(v, str):
            parts.append(v)
        elif isinstance(v, (list, dict)):
            raise ExpressionError(
                f"concat() cannot mix a {type_name(v)} with strings (arrays concatenate only with arrays; "
                "use union() for objects)"
            )
        else:
            parts.append(to_text(v))
    return "".join(parts)


def parse_json(fn: str, text: str) -> Any:
    try:
        return untrusted.parse_json(text)
    except untrusted.JsonRefused as exc:
        raise ExpressionError(
            f"{fn}(): not valid JSON ({exc.reason})",
            hint="promote's json() reads strict JSON: double-quoted strings and property names",
        ) from None
