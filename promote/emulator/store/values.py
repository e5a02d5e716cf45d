"""The store's vocabulary: the collections a factory has, the value types, and the pure helpers every part of
the store uses (timestamps, etags, continuation tokens, the secrets ADF takes out of what it keeps, compact JSON).

Nothing here holds state or touches SQLite, so each rule module can import it without importing another.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from promote.emulator import errors
from promote.factory import OBJECT_TYPES

FACTORY_TYPE = "Microsoft.DataFactory/factories"
MASK = "**********"
MPE_TYPE = "managedVirtualNetworks/managedPrivateEndpoints"


@dataclass(frozen=True)
class Kind:
    """A child collection of a factory: its contract type, the casing Azure uses in ids and `type`, a label."""

    type: str  # promote.factory's casing: linkedServices, managedVirtualNetworks/managedPrivateEndpoints, ...
    segment: str  # as in Azure's ids: linkedservices, integrationruntimes, managedVirtualNetworks, ...
    arm_type: str  # the `type` Azure returns
    label: str  # for messages


def _kind(type_: str, segment: str, label: str) -> Kind:
    return Kind(type_, segment, f"{FACTORY_TYPE}/{segment}", label)


# Keyed by the lower-case path segment. Casing of `segment` follows the REST examples' responses.
KINDS: dict[str, Kind] = {
    "pipelines": _kind("pipelines", "pipelines", "pipeline"),
    "datasets": _kind("datasets", "datasets", "dataset"),
    "linkedservices": _kind("linkedServices", "linkedservices", "linked service"),
    "triggers": _kind("triggers", "triggers", "trigger"),
    "dataflows": _kind("dataflows", "dataflows", "data flow"),
    "integrationruntimes": _kind("integrationRuntimes", "integrationruntimes", "integration runtime"),
    "managedvirtualnetworks": _kind("managedVirtualNetworks", "managedVirtualNetworks", "managed virtual network"),
    "managedvirtualnetworks/managedprivateendpoints": Kind(
        MPE_TYPE, "managedPrivateEndpoints", f"{FACTORY_TYPE}/{MPE_TYPE}", "managed private endpoint"
    ),
    "globalparameters": _kind("globalParameters", "globalParameters", "global parameter"),
    "credentials": _kind("credentials", "credentials", "credential"),
    "adfcdcs": _kind("adfcdcs", "adfcdcs", "change data capture"),
}
KIND_BY_TYPE: dict[str, Kind] = {k.type: k for k in KINDS.values()}
assert set(KIND_BY_TYPE) == set(OBJECT_TYPES.values()), "every object type of promote.factory is served"


@dataclass(frozen=True)
class GroupScope:
    """A subscription and resource group, as the request spelled them (ARM matches them case-insensitively)."""

    subscription: str
    resource_group: str

    @property
    def key(self) -> str:
        return f"{self.subscription.lower()}/{self.resource_group.lower()}"

    @property
    def prefix(self) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"


@dataclass(frozen=True)
class Page:
    """One page of a list: the items' JSON texts and the token for the next page (None on the last one)."""

    items: list[str]
    next_token: str | None


def page_of(rows: list[tuple[str, str]], limit: int) -> Page:
    """The page of (lower-case name, body) rows fetched one past `limit`: the extra row says a next page exists,
    and the token is the last shown name (the next page starts after it)."""
    more = len(rows) > limit
    rows = rows[:limit]
    return Page([body for _, body in rows], encode_token(rows[-1][0]) if more else None)


def iso(ts: float) -> str:
    """Azure's timestamp format (seven fractional digits, Z)."""
    d = dt.datetime.fromtimestamp(ts, dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond:06d}0Z"


def new_etag() -> str:
    """ADF's etag layout (`0a008ad4-0000-0000-0000-5b245c6e0000`), unique per write."""
    return f"{uuid.uuid4().hex[:8]}-0000-0200-0000-{uuid.uuid4().hex[:12]}"


