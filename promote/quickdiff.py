"""`promote diff` of two versions without parsing or evaluating what did not change, with the slow path as fallback.

Why: parsing both templates whole (`json.loads`) already costs what the target allows for the whole diff, and
holding two parsed 5,000-object documents alone exceeds its memory budget. Two versions of a factory share
almost all of their text, and ADF writes a template in a fixed layout (tabs; each element of `resources` a
block from `\\n\\t\\t{` to `\\n\\t\\t}`, opening with its `name` and `type` lines). So each side's `resources` array
is split into per-resource byte ranges by a C-speed regex, each range keyed by the name in ADF's
`[concat(parameters('factoryName'), '/x')]` and its type, and a resource whose bytes are the same on both sides
is neither evaluated nor diffed: it is counted unchanged. Only the rest goes through the normal evaluator and
`diff_factories`.

Why the answer is the slow path's (the proof the code follows; any step that does not hold -> slow path):

1. The split is the template's. Every element range of the old side is parsed (`json.loads` of its bytes must
   give one object, ending exactly where the range ends); the gaps between ranges are regex-matched
   `ws , ws`; the rest of the file (the "header") is parsed twice with the array replaced by `0` and by `1`,
   and must give a top-level object whose `resources` is `0` and `1`: so the array is the value the slow path
   reads as `resources`, and it holds exactly those elements. On the new side a range is either byte-identical
   to a proven range of the old side or parsed itself, so the same holds there. Every byte of both files is
   parsed or equal to bytes that were: invalid UTF-8 or JSON cannot hide.
2. An identical range evaluates to the identical object on both sides. Evaluating a resource depends only on
   its text and on what its expressions look up: parameters, variables, `deployment()` (the template's
   `contentVersion`, which must match) and the deployment context (the same default on both sides). No
   supported function is non-deterministic (`utcNow`, `newGuid` are refused). Both headers are evaluated
   (cheap), and the parameters and variables whose values differ (strictly: `True` is not `1` to `string()`,
   key order counts) or that only one side declares are collected; a resource whose text might look one of
   them up (`_may_look_up`, a conservative scan of its raw text) is evaluated on both sides instead. So a
   changed parameter value costs the evaluation of the objects that use it, not the fast path.
3. Its key is the slow path's key: the old side's parsed resource has exactly the `name` and `type` the regex
   read, no `condition`, `copy` or nested `resources`, a literal `apiVersion` and a list-of-strings `dependsOn`;
   the name evaluates to `factoryName + '/x'` (factoryName must be a string, the same on both sides). A name
   seen twice on one side (case-insensitively, as the loader folds) falls back, and so does an evaluated key
   that collides with an identical one.
4. Equal properties are unchanged for `diff_factories` (raw `==` first), so adding the identical ones to the
   `unchanged` of the diff of the rest is the whole diff: objects present on both sides are matched by exact
   key, and an identical key is never among the left-overs that case-insensitive pairing looks at. Objects
   whose texts differ but whose evaluated, normalised properties are equal are counted by `diff_factories`.
5. Environment: fitting parameters depends only on the declared parameters, the values only on those and the
   environment; overrides are fitted against every key of the side (identical ones included), and an object
   any override targets is never treated as identical, so applying overrides to the evaluated rest gives the
   slow path's objects, and a failing override fails here too (-> slow path, for its exact message).
6. `[[` property names (`parse_template` unescapes them in a file where `ESCAPED_KEY` matches): each side's
   parsed resources are unescaped as its whole file would be; when only one side unescapes, a resource
   spelling a key with a `\\u` escape (the only way to write one that `ESCAPED_KEY` misses) is evaluated.

Errors: any exception on the fast path runs the slow path, so bad JSON, bad parameter values, unsupported
functions or duplicates in anything that is evaluated are reported exactly as before. The one thing the fast
path does not report: an error that only evaluation would find (an unsupported function, a `dependsOn` entry
that evaluates to a non-string) inside a resource whose text is identical in both versions and looks up
nothing that differs. The old version is equally broken there, and the diff (that object did not change) is
still right; `promote validate`, `plan` and `deploy` evaluate everything and report it. (A lookup of a name
only one side declares is evaluated, so it is reported.)

Not handled (slow path, `VersionDiff.fallback` says why): linked templates without `ARMTemplateForFactory.json`
(ADF publishes the single file beside them), files that are not UTF-8, layouts without one element per
line-indented block, sides indented or line-ended differently, a different factoryName or contentVersion,
differing names that are not plain ASCII, sides using different environments. And for speed only: when more
than half of a large factory differs, the slow path's single parse is faster than parsing per resource.
The fast path still parses every resource of the old side (about a third of the slow path's time): that is
the price of point 1.
"""

