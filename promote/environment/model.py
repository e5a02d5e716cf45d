"""What an environment file means once read: plain frozen values, no I/O and no validation.

`Environment` and the policies it carries (`Target`, `TriggerPolicy`, `DeletionPolicy`, `SmokePipeline`,
`RunsPolicy`), a parameter value (`ParameterValue`, `KeyVaultRef`), an override and its property path (`Override`,
the `Key`, `Index` and `Match` segments), and `TemplateValues`, the result of checking the parameters against a
template.
These are what the rest of promote holds on to (the plan, the apply stages, the Azure clients); the other
modules of this package build them from a file and check them against a template or a factory.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Literal, Union

from promote.factory import ObjectKey
from promote.runs import RunPolicy
from promote.secrets import keyvault_placeholder

DEFAULT_LOCATION = "westeurope"
ENDPOINTS = ("cloud", "local")
STOP_POLICIES = ("changed", "pipelines")
START_POLICIES = ("previous", "template")
WARNING_POLICIES = ("warn", "error")  # `warnings:`: what a warning about the environment file does
StopPolicy = Literal["changed", "pipelines"]
StartPolicy = Literal["previous", "template"]
DEFAULT_SUBSCRIPTION_TIMEOUT = 300
DEFAULT_MAX_SHARE = 0.5
DEFAULT_SMOKE_TIMEOUT = 600
DEFAULT_RUNS_TIMEOUT = 1800  # 30 minutes


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
        return keyvault_placeholder(self.vault_name, self.secret, self.version)


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
    secret: bool = False  # `env_var` is listed under `secrets:`: only a secure parameter may take it

    @property
    def unset(self) -> bool:
        """`${NAME}` whose variable was not set when the file was read: a secure value is read at apply time."""
        return self.env_var is not None and self.value is None and self.keyvault is None

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


@dataclass(frozen=True)
class Override:
    """A property value ADF did not parameterize. `path` is relative to the object's `properties`."""

    object: ObjectKey
    path: tuple[Segment, ...]
    value: Any
    line: int | None = None


@dataclass(frozen=True)
class TriggerPolicy:
    """Which triggers to stop before deploying and which to start afterwards (docs/environments.md, `triggers`)."""

    stop: StopPolicy = "changed"
    start: StartPolicy = "previous"
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
class RunsPolicy:
    """What a deploy does about runs in progress of the pipelines it changes or deletes (`promote.runs`), right
    before its first write: `wait` for them to end, `cancel` them (recursively) and wait until they have ended,
    or `fail` (refuse the deploy, nothing written). `timeout`: seconds a wait may take, then the deploy fails."""

    in_progress: RunPolicy = "wait"
    timeout: float = DEFAULT_RUNS_TIMEOUT


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
    runs: RunsPolicy = RunsPolicy()
    requires: str | None = None
    source: str | None = None
    confirm: tuple[str, ...] = ()  # impact classes (`promote.impact`) a plan holding them needs `--confirm` for
    warnings: str = WARNING_POLICIES[0]  # `error`: validate, plan and deploy refuse what they would warn about
    secrets: frozenset[str] = frozenset()  # variables listed under `secrets:` (docs/environments.md, "Secrets")
    # Line of each top-level key, so that later checks can point at a section that has no line of its own.
    key_lines: dict[str, int] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class TemplateValues:
    """An environment's parameter values, checked against one template.

    `values` feed the evaluator and may be printed: secrets in it are placeholders naming their source
    (`<keyvault:vault/secret>`, `<secure:name from $VAR>`, see `promote.secrets`). `deployment` is the ARM
    `parameters` object for the deploy and carries the real secure values; `secrets` lists them for whoever
    redacts output. Neither appears in `repr`.
    """

    values: dict[str, Any]
    deployment: dict[str, dict[str, Any]] = field(repr=False)
    secrets: frozenset[str] = field(default=frozenset(), repr=False)
