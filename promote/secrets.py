"""Secrets as the promoter sees them: never their values, only where they come from.

A value that comes from a secret is replaced, as soon as parameters are given values, by a placeholder naming
its source: `<keyvault:VAULT/SECRET>` (or `.../VERSION`) for a Key Vault reference, `<secure:NAME from $VAR>`
for a secure parameter the environment takes from a variable, `<secure:NAME>` for a secure parameter whose
value nobody gave (a diff of published versions: ADF publishes no secret values). The placeholder is what
evaluation, diffs and plans carry; `promote.plan.template` turns it back into `[parameters('NAME')]` for ARM.
Two placeholders are equal exactly when the sources are, so comparing them compares where secrets come from.
"""

from __future__ import annotations

import re
from typing import Any

PLACEHOLDER = re.compile(r"<(?:keyvault|secure):[^<>]*>")
PREFIXES = ("<keyvault:", "<secure:")


def keyvault_placeholder(vault: str, secret: str, version: str | None = None) -> str:
    return f"<keyvault:{vault}/{secret}" + (f"/{version}>" if version else ">")


def secure_placeholder(parameter: str, variable: str | None = None) -> str:
    return f"<secure:{parameter}" + (f" from ${variable}>" if variable else ">")


def is_placeholder(value: Any) -> bool:
    """A string holding a placeholder anywhere (a secret inside a longer text counts)."""
    return isinstance(value, str) and any(prefix in value for prefix in PREFIXES)


def is_keyvault_placeholder(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("<keyvault:") and value.endswith(">")


def describe(value: str) -> str:
    """Where the secrets in `value` come from, for people: `<secret from Key Vault kv/name>`. Never the value."""
    sources = []
    for match in PLACEHOLDER.finditer(value):
        kind, _, rest = match.group(0)[1:-1].partition(":")
        if kind == "keyvault":
            sources.append(f"Key Vault {rest}")
        elif " from $" in rest:
            sources.append(rest.rsplit(" from ", 1)[1])
        else:
            sources.append(f"parameter {rest}")
    return "<secret from " + ", ".join(dict.fromkeys(sources)) + ">" if sources else "<secret>"
