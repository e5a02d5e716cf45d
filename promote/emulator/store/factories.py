"""Factories: their rows, and ADF's rules for creating, replacing, patching, deleting and listing them.

A factory's row is looked up by every other part of the store (a child object, a trigger or a run needs its
factory), so `factory_key`, `factory_row` and `require_factory` are public here; `write_factory` is the write
inside a caller's transaction (the seed creates a factory and its objects in one).
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any

from promote.emulator import errors
from promote.emulator.settings import Clock
from promote.emulator.store.database import Database, count_write
from promote.emulator.store.values import (
    FACTORY_TYPE,
    GroupScope,
    check_conditions,
    dumps,
    iso,
    new_etag,
    require_json_object,
)
from promote.names import FACTORY_RULE

DATA_FACTORY_VERSION = "2018-06-01"
_FACTORY_READ_ONLY = ("provisioningState", "createTime", "version")


def factory_key(scope: GroupScope, factory: str) -> str:
    """The key of a factory's objects, references and runs (`fkey` in the tables)."""
    return f"{scope.key}/{factory.lower()}"


def factory_row(db: sqlite3.Connection, scope: GroupScope, name: str) -> tuple[str, str, str, str] | None:
    """(display name, resource group as first written, etag, body) of a factory, or None."""
    return db.execute(
        "SELECT name, rg, etag, body FROM factories WHERE skey = ? AND lname = ?",
        (scope.key, name.lower()),
    ).fetchone()


def require_factory(db: sqlite3.Connection, scope: GroupScope, name: str) -> tuple[str, str, str, str]:
    """The factory's row; ARM's ResourceNotFound when there is none."""
    row = factory_row(db, scope, name)
    if row is None:
        raise errors.resource_not_found(FACTORY_TYPE, name, scope.resource_group)
    return row


def write_factory(
    db: sqlite3.Connection,
    clock: Clock,
    scope: GroupScope,
    name: str,
    body: Any,
    if_match: str | None = None,
    if_none_match: str | None = None,
) -> str:
    """Create or replace a factory inside the caller's transaction; the JSON Azure answers."""
    problem = FACTORY_RULE.problem(name)
    if problem:
        raise errors.invalid_name("factory", name, problem)
    require_json_object(body)
    location = body.get("location")
    if not isinstance(location, str) or not location:
        raise errors.location_required()
    properties = body.get("properties") or {}
    if not isinstance(properties, dict):
        raise errors.bad_body("The factory's 'properties' must be a JSON object.")
    row = factory_row(db, scope, name)
    check_conditions(row[2] if row else None, if_match, if_none_match)
    display, rg = (row[0], row[1]) if row else (name, scope.resource_group)
    old = json.loads(row[3]) if row else {}
    created = old.get("properties", {}).get("createTime") or iso(clock.now())
    etag = new_etag()
    rendered: dict[str, Any] = {
        "name": display,
        "id": f"/subscriptions/{scope.subscription}/resourceGroups/{rg}/providers/{FACTORY_TYPE}/{display}",
        "type": FACTORY_TYPE,
        "properties": {
            "provisioningState": "Succeeded",
            "createTime": created,
            "version": DATA_FACTORY_VERSION,
            **{k: v for k, v in properties.items() if k not in _FACTORY_READ_ONLY},
        },
        "eTag": f'"{etag}"',
        "location": location,
        "tags": body.get("tags") or {},
    }
    identity = _identity(body.get("identity"), display)
    if identity is not None:
        rendered["identity"] = identity
    text = dumps(rendered)
    db.execute(
        "INSERT OR REPLACE INTO factories (skey, lname, name, sub, rg, etag, body) VALUES (?,?,?,?,?,?,?)",
        (scope.key, name.lower(), display, scope.subscription.lower(), rg, etag, text),
    )
    count_write(db, "factories")
    return text


