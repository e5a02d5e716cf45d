"""Secrets as the promoter sees them: never their values, only where they come from.

A value that comes from a secret is replaced, as soon as parameters are given values, by a placeholder naming
its source: `<keyvault:VAULT/SECRET>` (or `.../VERSION`) for a Key Vault reference, `<secure:NAME from $VAR>`
for a secure parameter the environment takes from a variable, `<secure:NAME>` for a secure parameter whose
value nobody gave (a diff of published versions: ADF publishes no secret values). The placeholder is what
evaluation, diffs and plans carry; `promote.plan.template` turns it back into `[parameters('NAME')]` for ARM.
Two placeholders are equal exactly when the sources are, so comparing them compares where secrets come from.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Union

from promote.factory import Factory

PLACEHOLDER = re.compile(r"<(?:keyvault|secure):[^<>]*>")
PREFIXES = ("<keyvault:", "<secure:")
# What a secure string's literal value (the publisher's dummy, ADF's `**********`) becomes on both sides of a
# desired × live comparison (`promote.normalise`): opaque, and not a source (no record is kept of it).
OPAQUE = "<secure:opaque>"


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
        elif rest == "?":
            sources.append("a source no deployment record tells")
        elif rest == "*":
            sources.append("the source deployed before")
        elif rest == "opaque":
            continue
        elif " from $" in rest:
            sources.append(rest.rsplit(" from ", 1)[1])
        else:
            sources.append(f"parameter {rest}")
    return "<secret from " + ", ".join(dict.fromkeys(sources)) + ">" if sources else "<secret>"


# --- what is deployed: the record -------------------------------------------------------------------------------
#
# ADF never returns a secret: a SecureString reads back as `**********`, a plain connection string with its
# `AccountKey=` stripped. So the live value at a path where the desired state holds a secret says nothing, and
# what was deployed there comes from the deployment's own record: factory tags (`promote-secrets`,
# `promote-secrets-2`, ...) holding, for every secret path of the deployed desired state, a short digest of the
# object, the path and the placeholder there (its source). No value, and no name: a digest says nothing to
# someone reading the tags. A path whose digest is recorded was deployed from exactly that source; any other
# (another Key Vault secret or version, another variable, another parameter, a factory deployed before the
# record existed) counts as changed, so the deploy writes it and records it.

TAG_SECRETS = "promote-secrets"
SECRET_TAGS = 8  # promote-secrets, promote-secrets-2, ... (ARM allows 50 tags on a resource)
_TAG_VALUE = 256  # ARM's limit on a tag value
_ENTRY = 5  # base64url characters per path: 30 bits, so two sources collide about once in a billion
_WHOLE = "all:"  # a factory with more secret paths than the tags hold records one digest of all of them
UNRECORDED = "<secure:?>"  # a live secret whose source no record tells
REDEPLOYED = "<secure:*>"  # a live secret deployed from another source than the desired one

SecretPath = tuple[Union[str, int], ...]  # noqa: UP007
SecretMap = dict[tuple[str, str], dict[SecretPath, str]]  # (type, folded name) -> {path: text with placeholders}


def secret_map(factory: Factory) -> SecretMap:
    """Every path of every object whose value holds a placeholder, with that value; and every linked service's
    connection string that holds an account key as plain text (`holds_account_key`), with that text."""
    out: SecretMap = {}
    for key, obj in factory.objects.items():
        found: dict[SecretPath, str] = {}
        _collect(obj.properties, (), found)
        if key.type == "linkedServices":
            tp = obj.properties.get("typeProperties")
            text = tp.get("connectionString") if isinstance(tp, dict) else None
            if isinstance(text, str) and holds_account_key(text):
                found[ACCOUNT_KEY_PATH] = text
        if found:
            out[(key.type, key.name.casefold())] = found
    return out


# --- an account key written as plain text ------------------------------------------------------------------------
#
# ADF takes the `AccountKey=` part out of a linked service's plain-string connection string and keeps it
# encrypted (reference/recordings, "Secrets": `DefaultEndpointsProtocol=https;AccountName=myaccount;AccountKey=
# myfakekey;` reads back `DefaultEndpointsProtocol=https;AccountName=myaccount;` with an `encryptedCredential`).
# Such a string comes from a literal in the template, or from a parameter that is not a secureString (custom
# parameterization's `"connectionString": "="` declares a plain `string`). Its key is a secret that has no
# placeholder: the text itself is its source. So the path is a secret path (`secret_map`) whose record digest
# covers the whole text, key included (30 bits of sha256: nothing of a storage key can be read back from it),
# and the rest of the text is still compared with what the factory answers (`same_but_account_key`): a changed
# account name is a change, a changed key is one through the record.

ACCOUNT_KEY_PATH: SecretPath = ("typeProperties", "connectionString")
_ACCOUNT_KEY_PART = re.compile(r"\s*AccountKey\s*=", re.IGNORECASE)


def _parts(text: str) -> list[str]:
    """The `;`-separated parts of a connection string that are not its account key, empty ones dropped."""
    return [part.strip() for part in text.split(";") if part.strip() and not _ACCOUNT_KEY_PART.match(part)]


def holds_account_key(value: Any) -> bool:
    """A plain string (no placeholder) with an `AccountKey=` part, the key's name in any case."""
    return (
        isinstance(value, str)
        and not is_placeholder(value)
        and any(_ACCOUNT_KEY_PART.match(part) for part in value.split(";"))
    )


