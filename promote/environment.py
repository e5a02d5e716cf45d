"""`environments/<env>.yaml` -> a validated `Environment`, and its checks against a template and a factory.

An environment file is the only input a platform engineer writes by hand, so every mistake in it is reported
at once, each with file, line and key, before anything touches Azure (`EnvironmentFileError`, exit code 2).
The file is read with PyYAML's compose API rather than `safe_load` because only the node tree keeps line
numbers and shows duplicate keys (which `safe_load` silently resolves to the last one).

Three consumers use the result:

- the template evaluator, through `values_for_template`: plain values in which every secret is an opaque
  placeholder (so secrets never reach a diff or a printout), plus the ARM deployment parameters that carry the
  real values or Key Vault references for the deploy itself;
- the desired state, through `apply_overrides`: property values that ADF did not parameterize;
- the plan and apply stages: trigger, deletion and smoke-test policy.

Decisions where the contract is silent:

- `${VAR}` is expanded in strings only: target fields, Key Vault fields, parameter values, override values and
  smoke-test parameters (also inside lists and mappings). `$${` writes a literal `${`. Enums, numbers,
  booleans, object keys, paths and globs are never expanded: they are policy, not per-run values.
- Schema fields that must be strings (names, ids) take the scalar as written, so `factory: 0123` stays "0123";
  free-form values (parameters, overrides) keep YAML's types, including YAML 1.1's `on`/`yes` booleans, which
  the check against the template then reports for string parameters ("quote it").
- A Key Vault named by `vault:` is assumed to live in the target's subscription and resource group unless the
  reference says `resource_group:` / `subscription:`; `id:` names it exactly.
- A Key Vault reference is accepted only for `securestring`/`secureobject` parameters: ARM shows the values of
  other parameters in the deployment history, which would publish the secret.
- Parameter names match the template's case-insensitively, as ARM does.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any, Literal, Union

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from promote.errors import EnvironmentFileError, Problem
from promote.factory import OBJECT_TYPES, Factory, ObjectKey

if TYPE_CHECKING:
    from promote.arm.template import ParameterSpec

__all__ = [
    "DEFAULT_LOCATION",
    "DeletionPolicy",
    "Environment",
    "Index",
    "Key",
    "KeyVaultRef",
    "Match",
    "Override",
    "ParameterValue",
    "SmokePipeline",
    "Target",
    "TemplateValues",
    "TriggerPolicy",
    "ValueSyntaxError",
    "apply_overrides",
    "available_environments",
    "check_overrides",
    "check_parameters",
    "check_smoke",
    "find_environment",
    "format_path",
    "load_environment",
    "parse_object_key",
    "parse_path",
    "values_for_template",
]

DEFAULT_LOCATION = "westeurope"
ENDPOINTS = ("cloud", "local")
STOP_POLICIES = ("changed", "pipelines")
START_POLICIES = ("previous", "template")
DEFAULT_SUBSCRIPTION_TIMEOUT = 300
DEFAULT_MAX_SHARE = 0.5
DEFAULT_SMOKE_TIMEOUT = 600

TOP_KEYS = ("target", "parameters", "overrides", "triggers", "deletion", "smoke", "requires", "source")
TARGET_KEYS = ("subscription", "resource_group", "factory", "location", "endpoint")
KEYVAULT_KEYS = ("vault", "id", "secret", "version", "resource_group", "subscription")
OVERRIDE_KEYS = ("object", "path", "value")
TRIGGER_KEYS = ("stop", "start", "subscription_timeout")
DELETION_KEYS = ("enabled", "protected", "max_share")
SMOKE_KEYS = ("pipeline", "parameters", "timeout")

_NULL_TAG = "tag:yaml.org,2002:null"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_TEXT_TAGS = ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary")  # kept as written

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_RESOURCE_GROUP = re.compile(r"^[-\w.()]{1,90}$")
# ADF: letters, digits and single dashes between them; 3 to 63 characters.
_FACTORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){2,62}$")
_VAULT = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){2,23}$")
_VAULT_ID = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.KeyVault/vaults/([^/]+)$", re.IGNORECASE
)
_SECRET = re.compile(r"^[0-9A-Za-z-]{1,127}$")
_VARIABLE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_WHOLE_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


# --------------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Target:
    """Where the environment deploys. `endpoint` is `cloud` (Azure) or `local` (the built-in emulator)."""

    subscription: str
    resource_group: str
    factory: str
    location: str = DEFAULT_LOCATION
    endpoint: Literal["cloud", "local"] = "cloud"


@dataclass(frozen=True)
class KeyVaultRef:
    """A secret ARM reads from Key Vault at deploy time, so its value never passes through the promoter."""

    vault_id: str
    secret: str
    version: str | None = None

    @property
    def vault_name(self) -> str:
        return self.vault_id.rstrip("/").rsplit("/", 1)[-1]

    def to_arm(self) -> dict[str, Any]:
        """The deployment-parameter form ARM understands (`reference` instead of `value`)."""
        reference: dict[str, Any] = {"keyVault": {"id": self.vault_id}, "secretName": self.secret}
        if self.version:
            reference["secretVersion"] = self.version
        return {"reference": reference}

    def placeholder(self) -> str:
        """What evaluation sees instead of the secret: stable (diffs as unchanged) and harmless to print."""
        return f"<keyvault:{self.vault_name}/{self.secret}>"


@dataclass(frozen=True)
class ParameterValue:
    """A value for one template parameter, as written in the file (with `${VAR}` expanded).

    `value` is None for a Key Vault reference. `from_env` says that at least one `${VAR}` was expanded: such a
    value may be a secret, so it is left out of `repr` (a dataclass repr would otherwise print it in a log).
    """

    name: str
    value: Any
    line: int | None = None
    keyvault: KeyVaultRef | None = None
    from_env: bool = False
    env_var: str | None = None  # the variable's name when the value is exactly `${NAME}` (secure values need it)

    def __repr__(self) -> str:
        shown = "<from environment>" if self.from_env else repr(self.value)
        return (
            f"ParameterValue(name={self.name!r}, value={shown}, line={self.line!r}, "
            f"keyvault={self.keyvault!r}, from_env={self.from_env!r})"
        )


@dataclass(frozen=True)
class Key:
    """Path segment: a mapping key."""

    name: str

    def __str__(self) -> str:
        if re.fullmatch(r"[^.\[\]\"']+", self.name):
            return f".{self.name}"
        return "[" + json.dumps(self.name) + "]"


@dataclass(frozen=True)
class Index:
    """Path segment: a list position, from 0."""

    index: int

    def __str__(self) -> str:
        return f"[{self.index}]"


@dataclass(frozen=True)
class Match:
    """Path segment: the one list item (a mapping) whose `field` equals `value`, e.g. `[name=train_model]`.

    Activities are addressed by name rather than position because ADF reorders nothing but people do.
    """

    field: str
    value: str

    def __str__(self) -> str:
        return f"[{self.field}={self.value}]"


Segment = Union[Key, Index, Match]  # noqa: UP007 (a runtime alias; `X | Y` of classes needs 3.10 anyway)


def format_path(path: Sequence[Segment]) -> str:
    """A path as people write it, rooted at the object's `properties`."""
    return "properties" + "".join(str(s) for s in path)