from __future__ import annotations

import bisect
import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any

from promote.arm import evaluate_template
from promote.arm.template import ESCAPED_KEY, EvaluatedTemplate, unescape_keys
from promote.desired import SideInput, fit_overrides_to, fit_parameters
from promote.diff import Diff, diff_factories
from promote.environment import Environment, apply_overrides, values_for_template
from promote.factory import Factory, ObjectKey, object_key_from_arm
from promote.loader import Published, as_written, evaluate, single_published
from promote.source import SINGLE_TEMPLATE, SourceFiles
from promote.untrusted import MAX_DEPTH, parse_json

__all__ = ["Fallback", "quick_diff"]


class Fallback(Exception):
    """The fast path cannot prove its answer equal to the slow path's; `str()` says why."""


# --------------------------------------------------------------------------------------------------------------
# Splitting a template's text

_WS = rb"[ \t\r\n]*"
# The first `"resources": [` followed by an object; group 1 is the whitespace before that object.
_RESOURCES = re.compile(rb'"resources"' + _WS + rb":" + _WS + rb"\[(" + _WS + rb")\{")
# ADF's head of a resource: `{ "name": "[concat(parameters('factoryName'), '/<x>')]", "type": "<literal>"`.
# Group `n` is <x> (no quote, backslash or control character), group `t` the type (not an expression).
_HEAD = (
    rb"\{" + _WS + rb'"name"' + _WS + rb":" + _WS
    + rb"\"\[concat\(parameters\('factoryName'\), '/(?P<n>[^'\"\\\x00-\x1f]+)'\)\]\""
    + _WS + rb"," + _WS + rb'"type"' + _WS + rb":" + _WS
    + rb'"(?P<t>[^"\\\[\x00-\x1f][^"\\\x00-\x1f]*)"'
)  # fmt: skip
_HEAD_AT = re.compile(_HEAD)
_ESCAPE_MARK = b'"[['  # where `ESCAPED_KEY` can match at all
_ANY_U_ESCAPE = re.compile(rb"\\u")
_MOST = 50  # with more resources than this differing, and more than half, the slow path is faster


@dataclass
class _Split:
    """One side's template: its bytes, its header (the template with `resources: []`) and its element ranges."""

    files: SourceFiles
    data: bytes
    header: dict[str, Any]
    starts: list[int]  # element i is data[starts[i]:ends[i]], from its `{` to its `}`
    ends: list[int]
    heads: list[tuple[bytes, ...] | None]  # (<x>, type) of ADF's plain head, None for any other head
    escaped: bool  # parse_template would unescape `[[` property names in this file

    def same_bytes(self, i: int, other: _Split, j: int) -> bool:
        start, end = self.starts[i], self.ends[i]
        other_start = other.starts[j]
        return end - start == other.ends[j] - other_start and other.data.startswith(self.data[start:end], other_start)

    def parse(self, i: int) -> dict[str, Any]:
        """Element i as `parse_template` would have it inside the whole document (json is context-free)."""
        # The element sits two levels down (the document, its resources): the whole file's bound, less two.
        value = parse_json(self.data[self.starts[i] : self.ends[i]].decode("utf-8"), max_depth=MAX_DEPTH - 2)
        if type(value) is not dict:  # cannot happen for a range starting with `{`; kept for the proof
            raise Fallback("a resource range is not one JSON object")
        return unescape_keys(value) if self.escaped else value


@dataclass
class _Layout:
    """Where one side's resources array starts and how it is indented; cheap, so both are compared first."""

    files: SourceFiles
    data: bytes
    encoding: str
    found: re.Match[bytes]  # `_RESOURCES` in data
    indent: bytes  # the resources' indentation: `\t\t` in ADF's output
    newline: bytes  # b"\r\n" or b"\n"