# In a saved plan file an account key written as plain text would be in the template ARM receives: the file
# holds `AccountKey=<sha256 0123456789ab>` instead (`without_account_keys`; 48 bits of sha256, so another key is
# another file and another plan hash), and `promote apply` deploys the template it makes again from the commit,
# which holds the key, once it has proven the two plans the same.
_KEY_VALUE = re.compile(r"(?<![^;])(\s*AccountKey\s*=)([^;]+)", re.IGNORECASE)
_KEY_DIGEST = re.compile(r"<sha256 [0-9a-f]{12}>")


def without_account_keys(node: Any) -> Any:
    """`node` with the value of every account key written as plain text (`holds_account_key`, not in an ARM
    expression) replaced by a digest of it; the same object where there is none, and a digest stays as it is."""
    if isinstance(node, str):
        if not holds_account_key(node) or (node.startswith("[") and not node.startswith("[[")):
            return node
        return _KEY_VALUE.sub(_key_digest, node)
    if isinstance(node, dict):
        out = {key: without_account_keys(value) for key, value in node.items()}
        return node if all(out[key] is value for key, value in node.items()) else out
    if isinstance(node, list):
        items = [without_account_keys(value) for value in node]
        return node if all(a is b for a, b in zip(items, node, strict=True)) else items
    return node


def _key_digest(match: re.Match[str]) -> str:
    value = match.group(2)
    if _KEY_DIGEST.fullmatch(value.strip()):
        return match.group(0)
    return f"{match.group(1)}<sha256 {hashlib.sha256(value.encode()).hexdigest()[:12]}>"


def same_but_account_key(live: str, desired: str) -> bool:
    """Whether the factory's answer is `desired` with its account key taken out, separators aside (ADF drops
    the part and its `;`; how it treats spacing and a last part without `;` is not recorded, so neither counts)."""
    return _parts(live) == _parts(desired)


def _collect(node: Any, path: SecretPath, out: dict[SecretPath, str]) -> None:
    if isinstance(node, str):
        if ("<keyvault:" in node or "<secure:" in node) and node != OPAQUE:
            out[path] = node
    elif isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, (str, dict, list)):
                _collect(value, (*path, key), out)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            if isinstance(value, (str, dict, list)):
                _collect(value, (*path, index), out)


def _entry(folded: tuple[str, str], path: SecretPath, text: str) -> str:
    digest = hashlib.sha256(json.dumps([*folded, list(path), text], ensure_ascii=False).encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:_ENTRY]


def _entries(secrets: SecretMap) -> list[str]:
    return sorted(_entry(folded, path, text) for folded, paths in secrets.items() for path, text in paths.items())


def _whole(secrets: SecretMap) -> str:
    return _WHOLE + hashlib.sha256("".join(_entries(secrets)).encode()).hexdigest()[:32]


def secret_tag_values(desired: Factory) -> tuple[str, ...]:
    """The record a deployment of `desired` leaves: the values of `promote-secrets`, `-2`, ... in order."""
    entries = _entries(secret_map(desired))
    per_tag = _TAG_VALUE // _ENTRY
    if len(entries) > per_tag * SECRET_TAGS:
        return (_whole(secret_map(desired)),)
    return tuple("".join(entries[i : i + per_tag]) for i in range(0, len(entries), per_tag))


def secret_tags(values: tuple[str, ...]) -> dict[str, str | None]:
    """Tag name -> value for every record tag; None removes what an earlier, larger record left."""
    names = [TAG_SECRETS, *(f"{TAG_SECRETS}-{i}" for i in range(2, SECRET_TAGS + 1))]
    return {name: (values[i] if i < len(values) else None) for i, name in enumerate(names)}


@dataclass(frozen=True)
class DeployedSecrets:
    """What the factory's record says about where its secrets came from (`from_tags`)."""

    entries: frozenset[str] = frozenset()
    whole: str | None = None  # a record too large for the tags: one digest of every path
    recorded: bool = False  # False: the factory has no record (deployed before it existed, or by another tool)

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> DeployedSecrets:
        values = [tags[name] for name in secret_tags(()) if tags.get(name)]
        if not values:
            return cls()
        if values[0].startswith(_WHOLE):
            return cls(whole=values[0], recorded=True)
        text = "".join(values)
        return cls(frozenset(text[i : i + _ENTRY] for i in range(0, len(text), _ENTRY)), recorded=True)

    def deployed(self, desired: SecretMap) -> dict[tuple[str, str], dict[SecretPath, str]]:
        """For each secret path of `desired`, what stands for the live value there: the desired text itself
        when it was deployed from that source, else `REDEPLOYED` (recorded, from another source) or
        `UNRECORDED` (no record)."""
        if self.whole is not None:
            same = _whole(desired) == self.whole
            return {f: {p: (t if same else REDEPLOYED) for p, t in paths.items()} for f, paths in desired.items()}
        other = REDEPLOYED if self.recorded else UNRECORDED
        return {
            folded: {
                path: (text if _entry(folded, path, text) in self.entries else other) for path, text in paths.items()
            }
            for folded, paths in desired.items()
        }
