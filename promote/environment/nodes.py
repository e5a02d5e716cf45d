"""Reading a YAML node tree into typed values, keeping line numbers and collecting every problem.

The file is read with PyYAML's compose API rather than `safe_load` because only the node tree keeps line numbers
and shows duplicate keys (which `safe_load` silently resolves to the last one). `NodeReader` knows YAML (merge
keys, aliases, tags, `${VAR}` expansion) and the shapes of fields (a string, a choice, a bounded number, a list
of strings, a mapping with a fixed set of keys), but no section of the environment file: `reader` builds the
schema on top of it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from promote.environment.hints import did_you_mean, nearest
from promote.errors import Problem
from promote.untrusted import MAX_DEPTH

# Values an environment file may expand to once its aliases and merge keys are followed. Aliases are kept (merge
# keys share smoke entries and settings, and the schema reads them), but each use of one is a copy: nine
# aliases of nine aliases of ... is exponential (the "billion laughs"). A real environment file holds a few
# hundred values; 100,000 is reached in well under a second, long before such a file could hang a run.
MAX_EXPANDED = 100_000

_NULL_TAG = "tag:yaml.org,2002:null"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_TEXT_TAGS = ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary")  # kept as written

_VARIABLE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h)\s*$")
_SECONDS_PER = {"s": 1, "m": 60, "min": 60, "h": 3600}


def node_kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == _NULL_TAG:
        return "null"
    return {_BOOL_TAG: "a boolean", _INT_TAG: "an integer", _FLOAT_TAG: "a number"}.get(node.tag, "a string")


def line_of(node: Node | None) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


def is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _NULL_TAG


def secret_misused(name: str) -> tuple[str, str]:
    """The problem and hint for a variable listed under `secrets:` used where a plan would hold its value."""
    return (
        f"${{{name}}} is listed under secrets: and may only be the whole value of a secure parameter "
        "(securestring or secureobject): here its value would be in the plan, the output and the factory",
        f"make the parameter secure in ADF, or remove {name} from secrets: if it is no secret",
    )


class NodeReader:
    """Walks the node tree (a structural pass, then the schema), building values and collecting every problem
    instead of stopping at the first: a person fixing the file should need one run, not one per mistake."""

    def __init__(self, file: str, env: Mapping[str, str]):
        self.file = file
        self.env = env
        self.problems: list[Problem] = []
        self.expansions = 0  # how many ${VAR} were replaced so far: tells whether a value came from env
        self.secret_names: frozenset[str] = frozenset()  # `secrets:`: variables a plan must never hold
        self.used: set[str] = set()  # variables expanded so far (a parameter's are checked by the caller)
        self._constructor = yaml.SafeLoader("")
        # Nodes being read, to stop on recursive aliases (`&a [*a]`): mappings' merge keys, values.
        self._active: set[int] = set()
        self._converting: set[int] = set()
        self._expanded = 0  # values built so far, aliases counted each time they are used
        self._depth = 0  # containers being built, one inside the other

    def _spend(self, node: Node, where: str) -> bool:
        """Count one value built; False, reported once, when the file expands past MAX_EXPANDED."""
        self._expanded += 1
        if self._expanded == MAX_EXPANDED + 1:
            self.add(
                node,
                where,
                f"YAML aliases expand this file to more than {MAX_EXPANDED:,} values",
                "write the values out, or nest fewer aliases inside aliases",
            )
        return self._expanded <= MAX_EXPANDED

    def add(self, node: Node | None, where: str, message: str, hint: str | None = None) -> None:
        self.problems.append(
            Problem(file=self.file, message=message, line=line_of(node), object=where or None, hint=hint)
        )

    # ---- mappings

    def pairs(self, node: Node, where: str) -> list[tuple[str, Node, Node]] | None:
        """(key, key node, value node) of a mapping, merge keys expanded; None when it is no mapping."""
        if is_null(node):
            return []
        if not isinstance(node, MappingNode):
            self.add(node, where, f"expected a mapping, got {node_kind(node)}")
            return None
        return self._pairs(node, where)

    def _pairs(self, node: MappingNode, where: str) -> list[tuple[str, Node, Node]]:
        """Keys as written (later duplicates win, as in PyYAML); `structure` has reported what is wrong."""
        if id(node) in self._active:
            return []  # a merge key that includes its own mapping
        if not self._spend(node, where) or self._too_deep(node, where):
            return []
        self._active.add(id(node))
        self._depth += 1
        try:
            own: dict[str, tuple[Node, Node]] = {}
            merged: list[tuple[str, Node, Node]] = []
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE_TAG:
                    sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                    for source in sources:
                        if isinstance(source, MappingNode):
                            merged.extend(self._pairs(source, where))
                elif isinstance(key_node, ScalarNode):
                    own[key_node.value] = (key_node, value_node)
            result = [(key, k, v) for key, (k, v) in own.items()]
            for key, k, v in merged:  # own keys win over merged ones; earlier merge sources win over later
                if key not in own:
                    own[key] = (k, v)
                    result.append((key, k, v))
            return result
        finally:
            self._active.discard(id(node))
            self._depth -= 1

    def _too_deep(self, node: Node, where: str) -> bool:
        if self._depth < MAX_DEPTH:
            return False
        self.add(node, where, f"nested more than {MAX_DEPTH} levels deep", "no environment file needs that")
        return True

    def structure(self, root: Node) -> None:
        """Report, once per node of the whole file, what the schema walk cannot see or would see twice:
        duplicate keys (PyYAML keeps the last silently), keys that are not scalars, bad merge keys."""
        seen: set[int] = set()
        stack: list[tuple[Node, str, int]] = [(root, "", 1)]
        too_deep = False
        while stack:
            node, where, depth = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if depth > MAX_DEPTH and not too_deep and isinstance(node, (SequenceNode, MappingNode)):
                too_deep = True
                self.add(node, where, f"nested more than {MAX_DEPTH} levels deep", "no environment file needs that")
            if isinstance(node, SequenceNode):
                stack.extend((item, f"{where}[{i}]", depth + 1) for i, item in enumerate(node.value))
                continue
            if not isinstance(node, MappingNode):
                continue
            first: dict[str, Node] = {}
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE_TAG:
                    sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                    for source in sources:
                        if not isinstance(source, MappingNode):
                            self.add(source, where, "a merge key '<<' needs a mapping or a list of mappings")
                    stack.append((value_node, where, depth + 1))
                    continue
                if not isinstance(key_node, ScalarNode):
                    self.add(key_node, where, f"keys must be strings, got {node_kind(key_node)}")
                    continue
                key = key_node.value
                if key in first:
                    self.add(
                        key_node,
                        where,
                        f"duplicate key '{key}'",
                        f"first given on line {line_of(first[key])}; YAML would silently keep only the last",
                    )
                else:
                    first[key] = key_node
                stack.append((value_node, f"{where}.{key}" if where else key, depth + 1))

    def section(
        self, node: Node, where: str, allowed: Sequence[str], required: Sequence[str] = ()
    ) -> dict[str, tuple[Node, Node]] | None:
        """A mapping with a fixed set of keys; unknown keys are reported with the nearest valid one."""
        pairs = self.pairs(node, where)
        if pairs is None:
            return None
        found: dict[str, tuple[Node, Node]] = {}
        for key, key_node, value_node in pairs:
            if key in allowed:
                found[key] = (key_node, value_node)
            else:
                self.add(key_node, where, f"unknown key '{key}'", did_you_mean(key, allowed, "valid keys are"))
        for key in required:
            if key not in found:
                self.add(node, where, f"missing required key '{key}'")
        return found

    # ---- scalars

    def expand(self, text: str, node: Node, where: str) -> str:
        """Replace `${VAR}` from the process environment; `$${` is a literal `${`."""

        def substitute(match: re.Match[str]) -> str:
            token = match.group(0)
            if token == "$${":
                return "${"
            name = match.group(1)
            if name is None:
                self.add(node, where, "unterminated '${'", "write ${NAME}, or $${ for a literal '${'")
                return token
            if not _VARIABLE_NAME.match(name):
                self.add(node, where, f"'${{{name}}}' is not a valid variable name", "write ${NAME}")
                return token
            if name not in self.env:
                self.add(
                    node,
                    where,
                    f"environment variable {name} is not set",
                    f"set {name} in the environment that runs promote, e.g. from a CI secret, "
                    "or write the value in the file",
                )
                return token
            self.expansions += 1
            self.used.add(name)
            if name in self.secret_names and (not where.startswith("parameters.") or ".keyvault." in where):
                self.add(node, where, *secret_misused(name))
                return token
            return self.env[name]

        return _VARIABLE.sub(substitute, text)

    def scalar(self, node: ScalarNode, where: str) -> Any:
        """A scalar with YAML's type; timestamps and binary stay text (they are not JSON values)."""
        try:
            if node.tag == _NULL_TAG:
                return None
            if node.tag == _BOOL_TAG:
                return self._constructor.construct_yaml_bool(node)
            if node.tag == _INT_TAG:
                return self._constructor.construct_yaml_int(node)
            if node.tag == _FLOAT_TAG:
                return self._constructor.construct_yaml_float(node)
            if node.tag == _STR_TAG or node.tag in _TEXT_TAGS:
                return node.value
        except (ValueError, yaml.YAMLError):
            pass
        self.add(node, where, f"unsupported YAML tag '{node.tag}'", "remove the tag or quote the value")
        return None

    def plain(self, node: Node, where: str) -> Any:
        """Any YAML value as JSON-like data, with `${VAR}` expanded in its strings."""
        if not self._spend(node, where):
            return None
        if isinstance(node, ScalarNode):
            value = self.scalar(node, where)
            return self.expand(value, node, where) if isinstance(value, str) else value
        if id(node) in self._converting:
            self.add(node, where, "recursive YAML alias")
            return None
        if self._too_deep(node, where):
            return None
        self._converting.add(id(node))
        self._depth += 1
        try:
            if isinstance(node, SequenceNode):
                return [self.plain(item, f"{where}[{i}]") for i, item in enumerate(node.value)]
            pairs = self._pairs(node, where) if isinstance(node, MappingNode) else []
            return {key: self.plain(value, f"{where}.{key}") for key, _, value in pairs}
        finally:
            self._converting.discard(id(node))
            self._depth -= 1

    def text(self, node: Node, where: str, *, expand: bool = True) -> str | None:
        """A string field: the scalar as written (so `0123` stays "0123"), `${VAR}` expanded."""
        if not isinstance(node, ScalarNode):
            self.add(node, where, f"expected a string, got {node_kind(node)}")
            return None
        if node.tag == _NULL_TAG:
            self.add(node, where, "needs a value")
            return None
        before = len(self.problems)
        value = self.expand(node.value, node, where) if expand else node.value
        if len(self.problems) > before:
            return None  # an unset variable: reported once, not again as a bad value
        if not value.strip():
            self.add(node, where, "needs a value")
            return None
        return value

    def choice(self, node: Node, where: str, allowed: Sequence[str]) -> str | None:
        value = self.text(node, where, expand=False)
        if value is None:
            return None
        if value not in allowed:
            close = nearest(value, allowed)
            hint = (f"did you mean '{close}'? " if close else "") + f"allowed: {', '.join(allowed)}"
            self.add(node, where, f"invalid value '{value}'", hint)
            return None
        return value

    def boolean(self, node: Node, where: str) -> bool | None:
        value = self.scalar(node, where) if isinstance(node, ScalarNode) else node
        if not isinstance(value, bool):
            self.add(node, where, f"expected true or false, got {node_kind(node)}")
            return None
        return value

    def number(
        self, node: Node, where: str, *, minimum: float, maximum: float | None = None, strict: bool = False
    ) -> float | None:
        """A number within bounds; `strict` excludes the minimum (timeouts must be positive)."""
        value = self.scalar(node, where) if isinstance(node, ScalarNode) else None
        bounds = f"more than {minimum:g}" if strict else f"at least {minimum:g}"
        if maximum is not None:
            bounds = f"between {minimum:g} and {maximum:g}"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.add(node, where, f"expected a number {bounds}, got {node_kind(node)}")
            return None
        if not math.isfinite(value):
            self.add(node, where, f"expected a number {bounds}, got {node.value}")  # .nan, .inf
            return None
        if value < minimum or (strict and value == minimum) or (maximum is not None and value > maximum):
            hint = "a share: 0.2 means 20%" if maximum == 1 and value > 1 else None
            self.add(node, where, f"{value:g} is out of range: expected a number {bounds}", hint)
            return None
        return value

    def duration(self, node: Node, where: str) -> float | None:
        """A time limit: a number of seconds, or a number with a unit (`90s`, `30m`, `2h`); more than 0."""
        value = self.scalar(node, where) if isinstance(node, ScalarNode) else None
        if isinstance(value, str):
            match = _DURATION.match(value)
            seconds = float(match.group(1)) * _SECONDS_PER[match.group(2)] if match else None
            if seconds is None or seconds <= 0:
                self.add(node, where, f"'{value}' is not a time limit", "write seconds (1800) or 90s, 30m, 2h")
                return None
            return seconds
        return self.number(node, where, minimum=0, strict=True)

    def strings(self, node: Node, where: str) -> list[tuple[int, str, Node]]:
        """A list of strings (null is an empty list)."""
        if is_null(node):
            return []
        if not isinstance(node, SequenceNode):
            self.add(
                node,
                where,
                f"expected a list, got {node_kind(node)}",
                'write ["a", "b"] or one "- a" a line',
            )
            return []
        out = []
        for i, item in enumerate(node.value):
            value = self.text(item, f"{where}[{i}]", expand=False)
            if value is not None:
                out.append((i, value, item))
        return out

    def items(self, node: Node, where: str) -> list[Node]:
        if is_null(node):
            return []
        if not isinstance(node, SequenceNode):
            self.add(node, where, f"expected a list, got {node_kind(node)}", "start each entry with '- '")
            return []
        return list(node.value)