def encode_token(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise errors.bad_body(f"The continuation token '{token}' is not valid.") from None


def etag_matches(header: str, etag: str) -> bool:
    """Whether an If-Match / If-None-Match header names this etag (`*` names any; quotes are optional)."""
    wanted = {t.strip().removeprefix("W/").strip('"') for t in header.split(",")}
    return "*" in wanted or etag.strip('"') in wanted


def check_conditions(etag: str | None, if_match: str | None, if_none_match: str | None) -> None:
    """If-Match / If-None-Match on a write (`etag` None: nothing there yet): 412 when the condition does not hold."""
    if if_match is not None and (etag is None or not etag_matches(if_match, etag)):
        raise errors.precondition_failed("If-Match")
    if if_none_match is not None and etag is not None and etag_matches(if_none_match, etag):
        raise errors.precondition_failed("If-None-Match")


def require_json_object(body: Any) -> None:
    """A PUT or PATCH body must be a JSON object."""
    if not isinstance(body, dict):
        raise errors.bad_body("The request body must be a JSON object.")


# `AccountKey=<key>` as one `;`-separated part of a connection string: at the start or after a `;`, up to and
# including the `;` that ends it (recorded: `...;AccountName=myaccount;AccountKey=myfakekey;` answers
# `...;AccountName=myaccount;`). The key's name is matched in any case (chosen: storage connection strings are
# read case-insensitively, and keeping a key ADF would take out is the worse mistake).
_ACCOUNT_KEY = re.compile(r"(?<![^;])[ \t]*AccountKey[ \t]*=[^;]*(?:;|$)", re.IGNORECASE)


def _without_account_key(text: str) -> str:
    """A plain-string connection string as ADF keeps it: every `AccountKey=` part taken out with its `;`."""
    return _ACCOUNT_KEY.sub("", text)


def as_adf_keeps(kind_type: str, properties: dict[str, Any], factory: str) -> dict[str, Any]:
    """An object's properties with the secrets ADF takes out before it keeps them, as every read returns them.

    The one statement of what ADF does to secrets (reference/recordings README, "Secrets"): a SecureString's
    value becomes `**********`; a linked service's plain-string `typeProperties.connectionString` loses its
    `AccountKey=` part; and a linked service that held either gets a `typeProperties.encryptedCredential`, last,
    replacing any sent (a value of the emulator's choosing, new on every write: ADF encrypts what it took out
    with the factory's key). A linked service with no such secret (a Key Vault one) gets none, and keeps an
    `encryptedCredential` it was sent. Neither the key nor the SecureString's value is kept anywhere.
    """
    stored, hidden = _without_secrets(properties)
    if kind_type != "linkedServices":
        return stored
    tp = stored.get("typeProperties")
    if not isinstance(tp, dict):
        return stored
    text = tp.get("connectionString")
    if isinstance(text, str):
        stripped = _without_account_key(text)
        if stripped != text:
            tp = {**tp, "connectionString": stripped}
            hidden = True
    if hidden:
        tp = {k: v for k, v in tp.items() if k != "encryptedCredential"}
        tp["encryptedCredential"] = encrypted_credential(factory)
    return {**stored, "typeProperties": tp} if tp is not stored["typeProperties"] else stored


def encrypted_credential(factory: str) -> str:
    """What ADF answers in `encryptedCredential`: base64 of a small JSON naming a credential in its key store
    (the recordings decode to this shape, with `CredentialId` `<FACTORY>_<guid>`), never the secret."""
    blob = {
        "Version": "2017-11-30",
        "ProtectionMode": "Key",
        "SecretContentType": "Plaintext",
        "CredentialId": f"{factory.upper()}_{uuid.uuid4()}",
    }
    return base64.b64encode(json.dumps(blob).encode()).decode()


def _without_secrets(node: Any) -> tuple[Any, bool]:
    """(`node` with every SecureString's value masked, whether there was one). ADF never returns a SecureString's
    value, and answers with `type` first (`{"type": "SecureString", "value": "**********"}`) whatever order the
    request had, as recorded."""
    if isinstance(node, dict):
        if node.get("type") == "SecureString" and "value" in node:
            rest = {k: v for k, v in node.items() if k not in ("type", "value")}
            return {"type": "SecureString", "value": MASK, **rest}, True
        found = False
        out: dict[str, Any] = {}
        for key, value in node.items():
            out[key], hidden = _without_secrets(value)
            found = found or hidden
        return out, found
    if isinstance(node, list):
        items = [_without_secrets(v) for v in node]
        return [item for item, _ in items], any(hidden for _, hidden in items)
    return node, False


def dumps(value: Any) -> str:
    """Compact JSON, as the store keeps answers and rows."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def like_prefix(prefix: str) -> str:
    """A LIKE pattern matching strings that start with `prefix` (with `\\` escaping)."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