def _layout(files: SourceFiles) -> _Layout:
    data = files.get(SINGLE_TEMPLATE)
    if data is None:
        raise Fallback(f"no {SINGLE_TEMPLATE} (linked templates only)")
    data = bytes(data)
    encoding = json.detect_encoding(data)
    if encoding not in ("utf-8", "utf-8-sig"):
        raise Fallback(f"{SINGLE_TEMPLATE} is {encoding}, not UTF-8")
    found = _RESOURCES.search(data)
    if found is None:
        raise Fallback("no resources array in ADF's layout")
    space = found.group(1)
    if b"\n" not in space:
        raise Fallback("resources are not one block per line (not ADF's layout)")
    line = space.rindex(b"\n")
    newline = b"\r\n" if space[line - 1 : line] == b"\r" else b"\n"
    return _Layout(files, data, encoding, found, space[line + 1 :], newline)


def _split(layout: _Layout) -> _Split:
    files, data, encoding, found, indent = layout.files, layout.data, layout.encoding, layout.found, layout.indent
    brace = 1 + len(indent)  # offset of an element's closing `}` in a match starting at its line's `\n`
    open_bracket = found.start(1) - 1
    first = found.end() - 1
    # ADF writes `resources` last: its end is the file's last `}` at the resources' indentation. Anything else
    # is searched for forward; whichever is found, the checks below prove it or the slow path runs.
    ending = re.compile(rb"\n" + indent + rb"\}" + _WS + rb"\]")
    tail = data.rfind(b"\n" + indent + b"}")
    close = ending.match(data, tail) if tail > first else None
    if close is None:
        close = ending.search(data, first)
    if close is None:
        raise Fallback("the end of the resources array is not in ADF's layout")
    last_end = close.start() + brace + 1
    close_bracket = close.end() - 1
    separator = re.compile(rb"\n" + indent + rb"\}[ \t\r]*,[ \t\r]*\n" + indent + rb"(?P<o>)(?=\{)(?:" + _HEAD + rb")?")

    first_head = _HEAD_AT.match(data, first)
    boundaries = [  # (end of the element before, start of the next, the next one's head)
        (match.start() + brace + 1, match.start("o"), match.group("n", "t") if match.start("n") >= 0 else None)
        for match in separator.finditer(data, first, last_end)
    ]
    starts = [first, *(start for _, start, _ in boundaries)]
    ends = [*(end for end, _, _ in boundaries), last_end]
    heads = [first_head.group("n", "t") if first_head else None, *(head for _, _, head in boundaries)]

    header = _header(data, open_bracket, close_bracket, encoding)
    escaped = False
    if _ESCAPE_MARK in data:
        text = data.decode(encoding)
        escaped = bool(ESCAPED_KEY.search(text[1:] if text.startswith("\ufeff") else text))
    if escaped:
        header = unescape_keys(header)
    return _Split(files, data, header, starts, ends, heads, escaped)


def _header(data: bytes, open_bracket: int, close_bracket: int, encoding: str) -> dict[str, Any]:
    """The template without its resources, proving that the bracketed range is the top-level `resources`.

    Parsed with the array replaced by `0`, then by `1`: if the top-level `resources` follows the replacement,
    it is that range (not a nested key, not a duplicate key that json would let win).
    """
    docs = []
    for sentinel in (b"0", b"1"):
        text = (data[:open_bracket] + sentinel + data[close_bracket + 1 :]).decode(encoding)
        docs.append(parse_json(text[1:] if text.startswith("\ufeff") else text))
    first, second = docs
    if not (
        type(first) is dict
        and type(second) is dict
        and type(first.get("resources")) is int
        and first["resources"] == 0
        and type(second.get("resources")) is int
        and second["resources"] == 1
    ):
        raise Fallback("the array found is not the template's top-level resources")
    first["resources"] = []
    return first


# --------------------------------------------------------------------------------------------------------------
# The fast path


