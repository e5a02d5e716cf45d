"""An ARM parameters file, or an `overrideParameters` string, as an environment's values.

Teams deploying with Microsoft's tooling keep one `ARMTemplateParametersForFactory.<env>.json` per environment, or
an `overrideParameters` string in an AzureResourceManagerTemplateDeployment task (`-name value -other "a b"`).
Both say the same as an environment file's `parameters:`: a value per template parameter, or a Key Vault
reference. `factoryName` is the target factory. An Azure DevOps variable (`$(storage.key)`) becomes the
environment variable the agent would have made of it (`${STORAGE_KEY}`).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any

from promote.errors import InputError
from promote.untrusted import load_json, parse_json

_DEVOPS_VARIABLE = re.compile(r"^\$\(([A-Za-z_][A-Za-z0-9_.]*)\)$")


@dataclass(frozen=True)
class GivenValue:
    """One parameter's value as the file gives it: a plain value, a `${VAR}`, or a Key Vault reference."""

    value: Any = None
    variable: str | None = None
    vault_id: str | None = None
    secret: str | None = None
    version: str | None = None

    @property
    def keyvault(self) -> bool:
        return self.vault_id is not None


def from_parameters_file(text: str, file: str) -> dict[str, GivenValue]:
    """`{"parameters": {name: {"value": ...} | {"reference": {"keyVault": {"id": ...}, "secretName": ...}}}}`."""
    doc = load_json(text, file, what="not JSON")
    params = doc.get("parameters") if isinstance(doc, dict) else None
    if not isinstance(params, dict):
        raise InputError.single(file, "a parameters file needs a 'parameters' object")
    out: dict[str, GivenValue] = {}
    for name, entry in params.items():
        if isinstance(entry, dict) and "value" in entry:
            out[name] = _plain(entry["value"])
        elif isinstance(entry, dict) and isinstance(entry.get("reference"), dict):
            ref = entry["reference"]
            vault = ref.get("keyVault") if isinstance(ref.get("keyVault"), dict) else {}
            if not isinstance(vault.get("id"), str) or not isinstance(ref.get("secretName"), str):
                raise InputError.single(file, "a Key Vault reference needs keyVault.id and secretName", object=name)
            version = ref.get("secretVersion")
            out[name] = GivenValue(vault_id=vault["id"], secret=ref["secretName"], version=version or None)
        else:
            raise InputError.single(file, "each parameter needs a 'value' or a Key Vault 'reference'", object=name)
    return out


def from_override_parameters(text: str) -> dict[str, GivenValue]:
    """`-name value -other "two words" -list ["a","b"]`: values are JSON when they parse as JSON, else text."""
    try:
        tokens = shlex.split(text, posix=True)
    except ValueError as exc:
        raise InputError.single("--from-parameters", f"cannot read the override parameters: {exc}") from None
    out: dict[str, GivenValue] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not token.startswith("-") or len(token) < 2:
            raise InputError.single(
                "--from-parameters", f"expected -<parameter> at '{token[:40]}'", hint="write -name value pairs"
            )
        name = token[1:]
        if i + 1 >= len(tokens):
            raise InputError.single("--from-parameters", f"-{name} has no value")
        raw = tokens[i + 1]
        try:
            value: Any = parse_json(raw) if raw[:1] in "[{" or raw in ("true", "false") or _number(raw) else raw
        except ValueError:
            value = raw
        out[name] = _plain(value)
        i += 2
    return out


def _number(text: str) -> bool:
    return re.fullmatch(r"-?\d+", text) is not None


def _plain(value: Any) -> GivenValue:
    if isinstance(value, str):
        match = _DEVOPS_VARIABLE.match(value.strip())
        if match:
            return GivenValue(variable=match.group(1).replace(".", "_").upper())
        if re.fullmatch(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}", value.strip()):
            return GivenValue(variable=value.strip()[2:-1])
    return GivenValue(value=value)


def read_given(spec: str) -> tuple[dict[str, GivenValue], str]:
    """`spec` is a parameters file's path, or an overrideParameters string (it starts with `-`); (values, label)."""
    from pathlib import Path

    if spec.lstrip().startswith("-"):
        return from_override_parameters(spec), "the override parameters"
    path = Path(spec)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError.single(spec, f"cannot read: {exc.strerror}") from None
    return from_parameters_file(text, spec), path.name
