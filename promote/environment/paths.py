"""Object keys and property paths as people write them: `pipelines/train_mnist`,
`properties.activities[name=train].typeProperties.command`.

The overrides' `object:` and `path:` fields are written in this syntax, and `promote.diff` prints its paths in
the same one, so a path from a diff can be pasted into an override. The segments themselves (`Key`, `Index`,
`Match`) are in `model`; `format_path` prints a parsed path back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from promote.environment.hints import did_you_mean
from promote.environment.model import Index, Key, Match, Segment
from promote.factory import OBJECT_TYPES, ObjectKey


class ValueSyntaxError(ValueError):
    """An object key or a property path that cannot be parsed; `hint` says what was expected."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


def format_path(path: Sequence[Segment]) -> str:
    """A path as people write it, rooted at the object's `properties`."""
    return "properties" + "".join(str(s) for s in path)


def parse_object_key(text: str) -> ObjectKey:
    """`pipelines/train_mnist` (any casing of the type) -> ObjectKey in the contract casing.

    Raises ValueSyntaxError. Types may contain a slash (`managedVirtualNetworks/managedPrivateEndpoints`), so
    the longest known type that prefixes the text wins.
    """
    text = text.strip()
    lower = text.lower()
    for arm_type in sorted(OBJECT_TYPES, key=len, reverse=True):
        if lower.startswith(arm_type + "/"):
            type_ = OBJECT_TYPES[arm_type]
            name = text[len(arm_type) + 1 :]
            if not name:
                raise ValueSyntaxError(f"'{text}' has no object name", f"write {type_}/<name>")
            parts = name.split("/")
            expected = 2 if "/" in type_ else 1
            if len(parts) != expected or not all(parts):
                example = f"{type_}/<network>/<endpoint>" if expected == 2 else f"{type_}/<name>"
                raise ValueSyntaxError(f"'{text}' is not a valid {type_} key", f"write {example}")
            return ObjectKey(type_, name)
    contract = list(OBJECT_TYPES.values())
    if "/" not in text:
        raise ValueSyntaxError(f"'{text}' is not an object key", "write <type>/<name>, e.g. pipelines/train_mnist")
    type_part = text.split("/", 1)[0]
    raise ValueSyntaxError(f"unknown object type '{type_part}'", did_you_mean(type_part, contract, "object types are"))


_PATH_TOKEN = re.compile(
    r"""
      (?P<dot>\.)
    | \[\s*(?P<index>[-+]?\d+)\s*\]
    | \[\s*(?P<quoted>"(?:[^"\\]|\\.)*"|'[^']*')\s*\]
    | \[\s*(?P<field>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?P<match>"[^"]*"|'[^']*'|[^\]]*?)\s*\]
    | (?P<key>[^.\[\]]+)
    """,
    re.VERBOSE,
)


def parse_path(text: str) -> tuple[Segment, ...]:
    """`properties.activities[name=train].typeProperties.command` -> segments below `properties`.

    Segments are separated by `.`; `[N]` is a list index, `[name=X]` (any field) selects the list item whose
    field is X (quotes around X are optional), `["a.b"]` is a key containing dots. The leading
    `properties.` is optional. Raises ValueSyntaxError naming the column.
    """
    expected = "segments are keys separated by '.', [N], [name=X] or [\"key\"]"
    if not text or not text.strip():
        raise ValueSyntaxError("the path is empty", expected)
    segments: list[Segment] = []
    position = 0
    after_dot = True  # at the start or right after '.': a key must follow
    while position < len(text):
        token = _PATH_TOKEN.match(text, position)
        column = position + 1
        if token is None:
            raise ValueSyntaxError(f"path '{text}': cannot read segment at column {column}", expected)
        kind = token.lastgroup if token.lastgroup in ("dot", "index", "quoted", "key") else "match"
        if kind == "dot":
            if after_dot:
                raise ValueSyntaxError(f"path '{text}': empty segment at column {column}", expected)
            after_dot = True
        elif kind == "key":
            if not after_dot:
                raise ValueSyntaxError(f"path '{text}': missing '.' before column {column}", expected)
            segments.append(Key(token.group("key")))
            after_dot = False
        else:
            if after_dot and segments:
                raise ValueSyntaxError(f"path '{text}': '.' directly before '[' at column {column}", expected)
            if kind == "index":
                index = int(token.group("index"))
                if index < 0 or token.group("index").startswith(("-", "+")):
                    raise ValueSyntaxError(
                        f"path '{text}': list index must be 0 or more at column {column}",
                        "negative indices are not supported; select the item by [name=X]",
                    )
                segments.append(Index(index))
            elif kind == "quoted":
                quoted = token.group("quoted")
                segments.append(Key(json.loads(quoted) if quoted.startswith('"') else quoted[1:-1]))
            else:
                value = token.group("match")
                if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                    value = value[1:-1]
                if not value:
                    raise ValueSyntaxError(f"path '{text}': empty value in [{token.group('field')}=]", expected)
                segments.append(Match(token.group("field"), value))
            after_dot = False
        position = token.end()
    if after_dot:
        raise ValueSyntaxError(f"path '{text}': ends with '.'", expected)
    if segments and segments[0] == Key("properties"):
        segments.pop(0)
    if not segments:
        raise ValueSyntaxError(
            f"path '{text}' names the whole properties object", "name a property below it, e.g. description"
        )
    return tuple(segments)
