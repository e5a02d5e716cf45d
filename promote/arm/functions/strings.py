"""ARM's string functions: `concat()` and `string()`, case, search and slicing, `format()` (a subset of .NET's
composite formatting), base64, data URIs and URI escaping, and the two hashes, `uniqueString()` and `guid()`
(whose algorithms are public here as `unique_string` and `arm_guid`).
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from promote.arm.errors import ExpressionError
from promote.arm.functions.registry import arm_function
from promote.arm.values import concat_values, equals, is_int, parse_json, to_text, type_name, want_int, want_str

if TYPE_CHECKING:
    from promote.arm.expressions import Scope


@arm_function("concat", 0, None)
def _concat_fn(scope: Scope, args: list[Any]) -> Any:
    return concat_values(args)


@arm_function("string", 1)
def _string(scope: Scope, args: list[Any]) -> str:
    return to_text(args[0])


@arm_function("toLower", 1)
def _to_lower(scope: Scope, args: list[Any]) -> str:
    return want_str("toLower", args[0]).lower()


@arm_function("toUpper", 1)
def _to_upper(scope: Scope, args: list[Any]) -> str:
    return want_str("toUpper", args[0]).upper()


@arm_function("trim", 1)
def _trim(scope: Scope, args: list[Any]) -> str:
    return want_str("trim", args[0]).strip()


@arm_function("replace", 3)
def _replace(scope: Scope, args: list[Any]) -> str:
    text, old, new = (want_str("replace", a) for a in args)
    if not old:
        raise ExpressionError("replace() cannot replace an empty string")
    return text.replace(old, new)


@arm_function("split", 2)
def _split(scope: Scope, args: list[Any]) -> list[str]:
    text = want_str("split", args[0])
    delims = args[1]
    if isinstance(delims, str):
        delims = [delims]
    if not isinstance(delims, list) or not all(isinstance(d, str) for d in delims):
        raise ExpressionError("split() expects a string or an array of strings as delimiter")
    delims = [d for d in delims if d]
    if not delims:
        return [text]
    if len(delims) == 1:
        return text.split(delims[0])
    # .NET String.Split tries the separators in the order given at each position.
    return re.split("|".join(re.escape(d) for d in delims), text)


@arm_function("join", 2)
def _join(scope: Scope, args: list[Any]) -> str:
    items, delim = args
    if not isinstance(items, list):
        raise ExpressionError(f"join() expects an array, got {type_name(items)}")
    return want_str("join", delim, "delimiter").join(to_text(i) for i in items)


@arm_function("startsWith", 2)
def _starts_with(scope: Scope, args: list[Any]) -> bool:
    text, prefix = (want_str("startsWith", a) for a in args)
    return text.lower().startswith(prefix.lower())  # ARM: case-insensitive


@arm_function("endsWith", 2)
def _ends_with(scope: Scope, args: list[Any]) -> bool:
    text, suffix = (want_str("endsWith", a) for a in args)
    return text.lower().endswith(suffix.lower())  # ARM: case-insensitive


@arm_function("indexOf", 2)
def _index_of(scope: Scope, args: list[Any]) -> int:
    container, item = args
    if isinstance(container, list):
        return next((i for i, v in enumerate(container) if equals(v, item)), -1)
    return want_str("indexOf", container).lower().find(want_str("indexOf", item).lower())


@arm_function("lastIndexOf", 2)
def _last_index_of(scope: Scope, args: list[Any]) -> int:
    container, item = args
    if isinstance(container, list):
        return next((i for i in range(len(container) - 1, -1, -1) if equals(container[i], item)), -1)
    return want_str("lastIndexOf", container).lower().rfind(want_str("lastIndexOf", item).lower())


@arm_function("substring", 1, 3)
def _substring(scope: Scope, args: list[Any]) -> str:
    text = want_str("substring", args[0])
    start = want_int("substring", args[1], "start index") if len(args) > 1 else 0
    length = want_int("substring", args[2], "length") if len(args) > 2 and args[2] is not None else None
    if length is None:
        length = len(text) - start
    if start < 0 or length < 0 or start + length > len(text):
        raise ExpressionError(
            "the index and length parameters must refer to a location within the string: "
            f"index {start}, length {length}, string length {len(text)}"
        )
    return text[start : start + length]


@arm_function("padLeft", 2, 3)
def _pad_left(scope: Scope, args: list[Any]) -> str:
    value = args[0]
    text = str(value) if is_int(value) else want_str("padLeft", value)
    width = want_int("padLeft", args[1], "total length")
    pad = want_str("padLeft", args[2], "padding character") if len(args) > 2 else " "
    if len(pad) != 1:
        raise ExpressionError("padLeft() expects a single padding character")
    return text.rjust(width, pad)


@arm_function("format", 1, None)
def _format(scope: Scope, args: list[Any]) -> str:
    return _dotnet_format(want_str("format", args[0], "format string"), args[1:])


_FORMAT_ITEM = re.compile(r"\{\{|\}\}|\{(\d+)(?:\s*,\s*(-?\d+))?(?::([^}]*))?\}|[{}]")


def _dotnet_format(fmt: str, values: list[Any]) -> str:
    """The subset of .NET composite formatting ARM templates use: {0}, {0,5}, {0:N0}, {0:D3}, {0:X}, {{ }}."""

    def item(m: re.Match[str]) -> str:
        token = m.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        if m.group(1) is None:
            raise ExpressionError(f"format(): unmatched {token!r} in the format string")
        index = int(m.group(1))
        if index >= len(values):
            raise ExpressionError(f"format(): {{{index}}} refers to a missing argument ({len(values)} given)")
        value, spec = values[index], m.group(3)
        if spec:
            text = _format_number(value, spec)
        elif isinstance(value, (list, dict)):
            raise ExpressionError(f"format() cannot insert a {type_name(value)}; use string() on it first")
        else:
            text = to_text(value)
        if m.group(2):
            width = int(m.group(2))
            text = text.rjust(width) if width > 0 else text.ljust(-width)
        return text

    return _FORMAT_ITEM.sub(item, fmt)


def _format_number(value: Any, spec: str) -> str:
    kind, digits = spec[:1], spec[1:]
    if not is_int(value) or kind.upper() not in "NDX" or (digits and not digits.isdigit()):
        raise ExpressionError(f"format(): format specifier {spec!r} is not supported for a {type_name(value)}")
    precision = int(digits) if digits else None
    if kind.upper() == "N":
        return f"{value:,.{2 if precision is None else precision}f}"
    if kind.upper() == "D":
        return ("-" if value < 0 else "") + str(abs(value)).rjust(precision or 0, "0")
    text = format(value & 0xFFFFFFFFFFFFFFFF if value < 0 else value, "X" if kind == "X" else "x")
    return text.rjust(precision or 0, "0")


@arm_function("base64", 1)
def _base64(scope: Scope, args: list[Any]) -> str:
    return base64.b64encode(want_str("base64", args[0]).encode("utf-8")).decode("ascii")


def _b64decode(fn: str, value: Any) -> str:
    try:
        return base64.b64decode(want_str(fn, value), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ExpressionError(f"{fn}(): not valid base64 of UTF-8 text ({exc})") from None


@arm_function("base64ToString", 1)
def _base64_to_string(scope: Scope, args: list[Any]) -> str:
    return _b64decode("base64ToString", args[0])


@arm_function("base64ToJson", 1)
def _base64_to_json(scope: Scope, args: list[Any]) -> Any:
    return parse_json("base64ToJson", _b64decode("base64ToJson", args[0]))


@arm_function("dataUri", 1)
def _data_uri(scope: Scope, args: list[Any]) -> str:
    encoded = base64.b64encode(want_str("dataUri", args[0]).encode("utf-8")).decode("ascii")
    return f"data:text/plain;charset=utf8;base64,{encoded}"


@arm_function("dataUriToString", 1)
def _data_uri_to_string(scope: Scope, args: list[Any]) -> str:
    uri = want_str("dataUriToString", args[0])
    head, sep, data = uri.partition(",")
    if not head.startswith("data:") or not sep:
        raise ExpressionError("dataUriToString() expects a data URI (data:...;base64,...)")
    if head.endswith(";base64"):
        return _b64decode("dataUriToString", data)
    return unquote(data)


@arm_function("uriComponent", 1)
def _uri_component(scope: Scope, args: list[Any]) -> str:
    return quote(want_str("uriComponent", args[0]), safe="")  # RFC 3986 unreserved kept, as Uri.EscapeDataString


@arm_function("uriComponentToString", 1)
def _uri_component_to_string(scope: Scope, args: list[Any]) -> str:
    return unquote(want_str("uriComponentToString", args[0]))


@arm_function("uniqueString", 1, None)
def _unique_string(scope: Scope, args: list[Any]) -> str:
    return unique_string(*(want_str("uniqueString", a) for a in args))


@arm_function("guid", 1, None)
def _guid(scope: Scope, args: list[Any]) -> str:
    return arm_guid(*(want_str("guid", a) for a in args))


_MASK32 = 0xFFFFFFFF
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


def _rotl32(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _MASK32


def _murmur64(data: bytes) -> int:
    """The 64-bit Murmur variant ARM's uniqueString() uses (two 32-bit lanes, seed 0).

    ARM's own code (Azure.Deployments.Expression, via Microsoft.PowerPlatform.ResourceStack) is not public;
    this follows the algorithm as independent public reimplementations describe it, and the tests pin it to
    values they report from real deployments (for example uniqueString('test') == 'rbgf3xv4ufgzg').
    """
    c1, c2 = 597399067, 2869860233
    length = len(data)
    h1 = h2 = 0
    index = 0
    while index + 7 < length:
        k1 = int.from_bytes(data[index : index + 4], "little")
        k2 = int.from_bytes(data[index + 4 : index + 8], "little")
        k1 = (_rotl32((k1 * c1) & _MASK32, 15) * c2) & _MASK32
        h1 = (_rotl32(h1 ^ k1, 19) + h2) & _MASK32
        h1 = (h1 * 5 + 1444728091) & _MASK32
        k2 = (_rotl32((k2 * c2) & _MASK32, 17) * c1) & _MASK32
        h2 = (_rotl32(h2 ^ k2, 13) + h1) & _MASK32
        h2 = (h2 * 5 + 197830471) & _MASK32
        index += 8
    tail = length - index
    if tail > 0:
        k1 = int.from_bytes(data[index : index + min(tail, 4)], "little")
        h1 ^= (_rotl32((k1 * c1) & _MASK32, 15) * c2) & _MASK32
        if tail > 4:
            k2 = int.from_bytes(data[index + 4 : index + tail], "little")
            h2 ^= (_rotl32((k2 * c2) & _MASK32, 17) * c1) & _MASK32
    h1 ^= length
    h2 ^= length
    h1 = (h1 + h2) & _MASK32
    h2 = (h2 + h1) & _MASK32
    h1, h2 = _fmix32(h1), _fmix32(h2)
    h1 = (h1 + h2) & _MASK32
    h2 = (h2 + h1) & _MASK32
    return (h2 << 32) | h1


def _fmix32(h: int) -> int:
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _MASK32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _MASK32
    return h ^ (h >> 16)


def unique_string(*values: str) -> str:
    """ARM's uniqueString(): the 64-bit hash of the '-'-joined UTF-8 values as 13 base32 characters."""
    h = _murmur64("-".join(values).encode("utf-8")) << 1  # 65 bits: 13 groups of 5, the last padded with a 0
    return "".join(_BASE32[(h >> (60 - 5 * i)) & 31] for i in range(13))


_ARM_GUID_NAMESPACE = uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830")


def arm_guid(*values: str) -> str:
    """ARM's guid(): a name-based (version 5, SHA-1) UUID of the '-'-joined values in ARM's namespace."""
    return str(uuid.uuid5(_ARM_GUID_NAMESPACE, "-".join(values)))
