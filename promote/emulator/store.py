"""The emulator's state in SQLite, with Azure Data Factory's rules.

Plain state plus the service's rules, and nothing about HTTP: every method takes names and JSON values and
either returns what Azure would answer or raises an `EmulatorError` that knows its status, code and message
(moto's and Azurite's split). The deployment engine writes through the same methods, so an object written by
a deployment meets exactly the rules of a direct PUT.

Concurrency: one connection, guarded by a re-entrant lock; every write is one `BEGIN IMMEDIATE` transaction,
so a rule check and the write it allows cannot interleave with another request. WAL mode and a busy timeout
let a second process (another `promote` invocation on the same `.promote/emulator/`) share the file.

Speed: each object's answer is stored pre-rendered (the exact JSON Azure returns), so listing 5,000 objects is
string concatenation; references live in their own indexed table, so "is this referenced?" is one lookup.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promote.emulator import errors
from promote.emulator.settings import Clock, Settings
from promote.factory import OBJECT_TYPES, references_of
from promote.live import EVENT_TRIGGER_TYPES
from promote.names import FACTORY_RULE, name_problem
from promote.validate import BUILT_IN

FACTORY_TYPE = "Microsoft.DataFactory/factories"
DATA_FACTORY_VERSION = "2018-06-01"
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

_BUILT_IN = {(k.type, k.name.lower()) for k in BUILT_IN}
_FACTORY_READ_ONLY = ("provisioningState", "createTime", "version")
_MPE_READ_ONLY = frozenset({"provisioningState", "connectionState", "alias", "isReserved"})

SCHEMA_VERSION = 1  # bump when SCHEMA changes: older state files are then started afresh
SCHEMA = """
CREATE TABLE IF NOT EXISTS factories (
    skey TEXT NOT NULL, lname TEXT NOT NULL, name TEXT NOT NULL, sub TEXT NOT NULL, rg TEXT NOT NULL,
    etag TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (skey, lname)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS objects (
    fkey TEXT NOT NULL, type TEXT NOT NULL, lname TEXT NOT NULL, name TEXT NOT NULL, etag TEXT NOT NULL,
    body TEXT NOT NULL, kind TEXT, runtime_state TEXT, sub_target TEXT, sub_since REAL, sub_duration REAL,
    PRIMARY KEY (fkey, type, lname)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS refs (
    fkey TEXT NOT NULL, dst_type TEXT NOT NULL, dst_lname TEXT NOT NULL, src_type TEXT NOT NULL,
    src_lname TEXT NOT NULL, src_name TEXT NOT NULL,
    PRIMARY KEY (fkey, dst_type, dst_lname, src_type, src_lname)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS refs_by_source ON refs (fkey, src_type, src_lname);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, fkey TEXT NOT NULL, pipeline TEXT NOT NULL, parameters TEXT NOT NULL,
    created REAL NOT NULL, queue_s REAL NOT NULL, run_s REAL NOT NULL, cancelled REAL,
    fail_message TEXT, fail_code TEXT, dimensions TEXT);
CREATE INDEX IF NOT EXISTS runs_by_factory ON runs (fkey, created);
CREATE TABLE IF NOT EXISTS deployments (
    skey TEXT NOT NULL, lname TEXT NOT NULL, seq INTEGER NOT NULL, state TEXT NOT NULL, body TEXT NOT NULL,
    template TEXT NOT NULL, PRIMARY KEY (skey, lname)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deployment_ops (
    skey TEXT NOT NULL, dlname TEXT NOT NULL, seq INTEGER NOT NULL, op_id TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (skey, dlname, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS async_ops (
    op_id TEXT PRIMARY KEY, status TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
_TABLES = ("factories", "objects", "refs", "runs", "deployments", "deployment_ops", "async_ops", "counters")


@dataclass(frozen=True)
class Scope:
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


def mask_secure_strings(node: Any) -> Any:
    """ADF never returns a SecureString's value; the emulator does not even keep it."""
    if isinstance(node, dict):
        if node.get("type") == "SecureString" and "value" in node:
            return {**node, "value": MASK}
        return {k: mask_secure_strings(v) for k, v in node.items()}
    if isinstance(node, list):
        return [mask_secure_strings(v) for v in node]
    return node


def find_fail_activity(activities: Any) -> dict[str, Any] | None:
    """The first top-level `Fail` activity of a pipeline: running it ends the run Failed with its message."""
    for activity in activities or []:
        if isinstance(activity, dict) and activity.get("type") == "Fail":
            return activity
    return None


_PARAMETER = re.compile(r"@pipeline\(\)\.parameters\.(\w+)", re.IGNORECASE)


def _run_dimensions(declared: Any, parameters: dict[str, Any], run_id: str) -> dict[str, str]:
    """A pipeline's `runDimensions` for one run: literals, `@pipeline().parameters.X`, `@pipeline().RunId`."""
    out: dict[str, str] = {}
    for key, value in (declared or {}).items() if isinstance(declared, dict) else []:
        text = _expression_text(value)
        if not text.startswith("@"):
            out[key] = text
        elif text.lower() == "@pipeline().runid":
            out[key] = run_id
        elif (m := _PARAMETER.fullmatch(text)) and m.group(1) in parameters:
            given = parameters[m.group(1)]
            out[key] = given if isinstance(given, str) else json.dumps(given, separators=(",", ":"))
    return out


def _expression_text(value: Any) -> str:
    if isinstance(value, dict) and "value" in value:
        return str(value["value"])
    return "" if value is None else str(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Store:
    """Factories, their objects, trigger states, pipeline runs and deployments, in one SQLite file."""

    def __init__(self, db_path: Path, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self._lock = threading.RLock()
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(db_path), check_same_thread=False, isolation_level=None, timeout=10.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:  # a state file of another emulator version: start afresh
            for table in _TABLES:
                self._db.execute(f"DROP TABLE IF EXISTS {table}")
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- plumbing ------------------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: the rule checks and the write they allow, with no other request in between."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _count_write(self, db: sqlite3.Connection, name: str) -> None:
        db.execute(
            "INSERT INTO counters (name, value) VALUES (?, 1) ON CONFLICT(name) DO UPDATE SET value = value + 1",
            (name,),
        )

    def write_counts(self) -> dict[str, int]:
        """Writes by object type (`pipelines`, `factories`, ...), whether by a direct request or a deployment."""
        return {name: value for name, value in self._read("SELECT name, value FROM counters ORDER BY name")}

    def reset(self) -> None:
        with self.transaction() as db:
            for table in _TABLES:
                db.execute(f"DELETE FROM {table}")

    # --- factories -----------------------------------------------------------------------------------------

    @staticmethod
    def _fkey(scope: Scope, factory: str) -> str:
        return f"{scope.key}/{factory.lower()}"

    def _factory_row(self, db: sqlite3.Connection, scope: Scope, name: str) -> tuple[str, str, str, str] | None:
        """(display name, resource group as first written, etag, body) of a factory, or None."""
        return db.execute(
            "SELECT name, rg, etag, body FROM factories WHERE skey = ? AND lname = ?",
            (scope.key, name.lower()),
        ).fetchone()

    def _require_factory(self, db: sqlite3.Connection, scope: Scope, name: str) -> tuple[str, str, str, str]:
        row = self._factory_row(db, scope, name)
        if row is None:
            raise errors.resource_not_found(FACTORY_TYPE, name, scope.resource_group)
        return row

    def factory_exists(self, scope: Scope, name: str) -> bool:
        with self._lock:
            return self._factory_row(self._db, scope, name) is not None

    def get_factory(self, scope: Scope, name: str) -> tuple[str, str]:
        """(etag, body JSON) of a factory."""
        with self._lock:
            _, _, etag, body = self._require_factory(self._db, scope, name)
        return etag, body

    def put_factory(
        self,
        scope: Scope,
        name: str,
        body: Any,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> str:
        """Create or replace a factory. Like Azure, a PUT replaces `properties`: git and Purview settings go."""
        with self.transaction() as db:
            return self._put_factory(db, scope, name, body, if_match, if_none_match)

    def _put_factory(
        self,
        db: sqlite3.Connection,
        scope: Scope,
        name: str,
        body: Any,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> str:
        problem = FACTORY_RULE.problem(name)
        if problem:
            raise errors.invalid_name("factory", name, problem)
        if not isinstance(body, dict):
            raise errors.bad_body("The request body must be a JSON object.")
        location = body.get("location")
        if not isinstance(location, str) or not location:
            raise errors.location_required()
        properties = body.get("properties") or {}
        if not isinstance(properties, dict):
            raise errors.bad_body("The factory's 'properties' must be a JSON object.")
        row = self._factory_row(db, scope, name)
        self._check_conditions(row[2] if row else None, if_match, if_none_match)
        display, rg = (row[0], row[1]) if row else (name, scope.resource_group)
        old = json.loads(row[3]) if row else {}
        created = old.get("properties", {}).get("createTime") or iso(self.clock.now())
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
        identity = self._identity(body.get("identity"), display)
        if identity is not None:
            rendered["identity"] = identity
        text = _dumps(rendered)
        db.execute(
            "INSERT OR REPLACE INTO factories (skey, lname, name, sub, rg, etag, body) VALUES (?,?,?,?,?,?,?)",
            (scope.key, name.lower(), display, scope.subscription.lower(), rg, etag, text),
        )
        self._count_write(db, "factories")
        return text

    @staticmethod
    def _identity(identity: Any, name: str) -> dict[str, Any] | None:
        if not isinstance(identity, dict):
            return None
        rendered = dict(identity)
        if "SystemAssigned" in str(identity.get("type", "")):
            rendered.setdefault("principalId", str(uuid.uuid5(uuid.NAMESPACE_URL, f"adf-emulator/{name.lower()}")))
            rendered.setdefault("tenantId", "00000000-0000-0000-0000-000000000000")
        return rendered

    def patch_factory(self, scope: Scope, name: str, body: Any) -> str:
        """Factories_Update: tags (replaced as a whole), identity and publicNetworkAccess; nothing else changes."""
        if not isinstance(body, dict):
            raise errors.bad_body("The request body must be a JSON object.")
        with self.transaction() as db:
            _, _, _, text = self._require_factory(db, scope, name)
            rendered = json.loads(text)
            if "tags" in body:
                rendered["tags"] = body.get("tags") or {}
            identity = self._identity(body.get("identity"), rendered["name"])
            if identity is not None:
                rendered["identity"] = identity
            access = (body.get("properties") or {}).get("publicNetworkAccess")
            if access is not None:
                rendered["properties"]["publicNetworkAccess"] = access
            etag = new_etag()
            rendered["eTag"] = f'"{etag}"'
            text = _dumps(rendered)
            db.execute(
                "UPDATE factories SET etag = ?, body = ? WHERE skey = ? AND lname = ?",
                (etag, text, scope.key, name.lower()),
            )
            self._count_write(db, "factories")
        return text

    def delete_factory(self, scope: Scope, name: str) -> bool:
        """Delete a factory with everything in it; False when there was none (Azure answers 204 then)."""
        fkey = self._fkey(scope, name)
        with self.transaction() as db:
            if self._factory_row(db, scope, name) is None:
                return False
            db.execute("DELETE FROM factories WHERE skey = ? AND lname = ?", (scope.key, name.lower()))
            for table in ("objects", "refs", "runs"):
                db.execute(f"DELETE FROM {table} WHERE fkey = ?", (fkey,))
            self._count_write(db, "factories")
        return True

    def list_factories(self, subscription: str, resource_group: str | None) -> list[str]:
        if resource_group is None:
            rows = self._read("SELECT body FROM factories WHERE sub = ? ORDER BY skey, lname", (subscription.lower(),))
        else:
            rows = self._read(
                "SELECT body FROM factories WHERE skey = ? ORDER BY lname",
                (f"{subscription.lower()}/{resource_group.lower()}",),
            )
        return [r[0] for r in rows]

    # --- child objects -------------------------------------------------------------------------------------

    @staticmethod
    def object_id(scope: Scope, rg: str, factory: str, kind: Kind, name: str) -> str:
        base = f"/subscriptions/{scope.subscription}/resourceGroups/{rg}/providers/{FACTORY_TYPE}/{factory}"
        if kind.type == MPE_TYPE:
            network, _, endpoint = name.partition("/")
            return f"{base}/managedVirtualNetworks/{network}/managedPrivateEndpoints/{endpoint}"
        return f"{base}/{kind.segment}/{name}"

    @staticmethod
    def _check_conditions(etag: str | None, if_match: str | None, if_none_match: str | None) -> None:
        """If-Match / If-None-Match on a write: 412 when the condition does not hold."""
        if if_match is not None and (etag is None or not etag_matches(if_match, etag)):
            raise errors.precondition_failed("If-Match")
        if if_none_match is not None and etag is not None and etag_matches(if_none_match, etag):
            raise errors.precondition_failed("If-None-Match")

    def _object_row(self, db: sqlite3.Connection, fkey: str, kind: Kind, name: str) -> tuple[Any, ...] | None:
        return db.execute(
            "SELECT name, etag, body, kind, runtime_state, sub_target, sub_since, sub_duration FROM objects "
            "WHERE fkey = ? AND type = ? AND lname = ?",
            (fkey, kind.type, name.lower()),
        ).fetchone()

    def get_object(self, scope: Scope, factory: str, kind: Kind, name: str) -> tuple[str, str]:
        """(etag, body JSON) of one object."""
        with self._lock:
            self._require_factory(self._db, scope, factory)
            row = self._object_row(self._db, self._fkey(scope, factory), kind, name)
        if row is None:
            raise errors.object_not_found(kind.label, name)
        return row[1], row[2]

    def put_object(
        self,
        scope: Scope,
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
            return self._put_object(db, scope, factory, kind, name, body, if_match, if_none_match)

    def _put_object(
        self,
        db: sqlite3.Connection,
        scope: Scope,
        factory: str,
        kind: Kind,
        name: str,
        body: Any,
        if_match: str | None,
        if_none_match: str | None,
    ) -> str:
        frow = self._factory_row(db, scope, factory)
        if frow is None:
            raise errors.parent_not_found(factory)
        factory_display, rg = frow[0], frow[1]
        fkey = self._fkey(scope, factory)
        problem = name_problem(kind.type, name)
        if problem:
            raise errors.invalid_name(kind.label, name, problem)
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            raise errors.bad_body(f"The {kind.label} must have a 'properties' object.")
        properties: dict[str, Any] = body["properties"]
        if kind.type == MPE_TYPE:
            network = name.partition("/")[0]
            if self._object_row(db, fkey, KINDS["managedvirtualnetworks"], network) is None:
                raise errors.parent_not_found(f"{factory_display}/{network}")

        row = self._object_row(db, fkey, kind, name)
        self._check_conditions(row[1] if row else None, if_match, if_none_match)
        display = row[0] if row else name
        object_id = self.object_id(scope, rg, factory_display, kind, display)
        old_properties = json.loads(row[2])["properties"] if row else None

        # ADF's rules on updates.
        if row is not None and kind.type == "triggers" and row[4] == "Started":
            raise errors.trigger_enabled_cannot_update()
        if row is not None and kind.type == "integrationRuntimes" and row[3] != properties.get("type"):
            raise errors.ir_type_change()
        if row is not None and kind.type == MPE_TYPE:
            wanted = {k: v for k, v in properties.items() if k not in _MPE_READ_ONLY}
            have = {k: v for k, v in old_properties.items() if k not in _MPE_READ_ONLY}
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
                raise errors.invalid_reference(ref.name, object_id)

        stored = self._stored_properties(kind, properties, old_properties, factory_display)
        runtime_state = (row[4] if row else "Stopped") if kind.type == "triggers" else None
        if runtime_state is not None:
            stored["runtimeState"] = runtime_state
        etag = new_etag()
        leaf = display.partition("/")[2] if kind.type == MPE_TYPE else display
        text = _dumps({"id": object_id, "name": leaf, "type": kind.arm_type, "properties": stored, "etag": etag})
        object_kind = properties.get("type") if isinstance(properties.get("type"), str) else None
        if row is None:
            db.execute(
                "INSERT INTO objects (fkey, type, lname, name, etag, body, kind, runtime_state) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (fkey, kind.type, name.lower(), display, etag, text, object_kind, runtime_state),
            )
        else:
            db.execute(
                "UPDATE objects SET etag = ?, body = ?, kind = ? WHERE fkey = ? AND type = ? AND lname = ?",
                (etag, text, object_kind, fkey, kind.type, name.lower()),
            )
            db.execute(
                "DELETE FROM refs WHERE fkey = ? AND src_type = ? AND src_lname = ?",
                (fkey, kind.type, name.lower()),
            )
        db.executemany(
            "INSERT OR IGNORE INTO refs (fkey, dst_type, dst_lname, src_type, src_lname, src_name) "
            "VALUES (?,?,?,?,?,?)",
            [(fkey, r.type, r.name.lower(), kind.type, name.lower(), display) for r in references],
        )
        self._count_write(db, kind.type)
        return text

    @staticmethod
    def _stored_properties(
        kind: Kind, properties: dict[str, Any], old: dict[str, Any] | None, factory: str
    ) -> dict[str, Any]:
        """The properties as Azure keeps and returns them: read-only values dropped or filled in."""
        stored = mask_secure_strings(properties)
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

    def patch_integration_runtime(self, scope: Scope, factory: str, name: str, body: Any) -> str:
        """IntegrationRuntimes_Update: `autoUpdate` and `updateDelayOffset` merged into the properties."""
        kind = KINDS["integrationruntimes"]
        if not isinstance(body, dict):
            raise errors.bad_body("The request body must be a JSON object.")
        with self.transaction() as db:
            self._require_factory(db, scope, factory)
            fkey = self._fkey(scope, factory)
            row = self._object_row(db, fkey, kind, name)
            if row is None:
                raise errors.object_not_found(kind.label, name)
            rendered = json.loads(row[2])
            for key in ("autoUpdate", "updateDelayOffset"):
                if key in body:
                    rendered["properties"].setdefault("typeProperties", {})[key] = body[key]
            rendered["etag"] = new_etag()
            text = _dumps(rendered)
            db.execute(
                "UPDATE objects SET etag = ?, body = ? WHERE fkey = ? AND type = ? AND lname = ?",
                (rendered["etag"], text, fkey, kind.type, name.lower()),
            )
            self._count_write(db, kind.type)
        return text

    def delete_object(self, scope: Scope, factory: str, kind: Kind, name: str) -> bool:
        """Delete one object under ADF's rules; False when there was none (Azure answers 204 then)."""
        with self.transaction() as db:
            frow = self._factory_row(db, scope, factory)
            if frow is None:
                raise errors.parent_not_found(factory)
            fkey = self._fkey(scope, factory)
            row = self._object_row(db, fkey, kind, name)
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
                    (fkey, MPE_TYPE, _like_prefix(name.lower() + "/")),
                )
            db.execute(
                "DELETE FROM objects WHERE fkey = ? AND type = ? AND lname = ?",
                (fkey, kind.type, name.lower()),
            )
            db.execute(
                "DELETE FROM refs WHERE fkey = ? AND src_type = ? AND src_lname = ?",
                (fkey, kind.type, name.lower()),
            )
            self._count_write(db, kind.type)
        return True

    def list_objects(
        self, scope: Scope, factory: str, kind: Kind, *, token: str | None, network: str | None = None
    ) -> Page:
        """One page of a collection, ordered by name; `network` narrows private endpoints to one network."""
        after = decode_token(token) if token else ""
        limit = self.settings.page_size
        fkey = self._fkey(scope, factory)
        with self._lock:
            self._require_factory(self._db, scope, factory)
            if network is None:
                rows = self._db.execute(
                    "SELECT lname, body FROM objects WHERE fkey = ? AND type = ? AND lname > ? ORDER BY lname LIMIT ?",
                    (fkey, kind.type, after, limit + 1),
                ).fetchall()
            else:
                prefix = network.lower() + "/"
                rows = self._db.execute(
                    "SELECT lname, body FROM objects WHERE fkey = ? AND type = ? AND lname > ? "
                    "AND lname LIKE ? ESCAPE '\\' ORDER BY lname LIMIT ?",
                    (fkey, kind.type, max(after, prefix), _like_prefix(prefix), limit + 1),
                ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        return Page([r[1] for r in rows], encode_token(rows[-1][0]) if more else None)

    def seed(self, scope: Scope, factory: str, objects: list[dict[str, Any]], location: str) -> int:
        """Write many objects in one transaction, under the same rules (creating the factory when absent)."""
        with self.transaction() as db:
            if self._factory_row(db, scope, factory) is None:
                self._put_factory(db, scope, factory, {"location": location})
            for item in objects:
                kind = KIND_BY_TYPE.get(str(item.get("type")))
                if kind is None:
                    raise errors.bad_body(f"Unknown object type {item.get('type')!r}; known: {sorted(KIND_BY_TYPE)}")
                self._put_object(
                    db,
                    scope,
                    factory,
                    kind,
                    str(item["name"]),
                    {"properties": item.get("properties")},
                    None,
                    None,
                )
        return len(objects)

    # --- triggers ------------------------------------------------------------------------------------------

    def _subscription_status(self, row: tuple[Any, ...]) -> str:
        target, since, duration = row[5], row[6], row[7]
        if target is None:
            return "Disabled"
        if self.clock.now() < since + duration:
            return "Provisioning" if target == "Enabled" else "Deprovisioning"
        return target

    def _trigger(self, db: sqlite3.Connection, scope: Scope, factory: str, name: str) -> tuple[str, tuple[Any, ...]]:
        self._require_factory(db, scope, factory)
        fkey = self._fkey(scope, factory)
        row = self._object_row(db, fkey, KINDS["triggers"], name)
        if row is None:
            raise errors.object_not_found("trigger", name)
        return fkey, row

    def _set_runtime_state(self, db: sqlite3.Connection, fkey: str, row: tuple[Any, ...], state: str) -> None:
        rendered = json.loads(row[2])
        rendered["properties"]["runtimeState"] = state
        rendered["etag"] = new_etag()
        db.execute(
            "UPDATE objects SET runtime_state = ?, etag = ?, body = ? WHERE fkey = ? AND type = 'triggers' "
            "AND lname = ?",
            (state, rendered["etag"], _dumps(rendered), fkey, row[0].lower()),
        )
        self._count_write(db, "triggers")

    def start_trigger(self, scope: Scope, factory: str, name: str) -> None:
        """Start a trigger. An event trigger subscribes as it starts; while its subscription is (de)provisioning
        ADF refuses with `Resource cannot be updated during provisioning`."""
        with self.transaction() as db:
            fkey, row = self._trigger(db, scope, factory, name)
            if row[3] in EVENT_TRIGGER_TYPES:
                status = self._subscription_status(row)
                if status in ("Provisioning", "Deprovisioning"):
                    raise errors.subscription_in_progress()
                if status == "Disabled":
                    self._set_subscription(db, fkey, row, "Enabled")
            if row[4] != "Started":
                self._set_runtime_state(db, fkey, row, "Started")

    def stop_trigger(self, scope: Scope, factory: str, name: str) -> None:
        with self.transaction() as db:
            fkey, row = self._trigger(db, scope, factory, name)
            if row[4] != "Stopped":
                self._set_runtime_state(db, fkey, row, "Stopped")

    def _set_subscription(self, db: sqlite3.Connection, fkey: str, row: tuple[Any, ...], target: str) -> None:
        db.execute(
            "UPDATE objects SET sub_target = ?, sub_since = ?, sub_duration = ? WHERE fkey = ? AND type = 'triggers' "
            "AND lname = ?",
            (target, self.clock.now(), self.settings.subscription_seconds, fkey, row[0].lower()),
        )

    def change_subscription(self, scope: Scope, factory: str, name: str, subscribe: bool) -> str:
        """Subscribe or unsubscribe an event trigger; the status right after (Provisioning, Deprovisioning, ...)."""
        with self.transaction() as db:
            fkey, row = self._trigger(db, scope, factory, name)
            if row[3] not in EVENT_TRIGGER_TYPES:
                raise errors.not_an_event_trigger(row[0])
            status = self._subscription_status(row)
            heading = ("Enabled", "Provisioning") if subscribe else ("Disabled", "Deprovisioning")
            if status not in heading:
                self._set_subscription(db, fkey, row, heading[0])
            fresh = self._object_row(db, fkey, KINDS["triggers"], name)
            assert fresh is not None
            return self._subscription_status(fresh)

    def subscription_status(self, scope: Scope, factory: str, name: str) -> tuple[str, str]:
        """(trigger display name, status) of a trigger's event subscription."""
        with self._lock:
            _, row = self._trigger(self._db, scope, factory, name)
        return row[0], self._subscription_status(row)

    def query_triggers(self, scope: Scope, factory: str, parent: str | None, token: str | None) -> Page:
        """Triggers_QueryByFactory: every trigger, or the rerun triggers of `parent`, a page at a time."""
        after = decode_token(token) if token else ""
        fkey = self._fkey(scope, factory)
        with self._lock:
            self._require_factory(self._db, scope, factory)
            rows = self._db.execute(
                "SELECT lname, body FROM objects WHERE fkey = ? AND type = 'triggers' AND lname > ? ORDER BY lname",
                (fkey, after),
            ).fetchall()
        items: list[tuple[str, str]] = []
        for lname, body in rows:
            if parent is not None:
                type_properties = json.loads(body)["properties"].get("typeProperties") or {}
                if str(type_properties.get("parentTrigger", "")).lower() != parent.lower():
                    continue
            items.append((lname, body))
            if len(items) > self.settings.page_size:
                break
        more = len(items) > self.settings.page_size
        items = items[: self.settings.page_size]
        return Page([b for _, b in items], encode_token(items[-1][0]) if more else None)

    # --- change data capture (adfcdcs) ----------------------------------------------------------------------

    def set_cdc_state(self, scope: Scope, factory: str, name: str, running: bool) -> None:
        """ChangeDataCapture_Start / _Stop: the state `status` reports (the object itself is unchanged)."""
        kind = KINDS["adfcdcs"]
        with self.transaction() as db:
            self._require_factory(db, scope, factory)
            fkey = self._fkey(scope, factory)
            if self._object_row(db, fkey, kind, name) is None:
                raise errors.object_not_found(kind.label, name)
            db.execute(
                "UPDATE objects SET runtime_state = ? WHERE fkey = ? AND type = ? AND lname = ?",
                ("Running" if running else "Stopped", fkey, kind.type, name.lower()),
            )

    def cdc_status(self, scope: Scope, factory: str, name: str) -> str:
        kind = KINDS["adfcdcs"]
        with self._lock:
            self._require_factory(self._db, scope, factory)
            row = self._object_row(self._db, self._fkey(scope, factory), kind, name)
        if row is None:
            raise errors.object_not_found(kind.label, name)
        return row[4] or "Stopped"

    # --- pipeline runs -------------------------------------------------------------------------------------

    def create_run(self, scope: Scope, factory: str, pipeline: str, parameters: Any) -> str:
        """Queue a run of a pipeline; its course (and a Fail activity's message) is fixed now."""
        if parameters is not None and not isinstance(parameters, dict):
            raise errors.bad_body("The run parameters must be a JSON object.")
        with self.transaction() as db:
            self._require_factory(db, scope, factory)
            fkey = self._fkey(scope, factory)
            row = self._object_row(db, fkey, KINDS["pipelines"], pipeline)
            if row is None:
                raise errors.object_not_found("pipeline", pipeline)
            properties = json.loads(row[2])["properties"]
            fail = find_fail_activity(properties.get("activities"))
            type_properties = (fail or {}).get("typeProperties") or {}
            run_id = str(uuid.uuid4())
            dimensions = _run_dimensions(properties.get("runDimensions"), parameters or {}, run_id)
            shown = {
                k: v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
                for k, v in (parameters or {}).items()
            }
            db.execute(
                "INSERT INTO runs (run_id, fkey, pipeline, parameters, created, queue_s, run_s, fail_message, "
                "fail_code, dimensions) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    fkey,
                    row[0],
                    _dumps(shown),
                    self.clock.now(),
                    self.settings.run_queue_seconds,
                    self.settings.run_seconds,
                    _expression_text(type_properties.get("message")) if fail else None,
                    _expression_text(type_properties.get("errorCode")) if fail else None,
                    _dumps(dimensions),
                ),
            )
            self._count_write(db, "pipelineruns")
        return run_id

    def _render_run(self, row: tuple[Any, ...]) -> dict[str, Any]:
        run_id, pipeline, parameters, created, queue_s, run_s, cancelled, fail_message, dimensions = row[:9]
        now = self.clock.now()
        started, ends = created + queue_s, created + queue_s + run_s
        run_end: float | None = None
        message = ""
        if cancelled is not None and cancelled < ends:
            status, run_end, updated = "Cancelled", cancelled, cancelled
        elif now < started:
            status, updated = "Queued", created
        elif now < ends:
            status, updated = "InProgress", started
        else:
            run_end = updated = ends
            status = "Failed" if fail_message is not None else "Succeeded"
            message = fail_message or ""
        return {
            "runId": run_id,
            "runGroupId": run_id,
            "isLatest": True,
            "pipelineName": pipeline,
            "parameters": json.loads(parameters),
            "invokedBy": {
                "id": uuid.uuid5(uuid.NAMESPACE_OID, run_id).hex,
                "name": "Manual",
                "invokedByType": "Manual",
            },
            "runStart": iso(created),
            "runEnd": iso(run_end) if run_end is not None else None,
            "durationInMs": round((run_end - created) * 1000) if run_end is not None else None,
            "status": status,
            "message": message,
            "lastUpdated": iso(updated),
            "annotations": [],
            "runDimension": json.loads(dimensions or "{}"),
        }

    _RUN_COLUMNS = "run_id, pipeline, parameters, created, queue_s, run_s, cancelled, fail_message, dimensions"

    def get_run(self, scope: Scope, factory: str, run_id: str) -> dict[str, Any]:
        with self._lock:
            self._require_factory(self._db, scope, factory)
            row = self._db.execute(
                f"SELECT {self._RUN_COLUMNS} FROM runs WHERE run_id = ? AND fkey = ?",
                (run_id.lower(), self._fkey(scope, factory)),
            ).fetchone()
        if row is None:
            raise errors.object_not_found("pipeline run", run_id)
        return self._render_run(row)

    def cancel_run(self, scope: Scope, factory: str, run_id: str) -> None:
        """Cancel a run that has not finished (a finished one is left as it is, as ADF does)."""
        with self.transaction() as db:
            self._require_factory(db, scope, factory)
            row = db.execute(
                "SELECT created, queue_s, run_s, cancelled FROM runs WHERE run_id = ? AND fkey = ?",
                (run_id.lower(), self._fkey(scope, factory)),
            ).fetchone()
            if row is None:
                raise errors.object_not_found("pipeline run", run_id)
            now = self.clock.now()
            if row[3] is None and now < row[0] + row[1] + row[2]:
                db.execute("UPDATE runs SET cancelled = ? WHERE run_id = ?", (now, run_id.lower()))
                self._count_write(db, "pipelineruns")

    def query_runs(self, scope: Scope, factory: str, query: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        """PipelineRuns_QueryByFactory: runs last updated in the window, filtered, ordered, a page at a time."""
        with self._lock:
            self._require_factory(self._db, scope, factory)
            rows = self._db.execute(
                f"SELECT {self._RUN_COLUMNS} FROM runs WHERE fkey = ? ORDER BY created, run_id",
                (self._fkey(scope, factory),),
            ).fetchall()
        runs = [self._render_run(r) for r in rows]
        after, before = query.get("lastUpdatedAfter"), query.get("lastUpdatedBefore")
        if after:
            runs = [r for r in runs if r["lastUpdated"] >= _normalise_time(after)]
        if before:
            runs = [r for r in runs if r["lastUpdated"] <= _normalise_time(before)]
        for condition in query.get("filters") or []:
            runs = [r for r in runs if _run_matches(r, condition)]
        for order in reversed(query.get("orderBy") or []):
            field = {
                "RunStart": "runStart",
                "RunEnd": "runEnd",
                "PipelineName": "pipelineName",
                "Status": "status",
            }
            key = field.get(str(order.get("orderBy")), "runStart")
            runs.sort(key=lambda r, k=key: r.get(k) or "", reverse=str(order.get("order")).upper() == "DESC")
        start = int(decode_token(query["continuationToken"])) if query.get("continuationToken") else 0
        size = self.settings.page_size
        page = runs[start : start + size]
        token = encode_token(str(start + size)) if start + size < len(runs) else None
        return page, token

    # --- deployments (rows only; the engine in deployments.py owns the behaviour) -------------------------

    def save_deployment(self, scope: Scope, name: str, state: str, body: dict[str, Any], template: Any) -> None:
        with self.transaction() as db:
            seq = db.execute(
                "SELECT seq FROM deployments WHERE skey = ? AND lname = ?", (scope.key, name.lower())
            ).fetchone()
            if seq is None:
                seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM deployments").fetchone()
            db.execute(
                "INSERT OR REPLACE INTO deployments (skey, lname, seq, state, body, template) VALUES (?,?,?,?,?,?)",
                (scope.key, name.lower(), seq[0], state, _dumps(body), _dumps(template)),
            )

    def update_deployment(self, scope: Scope, name: str, state: str, body: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE deployments SET state = ?, body = ? WHERE skey = ? AND lname = ?",
                (state, _dumps(body), scope.key, name.lower()),
            )

    def get_deployment(self, scope: Scope, name: str) -> tuple[str, dict[str, Any], Any]:
        """(state, body, template) of a deployment in the history."""
        rows = self._read(
            "SELECT state, body, template FROM deployments WHERE skey = ? AND lname = ?",
            (scope.key, name.lower()),
        )
        if not rows:
            raise errors.deployment_not_found(name)
        state, body, template = rows[0]
        return state, json.loads(body), json.loads(template)

    def deployment_state(self, scope: Scope, name: str) -> str | None:
        rows = self._read("SELECT state FROM deployments WHERE skey = ? AND lname = ?", (scope.key, name.lower()))
        return rows[0][0] if rows else None

    def list_deployments(self, scope: Scope) -> list[str]:
        """Every deployment of a resource group's history, oldest first."""
        rows = self._read("SELECT body FROM deployments WHERE skey = ? ORDER BY seq", (scope.key,))
        return [r[0] for r in rows]

    def count_deployments(self, scope: Scope) -> int:
        return self._read("SELECT COUNT(*) FROM deployments WHERE skey = ?", (scope.key,))[0][0]

    def prune_deployments(self, scope: Scope, keep: int) -> int:
        """Delete the oldest finished deployments beyond `keep`, as ARM does past 700."""
        with self.transaction() as db:
            rows = db.execute(
                "SELECT lname FROM deployments WHERE skey = ? AND state IN ('Succeeded', 'Failed', 'Canceled') "
                "ORDER BY seq",
                (scope.key,),
            ).fetchall()
            total = db.execute("SELECT COUNT(*) FROM deployments WHERE skey = ?", (scope.key,)).fetchone()[0]
            doomed = [r[0] for r in rows[: max(0, total - keep)]]
            for lname in doomed:
                self._delete_deployment(db, scope, lname)
        return len(doomed)

    def delete_deployment(self, scope: Scope, name: str) -> bool:
        with self.transaction() as db:
            return self._delete_deployment(db, scope, name.lower())

    @staticmethod
    def _delete_deployment(db: sqlite3.Connection, scope: Scope, lname: str) -> bool:
        gone = db.execute("DELETE FROM deployments WHERE skey = ? AND lname = ?", (scope.key, lname)).rowcount
        db.execute("DELETE FROM deployment_ops WHERE skey = ? AND dlname = ?", (scope.key, lname))
        return gone > 0

    def clear_operations(self, scope: Scope, name: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM deployment_ops WHERE skey = ? AND dlname = ?", (scope.key, name.lower()))

    def add_operation(self, scope: Scope, name: str, seq: int, op_id: str, body: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO deployment_ops (skey, dlname, seq, op_id, body) VALUES (?,?,?,?,?)",
                (scope.key, name.lower(), seq, op_id, _dumps(body)),
            )

    def list_operations(self, scope: Scope, name: str) -> list[str]:
        rows = self._read(
            "SELECT body FROM deployment_ops WHERE skey = ? AND dlname = ? ORDER BY seq",
            (scope.key, name.lower()),
        )
        return [r[0] for r in rows]

    def get_operation(self, scope: Scope, name: str, op_id: str) -> str | None:
        rows = self._read(
            "SELECT body FROM deployment_ops WHERE skey = ? AND dlname = ? AND op_id = ?",
            (scope.key, name.lower(), op_id),
        )
        return rows[0][0] if rows else None

    def set_async(self, op_id: str, status: str, body: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO async_ops (op_id, status, body) VALUES (?,?,?)",
                (op_id, status, _dumps(body)),
            )

    def get_async(self, op_id: str) -> tuple[str, dict[str, Any]] | None:
        rows = self._read("SELECT status, body FROM async_ops WHERE op_id = ?", (op_id,))
        return (rows[0][0], json.loads(rows[0][1])) if rows else None

    # --- reading a whole factory (what-if) -----------------------------------------------------------------

    def object_properties(self, scope: Scope, factory: str, kind: Kind, name: str) -> dict[str, Any] | None:
        """The stored properties of one object, or None."""
        with self._lock:
            row = self._object_row(self._db, self._fkey(scope, factory), kind, name)
        return json.loads(row[2])["properties"] if row else None

    def factory_body(self, scope: Scope, name: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._factory_row(self._db, scope, name)
        return json.loads(row[3]) if row else None

    def object_names(self, scope: Scope, factory: str) -> list[tuple[str, str]]:
        """(type, name) of every object of a factory."""
        return [
            (t, n)
            for t, n in self._read(
                "SELECT type, name FROM objects WHERE fkey = ? ORDER BY type, lname",
                (self._fkey(scope, factory),),
            )
        ]


def _like_prefix(prefix: str) -> str:
    """A LIKE pattern matching strings that start with `prefix` (with `\\` escaping)."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?")


def _normalise_time(value: str) -> str:
    """A timestamp in the same comparable form as `iso` (so that string comparison orders them).

    Written by hand because Python 3.10's `fromisoformat` takes neither `Z` nor .NET's seven digits.
    """
    match = _TIME.fullmatch(str(value).strip())
    if match is None:
        raise errors.bad_body(f"'{value}' is not a valid date and time.")
    date, clock, fraction, zone = match.groups()
    zone = "+00:00" if zone in (None, "Z") else zone
    fraction = ((fraction or "") + "000000")[:6]
    parsed = dt.datetime.fromisoformat(f"{date}T{clock}.{fraction}{zone}")
    return iso(parsed.timestamp())


_RUN_OPERANDS = {
    "PipelineName": "pipelineName",
    "Status": "status",
    "RunId": "runId",
    "RunGroupId": "runGroupId",
}


def _run_matches(run: dict[str, Any], condition: dict[str, Any]) -> bool:
    field = _RUN_OPERANDS.get(str(condition.get("operand")))
    if field is None:
        return True  # operands the emulator does not model do not narrow the result
    values = [str(v).lower() for v in condition.get("values") or []]
    value = str(run.get(field) or "").lower()
    operator = str(condition.get("operator"))
    if operator in ("Equals", "In"):
        return value in values
    if operator in ("NotEquals", "NotIn"):
        return value not in values
    return True
