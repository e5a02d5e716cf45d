"""What start and stop change: triggers' runtime state, event triggers' subscriptions, and the running state
of change data captures.

A trigger's runtime state and its event subscription live in columns of its object row (`runtime_state`,
`sub_target`, `sub_since`, `sub_duration`), outside its definition, so that PUT leaves them alone. A
subscription moves on the emulator's clock: `Provisioning` (or `Deprovisioning`) for `subscription_seconds`,
then `Enabled` (or `Disabled`).
"""

from __future__ import annotations

import json
import sqlite3

from promote.emulator import errors
from promote.emulator.store.database import Database, count_write
from promote.emulator.store.factories import factory_key, require_factory
from promote.emulator.store.objects import ObjectRow, object_row, require_object
from promote.emulator.store.values import KINDS, GroupScope, Page, decode_token, dumps, new_etag, page_of
from promote.live import EVENT_TRIGGER_TYPES

_TRIGGERS = KINDS["triggers"]


class Triggers(Database):
    """The trigger and change-data-capture operations of the store."""

    def _subscription_status(self, row: ObjectRow) -> str:
        target, since, duration = row[5], row[6], row[7]
        if target is None:
            return "Disabled"
        if self.clock.now() < since + duration:
            return "Provisioning" if target == "Enabled" else "Deprovisioning"
        return target

    def _set_runtime_state(self, db: sqlite3.Connection, fkey: str, row: ObjectRow, state: str) -> None:
        rendered = json.loads(row[2])
        rendered["properties"]["runtimeState"] = state
        rendered["etag"] = new_etag()
        db.execute(
            "UPDATE objects SET runtime_state = ?, etag = ?, body = ? WHERE fkey = ? AND type = 'triggers' "
            "AND lname = ?",
            (state, rendered["etag"], dumps(rendered), fkey, row[0].lower()),
        )
        count_write(db, "triggers")

    def _set_subscription(self, db: sqlite3.Connection, fkey: str, row: ObjectRow, target: str) -> None:
        db.execute(
            "UPDATE objects SET sub_target = ?, sub_since = ?, sub_duration = ? WHERE fkey = ? AND type = 'triggers' "
            "AND lname = ?",
            (target, self.clock.now(), self.settings.subscription_seconds, fkey, row[0].lower()),
        )

    def start_trigger(self, scope: GroupScope, factory: str, name: str) -> None:
        """Start a trigger. An event trigger subscribes as it starts; while its subscription is (de)provisioning
        ADF refuses with `Resource cannot be updated during provisioning`."""
        with self.transaction() as db:
            fkey, row = require_object(db, scope, factory, _TRIGGERS, name)
            if row[3] in EVENT_TRIGGER_TYPES:
                status = self._subscription_status(row)
                if status in ("Provisioning", "Deprovisioning"):
                    raise errors.subscription_in_progress()
                if status == "Disabled":
                    self._set_subscription(db, fkey, row, "Enabled")
            if row[4] != "Started":
                self._set_runtime_state(db, fkey, row, "Started")

    def stop_trigger(self, scope: GroupScope, factory: str, name: str) -> None:
        with self.transaction() as db:
            fkey, row = require_object(db, scope, factory, _TRIGGERS, name)
            if row[4] != "Stopped":
                self._set_runtime_state(db, fkey, row, "Stopped")

    def change_subscription(self, scope: GroupScope, factory: str, name: str, subscribe: bool) -> str:
        """Subscribe or unsubscribe an event trigger; the status right after (Provisioning, Deprovisioning, ...)."""
        with self.transaction() as db:
            fkey, row = require_object(db, scope, factory, _TRIGGERS, name)
            if row[3] not in EVENT_TRIGGER_TYPES:
                raise errors.not_an_event_trigger(row[0])
            status = self._subscription_status(row)
            heading = ("Enabled", "Provisioning") if subscribe else ("Disabled", "Deprovisioning")
            if status not in heading:
                self._set_subscription(db, fkey, row, heading[0])
            fresh = object_row(db, fkey, _TRIGGERS, name)
            assert fresh is not None
            return self._subscription_status(fresh)

    def subscription_status(self, scope: GroupScope, factory: str, name: str) -> tuple[str, str]:
        """(trigger display name, status) of a trigger's event subscription."""
        with self.reading() as db:
            _, row = require_object(db, scope, factory, _TRIGGERS, name)
        return row[0], self._subscription_status(row)

    def query_triggers(self, scope: GroupScope, factory: str, parent: str | None, token: str | None) -> Page:
        """Triggers_QueryByFactory: every trigger, or the rerun triggers of `parent`, a page at a time."""
        after = decode_token(token) if token else ""
        fkey = factory_key(scope, factory)
        with self.reading() as db:
            require_factory(db, scope, factory)
            rows = db.execute(
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
        return page_of(items, self.settings.page_size)

    # --- change data capture (adfcdcs) ----------------------------------------------------------------------

    def set_cdc_state(self, scope: GroupScope, factory: str, name: str, running: bool) -> None:
        """ChangeDataCapture_Start / _Stop: the state `status` reports (the object itself is unchanged)."""
        kind = KINDS["adfcdcs"]
        with self.transaction() as db:
            fkey, _ = require_object(db, scope, factory, kind, name)
            db.execute(
                "UPDATE objects SET runtime_state = ? WHERE fkey = ? AND type = ? AND lname = ?",
                ("Running" if running else "Stopped", fkey, kind.type, name.lower()),
            )

    def cdc_status(self, scope: GroupScope, factory: str, name: str) -> str:
        with self.reading() as db:
            _, row = require_object(db, scope, factory, KINDS["adfcdcs"], name)
        return row[4] or "Stopped"