def quick_diff(before: SideInput, after: SideInput) -> tuple[Diff, list[str]]:
    """The slow path's diff and warnings, evaluating only what differs; raises `Fallback` when it cannot prove it.

    See the module docstring for why the result equals `slow_diff`'s.
    """
    env = before.env
    if after.env is not env:
        raise Fallback("the two sides use different environments")
    old_layout, new_layout = _layout(before.files), _layout(after.files)
    if (old_layout.indent, old_layout.newline) != (new_layout.indent, new_layout.newline):
        # Then no resource's bytes can be the same: the fast path would evaluate everything, slower than the
        # slow path. (Equivalence does not depend on this; speed does.)
        raise Fallback("the two sides are indented or end their lines differently")
    old, new = _split(old_layout), _split(new_layout)
    old_pub, old_env, old_values, old_warnings = _fit_values(_published(old), env)
    new_pub, new_env, new_values, new_warnings = _fit_values(_published(new), env)
    # The headers alone (resources: []): every parameter default and variable, evaluated as the slow path does.
    old_scope = evaluate_template(old_pub.entry.template, old_values, file=old_pub.entry.display)
    new_scope = evaluate_template(new_pub.entry.template, new_values, file=new_pub.entry.display)
    differing = _differing(old_scope, new_scope, old.header, new.header)
    factory_name = _factory_name(old_scope)
    old_keys, new_keys = _keys(old, factory_name), _keys(new, factory_name)

    overridden = {(o.object.type, o.object.name.lower()) for o in env.overrides} if env else set()
    new_index = {key: j for j, key in enumerate(new_keys) if key is not None}
    candidates: dict[int, int] = {}  # old index -> new index of byte-identical resources with the same key
    for i, key in enumerate(old_keys):
        if key is None:
            continue
        j = new_index.get(key)
        if j is not None and (key[0], key[1].lower()) not in overridden and old.same_bytes(i, new, j):
            candidates[i] = j
    if differing:
        for i in _may_look_up(old, differing, candidates):
            del candidates[i]
    if old.escaped != new.escaped:
        # One side unescapes `[[` property names, the other does not: the same text gives the same object only
        # when it has no such key. A key written plainly matches `ESCAPED_KEY`, which the side that does not
        # unescape has nowhere; one spelled with a `\u` escape is the only other way, so those are evaluated.
        for i in _scan(old, candidates, _ANY_U_ESCAPE):
            del candidates[i]

    differ = len(old.starts) - len(candidates)
    if differ > _MOST and 2 * differ > len(old.starts):
        # Parsing piecewise and evaluating most of a large factory costs more than the slow path's whole parse.
        raise Fallback(f"{differ} of {len(old.starts)} resources differ: the slow path is faster")

    # Every resource of the old side is parsed (point 1 of the proof); only the ones not identical are kept.
    identical: list[ObjectKey] = []
    identical_new: set[int] = set()
    old_rest: list[dict[str, Any]] = []
    for i in range(len(old.starts)):
        resource = old.parse(i)
        j, head, key = candidates.get(i), old.heads[i], old_keys[i]
        if j is not None and head is not None and key is not None and _plain(resource, head):
            identical.append(ObjectKey(*key))
            identical_new.add(j)
        else:
            old_rest.append(resource)
    new_rest = [new.parse(j) for j in range(len(new.starts)) if j not in identical_new]

    return diff_the_rest(
        (old_pub, old_env, old_values, old_warnings),
        (new_pub, new_env, new_values, new_warnings),
        (old_rest, new_rest),
        identical,
        factory_name,
        (before.label, after.label),
    )


def _published(split: _Split) -> Published:
    """What `open_published` returns for a single template, with the header standing for the template."""
    return single_published(split.files, split.header)


# A side fitted to the environment: its published factory, environment, values and warnings (`_fit_values`).
Fitted = tuple[Published, Environment | None, dict[str, Any], list[str]]


def _fit_values(published: Published, env: Environment | None) -> Fitted:
    """What `load_side` evaluates: the published values as written (`loader.as_written`, whose templates may
    declare quirky parameters otherwise), or the environment's values fitted to this version."""
    if env is None:
        written, values, warnings = as_written(published)
        return written, None, values, warnings
    fitted, warnings = fit_parameters(env, published)
    warnings = [quirk.warning() for quirk in published.template_quirks] + warnings  # as `desired_factory` warns
    return published, fitted, values_for_template(fitted, published.parameters).values, warnings


_ABSENT = object()


