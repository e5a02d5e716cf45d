"""JSON text in ADF's layout: tab indentation, `"key": value`, empty containers inline, no final newline.

That is `JSON.stringify(value, null, "\\t")`, which is also `json.dumps(value, indent="\\t",
ensure_ascii=False)`: the same escapes (quote, backslash, control characters; nothing else, non-ASCII text as
is). Numbers differ where JavaScript and Python print them differently (`1.0` is `1` in JavaScript): floats are
written as JavaScript would.

Written by hand rather than with `json.dumps(indent=...)`, whose indenting encoder is pure Python and three times
slower: this one visits each container once and lets the C string encoder do every string.
"""

from __future__ import annotations

import math
from json.encoder import encode_basestring  # the C encoder, non-ASCII kept as is (ensure_ascii=False)
from typing import Any

__all__ = ["dumps", "encode", "encode_template_value"]


def dumps(value: Any) -> bytes:
    """The UTF-8 bytes of `value` in ADF's layout."""
    return encode(value, "").encode("utf-8")


def encode(value: Any, indent: str) -> str:
    """`value` as text whose nested lines are indented from `indent` (the indentation of its own line)."""
    kind = type(value)
    if kind is str or isinstance(value, str):
        return encode_basestring(value)
    if kind is dict:
        if not value:
            return "{}"
        inner = indent + "\t"
        parts = [
            f"{inner}{encode_basestring(key)}: {encode_basestring(item) if type(item) is str else encode(item, inner)}"
            for key, item in value.items()
        ]
        return "{\n" + ",\n".join(parts) + "\n" + indent + "}"
    if kind is list:
        if not value:
            return "[]"
        inner = indent + "\t"
        items = [inner + (encode_basestring(item) if type(item) is str else encode(item, inner)) for item in value]
        return "[\n" + ",\n".join(items) + "\n" + indent + "]"
    return _scalar(value, indent)


def encode_template_value(value: Any, indent: str) -> str:
    """`encode`, with what ARM would read as an expression escaped: a string or a key of the files starting with
    `[` is written `[[` (ADF escapes about 1,500 such strings in the references). Expressions the build wrote are
    `str` subclasses (`promote.build.definition.Ref`) and are written as they are."""
    kind = type(value)
    if kind is dict:
        if not value:
            return "{}"
        inner = indent + "\t"
        parts: list[str] = []
        append = parts.append
        for key, item in value.items():
            k = encode_basestring(key)
            if k[1:2] == "[":
                k = encode_basestring("[" + key)
            if type(item) is str:
                v = encode_basestring(item)
                if v[1:2] == "[":
                    v = encode_basestring("[" + item)
            else:
                v = encode_template_value(item, inner)
            append(f"{inner}{k}: {v}")
        return "{\n" + ",\n".join(parts) + "\n" + indent + "}"
    if kind is list:
        if not value:
            return "[]"
        inner = indent + "\t"
        return "[\n" + ",\n".join([inner + encode_template_value(item, inner) for item in value]) + "\n" + indent + "]"
    if kind is str:
        text = encode_basestring(value)
        return encode_basestring("[" + value) if text[1:2] == "[" else text
    if isinstance(value, str):  # an expression the build wrote
        return encode_basestring(value)
    return _scalar(value, indent)


def _scalar(value: Any, indent: str) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    kind = type(value)
    if kind is int:
        return int.__repr__(value)
    if kind is float:
        return _number(value)
    if isinstance(value, dict):
        return encode(dict(value), indent)
    if isinstance(value, (list, tuple)):
        return encode(list(value), indent)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _number(value: float) -> str:
    """A float as JavaScript's `JSON.stringify` writes it."""
    if not math.isfinite(value):
        return "null"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, _, exponent = text.partition("e")
        sign = exponent[0] if exponent[0] in "+-" else "+"
        return f"{mantissa}e{sign}{exponent.lstrip('+-').lstrip('0') or '0'}"
    return text
