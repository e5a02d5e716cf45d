"""What of a value people may see: the one rule behind every value `diff`, `plan` and `drift` print.

A value is shown as its JSON text (`"/storesales-prod"`, `3`, `["a", "b"]`, `{"type": "String"}`) with every part
that could be a secret masked first, then abridged when long. The views never format a value themselves: the
diff stores this display text (`promote.diff.PathChange.before` / `.after`), the plan copies it from the diff,
and text, markdown and JSON print it as it is.

Masked (`<secret>`, or for a placeholder the source it names, `<secret from Key Vault kv/x>`; never the value):

- a placeholder (`<keyvault:...>`, `<secure:...>`, `promote.secrets`) anywhere in a string: the text around it
  may be the rest of a connection string;
- a value under a key that names a secret (`password`, `connectionString`, `accountKey`, `sasUri`, `token`,
  `Authorization`, ...), and anything inside `{"type": "SecureString" | "AzureKeyVaultSecret", ...}` or a
  parameter declared `securestring` / `secureobject`;
- any string that looks like a connection string (`Key=value;Key=value`), a SAS token (`sig=`, `sv=`), a URL
  with a password (`https://user:pw@host`), a JSON web token or a PEM block, under whatever key: ADF's live
  answers strip `AccountKey=`, but a template's literal values (a linked service published without Key Vault,
  an environment override) can hold one anywhere.

Over-hiding costs a reviewer a click; under-hiding leaks a secret into a public log.

Abridged: a value whose display text is longer than `LONG` characters shows its start and end, its length and
`sha256 <12 hex>` of the whole display text, so two long values can still be told apart (and the same value is
recognised) without printing them: `"SELECT a, b…WHERE x = 1" (412 characters, sha256 3f2a9c0d1e2b)`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from promote.inert import abridged
from promote.secrets import describe, is_placeholder

SECRET = "<secret>"
LONG = 120  # characters of a value's display text shown whole; longer ones are abridged with a digest

# Keys whose values are never shown, at any depth below them.
SENSITIVE_KEY = re.compile(
    r"password|passwd|pwd|secret|token|credential|connectionstring|sas|authorization|pfx|cert|key$",
    re.IGNORECASE,
)
_SECRET_TYPES = frozenset({"securestring", "secureobject", "azurekeyvaultsecret"})  # compared lower-cased

# Strings that look like a secret, whatever key holds them.
_LOOKS_SECRET = re.compile(
    r"(?:^|;)\s*[A-Za-z][\w .-]{0,40}=[^;]*;\s*[A-Za-z][\w .-]{0,40}="  # two `Key=value;` pairs: a connection string
    r"|(?:^|[?&;])\s*(?:sig|sv|se|sp|skoid|SharedAccessSignature|SharedAccessKey|AccountKey|Password|Pwd)\s*="
    r"|[A-Za-z][\w+.-]*://[^/\s:@]*:[^/\s@]+@"  # a URL carrying a password
    r"|eyJ[\w-]{8,}\.[\w-]{8,}\."  # a JSON web token
    r"|-----BEGIN [A-Z ]+-----",  # a PEM key or certificate
    re.IGNORECASE,
)


def is_sensitive_key(key: str) -> bool:
    """A property name whose value is never shown."""
    return bool(SENSITIVE_KEY.search(key))


def is_secret_object(value: Any) -> bool:
    """`{"type": "SecureString" | "SecureObject" | "AzureKeyVaultSecret", ...}`, or a parameter declared
    `securestring` / `secureobject`: everything inside is a secret or says where one is."""
    kind = value.get("type") if isinstance(value, dict) else None
    return isinstance(kind, str) and kind.lower() in _SECRET_TYPES


def looks_secret(text: str) -> bool:
    """A string shaped like a connection string, a SAS token, a URL with a password, a token or a key."""
    return bool(_LOOKS_SECRET.search(text))


def has_placeholder(value: Any) -> bool:
    """A placeholder in a string, or in a string element of a list (compound values are searched by `masked`)."""
    if isinstance(value, list):
        return any(is_placeholder(item) for item in value)
    return is_placeholder(value)


def masked(value: Any, secret: bool = False) -> Any:
    """`value` with every part that could be a secret replaced by what may be shown of it (a new structure; the
    input is untouched). `secret`: the whole value is under a key or an object that makes it one."""
    if isinstance(value, str):
        if is_placeholder(value):
            return describe(value)  # where the secret comes from, never the text around it
        return SECRET if secret or looks_secret(value) else value
    if secret and not isinstance(value, (dict, list)):
        return SECRET
    if isinstance(value, dict):
        kind = is_secret_object(value)  # its `type` (SecureString, ...) is shown: it says what the rest is
        inner = secret or kind
        return {
            key: item if kind and key == "type" else masked(item, inner or is_sensitive_key(key))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [masked(item, secret) for item in value]
    return value


def shown(value: Any, secret: bool = False) -> str:
    """The display text of `value`: masked, as compact JSON, abridged past `LONG` characters with a digest.
    A value that is exactly one secret shows as that secret's description alone (`<secret>`, `<secret from
    ...>`), not as a JSON string."""
    safe = masked(value, secret)
    if isinstance(safe, str) and safe != value:
        return safe
    text = json.dumps(safe, ensure_ascii=False)
    return abridged(text, LONG, digest=True)
