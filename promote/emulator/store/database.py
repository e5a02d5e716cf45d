"""The SQLite file under the store: its schema, the one connection, and how reads and writes take it.

Concurrency: one connection, guarded by a re-entrant lock; every write is one `BEGIN IMMEDIATE` transaction,
so a rule check and the write it allows cannot interleave with another request. WAL mode and a busy timeout
let a second process (another `promote` invocation on the same `.promote/emulator/`) share the file.

`Database` is the base of every part of the `Store`: each part reads through `reading()` / `read()` and
writes through `transaction()`, and knows nothing else of the connection.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from promote.emulator.settings import Clock, Settings

SCHEMA_VERSION = 3  # bump when SCHEMA changes; add the step from the previous version to MIGRATIONS
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
    fail_message TEXT, fail_code TEXT, dimensions TEXT, parent TEXT, invoked_by TEXT, ended REAL, end_status TEXT,
    end_message TEXT);
CREATE INDEX IF NOT EXISTS runs_by_factory ON runs (fkey, created);
CREATE INDEX IF NOT EXISTS runs_by_parent ON runs (parent);
CREATE TABLE IF NOT EXISTS deployments (
    skey TEXT NOT NULL, lname TEXT NOT NULL, seq INTEGER NOT NULL, state TEXT NOT NULL, body TEXT NOT NULL,
    template TEXT NOT NULL, owner TEXT, op_id TEXT, cancel INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (skey, lname)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deployment_ops (
    skey TEXT NOT NULL, dlname TEXT NOT NULL, seq INTEGER NOT NULL, op_id TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (skey, dlname, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS async_ops (
    op_id TEXT PRIMARY KEY, status TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
# version -> the statements that bring a state file of that version to the next one (its data kept)
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (  # deployments remember which emulator runs them (recovery after a kill) and a cancel asked from elsewhere
        "ALTER TABLE deployments ADD COLUMN owner TEXT",
        "ALTER TABLE deployments ADD COLUMN op_id TEXT",
        "ALTER TABLE deployments ADD COLUMN cancel INTEGER NOT NULL DEFAULT 0",
    ),
    2: (  # runs started by another run (Execute Pipeline), by whom, and ended by the control API
        "ALTER TABLE runs ADD COLUMN parent TEXT",
        "ALTER TABLE runs ADD COLUMN invoked_by TEXT",
        "ALTER TABLE runs ADD COLUMN ended REAL",
        "ALTER TABLE runs ADD COLUMN end_status TEXT",
        "ALTER TABLE runs ADD COLUMN end_message TEXT",
    ),
}
TABLES = ("factories", "objects", "refs", "runs", "deployments", "deployment_ops", "async_ops", "counters")


def count_write(db: sqlite3.Connection, name: str) -> None:
    """Count one write of an object type (`pipelines`, `factories`, `pipelineruns`, ...) for the stats."""
    db.execute(
        "INSERT INTO counters (name, value) VALUES (?, 1) ON CONFLICT(name) DO UPDATE SET value = value + 1",
        (name,),
    )


class Database:
    """The connection, its lock, and the settings and clock the rules consult."""

    def __init__(self, db_path: Path, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self._lock = threading.RLock()
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(db_path), check_same_thread=False, isolation_level=None, timeout=10.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._open_schema()

    def _open_schema(self) -> None:
        """Bring the file to this version's schema: migrate an older one in place, start anything else afresh
        (a newer emulator's file, or one without a version)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # two processes opening one new file at once: one migrates
            try:
                version = self._db.execute("PRAGMA user_version").fetchone()[0]
                has_tables = self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'deployments'").fetchone()
                if version != SCHEMA_VERSION and not (has_tables and version in MIGRATIONS):
                    for table in TABLES:
                        self._db.execute(f"DROP TABLE IF EXISTS {table}")
                    version = SCHEMA_VERSION
                while version != SCHEMA_VERSION:
                    for statement in MIGRATIONS[version]:
                        self._db.execute(statement)
                    version += 1
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

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

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection for reads that must see one state (no write of this process in between)."""
        with self._lock:
            yield self._db

    def read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """The rows of one query."""
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def write_counts(self) -> dict[str, int]:
        """Writes by object type (`pipelines`, `factories`, ...), whether by a direct request or a deployment."""
        return {name: value for name, value in self.read("SELECT name, value FROM counters ORDER BY name")}

    def reset(self) -> None:
        with self.transaction() as db:
            for table in TABLES:
                db.execute(f"DELETE FROM {table}")
