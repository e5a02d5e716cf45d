"""ARM's functions of arrays and objects, most of which take strings too: `empty()`, `length()`, `first()`,
`last()`, `contains()`, `take()`, `skip()`, `union()`, `intersection()`, `range()`, `min()`, `max()`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from promote.arm.errors import ExpressionError
from promote.arm.functions.registry import arm_function
from promote.arm.values import equals, is_int, type_name, want_int, want_str

if TYPE_CHECKING:
    from promote.arm.expressions import Scope


@arm_function("empty", 1)
def _empty(scope: Scope, args: list[Any]) -> bool:
    value = args[0]
    if value is None:
        return True
    if isinstance(value, (str, list, dict)):
        return len(value) == 0
    raise ExpressionError(f"empty() expects an array, object or string, got {type_name(value)}")


@arm_function("length", 1)
def _length(scope: Scope, args: list[Any]) -> int:
    value = args[0]
    if isinstance(value, (str, list, dict)):
        return len(value)
    raise ExpressionError(f"length() expects an array, object or string, got {type_name(value)}")


@arm_function("first", 1)
def _first(scope: Scope, args: list[Any]) -> Any:
    value = args[0]
    if isinstance(value, str):
        return value[:1]
    if isinstance(value, list):
        return value[0] if value else None
    raise ExpressionError(f"first() expects an array or string, got {type_name(value)}")


@arm_function("last", 1)
def _last(scope: Scope, args: list[Any]) -> Any:
    value = args[0]
    if isinstance(value, str):
        return value[-1:]
    if isinstance(value, list):
        return value[-1] if value else None
    raise ExpressionError(f"last() expects an array or string, got {type_name(value)}")


@arm_function("contains", 2)
def _contains(scope: Scope, args: list[Any]) -> bool:
    container, item = args
    if isinstance(container, str):
        needle = str(item) if is_int(item) else want_str("contains", item, "item")
        return needle in container  # case-sensitive, as in ARM
    if isinstance(container, list):
        return any(equals(v, item) for v in container)
    if isinstance(container, dict):
        key = want_str("contains", item, "key").lower()
        return any(k.lower() == key for k in container)  # keys: case-insensitive, as in ARM
    raise ExpressionError(f"contains() expects an array, object or string, got {type_name(container)}")


def _count(fn: str, value: Any) -> int:
    return max(0, want_int(fn, value, "count"))


@arm_function("take", 2)
def _take(scope: Scope, args: list[Any]) -> Any:
    value, n = args[0], _count("take", args[1])
    if isinstance(value, (str, list)):
        return value[:n]
    raise ExpressionError(f"take() expects an array or string, got {type_name(value)}")


@arm_function("skip", 2)
def _skip(scope: Scope, args: list[Any]) -> Any:
    value, n = args[0], _count("skip", args[1])
    if isinstance(value, (str, list)):
        return value[n:]
    raise ExpressionError(f"skip() expects an array or string, got {type_name(value)}")


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """union() of objects: later values win, nested objects merge, arrays are replaced (ARM's deep merge)."""
    out = dict(a)
    for key, value in b.items():
        old = out.get(key)
        out[key] = _merge(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return out


def _same_kind(fn: str, args: list[Any]) -> type:
    if all(isinstance(a, dict) for a in args):
        return dict
    if all(isinstance(a, list) for a in args):
        return list
    kinds = ", ".join(type_name(a) for a in args)
    raise ExpressionError(f"{fn}() expects only arrays or only objects, got {kinds}")


@arm_function("union", 1, None)
def _union(scope: Scope, args: list[Any]) -> Any:
    if _same_kind("union", args) is dict:
        out: dict[str, Any] = {}
        for a in args:
            out = _merge(out, a)
        return out
    items: list[Any] = []
    for a in args:
        for v in a:
            if not any(equals(v, seen) for seen in items):
                items.append(v)
    return items


@arm_function("intersection", 2, None)
def _intersection(scope: Scope, args: list[Any]) -> Any:
    first, rest = args[0], args[1:]
    if _same_kind("intersection", args) is dict:
        return {k: v for k, v in first.items() if all(k in o and equals(o[k], v) for o in rest)}
    out: list[Any] = []
    for v in first:
        if all(any(equals(v, w) for w in o) for o in rest) and not any(equals(v, s) for s in out):
            out.append(v)
    return out


@arm_function("range", 2)
def _range(scope: Scope, args: list[Any]) -> list[int]:
    start, count = want_int("range", args[0], "start"), want_int("range", args[1], "count")
    if count < 0:
        raise ExpressionError("range() count must not be negative")
    return list(range(start, start + count))


def _ints(fn: str, args: list[Any]) -> list[int]:
    values = args[0] if len(args) == 1 and isinstance(args[0], list) else args
    if not values:
        raise ExpressionError(f"{fn}() needs at least one value")
    return [want_int(fn, v) for v in values]


@arm_function("min", 1, None)
def _min(scope: Scope, args: list[Any]) -> int:
    return min(_ints("min", args))


@arm_function("max", 1, None)
def _max(scope: Scope, args: list[Any]) -> int:
    return max(_ints("max", args))