def _differing(old: EvaluatedTemplate, new: EvaluatedTemplate, old_header: dict, new_header: dict) -> set[str]:
    """Lower-cased names of the parameters and variables an expression would see differently on the two sides:
    declared on both with other values, or declared on one side only (a resource looking one of those up is
    evaluated on both sides, so that the side lacking it fails as the slow path does)."""
    if not _same(old_header.get("contentVersion", "1.0.0.0"), new_header.get("contentVersion", "1.0.0.0")):
        raise Fallback("contentVersion differs (deployment() would differ)")
    differing: set[str] = set()
    for old_values, new_values in ((old.parameter_values, new.parameter_values), (old.variables, new.variables)):
        old_lower = {name.lower(): value for name, value in old_values.items()}
        new_lower = {name.lower(): value for name, value in new_values.items()}
        for name in old_lower.keys() | new_lower.keys():
            if not _same(old_lower.get(name, _ABSENT), new_lower.get(name, _ABSENT)):
                differing.add(name)
    if "factoryname" in differing:
        raise Fallback("factoryName differs")
    return differing


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON, strictly: types (`True` is not `1`, `1` is not `1.0`) and key order (`string()` shows it)."""
    kind = type(a)
    if kind is not type(b):
        return False
    if kind is dict:
        return len(a) == len(b) and all(
            ka == kb and _same(va, vb) for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True)
        )
    if kind is list:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if kind is float:
        return repr(a) == repr(b)  # -0.0 and nan
    return a is b or bool(a == b)


# Point 2 when some parameter or variable differs: which resource texts might look one of them up. A lookup is
# `parameters(<arg>)` / `variables(<arg>)`, names compared lower-cased. The scan is of the raw JSON text, so it
# flags (conservatively): any `\\u` or `\\/` escape (they can spell any character), a call whose argument is
# not one plain literal, and a plain literal equal to a differing name ignoring case. Whitespace between tokens
# may be raw or a JSON escape. Text with non-ASCII bytes is decoded and scanned with Unicode rules: `\s` is
# what the expression tokenizer skips, and the Kelvin sign is the one non-ASCII character that lower-cases to
# a name character, which Unicode IGNORECASE matching also covers.
_GAP = r"(?:\s|\\[bfnrt])*"
_LOOKUP = r"\\[u/]|(?:parameters|variables)" + _GAP + r"\((?!" + _GAP + r"'[^'\\]*'" + _GAP + r"\))|'(?:{names})'"


def _may_look_up(split: _Split, names: set[str], candidates: dict[int, int]) -> list[int]:
    """The candidates (old indices) whose text might look up one of `names` (lower-cased)."""
    if any(not name.isascii() or not name.isprintable() or set(name) & set("'\"\\") for name in names):
        raise Fallback("a differing parameter or variable name is not plain ASCII")
    pattern = _LOOKUP.format(names="|".join(re.escape(name) for name in sorted(names)))
    as_text = re.compile(pattern, re.IGNORECASE)
    as_bytes = re.compile(rb"[\x80-\xff]|" + pattern.encode(), re.IGNORECASE)
    return _scan(split, candidates, as_bytes, as_text)


def _scan(
    split: _Split, candidates: dict[int, int], as_bytes: re.Pattern[bytes], as_text: re.Pattern[str] | None = None
) -> list[int]:
    """The candidates whose bytes match `as_bytes`, in one pass over the resources; a match starting with a
    non-ASCII byte counts only if `as_text` matches the decoded resource."""
    data, starts, ends = split.data, split.starts, split.ends
    found: list[int] = []
    position, end = starts[0], ends[-1]
    while (match := as_bytes.search(data, position, end)) is not None:
        i = bisect.bisect_right(starts, match.start()) - 1
        position = max(match.end(), ends[i])  # one verdict per resource
        if i not in candidates or match.start() >= ends[i]:
            continue
        if as_text is None or match.group()[0] < 0x80 or as_text.search(data[starts[i] : ends[i]].decode("utf-8")):
            found.append(i)
    return found


def _factory_name(scope: EvaluatedTemplate) -> str:
    """The value `parameters('factoryName')` looks up (case-insensitively, as the evaluator does)."""
    for name, value in scope.parameter_values.items():
        if name.lower() == "factoryname":
            if type(value) is not str:
                raise Fallback("factoryName is not a string")
            return value
    raise Fallback("the template declares no factoryName")


def _keys(split: _Split, factory_name: str) -> list[tuple[str, str] | None]:
    """(type, name) of the object each resource with ADF's plain head makes, as `object_key_from_arm` makes it
    from the evaluated name `factoryName/<x>`; None for other heads and for types that are not factory objects."""
    kinds: dict[bytes, str | None] = {}
    keys: list[tuple[str, str] | None] = []
    seen: set[tuple[str, str]] = set()
    for head in split.heads:
        key = None
        if head is not None:
            raw_name, raw_type = head
            if raw_type in kinds:
                kind = kinds[raw_type]
            else:
                found = object_key_from_arm(raw_type.decode("utf-8"), "factory/object")
                kind = kinds[raw_type] = found.type if found is not None else None
            if kind is not None:
                name = raw_name.decode("utf-8")
                if "/" in factory_name:  # object_key_from_arm cuts the evaluated name at its first '/'
                    name = f"{factory_name}/{name}".partition("/")[2]
                key = (kind, name)
                folded = (kind, name.lower())
                if folded in seen:
                    raise Fallback(f"{kind}/{name} is defined twice")
                seen.add(folded)
        keys.append(key)
    return keys


def _plain(resource: dict[str, Any], head: tuple[bytes, ...]) -> bool:
    """The resource is what its head says, and nothing in it besides `properties` changes which object it makes
    or whether it makes one (point 3 of the proof). Anything else is evaluated instead."""
    api_version = resource.get("apiVersion")
    depends_on = resource.get("dependsOn")
    return (
        type(api_version) is str
        and not api_version.startswith("[")
        and (depends_on is None or (type(depends_on) is list and all(type(d) is str for d in depends_on)))
        and "condition" not in resource
        and "copy" not in resource
        and not resource.get("resources")
        and resource.get("type") == head[1].decode("utf-8")
        and resource.get("name") == f"[concat(parameters('factoryName'), '/{head[0].decode('utf-8')}')]"
    )


def diff_the_rest(
    old: Fitted,
    new: Fitted,
    rests: tuple[list[dict[str, Any]], list[dict[str, Any]]],
    identical: list[ObjectKey],
    factory_name: str,
    labels: tuple[str, str],
) -> tuple[Diff, list[str]]:
    """The end both fast paths share: each side's resources that were not folded evaluated (and overridden by the
    environment), diffed, the folded ones counted unchanged; the sides' warnings. An object the evaluation gives
    that was also folded means the template defines it twice: the slow path decides."""
    folded = {(key.type, key.name.lower()) for key in identical}
    factories: list[Factory] = []
    warnings: list[str] = []
    for (published, env, values, side_warnings), rest in zip((old, new), rests, strict=True):
        factory = _evaluate(published, rest, values, factory_name)
        if any((key.type, key.name.lower()) in folded for key in factory.objects):
            raise Fallback("an object is defined twice")
        if env is not None:
            factory, more = _overridden(env, factory, identical, published.label)
            side_warnings = side_warnings + more
        factories.append(factory)
        warnings += side_warnings
    diff = diff_factories(factories[0], factories[1], from_label=labels[0], to_label=labels[1])
    diff.unchanged += len(identical)
    return diff, warnings


def _evaluate(
    published: Published, resources: list[dict[str, Any]], values: dict[str, Any], factory_name: str
) -> Factory:
    """The loader's `evaluate` of the template holding only `resources`."""
    if not resources:
        return Factory(name=factory_name, objects={}, source=published.label, parameters=published.parameters)
    part = dataclasses.replace(published.entry, template={**published.entry.template, "resources": resources})
    return evaluate(dataclasses.replace(published, entry=part, parts=(part,)), values)


def _overridden(
    env: Environment, factory: Factory, identical: list[ObjectKey], source: str
) -> tuple[Factory, list[str]]:
    """`desired_factory`'s overrides: fitted against every key of the side, applied to the evaluated rest."""
    fitted, warnings = fit_overrides_to(env, [*identical, *factory.objects], source)
    return apply_overrides(fitted, factory), warnings