def _identity(identity: Any, name: str) -> dict[str, Any] | None:
    if not isinstance(identity, dict):
        return None
    rendered = dict(identity)
    if "SystemAssigned" in str(identity.get("type", "")):
        rendered.setdefault("principalId", str(uuid.uuid5(uuid.NAMESPACE_URL, f"adf-emulator/{name.lower()}")))
        rendered.setdefault("tenantId", "00000000-0000-0000-0000-000000000000")
    return rendered


class Factories(Database):
    """The factory operations of the store."""

    def factory_exists(self, scope: GroupScope, name: str) -> bool:
        with self.reading() as db:
            return factory_row(db, scope, name) is not None

    def get_factory(self, scope: GroupScope, name: str) -> tuple[str, str]:
        """(etag, body JSON) of a factory."""
        with self.reading() as db:
            _, _, etag, body = require_factory(db, scope, name)
        return etag, body

    def factory_body(self, scope: GroupScope, name: str) -> dict[str, Any] | None:
        """A factory as stored (what-if compares against it), or None."""
        with self.reading() as db:
            row = factory_row(db, scope, name)
        return json.loads(row[3]) if row else None

    def put_factory(
        self,
        scope: GroupScope,
        name: str,
        body: Any,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> str:
        """Create or replace a factory. Like Azure, a PUT replaces `properties`: git and Purview settings go."""
        with self.transaction() as db:
            return write_factory(db, self.clock, scope, name, body, if_match, if_none_match)

    def patch_factory(
        self,
        scope: GroupScope,
        name: str,
        body: Any,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> str:
        """Factories_Update: tags (replaced as a whole), identity and publicNetworkAccess; nothing else changes.

        `If-Match` makes it conditional on the factory's current etag (412 when another write came first), so
        that two writers of the tags cannot both win: the compare-and-set a lease on the factory needs. Every
        write of the factory (PUT, PATCH, a deployment's) gives it a new etag; writes of its child objects do
        not. Note: the REST specification declares `If-Match` for Factories_CreateOrUpdate only, not for this
        operation (README.md, "Conditional writes")."""
        require_json_object(body)
        with self.transaction() as db:
            _, _, etag, text = require_factory(db, scope, name)
            check_conditions(etag, if_match, if_none_match)
            rendered = json.loads(text)
            if "tags" in body:
                rendered["tags"] = body.get("tags") or {}
            identity = _identity(body.get("identity"), rendered["name"])
            if identity is not None:
                rendered["identity"] = identity
            access = (body.get("properties") or {}).get("publicNetworkAccess")
            if access is not None:
                rendered["properties"]["publicNetworkAccess"] = access
            etag = new_etag()
            rendered["eTag"] = f'"{etag}"'
            text = dumps(rendered)
            db.execute(
                "UPDATE factories SET etag = ?, body = ? WHERE skey = ? AND lname = ?",
                (etag, text, scope.key, name.lower()),
            )
            count_write(db, "factories")
        return text

    def delete_factory(self, scope: GroupScope, name: str) -> bool:
        """Delete a factory with everything in it; False when there was none (Azure answers 204 then)."""
        fkey = factory_key(scope, name)
        with self.transaction() as db:
            if factory_row(db, scope, name) is None:
                return False
            db.execute("DELETE FROM factories WHERE skey = ? AND lname = ?", (scope.key, name.lower()))
            for table in ("objects", "refs", "runs"):
                db.execute(f"DELETE FROM {table} WHERE fkey = ?", (fkey,))
            count_write(db, "factories")
        return True

    def list_factories(self, subscription: str, resource_group: str | None) -> list[str]:
        if resource_group is None:
            rows = self.read("SELECT body FROM factories WHERE sub = ? ORDER BY skey, lname", (subscription.lower(),))
        else:
            rows = self.read(
                "SELECT body FROM factories WHERE skey = ? ORDER BY lname",
                (f"{subscription.lower()}/{resource_group.lower()}",),
            )
        return [r[0] for r in rows]
