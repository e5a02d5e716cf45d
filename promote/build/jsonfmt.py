"""JSON text in ADF's layout: tab indentation, `"key": value`, empty containers inline, no final newline.

That is `JSON.stringify(value, null, "\\t")`, which is also `json.dumps(value, indent="\\t",
ensure_ascii=False)`: the same escapes (quote, backslash, control characters; nothing else, non-ASCII text as
is). Numbers differ where JavaScript and Python print them differently (`1.0` is `1` in JavaScript): floats are
written as JavaScript would.

Two writers, one layout. `exact` is the definition: Python, every rule above, any value. The fast one
(python-rapidjson, whose pretty writer indents with a tab and escapes the same characters) writes a build's
800 kB in a fifth of the time; it is used where its text is provably `exact`'s and `exact` everywhere else:
values holding a float (JavaScript's form is not rapidjson's), a control character other than the short escapes
(rapidjson writes their hex digits in upper case), or anything but dicts, lists, strings, ints, booleans and
None. `tests/test_build_jsonfmt.py` holds both to the same bytes.
"""

from __future__ import annotations

import io
import itertools
import math
import re
from json.encoder import encode_basestring  # the C encoder, non-ASCII kept as is (ensure_ascii=False)
from typing import Any, AnyStr

import rapidjson

__all__ = [
    "dumps",
    "encode",
    "encode_template_value",
    "escaped",
    "exact",
    "exact_template_value",
    "fast",
    "fast_utf8",
]

_PRETTY = rapidjson.Encoder(
    indent="\t",
    ensure_ascii=False,
    number_mode=rapidjson.NM_NATIVE,  # NaN and infinities refused (exact writes null)
    bytes_mode=rapidjson.BM_NONE,
    iterable_mode=rapidjson.IM_ONLY_LISTS,  # a tuple or a generator is refused (exact: a list, an error)
    mapping_mode=rapidjson.MM_ONLY_DICTS,  # a dict subclass is refused (exact: a copy)
)
# A float token: a digit then a point or an exponent, up to the end of its line (a number ends its line; a string
# ends with a quote).
_FLOAT = re.compile(r"\d[.eE][-+.eE\d]*,?(?:\n|\Z)")
_FLOAT_UTF8 = re.compile(_FLOAT.pattern.encode())
# For `escaped`, in text and in UTF-8: a string starting with `[`, what precedes a string, what the build's
# expressions start with, the escaped form.
_ESCAPES: dict[type, tuple[Any, Any, Any, Any]] = {
    str: ('"[', ("\t", " "), "parameters('", '"[['),
    bytes: (b'"[', (b"\t", b" "), b"parameters('", b'"[['),
}


def dumps(value: Any, *, floats: bool = True) -> bytes:
    """The UTF-8 bytes of `value` in ADF's layout."""
    return encode(value, "", floats=floats).encode("utf-8")


def encode(value: Any, indent: str, *, floats: bool = True) -> str:
    """`value` as text whose nested lines are indented from `indent` (the indentation of its own line).
    `floats=False` says that `value` holds no float (its files had none): the text is not searched for one."""
    text = fast(value, floats=floats)
    if text is None:
        return exact(value, indent)
    return text.replace("\n", "\n" + indent) if indent else text


def encode_template_value(value: Any, indent: str, expressions: int = 0, *, floats: bool = True) -> str:
    """`encode`, with what ARM would read as an expression escaped: a string or a key of the files starting with
    `[` is written `[[` (ADF escapes about 1,500 such strings in the references). Expressions the build wrote are
    `str` subclasses (`promote.build.definition.Ref`) and are written as they are; `expressions` is how many
    `value` holds (the parameters the build referenced in it)."""
    text = fast(value, floats=floats)
    if text is not None:
        text = escaped(text, expressions)
    if text is None:
        return exact_template_value(value, indent)
    return text.replace("\n", "\n" + indent) if indent else text


def fast(value: Any, *, floats: bool = True) -> str | None:
    """rapidjson's text of `value` (`encode(value, "")`) when it is certainly `exact`'s, else None."""
    try:
        text = _PRETTY(value)
    except (TypeError, ValueError, OverflowError, UnicodeError, RecursionError):
        return None
    if text is None or "\\u00" in text:  # (None only when given a stream)
        return None  # a control character: rapidjson writes \u001F where exact writes \u001f
    if floats and _FLOAT.search(text):
        return None  # a float: exact writes JavaScript's form
    return text


def fast_utf8(value: Any, *, floats: bool = True) -> bytes | None:
    """`fast`'s text in UTF-8, written as bytes by rapidjson (no `str` of a whole template made, then encoded)."""
    stream = io.BytesIO()
    try:
        _PRETTY(value, stream)
    except (TypeError, ValueError, OverflowError, UnicodeError, RecursionError):
        return None
    data = stream.getvalue()
    if b"\\u00" in data or (floats and _FLOAT_UTF8.search(data)):
        return None  # as in `fast`
    return data


def escaped(text: AnyStr, expressions: int) -> AnyStr | None:
    """`text` (`fast`'s, or its UTF-8) with every string and key starting with `[` escaped as `[[`, but for the
    `expressions` `[parameters('...')]` the build wrote; None when a string of the files reads like one of those
    (`exact` tells them apart by type). `expressions` must be exact (`promote.build.definition.count_refs`):
    fewer is safe (None), more would unescape a string of the files."""
    quote, starts, call, doubled = _ESCAPES[type(text)]
    pieces = text.split(quote)
    if len(pieces) == 1:
        return text if not expressions else None
    # In this layout a string starts after a tab (a key, a list item) or after `": ` (a value), and a quote
    # inside a string is escaped: these are exactly the strings that start with `[`. Looked for by the rare `"[`
    # rather than by the tabs and spaces, which are everywhere.
    out = [pieces[0]]
    found = 0
    for before, piece in itertools.pairwise(pieces):
        if before[-1:] not in starts:
            out.append(quote)
        elif piece.startswith(call):  # reads like an expression the build wrote: one when the count says so
            found += 1
            out.append(quote)
        else:
            out.append(doubled)
        out.append(piece)
    if found != expressions:
        return None
    return text[:0].join(out)


def exact(value: Any, indent: str) -> str:
    """`encode`'s text, by the definition of the layout (any JSON value)."""
    kind = type(value)
    if kind is str or isinstance(value, str):
        return encode_basestring(value)
    if kind is dict:
        if not value:
            return "{}"
        inner = indent + "\t"
        parts = [
            f"{inner}{encode_basestring(key)}: {encode_basestring(item) if type(item) is str else exact(item, inner)}"
            for key, item in value.items()
        ]
        return "{\n" + ",\n".join(parts) + "\n" + indent + "}"
    if kind is list:
        if not value:
            return "[]"
        inner = indent + "\t"
        items = [inner + (encode_basestring(item) if type(item) is str else exact(item, inner)) for item in value]
        return "[\n" + ",\n".join(items) + "\n" + indent + "]"
    return _scalar(value, indent)


def exact_template_value(value: Any, indent: str) -> str:
    """`encode_template_value`'s text, by the definition (any JSON value)."""
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
                v = exact_template_value(item, inner)
            append(f"{inner}{k}: {v}")
        return "{\n" + ",\n".join(parts) + "\n" + indent + "}"
    if kind is list:
        if not value:
            return "[]"
        inner = indent + "\t"
        return "[\n" + ",\n".join([inner + exact_template_value(item, inner) for item in value]) + "\n" + indent + "]"
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
        return exact(dict(value), indent)
    if isinstance(value, (list, tuple)):
        return exact(list(value), indent)
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