@dataclass(frozen=True)
class Override:
    """A property value ADF did not parameterize. `path` is relative to the object's `properties`."""

    object: ObjectKey
    path: tuple[Segment, ...]
    value: Any
    line: int | None = None


@dataclass(frozen=True)
class TriggerPolicy:
    """Which triggers to stop before deploying and which to start afterwards (see DESIGN.md)."""

    stop: Literal["changed", "pipelines"] = "changed"
    start: Literal["previous", "template"] = "previous"
    subscription_timeout: float = DEFAULT_SUBSCRIPTION_TIMEOUT


@dataclass(frozen=True)
class DeletionPolicy:
    """Whether live objects missing from the source are deleted, and the guards on it."""

    enabled: bool = True
    protected: tuple[str, ...] = ()
    max_share: float = DEFAULT_MAX_SHARE

    def is_protected(self, key: ObjectKey | str) -> bool:
        """True when a `protected` glob matches "<type>/<name>"; case-insensitive, as ADF names are."""
        text = str(key).lower()
        return any(fnmatchcase(text, pattern.lower()) for pattern in self.protected)


@dataclass(frozen=True)
class SmokePipeline:
    """A pipeline run after a deploy; the deploy counts as good only when it succeeds within `timeout` s."""

    pipeline: str
    parameters: dict[str, Any] = field(default_factory=dict)
    timeout: float = DEFAULT_SMOKE_TIMEOUT
    line: int | None = None


@dataclass(frozen=True)
class Environment:
    """One validated `environments/<name>.yaml`. `file` is the path as given, for messages."""

    name: str
    file: str
    target: Target
    parameters: dict[str, ParameterValue] = field(default_factory=dict)
    overrides: tuple[Override, ...] = ()
    triggers: TriggerPolicy = TriggerPolicy()
    deletion: DeletionPolicy = DeletionPolicy()
    smoke: tuple[SmokePipeline, ...] = ()
    requires: str | None = None
    source: str | None = None
    # Line of each top-level key, so that later checks can point at a section that has no line of its own.
    key_lines: dict[str, int] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class TemplateValues:
    """An environment's parameter values, checked against one template.

    `values` feed the evaluator and may be printed: secrets in it are placeholders (`<keyvault:vault/secret>`,
    `<secure:name>`). `deployment` is the ARM `parameters` object for the deploy and carries the real secure
    values; `secrets` lists them for whoever redacts output. Neither appears in `repr`.
    """

    values: dict[str, Any]
    deployment: dict[str, dict[str, Any]] = field(repr=False)
    secrets: frozenset[str] = field(default=frozenset(), repr=False)


class ValueSyntaxError(ValueError):
    """An object key or a property path that cannot be parsed; `hint` says what was expected."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


# --------------------------------------------------------------------------------------------------- helpers


def _nearest(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate, compared case-insensitively (ADF and ARM names are case-insensitive)."""
    by_lower: dict[str, str] = {}
    for candidate in candidates:
        by_lower.setdefault(candidate.lower(), candidate)
    found = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    if found:
        return by_lower[found[0]]
    prefixed = [c for c in by_lower if word and c.startswith(word.lower())]  # "prod" -> "production"
    return by_lower[prefixed[0]] if len(prefixed) == 1 else None


