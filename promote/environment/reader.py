"""`environments/<env>.yaml` -> a validated `Environment`: the file's schema, section by section.

An environment file is the only input a platform engineer writes by hand, so every mistake in it is reported
at once, each with file, line and key, before anything touches Azure (`EnvironmentFileError`, exit code 2).
Which environment a name means is `promote.environment.layout`'s (`find_environment`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, cast

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from promote.environment.hints import did_you_mean
from promote.environment.model import (
    DEFAULT_LOCATION,
    DEFAULT_SMOKE_TIMEOUT,
    ENDPOINTS,
    START_POLICIES,
    STOP_POLICIES,
    WARNING_POLICIES,
    DeletionPolicy,
    Environment,
    KeyVaultRef,
    Override,
    ParameterValue,
    RunsPolicy,
    Segment,
    SmokePipeline,
    StartPolicy,
    StopPolicy,
    Target,
    TriggerPolicy,
)
from promote.environment.nodes import NodeReader, is_null, line_of, node_kind, secret_misused
from promote.environment.paths import ValueSyntaxError, format_path, parse_object_key, parse_path
from promote.environment.variables import variables
from promote.errors import EnvironmentFileError
from promote.factory import OBJECT_TYPES, ObjectKey
from promote.impact import CLASSES
from promote.runs import RUN_POLICIES, RunPolicy
from promote.untrusted import MAX_DEPTH

TOP_KEYS = (
    "target",
    "parameters",
    "overrides",
    "triggers",
    "deletion",
    "smoke",
    "runs",
    "requires",
    "source",
    "confirm",
    "warnings",
    "secrets",
)
TARGET_KEYS = ("subscription", "resource_group", "factory", "location", "endpoint")
KEYVAULT_KEYS = ("vault", "id", "secret", "version", "resource_group", "subscription")
OVERRIDE_KEYS = ("object", "path", "value")
TRIGGER_KEYS = ("stop", "start", "subscription_timeout")
DELETION_KEYS = ("enabled", "protected", "max_share")
SMOKE_KEYS = ("pipeline", "parameters", "timeout")
RUNS_KEYS = ("in_progress", "timeout")

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_RESOURCE_GROUP = re.compile(r"^[-\w.()]{1,90}$")
# ADF: letters, digits and single dashes between them; 3 to 63 characters.
_FACTORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){2,62}$")
_VAULT = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){2,23}$")
_VAULT_ID = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.KeyVault/vaults/([^/]+)$", re.IGNORECASE
)
_SECRET = re.compile(r"^[0-9A-Za-z-]{1,127}$")
_WHOLE_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Reader(NodeReader):
    """The environment file's sections on top of `NodeReader`: each builds its part of the `Environment` and
    reports what is wrong with it; `environment` returns None when anything was reported."""

    def environment(self, root: Node, path: Path) -> Environment | None:
        self.structure(root)
        sections = self.section(root, "", TOP_KEYS, required=("target",))
        if sections is None:
            return None
        key_lines = {key: line_of(key_node) or 0 for key, (key_node, _) in sections.items()}
        value = {key: value_node for key, (_, value_node) in sections.items()}
        self.secret_names = self.secrets(value["secrets"]) if "secrets" in value else frozenset()
        target = self.target(value["target"]) if "target" in value else None
        parameters = self.parameters(value["parameters"], target) if "parameters" in value else {}
        overrides = self.overrides(value["overrides"]) if "overrides" in value else ()
        triggers = self.triggers(value["triggers"]) if "triggers" in value else TriggerPolicy()
        deletion = self.deletion(value["deletion"]) if "deletion" in value else DeletionPolicy()
        smoke = self.smoke(value["smoke"]) if "smoke" in value else ()
        runs = self.runs(value["runs"]) if "runs" in value else RunsPolicy()
        requires = self.requires(value["requires"], path) if "requires" in value else None
        source = self.source(value["source"]) if "source" in value else None
        confirm = self.confirm(value["confirm"]) if "confirm" in value else ()
        warnings = self.choice(value["warnings"], "warnings", WARNING_POLICIES) if "warnings" in value else None
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
            runs=runs,
            requires=requires,
            source=source,
            confirm=confirm,
            warnings=warnings or WARNING_POLICIES[0],
            secrets=self.secret_names,
            key_lines=key_lines,
        )

    def secrets(self, node: Node) -> frozenset[str]:
        """`secrets:`, the names of the variables that hold secrets (never expanded here: names only)."""
        if not isinstance(node, SequenceNode):
            self.add(node, "secrets", f"expected a list of variable names, got {node_kind(node)}", "secrets: [NAME]")
            return frozenset()
        names = set()
        for i, item in enumerate(node.value):
            name = self.text(item, f"secrets[{i}]", expand=False)
            if name is None:
                continue
            if not _VARIABLE_NAME.fullmatch(name):
                self.add(item, f"secrets[{i}]", "is not a variable name", "a name as in ${NAME}: letters, digits, _")
                continue
            names.add(name)
        return frozenset(names)

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
                        out[name] = ParameterValue(name, None, line_of(key_node), keyvault=ref)
                    continue
            if is_null(value_node):
                self.add(
                    value_node,
                    where,
                    "has no value",
                    "give a value, or remove the key to use the template's default",
                )
                continue
            whole = _WHOLE_VAR.fullmatch(value_node.value) if isinstance(value_node, ScalarNode) else None
            if whole and value_node.tag == "tag:yaml.org,2002:str" and whole.group(1) not in self.env:
                # Read when a deployment needs it: a secure value is read by `apply` (so that jobs that only read,
                # and environments that `requires:` this one, need no secret); `values` refuses any other.
                out[name] = ParameterValue(
                    name,
                    None,
                    line_of(key_node),
                    from_env=True,
                    env_var=whole.group(1),
                    secret=whole.group(1) in self.secret_names,
                )
                continue
            before = self.expansions
            self.used = set()
            value = self.plain(value_node, where)
            listed = self.used & self.secret_names
            exact = whole is not None and self.used == {whole.group(1)}
            for variable in sorted(listed if not exact else ()):  # a secret inside a longer value, or beside another
                self.add(value_node, where, *secret_misused(variable))
            out[name] = ParameterValue(
                name,
                value,
                line_of(key_node),
                from_env=self.expansions > before,
                env_var=whole.group(1) if whole else None,
                secret=bool(listed),
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
            seen[(key, path)] = line_of(item)
            out.append(Override(object=key, path=path, value=value, line=line_of(item)))
        return tuple(out)

    def triggers(self, node: Node) -> TriggerPolicy:
        fields = self.section(node, "triggers", TRIGGER_KEYS) or {}
        policy = TriggerPolicy()
        if "stop" in fields:
            stop = self.choice(fields["stop"][1], "triggers.stop", STOP_POLICIES)
            policy = dataclasses.replace(policy, stop=cast(StopPolicy, stop or policy.stop))
        if "start" in fields:
            start = self.choice(fields["start"][1], "triggers.start", START_POLICIES)
            policy = dataclasses.replace(policy, start=cast(StartPolicy, start or policy.start))
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

    def confirm(self, node: Node) -> tuple[str, ...]:
        """Impact classes (`promote.impact.CLASSES`) whose changes need `--confirm` to be applied."""
        out: list[str] = []
        for i, name, item in self.strings(node, "confirm"):
            if name not in CLASSES:
                self.add(
                    item, f"confirm[{i}]", f"unknown impact class '{name}'", did_you_mean(name, CLASSES, "classes are")
                )
            elif name not in out:
                out.append(name)
        return tuple(out)

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
                did_you_mean(type_part, first_segments, "object types are"),
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
                if is_null(value_node) or isinstance(value_node, MappingNode):
                    parameters = self.plain(value_node, f"{where}.parameters") or {}
                else:
                    self.add(value_node, f"{where}.parameters", f"expected a mapping, got {node_kind(value_node)}")
            timeout: float | None = DEFAULT_SMOKE_TIMEOUT
            if "timeout" in fields:
                timeout = self.number(fields["timeout"][1], f"{where}.timeout", minimum=0, strict=True)
            if pipeline is not None and timeout is not None:
                out.append(SmokePipeline(pipeline, parameters, timeout, line_of(item)))
        return tuple(out)

    def runs(self, node: Node) -> RunsPolicy:
        if not isinstance(node, MappingNode) and not is_null(node):
            self.add(
                node,
                "runs",
                f"expected a mapping, got {node_kind(node)}",
                "write runs: {in_progress: wait, timeout: 30m} (or cancel, or fail)",
            )
            return RunsPolicy()
        fields = self.section(node, "runs", RUNS_KEYS) or {}
        policy = RunsPolicy()
        if "in_progress" in fields:
            choice = self.choice(fields["in_progress"][1], "runs.in_progress", RUN_POLICIES)
            policy = dataclasses.replace(policy, in_progress=cast(RunPolicy, choice or policy.in_progress))
        if "timeout" in fields:
            timeout = self.duration(fields["timeout"][1], "runs.timeout")
            policy = dataclasses.replace(policy, timeout=policy.timeout if timeout is None else float(timeout))
        return policy

    def requires(self, node: Node, path: Path) -> str | None:
        if is_null(node):
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
                did_you_mean(name, others, "environments are"),
            )
            return None
        return name

    def source(self, node: Node) -> str | None:
        if is_null(node):
            return None
        text = self.text(node, "source", expand=False)
        if text is None:
            return None
        if PurePosixPath(text).is_absolute() or PureWindowsPath(text).is_absolute() or ".." in Path(text).parts:
            self.add(node, "source", "must be a folder inside the repository", "give it relative to the repo root")
            return None
        return PurePosixPath(text.replace("\\", "/")).as_posix()


def load_environment(path: Path, *, env: Mapping[str, str] | None = None) -> Environment:
    """Read and validate one environment file; raise one EnvironmentFileError carrying every problem.

    `env` is where `${VAR}` values come from (the process environment and PROMOTE_SECRETS, see `variables`,
    unless a test or a caller says).
    """
    env = variables() if env is None else env
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
    except RecursionError:  # PyYAML composes recursively: thousands of levels exhaust the stack
        raise EnvironmentFileError.single(
            file, f"nested more than {MAX_DEPTH} levels deep", hint="no environment file needs that"
        ) from None
    if root is None or is_null(root):
        raise EnvironmentFileError.single(
            file, "the file is empty", hint="an environment needs at least a 'target:' section"
        )
    reader = _Reader(file, env)
    environment = reader.environment(root, path)
    if reader.problems or environment is None:
        raise EnvironmentFileError(sorted(reader.problems, key=lambda p: p.line or 0))
    return environment


def load_target(path: Path, *, env: Mapping[str, str] | None = None) -> Environment:
    """Another environment as far as its target (subscription, resource group, factory, endpoint): what an
    environment that `requires:` it needs to read its record. No other section is read: its parameters, their
    `${VAR}`s and its secrets belong to the jobs that deploy it, and a production job has none of staging's.
    A problem in the target itself is refused as `load_environment` would (EnvironmentFileError, exit 2)."""
    env = variables() if env is None else env
    file = str(path)
    try:
        root = yaml.compose(Path(path).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except FileNotFoundError:
        raise EnvironmentFileError.single(file, "no such environment file") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        return load_environment(path, env=env)  # reports the file's own problem, with its words
    reader = _Reader(file, env)
    found = None
    if isinstance(root, MappingNode):
        found = next(
            ((k, v) for k, v in root.value if isinstance(k, ScalarNode) and k.value == "target"),
            None,
        )
    if found is None:
        raise EnvironmentFileError.single(file, "no 'target:' section", hint="an environment needs a 'target:' section")
    target = reader.target(found[1])
    if reader.problems or target is None:
        raise EnvironmentFileError(sorted(reader.problems, key=lambda p: p.line or 0))
    return Environment(name=Path(path).stem, file=file, target=target, key_lines={"target": line_of(found[0]) or 0})


def declared_source(path: Path) -> str | None:
    """The `source:` an environment file names, read without expanding or checking the rest of the file.

    What commands that need no environment's values (`promote diff --from A --to B`) take as the factory
    folder: an environment whose variables are not set here still says where its factory is. None when the
    file names none, or cannot be read (loading it properly reports why).
    """
    try:
        root = yaml.compose(Path(path).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if not isinstance(root, MappingNode):
        return None
    reader = _Reader(str(path), {})
    for key_node, value_node in root.value:
        if isinstance(key_node, ScalarNode) and key_node.value == "source":
            source = reader.source(value_node)
            return source if not reader.problems else None
    return None


def available_environments(directory: Path) -> list[str]:
    """Names of the `*.yaml` files in an environments directory, sorted."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted(p.stem for p in directory.glob("*.yaml") if p.is_file())
