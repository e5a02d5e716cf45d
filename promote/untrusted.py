"""Reading untrusted JSON: every file and every answer `promote` parses goes through `load_json`.

Everything that arrives as text is untrusted (templates, parameters files, plan files, journals, the factory's
answers). Python's `json` accepts more than JSON and more than the rest of the promoter can handle:

- `NaN`, `Infinity` and `-Infinity` are not JSON (RFC 8259); ARM refuses them, and a NaN compares unequal to
  itself, so a diff would see a change forever. Numbers too large for a float (`1e999`) become infinity; they
  are refused the same way. Integers of more than 4,300 digits are refused by Python itself.
- Nesting: the walkers of templates, diffs and plans recurse once or a few times per level, and Python stops at
  1,000 frames. A document nested deeper than `MAX_DEPTH` is refused here, with the file named, instead of
  crashing wherever the first recursive walker meets it. `MAX_DEPTH` is 128: the deepest template among the
  4,292 published ARM files of the reference material is 19 levels, so 128 leaves every real factory a wide
  margin, while 128 levels walked by the deepest recursion (the Azure SDK's serializer, a few frames a level)
  stay far from Python's limit. Documents that wrap a template (a plan file, a deployment the factory returns)
  are read with `ENVELOPE_DEPTH`, room for the wrapping around a template that passed.

Each problem is an `InputError` (exit 2) naming the file, the line where the JSON parser knows it, and what to do.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone
from typing import Any

from promote.errors import InputError

MAX_DEPTH = 128  # templates, parameters files: what a person (or ADF) wrote
ENVELOPE_DEPTH = MAX_DEPTH + 32  # plan files, journals, the factory's answers: a template inside a wrapping

__all__ = [
    "ENVELOPE_DEPTH",
    "MAX_DEPTH",
    "JsonRefused",
    "StrictDecoder",
    "decode",
    "depth_over",
    "load_json",
    "parse_json",
]


class JsonRefused(ValueError):
    """Text that is not JSON, or JSON this project does not read: `reason` says why, `line` where (if known)."""

    def __init__(self, reason: str, line: int | None = None, *, syntax: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.syntax = syntax  # not JSON at all (rather than a value or a nesting refused)


def _constant(name: str) -> Any:
    raise JsonRefused(f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonRefused(f"the number {text[:40]} is too large")
    return value


class StrictDecoder(json.JSONDecoder):
    """Python's decoder (the C scanner) with JSON's rules: `NaN` and `Infinity` refused, floats range-checked.
    `floats` notes whether any float was read: JavaScript prints floats unlike Python, so the build's writer
    (`promote.build.jsonfmt`) checks its text only then. The hooks run for those tokens alone."""

    def __init__(self) -> None:
        super().__init__(parse_constant=_constant, parse_float=self._float)
        self.floats = False

    def _float(self, text: str) -> float:
        self.floats = True
        return _float(text)


_DECODER = StrictDecoder()


def parse_json(text: str, *, max_depth: int = MAX_DEPTH, decoder: json.JSONDecoder | None = None) -> Any:
    """Strict JSON text -> value, or JsonRefused (a ValueError): syntax errors, NaN and Infinity, numbers out of
    range, nesting deeper than `max_depth`. For callers that say themselves what is wrong; `load_json` names the
    file for them."""
    try:
        doc = (decoder or _DECODER).decode(text)
    except json.JSONDecodeError as exc:
        reason = exc.msg.removesuffix(" at")  # "Unterminated string starting at" reads badly before our "at"
        raise JsonRefused(f"{reason} at line {exc.lineno} column {exc.colno}", exc.lineno, syntax=True) from None
    except RecursionError:
        raise JsonRefused(f"nested more than {max_depth} levels deep") from None
    except JsonRefused:
        raise
    except ValueError as exc:  # integers of more than 4,300 digits
        raise JsonRefused(str(exc)) from None
    # Nesting needs an opening bracket per level: a text with fewer cannot be too deep (most resources parsed
    # one by one by `promote.quickdiff` hold a few dozen), and counting costs a fraction of walking.
    if text.count("[") + text.count("{") > max_depth and depth_over(doc, max_depth):
        raise JsonRefused(f"nested more than {max_depth} levels deep")
    return doc


def decode(data: str | bytes, file: str, *, hint: str | None = None, error: type[InputError] = InputError) -> str:
    """Bytes as text: UTF-8 (with or without a BOM) or UTF-16/32 with a BOM, as `json` detects it. A BOM is
    dropped. Undecodable bytes are an InputError naming the line."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        encoding = json.detect_encoding(raw)  # BOMs: utf-8-sig, utf-16, utf-32; BOM-less UTF-16/32 by NULs
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise error.single(
                file,
                f"cannot decode the file as {encoding}: {exc.reason} at byte {exc.start}",
                line=line,
                hint=hint or "save it as UTF-8",
            ) from None
    else:
        text = data
    return text[1:] if text.startswith("\ufeff") else text


def load_json(
    data: str | bytes,
    file: str,
    *,
    max_depth: int = MAX_DEPTH,
    what: str = "invalid JSON",
    hint: str | None = None,
    error: type[InputError] = InputError,
) -> Any:
    """Parse untrusted JSON text (or bytes) from `file`; raise `error` (an InputError) naming the file.

    `what` starts the message (`"invalid JSON"`, `"not a plan file: invalid JSON"`); `hint` says what to do.
    """
    text = decode(data, file, hint=hint, error=error)
    try:
        return parse_json(text, max_depth=max_depth)
    except JsonRefused as exc:
        if exc.syntax:
            default = "fix the JSON syntax there (a hand edit or a merge conflict marker is the usual cause)"
        elif "levels deep" in exc.reason:
            default = f"no factory needs that; promote reads at most {max_depth} levels"
        else:
            default = "JSON has no NaN or Infinity; write a finite number, or a string"
        raise error.single(file, f"{what}: {exc.reason}", line=exc.line, hint=hint or default) from None


def depth_over(value: Any, limit: int) -> bool:
    """Whether `value` nests objects and arrays more than `limit` levels deep (a scalar is 0 levels).

    Breadth-first, one list per level, without recursion: about a quarter of the cost of parsing the text.
    """
    level = [value] if type(value) is dict or type(value) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below: list[Any] = []
        for container in level:
            children = container.values() if type(container) is dict else container
            below += [v for v in children if type(v) is dict or type(v) is list]
        level = below
    return False


_INSTANT = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:?\d\d)?", re.ASCII)


def instant(text: object) -> datetime | None:
    """A time as Azure answers it (`2025-03-01T03:00:00.1234567+01:00`: any fraction digits, `Z`, an offset or
    none, meaning UTC) or git writes it (`+02:00`), as an aware datetime. None when it is not such a time,
    digits in the right places included that name no day or hour: the text came from outside."""
    match = _INSTANT.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    zone = match.group(2) or "Z"
    zone = "+00:00" if zone == "Z" else zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
    try:
        return datetime.fromisoformat(match.group(1) + zone)
    except ValueError:
        return None


def utc_text(text: object) -> str | None:
    """`instant`, as people read it: `2025-03-01T02:00:00Z` (to the second, in UTC)."""
    when = instant(text)
    return None if when is None else when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
