"""A factory's child objects and ADF's rules on them: names, references, started triggers, the runtime type,
private endpoints, and what Azure adds to or hides in an answer.

Each object's answer is stored pre-rendered (the exact JSON Azure returns), so listing 5,000 objects is string
concatenation; references live in their own indexed table, so "is this referenced?" is one lookup.
`object_row`, `require_object` and `object_id` are public because triggers and runs look objects up too;
`write_object` is the write inside a caller's transaction (a PUT, the seed, a deployment's resource).
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any

from promote.emulator import errors
from promote.emulator.store.database import Database, count_write
from promote.emulator.store.factories import factory_key, factory_row, require_factory, write_factory
from promote.emulator.store.values import (
    FACTORY_TYPE,
    KIND_BY_TYPE,
    KINDS,
    MPE_TYPE,
    GroupScope,
    Kind,
    Page,
    as_adf_keeps,
    check_conditions,
    decode_token,
    dumps,
    like_prefix,
    new_etag,
    page_of,
    require_json_object,
)
from promote.factory import references_of
from promote.names import name_problem
from promote.validate import BUILT_IN

_BUILT_IN = {(k.type, k.name.lower()) for k in BUILT_IN}
_MPE_READ_ONLY = frozenset({"provisioningState", "connectionState", "alias", "isReserved"})

ObjectRow = tuple[Any, ...]
"""(name, etag, body, kind, runtime_state, sub_target, sub_since, sub_duration) of one object."""


def object_id(scope: GroupScope, rg: str, factory: str, kind: Kind, name: str) -> str:
    """An object's ARM id (a private endpoint's `name` is `network/endpoint`)."""
    base = f"/subscriptions/{scope.subscription}/resourceGroups/{rg}/providers/{FACTORY_TYPE}/{factory}"
    if kind.type == MPE_TYPE:
        network, _, endpoint = name.partition("/")
        return f"{base}/managedVirtualNetworks/{network}/managedPrivateEndpoints/{endpoint}"
    return f"{base}/{kind.segment}/{name}"


def object_row(db: sqlite3.Connection, fkey: str, kind: Kind, name: str) -> ObjectRow | None:
    return db.execute(
        "SELECT name, etag, body, kind, runtime_state, sub_target, sub_since, sub_duration FROM objects "
        "WHERE fkey = ? AND type = ? AND lname = ?",
        (fkey, kind.type, name.lower()),
    ).fetchone()


def require_object(
    db: sqlite3.Connection, scope: GroupScope, factory: str, kind: Kind, name: str
) -> tuple[str, ObjectRow]:
    """(factory key, row) of an object; ResourceNotFound for a missing factory, NotFound for a missing object."""
    display, rg, _, _ = require_factory(db, scope, factory)
    fkey = factory_key(scope, factory)
    row = object_row(db, fkey, kind, name)
    if row is None:
        raise errors.object_not_found(
            object_id(scope, rg, display, kind, name), global_parameter=kind.type == "globalParameters"
        )
    return fkey, row


def _forget_references(db: sqlite3.Connection, fkey: str, kind: Kind, name: str) -> None:
    """Drop the references an object makes (before it is rewritten or deleted)."""
    db.execute(
        "DELETE FROM refs WHERE fkey = ? AND src_type = ? AND src_lname = ?",
        (fkey, kind.type, name.lower()),
    )


def write_object(
    db: sqlite3.Connection,
    scope: GroupScope,
    factory: str,
    kind: Kind,
    name: str,
    body: Any,
    if_match: str | None,
    if_none_match: str | None,
) -> str:
    """Create or update one object under ADF's rules inside the caller's transaction; the JSON Azure answers."""
    frow = factory_row(db, scope, factory)
    if frow is None:
        raise errors.parent_not_found(factory)
    factory_display, rg = frow[0], frow[1]
    fkey = factory_key(scope, factory)
    problem = name_problem(kind.type, name)
    if problem:
        raise errors.invalid_name(kind.label, name, problem)
    if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
        raise errors.bad_body(f"The {kind.label} must have a 'properties' object.")
    properties: dict[str, Any] = body["properties"]
    if kind.type == MPE_TYPE:
        network = name.partition("/")[0]
        if object_row(db, fkey, KINDS["managedvirtualnetworks"], network) is None:
            raise errors.parent_not_found(f"{factory_display}/{network}")

    row = object_row(db, fkey, kind, name)
    check_conditions(row[1] if row else None, if_match, if_none_match)
    display = row[0] if row else name
    oid = object_id(scope, rg, factory_display, kind, display)
    old_properties = json.loads(row[2])["properties"] if row else None

    # ADF's rules on updates.
    if row is not None and kind.type == "triggers" and row[4] == "Started":
        raise errors.trigger_enabled_cannot_update()
    if row is not None and kind.type == "integrationRuntimes" and row[3] != properties.get("type"):
        raise errors.ir_type_change()
    if row is not None and kind.type == MPE_TYPE:
        wanted = {k: v for k, v in properties.items() if k not in _MPE_READ_ONLY}
        have = {k: v for k, v in (old_properties or {}).items() if k not in _MPE_READ_ONLY}
        wanted.setdefault("fqdns", [])
        if wanted != have:
            raise errors.mpe_already_exists(name.partition("/")[2])

    references = references_of(properties)
    for ref in sorted(references):
        lname = ref.name.lower()
        if (ref.type == kind.type and lname == name.lower()) or (ref.type, lname) in _BUILT_IN:
            continue
        exists = db.execute(
            "SELECT 1 FROM objects WHERE fkey = ? AND type = ? AND lname = ?", (fkey, ref.type, lname)
        ).fetchone()
        if exists is None:
            raise errors.invalid_reference(ref.name, oid)

    stored = _stored_properties(kind, properties, old_properties, factory_display)
    runtime_state = (row[4] if row else "Stopped") if kind.type == "triggers" else None
    if runtime_state is not None:
        stored["runtimeState"] = runtime_state
    etag = new_etag()
    leaf = display.partition("/")[2] if kind.type == MPE_TYPE else display
    text = dumps({"id": oid, "name": leaf, "type": kind.arm_type, "properties": stored, "etag": etag})
    object_kind = properties.get("type") if isinstance(properties.get("type"), str) else None
    if row is None:
        db.execute(
            "INSERT INTO objects (fkey, type, lname, name, etag, body, kind, runtime_state) VALUES (?,?,?,?,?,?,?,?)",
            (fkey, kind.type, name.lower(), display, etag, text, object_kind, runtime_state),
        )
    else:
        db.execute(
            "UPDATE objects SET etag = ?, body = ?, kind = ? WHERE fkey = ? AND type = ? AND lname = ?",
            (etag, text, object_kind, fkey, kind.type, name.lower()),
        )
        _forget_references(db, fkey, kind, name)
    db.executemany(
        "INSERT OR IGNORE INTO refs (fkey, dst_type, dst_lname, src_type, src_lname, src_name) VALUES (?,?,?,?,?,?)",
        [(fkey, r.type, r.name.lower(), kind.type, name.lower(), display) for r in references],
    )
    count_write(db, kind.type)
    return text


def _stored_properties(
    kind: Kind, properties: dict[str, Any], old: dict[str, Any] | None, factory: str
) -> dict[str, Any]:
    """The properties as Azure keeps and returns them: secrets taken out, read-only values dropped or filled in."""
    stored = as_adf_keeps(kind.type, properties, factory)
    if kind.type == "triggers":
        stored.pop("runtimeState", None)  # read-only: ignored in PUT bodies
    elif kind.type == MPE_TYPE:
        stored = {
            "provisioningState": "Succeeded",
            **{k: v for k, v in stored.items() if k not in _MPE_READ_ONLY},
            "connectionState": (old or {}).get("connectionState")
            or {"status": "Pending", "description": "", "actionsRequired": "None"},
        }
        stored.setdefault("fqdns", [])
    elif kind.type == "managedVirtualNetworks":
        stored = {
            **stored,
            "alias": (old or {}).get("alias") or factory,
            "vNetId": (old or {}).get("vNetId") or str(uuid.uuid4()),
        }
    return stored


class Objects(Database):
    """The child-object operations of the store."""

    object_id = staticmethod(object_id)

    def get_object(self, scope: GroupScope, factory: str, kind: Kind, name: str) -> tuple[str, str]:
        """(etag, body JSON) of one object."""
        with self.reading() as db:
            _, row = require_object(db, scope, factory, kind, name)
        return row[1], row[2]

    def put_object(
        self,
        scope: GroupScope,
        factory: str,
        kind: Kind,
        name: str,
        body: Any,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> str:
        """Create or update one object under ADF's rules; the JSON Azure answers."""
        with self.transaction() as db:
            return write_object(db, scope, factory, kind, name, body, if_match, if_none_match)

    def patch_integration_runtime(self, scope: GroupScope, factory: str, name: str, body: Any) -> str:
        """IntegrationRuntimes_Update: `autoUpdate` and `updateDelayOffset` merged into the properties."""
        kind = KINDS["integrationruntimes"]
        require_json_object(body)
        with self.transaction() as db:
            fkey, row = require_object(db, scope, factory, kind, name)
            rendered = json.loads(row[2])
            for key in ("autoUpdate", "updateDelayOffset"):
                if key in body:
                    rendered["properties"].setdefault("typeProperties", {})[key] = body[key]
            rendered["etag"] = new_etag()
            text = dumps(rendered)
            db.execute(
                "UPDATE objects SET etag = ?, body = ? WHERE fkey = ? AND type = ? AND lname = ?",
                (rendered["etag"], text, fkey, kind.type, name.lower()),
            )
            count_write(db, kind.type)
        return text

    def delete_object(self, scope: GroupScope, factory: str, kind: Kind, name: str) -> bool:
        """Delete one object under ADF's rules; False when there was none (Azure answers 204 then)."""
        with self.transaction() as db:
            frow = factory_row(db, scope, factory)
            if frow is None:
                raise errors.parent_not_found(factory)
            fkey = factory_key(scope, factory)
            row = object_row(db, fkey, kind, name)
            if row is None:
                return False
            if kind.type == "triggers" and row[4] == "Started":
                raise errors.trigger_enabled_cannot_update()
            referrer = db.execute(
                "SELECT src_name FROM refs WHERE fkey = ? AND dst_type = ? AND dst_lname = ? "
                "AND NOT (src_type = ? AND src_lname = ?) ORDER BY src_type, src_lname LIMIT 1",
                (fkey, kind.type, name.lower(), kind.type, name.lower()),
            ).fetchone()
            if referrer is not None:
                target = f"/{FACTORY_TYPE}/{frow[0]}/{kind.segment.lower()}/{row[0]}"
                raise errors.referenced_by(referrer[0], target)
            if kind.type == "managedVirtualNetworks":
                db.execute(
                    "DELETE FROM objects WHERE fkey = ? AND type = ? AND lname LIKE ? ESCAPE '\\'",
                    (fkey, MPE_TYPE, like_prefix(name.lower() + "/")),
                )
            db.execute(
                "DELETE FROM objects WHERE fkey = ? AND type = ? AND lname = ?",
                (fkey, kind.type, name.lower()),
            )
            _forget_references(db, fkey, kind, name)
            count_write(db, kind.type)
        return True

    def list_objects(
        self, scope: GroupScope, factory: str, kind: Kind, *, token: str | None, network: str | None = None
    ) -> Page:
        """One page of a collection, ordered by name; `network` narrows private endpoints to one network."""
        after = decode_token(token) if token else ""
        limit = self.settings.page_size
        fkey = factory_key(scope, factory)
        with self.reading() as db:
            require_factory(db, scope, factory)
            if network is None:
                rows = db.execute(
                    "SELECT lname, body FROM objects WHERE fkey = ? AND type = ? AND lname > ? ORDER BY lname LIMIT ?",
                    (fkey, kind.type, after, limit + 1),
                ).fetchall()
            else:
                prefix = network.lower() + "/"
                rows = db.execute(
                    "SELECT lname, body FROM objects WHERE fkey = ? AND type = ? AND lname > ? "
                    "AND lname LIKE ? ESCAPE '\\' ORDER BY lname LIMIT ?",
                    (fkey, kind.type, max(after, prefix), like_prefix(prefix), limit + 1),
                ).fetchall()
        return page_of(rows, limit)

    def seed(self, scope: GroupScope, factory: str, objects: list[dict[str, Any]], location: str) -> int:
        """Write many objects in one transaction, under the same rules (creating the factory when absent)."""
        with self.transaction() as db:
            if factory_row(db, scope, factory) is None:
                write_factory(db, self.clock, scope, factory, {"location": location})
            for item in objects:
                kind = KIND_BY_TYPE.get(str(item.get("type")))
                if kind is None:
                    raise errors.bad_body(f"Unknown object type {item.get('type')!r}; known: {sorted(KIND_BY_TYPE)}")
                write_object(
                    db, scope, factory, kind, str(item["name"]), {"properties": item.get("properties")}, None, None
                )
        return len(objects)

    # --- reading a whole factory (what-if) -----------------------------------------------------------------

    def object_properties(self, scope: GroupScope, factory: str, kind: Kind, name: str) -> dict[str, Any] | None:
        """The stored properties of one object, or None."""
        with self.reading() as db:
            row = object_row(db, factory_key(scope, factory), kind, name)
        return json.loads(row[2])["properties"] if row else None

    def object_names(self, scope: GroupScope, factory: str) -> list[tuple[str, str]]:
        """(type, name) of every object of a factory."""
        return [
            (t, n)
            for t, n in self.read(
                "SELECT type, name FROM objects WHERE fkey = ? ORDER BY type, lname",
                (factory_key(scope, factory),),
            )
        ]