def _listing(names: Iterable[str], limit: int = 10) -> str:
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _did_you_mean(word: str, candidates: Sequence[str], what: str) -> str:
    close = _nearest(word, candidates)
    if close is not None:
        return f"did you mean '{close}'?"
    return f"{what}: {_listing(candidates)}" if candidates else f"there are no {what}"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _node_kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == _NULL_TAG:
        return "null"
    return {_BOOL_TAG: "a boolean", _INT_TAG: "an integer", _FLOAT_TAG: "a number"}.get(node.tag, "a string")


def _line(node: Node | None) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _NULL_TAG


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
    raise ValueSyntaxError(f"unknown object type '{type_part}'", _did_you_mean(type_part, contract, "object types are"))


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


# --------------------------------------------------------------------------------------------------- reading


class _Reader:
    """Walks the node tree (a structural pass, then the schema), building values and collecting every problem
    instead of stopping at the first: a person fixing the file should need one run, not one per mistake."""

    def __init__(self, file: str, env: Mapping[str, str]):
        self.file = file
        self.env = env
        self.problems: list[Problem] = []
        self.expansions = 0  # how many ${VAR} were replaced so far: tells whether a value came from env
        self._constructor = yaml.SafeLoader("")
        # Nodes being read, to stop on recursive aliases (`&a [*a]`): mappings' merge keys, values.
        self._active: set[int] = set()
        self._converting: set[int] = set()

    def add(self, node: Node | None, where: str, message: str, hint: str | None = None) -> None:
        self.problems.append(
            Problem(file=self.file, message=message, line=_line(node), object=where or None, hint=hint)
        )

    # ---- mappings

    def pairs(self, node: Node, where: str) -> list[tuple[str, Node, Node]] | None:
        """(key, key node, value node) of a mapping, merge keys expanded; None when it is no mapping."""
        if _is_null(node):
            return []
        if not isinstance(node, MappingNode):
            self.add(node, where, f"expected a mapping, got {_node_kind(node)}")
            return None
        return self._pairs(node, where)

    def _pairs(self, node: MappingNode, where: str) -> list[tuple[str, Node, Node]]:
        """Keys as written (later duplicates win, as in PyYAML); `structure` has reported what is wrong."""
        if id(node) in self._active:
            return []  # a merge key that includes its own mapping
        self._active.add(id(node))
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

    def structure(self, root: Node) -> None:
        """Report, once per node of the whole file, what the schema walk cannot see or would see twice:
        duplicate keys (PyYAML keeps the last silently), keys that are not scalars, bad merge keys."""
        seen: set[int] = set()
        stack: list[tuple[Node, str]] = [(root, "")]
        while stack:
            node, where = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, SequenceNode):
                stack.extend((item, f"{where}[{i}]") for i, item in enumerate(node.value))
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
                    stack.append((value_node, where))
                    continue
                if not isinstance(key_node, ScalarNode):
                    self.add(key_node, where, f"keys must be strings, got {_node_kind(key_node)}")
                    continue
                key = key_node.value
                if key in first:
                    self.add(
                        key_node,
                        where,
                        f"duplicate key '{key}'",
                        f"first given on line {_line(first[key])}; YAML would silently keep only the last",
                    )
                else:
                    first[key] = key_node
                stack.append((value_node, f"{where}.{key}" if where else key))

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
                self.add(key_node, where, f"unknown key '{key}'", _did_you_mean(key, allowed, "valid keys are"))
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
        if isinstance(node, ScalarNode):
            value = self.scalar(node, where)
            return self.expand(value, node, where) if isinstance(value, str) else value
        if id(node) in self._converting:
            self.add(node, where, "recursive YAML alias")
            return None
        self._converting.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.plain(item, f"{where}[{i}]") for i, item in enumerate(node.value)]
            pairs = self._pairs(node, where) if isinstance(node, MappingNode) else []
            return {key: self.plain(value, f"{where}.{key}") for key, _, value in pairs}
        finally:
            self._converting.discard(id(node))

    def text(self, node: Node, where: str, *, expand: bool = True) -> str | None:
        """A string field: the scalar as written (so `0123` stays "0123"), `${VAR}` expanded."""
        if not isinstance(node, ScalarNode):
            self.add(node, where, f"expected a string, got {_node_kind(node)}")
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
            close = _nearest(value, allowed)
            hint = (f"did you mean '{close}'? " if close else "") + f"allowed: {', '.join(allowed)}"
            self.add(node, where, f"invalid value '{value}'", hint)
            return None
        return value

    def boolean(self, node: Node, where: str) -> bool | None:
        value = self.scalar(node, where) if isinstance(node, ScalarNode) else node
        if not isinstance(value, bool):
            self.add(node, where, f"expected true or false, got {_node_kind(node)}")
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
            self.add(node, where, f"expected a number {bounds}, got {_node_kind(node)}")
            return None
        if not math.isfinite(value):
            self.add(node, where, f"expected a number {bounds}, got {node.value}")  # .nan, .inf
            return None
        if value < minimum or (strict and value == minimum) or (maximum is not None and value > maximum):
            hint = "a share: 0.2 means 20%" if maximum == 1 and value > 1 else None
            self.add(node, where, f"{value:g} is out of range: expected a number {bounds}", hint)
            return None
        return value

    def strings(self, node: Node, where: str) -> list[tuple[int, str, Node]]:
        """A list of strings (null is an empty list)."""
        if _is_null(node):
            return []
        if not isinstance(node, SequenceNode):
            self.add(
                node,
                where,
                f"expected a list, got {_node_kind(node)}",
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
        if _is_null(node):
            return []
        if not isinstance(node, SequenceNode):
            self.add(node, where, f"expected a list, got {_node_kind(node)}", "start each entry with '- '")
            return []
        return list(node.value)

    # ---- sections

    def environment(self, root: Node, path: Path) -> Environment | None:
        self.structure(root)
        sections = self.section(root, "", TOP_KEYS, required=("target",))
        if sections is None:
            return None
        key_lines = {key: _line(key_node) or 0 for key, (key_node, _) in sections.items()}
        value = {key: value_node for key, (_, value_node) in sections.items()}
        target = self.target(value["target"]) if "target" in value else None
        parameters = self.parameters(value["parameters"], target) if "parameters" in value else {}
        overrides = self.overrides(value["overrides"]) if "overrides" in value else ()
        triggers = self.triggers(value["triggers"]) if "triggers" in value else TriggerPolicy()
        deletion = self.deletion(value["deletion"]) if "deletion" in value else DeletionPolicy()
        smoke = self.smoke(value["smoke"]) if "smoke" in value else ()
        requires = self.requires(value["requires"], path) if "requires" in value else None
        source = self.source(value["source"]) if "source" in value else None
        if self.problems or target is None:
            return None
        return Environment(
            name=path.stem,
            file=self.file,
            target=target,
            parameters=parameters,
            overrides=overrides,
            triggers=triggers,
            deletion=deletion,
            smoke=smoke,
            requires=requires,
            source=source,
            key_lines=key_lines,
        )

    def target(self, node: Node) -> Target | None:
        fields = self.section(node, "target", TARGET_KEYS, required=("subscription", "resource_group", "factory"))
        if fields is None:
            return None
        before = len(self.problems)
        endpoint = "cloud"
        if "endpoint" in fields:
            endpoint = self.choice(fields["endpoint"][1], "target.endpoint", ENDPOINTS) or "cloud"
        values: dict[str, str | None] = {}
        for key in ("subscription", "resource_group", "factory", "location"):
            if key in fields:
                values[key] = self.text(fields[key][1], f"target.{key}")
        subscription = values.get("subscription")
        if subscription is not None and endpoint == "cloud" and not _GUID.match(subscription):
            self.add(
                fields["subscription"][1],
                "target.subscription",
                "is not a subscription id",
                "an Azure subscription id is a GUID like 00000000-0000-0000-0000-000000000000",
            )
        group = values.get("resource_group")
        if group is not None and (not _RESOURCE_GROUP.match(group) or group.endswith(".")):
            self.add(
                fields["resource_group"][1],
                "target.resource_group",
                f"'{group}' is not a valid resource group name",
                "1 to 90 letters, digits, '-', '_', '.', '(' or ')', not ending with '.'",
            )
        factory = values.get("factory")
        if factory is not None and not _FACTORY.match(factory):
            self.add(
                fields["factory"][1],
                "target.factory",
                f"'{factory}' is not a valid data factory name",
                "3 to 63 letters, digits and single '-' between them, starting and ending with a letter or a digit",
            )
        if len(self.problems) > before or not (subscription and group and factory):
            return None
        return Target(
            subscription=subscription,
            resource_group=group,
            factory=factory,
            location=values.get("location") or DEFAULT_LOCATION,
            endpoint=endpoint,  # type: ignore[arg-type]
        )

    def parameters(self, node: Node, target: Target | None) -> dict[str, ParameterValue]:
        pairs = self.pairs(node, "parameters")
        out: dict[str, ParameterValue] = {}
        for name, key_node, value_node in pairs or []:
            where = f"parameters.{name}"
            if isinstance(value_node, MappingNode):
                inner = self._pairs(value_node, where)
                if any(key == "keyvault" for key, _, _ in inner):
                    ref = self.keyvault(inner, value_node, where, target)
                    if ref is not None:
                        out[name] = ParameterValue(name, None, _line(key_node), keyvault=ref)
                    continue
            if _is_null(value_node):
                self.add(
                    value_node,
                    where,
                    "has no value",
                    "give a value, or remove the key to use the template's default",
                )
                continue
            before = self.expansions
            value = self.plain(value_node, where)
            whole = _WHOLE_VAR.fullmatch(value_node.value) if isinstance(value_node, ScalarNode) else None
            out[name] = ParameterValue(
                name,
                value,
                _line(key_node),
                from_env=self.expansions > before,
                env_var=whole.group(1) if whole else None,
            )
        return out

    def keyvault(
        self, pairs: list[tuple[str, Node, Node]], node: Node, where: str, target: Target | None
    ) -> KeyVaultRef | None:
        for key, key_node, _ in pairs:
            if key != "keyvault":
                self.add(
                    key_node,
                    where,
                    f"unknown key '{key}' next to 'keyvault'",
                    "a Key Vault reference is {keyvault: {vault: <name>, secret: <name>}} and nothing else",
                )
        vault_node = next(v for key, _, v in pairs if key == "keyvault")
        where = f"{where}.keyvault"
        fields = self.section(vault_node, where, KEYVAULT_KEYS, required=("secret",))
        if fields is None:
            return None
        before = len(self.problems)
        got = {key: self.text(value_node, f"{where}.{key}") for key, (_, value_node) in fields.items()}
        if ("vault" in fields) == ("id" in fields):
            self.add(vault_node, where, "give exactly one of 'vault' (a name) or 'id' (a vault resource id)")
        secret = got.get("secret")
        if secret is not None and not _SECRET.match(secret):
            self.add(
                fields["secret"][1],
                f"{where}.secret",
                "is not a valid secret name",
                "1 to 127 letters, digits and '-'",
            )
        vault_id = got.get("id")
        if vault_id is not None and not _VAULT_ID.match(vault_id):
            self.add(
                fields["id"][1],
                f"{where}.id",
                "is not a Key Vault resource id",
                "/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.KeyVault/vaults/<name>",
            )
        if "id" in fields:
            for key in ("resource_group", "subscription"):
                if key in fields:
                    self.add(
                        fields[key][0],
                        f"{where}.{key}",
                        f"'{key}' goes with 'vault', not 'id'",
                        "the id already says where the vault is",
                    )
        vault = got.get("vault")
        if vault is not None and not _VAULT.match(vault):
            hint = "3 to 24 letters, digits and single '-', starting with a letter"
            if "." in vault or "/" in vault:
                hint = "give the vault's name (e.g. kv-mnist), not its URL; or give its resource id as 'id'"
            self.add(fields["vault"][1], f"{where}.vault", f"'{vault}' is not a Key Vault name", hint)
        if len(self.problems) > before or secret is None:
            return None
        if vault_id is None:
            if vault is None:
                return None
            subscription = got.get("subscription") or (target.subscription if target else None)
            group = got.get("resource_group") or (target.resource_group if target else None)
            if subscription is None or group is None:
                return None  # the target's own problem is already reported
            vault_id = (
                f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.KeyVault/vaults/{vault}"
            )
        return KeyVaultRef(vault_id=vault_id, secret=secret, version=got.get("version"))

    def overrides(self, node: Node) -> tuple[Override, ...]:
        out: list[Override] = []
        seen: dict[tuple[ObjectKey, tuple[Segment, ...]], int | None] = {}
        for i, item in enumerate(self.items(node, "overrides")):
            where = f"overrides[{i}]"
            fields = self.section(item, where, OVERRIDE_KEYS, required=OVERRIDE_KEYS)
            if fields is None:
                continue
            key = path = None
            if "object" in fields:
                text = self.text(fields["object"][1], f"{where}.object", expand=False)
                if text is not None:
                    try:
                        key = parse_object_key(text)
                    except ValueSyntaxError as exc:
                        self.add(fields["object"][1], f"{where}.object", exc.message, exc.hint)
            if "path" in fields:
                text = self.text(fields["path"][1], f"{where}.path", expand=False)
                if text is not None:
                    try:
                        path = parse_path(text)
                    except ValueSyntaxError as exc:
                        self.add(fields["path"][1], f"{where}.path", exc.message, exc.hint)
            if "value" not in fields:
                continue
            value = self.plain(fields["value"][1], f"{where}.value")
            if key is None or path is None:
                continue
            if (key, path) in seen:
                self.add(
                    item,
                    where,
                    f"{key} {format_path(path)} is overridden twice",
                    f"the override on line {seen[(key, path)]} sets the same property; keep one",
                )
            seen[(key, path)] = _line(item)
            out.append(Override(object=key, path=path, value=value, line=_line(item)))
        return tuple(out)

    def triggers(self, node: Node) -> TriggerPolicy:
        fields = self.section(node, "triggers", TRIGGER_KEYS) or {}
        policy = TriggerPolicy()
        if "stop" in fields:
            stop = self.choice(fields["stop"][1], "triggers.stop", STOP_POLICIES)
            policy = dataclasses.replace(policy, stop=stop or policy.stop)
        if "start" in fields:
            start = self.choice(fields["start"][1], "triggers.start", START_POLICIES)
            policy = dataclasses.replace(policy, start=start or policy.start)
        if "subscription_timeout" in fields:
            timeout = self.number(
                fields["subscription_timeout"][1], "triggers.subscription_timeout", minimum=0, strict=True
            )
            policy = dataclasses.replace(policy, subscription_timeout=timeout or policy.subscription_timeout)
        return policy

    def deletion(self, node: Node) -> DeletionPolicy:
        fields = self.section(node, "deletion", DELETION_KEYS) or {}
        policy = DeletionPolicy()
        if "enabled" in fields:
            enabled = self.boolean(fields["enabled"][1], "deletion.enabled")
            policy = dataclasses.replace(policy, enabled=policy.enabled if enabled is None else enabled)
        if "protected" in fields:
            patterns = []
            for i, pattern, item in self.strings(fields["protected"][1], "deletion.protected"):
                self.check_glob(pattern, item, f"deletion.protected[{i}]")
                patterns.append(pattern)
            policy = dataclasses.replace(policy, protected=tuple(patterns))
        if "max_share" in fields:
            share = self.number(fields["max_share"][1], "deletion.max_share", minimum=0, maximum=1)
            policy = dataclasses.replace(policy, max_share=policy.max_share if share is None else share)
        return policy

    def check_glob(self, pattern: str, node: Node, where: str) -> None:
        """A protection glob that can match nothing protects nothing: refuse it, rather than delete."""
        if "/" not in pattern:
            if not pattern.startswith(("*", "?", "[")):
                self.add(
                    node,
                    where,
                    f"'{pattern}' can match no object",
                    f"globs match '<type>/<name>': did you mean '*/{pattern}'?",
                )
            return
        type_part = pattern.split("/", 1)[0]
        if any(c in type_part for c in "*?["):
            return
        first_segments = sorted({t.split("/")[0] for t in OBJECT_TYPES.values()})
        if type_part.lower() not in {t.lower() for t in first_segments}:
            self.add(
                node,
                where,
                f"unknown object type '{type_part}' in '{pattern}'",
                _did_you_mean(type_part, first_segments, "object types are"),
            )

    def smoke(self, node: Node) -> tuple[SmokePipeline, ...]:
        out: list[SmokePipeline] = []
        for i, item in enumerate(self.items(node, "smoke")):
            where = f"smoke[{i}]"
            fields = self.section(item, where, SMOKE_KEYS, required=("pipeline",))
            if fields is None:
                continue
            pipeline = self.text(fields["pipeline"][1], f"{where}.pipeline") if "pipeline" in fields else None
            parameters: dict[str, Any] = {}
            if "parameters" in fields:
                value_node = fields["parameters"][1]
                if _is_null(value_node) or isinstance(value_node, MappingNode):
                    parameters = self.plain(value_node, f"{where}.parameters") or {}
                else:
                    self.add(value_node, f"{where}.parameters", f"expected a mapping, got {_node_kind(value_node)}")
            timeout: float | None = DEFAULT_SMOKE_TIMEOUT
            if "timeout" in fields:
                timeout = self.number(fields["timeout"][1], f"{where}.timeout", minimum=0, strict=True)
            if pipeline is not None and timeout is not None:
                out.append(SmokePipeline(pipeline, parameters, timeout, _line(item)))
        return tuple(out)

    def requires(self, node: Node, path: Path) -> str | None:
        if _is_null(node):
            return None
        name = self.text(node, "requires", expand=False)
        if name is None:
            return None
        if name == path.stem:
            self.add(node, "requires", f"environment '{name}' cannot require itself")
            return None
        available = available_environments(path.parent)
        if name not in available:
            others = [a for a in available if a != path.stem]
            self.add(
                node,
                "requires",
                f"no environment '{name}' next to this file",
                _did_you_mean(name, others, "environments are"),
            )
            return None
        return name

    def source(self, node: Node) -> str | None:
        if _is_null(node):
            return None
        text = self.text(node, "source", expand=False)
        if text is None:
            return None
        if PurePosixPath(text).is_absolute() or PureWindowsPath(text).is_absolute() or ".." in Path(text).parts:
            self.add(node, "source", "must be a folder inside the repository", "give it relative to the repo root")
            return None
        return PurePosixPath(text.replace("\\", "/")).as_posix()


def load_environment(path: Path, *, env: Mapping[str, str] = os.environ) -> Environment:
    """Read and validate one environment file; raise one EnvironmentFileError carrying every problem.

    `env` is where `${VAR}` values come from (the process environment unless a test or a caller says).
    """
    path = Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EnvironmentFileError.single(file, "no such environment file") from None
    except UnicodeDecodeError as exc:
        raise EnvironmentFileError.single(file, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise EnvironmentFileError.single(file, f"cannot read: {exc.strerror}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        # PyYAML's str(exc) quotes the offending line, which may hold a secret: build the message from parts.
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
        raise EnvironmentFileError.single(
            file, f"YAML syntax error: {what}", line=mark.line + 1 if mark else None
        ) from None
    except yaml.YAMLError:
        raise EnvironmentFileError.single(file, "YAML syntax error") from None
    if root is None or _is_null(root):
        raise EnvironmentFileError.single(
            file, "the file is empty", hint="an environment needs at least a 'target:' section"
        )
    reader = _Reader(file, env)
    environment = reader.environment(root, path)
    if reader.problems or environment is None:
        raise EnvironmentFileError(sorted(reader.problems, key=lambda p: p.line or 0))
    return environment


def available_environments(directory: Path) -> list[str]:
    """Names of the `*.yaml` files in an environments directory, sorted."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted(p.stem for p in directory.glob("*.yaml") if p.is_file())


def find_environment(name: str, root: Path) -> Path:
    """`<root>/environments/<name>.yaml`; an unknown name raises EnvironmentFileError listing known ones."""
    directory = Path(root) / "environments"
    path = directory / f"{name}.yaml"
    plain_name = bool(name) and not any(c in name for c in "/\\") and not name.startswith(".")
    if plain_name and path.is_file():
        return path
    available = available_environments(directory)
    if not available:
        hint = f"there are no environments: add {directory / (name or '<name>')}.yaml"
    else:
        close = _nearest(name, available) if name else None
        hint = (f"did you mean '{close}'? " if close else "") + f"available: {', '.join(available)}"
    raise EnvironmentFileError.single(str(directory), f"unknown environment '{name}'", hint=hint)


# --------------------------------------------------------------------------------------------------- template


_EXPECTED = {
    "string": (str, "a string"),
    "securestring": (str, "a string"),
    "int": (int, "an integer"),
    "bool": (bool, "true or false"),
    "object": (dict, "a mapping"),
    "secureobject": (dict, "a mapping"),
    "array": (list, "a list"),
}


def _coerce(value: Any, spec: ParameterSpec, from_env: bool) -> tuple[Any, str | None, str | None]:
    """(value, problem, hint): a value of the template's type.

    A `${VAR}` value is always text, so only such values are converted (int, bool; JSON for objects and
    arrays). A literal of the wrong type is refused as ARM would refuse it, but before anything is deployed.
    """
    expected = _EXPECTED.get(spec.type.lower())
    if expected is None:
        return value, None, None
    python_type, described = expected
    ok = isinstance(value, python_type) and (python_type is bool or not isinstance(value, bool))
    if ok:
        return value, None, None
    if from_env and isinstance(value, str):
        converted: Any = None
        text = value.strip()
        if python_type is int and re.fullmatch(r"[-+]?\d+", text):
            converted = int(text)
        elif python_type is bool and text.lower() in ("true", "false"):
            converted = text.lower() == "true"
        elif python_type in (dict, list):
            try:
                converted = json.loads(text)
            except ValueError:
                converted = None
        if isinstance(converted, python_type):
            return converted, None, None
        return (
            value,
            f"the environment variable's text is not {described} (type {spec.type})",
            ("write it as JSON" if python_type in (dict, list) else None),
        )
    hint = None
    if python_type is str and value is not None:
        hint = "quote the value in YAML: unquoted on/off/yes/no are booleans and 1.10 is the number 1.1"
    elif isinstance(value, str):
        hint = "remove the quotes" if python_type in (int, bool) else None
    return value, f"expected {described} for a parameter of type {spec.type}, got {_kind(value)}", hint


def _strings_in(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value} if value else set()
    if isinstance(value, dict):
        return set().union(*(_strings_in(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_strings_in(v) for v in value)) if value else set()
    return set()


def template_values(env: Environment, parameters: Mapping[str, ParameterSpec]) -> tuple[TemplateValues, list[Problem]]:
    """The environment's values for a template, with the problems found; the values hold what could be given.

    `values_for_template` refuses on any problem; a diff's older side uses this directly, since an
    environment written for today's template may name parameters an older version did not have.
    """
    problems: list[Problem] = []
    values: dict[str, Any] = {}
    deployment: dict[str, dict[str, Any]] = {}
    secrets: set[str] = set()
    by_lower = {name.lower(): name for name in parameters}

    def problem(pv: ParameterValue, message: str, hint: str | None = None) -> None:
        problems.append(
            Problem(file=env.file, message=message, line=pv.line, object=f"parameters.{pv.name}", hint=hint)
        )

    given: set[str] = set()
    for pv in env.parameters.values():
        declared = pv.name if pv.name in parameters else by_lower.get(pv.name.lower())
        if declared is None:
            problem(
                pv,
                "the template declares no such parameter",
                _did_you_mean(pv.name, list(parameters), "its parameters are"),
            )
            continue
        spec = parameters[declared]
        given.add(declared)
        if pv.keyvault is not None:
            if not spec.secure:
                problem(
                    pv,
                    f"a Key Vault reference for a parameter of type {spec.type}",
                    "ARM shows non-secure parameter values in the deployment history; "
                    "only securestring and secureobject parameters can take a secret",
                )
                continue
            values[declared] = pv.keyvault.placeholder()
            deployment[declared] = pv.keyvault.to_arm()
            continue
        if spec.secure and not pv.from_env:
            problem(
                pv,
                f"a plaintext value for a {spec.type} parameter is refused",
                "put it in Key Vault: {keyvault: {vault: <name>, secret: <name>}} "
                "or pass it as ${VAR} from the environment",
            )
            continue
        value, message, hint = _coerce(pv.value, spec, pv.from_env)
        if message is not None:
            problem(pv, message, hint)  # never echoes the value: it may be a secret
            continue
        if spec.secure:
            values[declared] = f"<secure:{declared}>"
            secrets |= _strings_in(value)
        else:
            values[declared] = value
        deployment[declared] = {"value": value}

    factory_name = "factoryName" if "factoryName" in parameters else by_lower.get("factoryname")
    if factory_name is not None and factory_name not in given:
        values[factory_name] = env.target.factory
        deployment[factory_name] = {"value": env.target.factory}
        given.add(factory_name)

    for name, spec in parameters.items():
        if not spec.has_default and name not in given:
            problems.append(
                Problem(
                    file=env.file,
                    message=f"required parameter '{name}' has no value",
                    line=env.key_lines.get("parameters") or env.key_lines.get("target"),
                    object=f"parameters.{name}",
                    hint=f"the template gives it no default; add '{name}:' under parameters"
                    + (" (as Key Vault or ${VAR}: it is secure)" if spec.secure else ""),
                )
            )
    return TemplateValues(values, deployment, frozenset(secrets)), problems


def check_parameters(env: Environment, parameters: Mapping[str, ParameterSpec]) -> list[Problem]:
    """Every problem of the environment's parameter values against a template's declarations."""
    return template_values(env, parameters)[1]


def values_for_template(env: Environment, parameters: Mapping[str, ParameterSpec]) -> TemplateValues:
    """The environment's values for a template: printable evaluation values and the ARM deployment parameters.

    `factoryName` comes from `target.factory` unless the file gives it. Raises EnvironmentFileError with every
    problem (undeclared or missing parameters, plaintext secrets, wrong types).
    """
    result, problems = template_values(env, parameters)
    if problems:
        raise EnvironmentFileError(problems)
    return result


# --------------------------------------------------------------------------------------------------- factory


def _names_in(items: list[Any], field_name: str) -> list[str]:
    return [str(item[field_name]) for item in items if isinstance(item, dict) and field_name in item]


def _set_path(root: dict[str, Any], path: Sequence[Segment], value: Any) -> tuple[str, str | None] | None:
    """Set `value` at `path` below `root`; (problem, hint) when the path does not resolve.

    Intermediate segments must exist; only the last may add a mapping key. Nothing is changed on failure:
    the only mutation is the final assignment.
    """
    current: Any = root
    here = "properties"
    for position, segment in enumerate(path):
        last = position == len(path) - 1
        failed = f"segment '{str(segment).lstrip('.')}' fails at {here}"
        if isinstance(segment, Key):
            if not isinstance(current, dict):
                return f"{failed}: it is {_kind(current)}, not a mapping", None
            if last:
                current[segment.name] = value
                return None
            if segment.name not in current:
                return f"{failed}: no key '{segment.name}'", _did_you_mean(segment.name, list(current), "keys there")
            current = current[segment.name]
        else:
            if not isinstance(current, list):
                return f"{failed}: it is {_kind(current)}, not a list", (
                    f"use .key: keys there: {_listing(current)}" if isinstance(current, dict) else None
                )
            if isinstance(segment, Index):
                index = segment.index
                if index >= len(current):
                    return f"{failed}: index {index} is out of range", f"the list has {len(current)} items"
            else:
                hits = [
                    i
                    for i, item in enumerate(current)
                    if isinstance(item, dict)
                    and segment.field in item
                    and item[segment.field] is not None
                    and str(item[segment.field]) == segment.value
                ]
                names = _names_in(current, segment.field)
                if not hits:
                    return (
                        f"{failed}: no item with {segment.field} '{segment.value}'",
                        _did_you_mean(segment.value, names, f"{segment.field}s there")
                        if names
                        else f"no item there has a '{segment.field}'",
                    )
                if len(hits) > 1:
                    return f"{failed}: {len(hits)} items have {segment.field} '{segment.value}'", (
                        f"select one by index: {', '.join(f'[{i}]' for i in hits)}"
                    )
                index = hits[0]
            if last:
                current[index] = value
                return None
            current = current[index]
        here += str(segment)
    return None


def overrides_applied(env: Environment, factory: Factory) -> tuple[Factory, list[Problem]]:
    """Apply every override in order on copies of the touched objects; collect what does not resolve.

    Check and apply share this so that an override that adds a key seen by a later one checks the same way.
    """
    objects = dict(factory.objects)
    copied: set[ObjectKey] = set()
    problems: list[Problem] = []
    for override in env.overrides:
        obj = objects.get(override.object)
        if obj is None:
            candidates = [str(k) for k in factory.objects]
            same_type = [str(k) for k in factory.objects if k.type == override.object.type]
            close = _nearest(str(override.object), candidates)
            if close is not None:
                hint = f"did you mean '{close}'?"
            elif same_type:
                hint = f"its {override.object.type}: {_listing(same_type)}"
            else:
                hint = f"the factory has no {override.object.type}"
            problems.append(
                Problem(
                    file=env.file,
                    message=f"no such object in the factory{f' {factory.name}' if factory.name else ''}",
                    line=override.line,
                    object=str(override.object),
                    hint=hint,
                )
            )
            continue
        if override.object not in copied:
            obj = dataclasses.replace(obj, properties=copy.deepcopy(obj.properties))
            objects[override.object] = obj
            copied.add(override.object)
        failure = _set_path(obj.properties, override.path, copy.deepcopy(override.value))
        if failure is not None:
            message, hint = failure
            problems.append(
                Problem(
                    file=env.file,
                    message=f"path {format_path(override.path)}: {message}",
                    line=override.line,
                    object=str(override.object),
                    hint=hint,
                )
            )
    return dataclasses.replace(factory, objects=objects), problems


def check_overrides(env: Environment, factory: Factory) -> list[Problem]:
    """Every override whose object is missing from the factory or whose path does not resolve in it."""
    return overrides_applied(env, factory)[1]


def apply_overrides(env: Environment, factory: Factory) -> Factory:
    """A new Factory with the overrides set; the input is untouched and untouched objects are shared.

    Raises EnvironmentFileError with every override that does not resolve. References of an overridden object
    are recomputed, since an override may change a `referenceName`.
    """
    result, problems = overrides_applied(env, factory)
    if problems:
        raise EnvironmentFileError(problems)
    return result


def check_smoke(env: Environment, factory: Factory) -> list[Problem]:
    """Smoke pipelines missing from the factory, or given parameters the pipeline does not declare."""
    problems: list[Problem] = []
    pipelines = [k.name for k in factory.objects if k.type == "pipelines"]
    for i, smoke in enumerate(env.smoke):
        obj = factory.objects.get(ObjectKey("pipelines", smoke.pipeline))
        if obj is None:
            problems.append(
                Problem(
                    file=env.file,
                    message=f"no pipeline '{smoke.pipeline}' in the factory",
                    line=smoke.line,
                    object=f"smoke[{i}]",
                    hint=_did_you_mean(smoke.pipeline, pipelines, "pipelines are"),
                )
            )
            continue
        declared = obj.properties.get("parameters") or {}
        for name in smoke.parameters:
            if isinstance(declared, dict) and name not in declared:
                problems.append(
                    Problem(
                        file=env.file,
                        message=f"pipeline '{smoke.pipeline}' declares no parameter '{name}'",
                        line=smoke.line,
                        object=f"smoke[{i}].parameters",
                        hint=_did_you_mean(name, list(declared), "its parameters are"),
                    )
                )
    return problems
