"""The rows of resource group deployments: the history, each deployment's operations, and the long-running
operations' statuses that clients poll.

Rows only: what a deployment does, when it runs and what it answers is the engine's (`deployments/`), which
keeps its records here so that another process on the same state file sees the same history. A deployment that
is running names its `owner` (the emulator instance whose worker runs it) and the id of the operation status
clients poll, so that a deployment whose owner died can be ended, and carries `cancel` when another instance
was asked to cancel it.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from promote.emulator import errors
from promote.emulator.store.database import Database
from promote.emulator.store.values import GroupScope, dumps


def _delete_deployment(db: sqlite3.Connection, scope: GroupScope, lname: str) -> bool:
    gone = db.execute("DELETE FROM deployments WHERE skey = ? AND lname = ?", (scope.key, lname)).rowcount
    db.execute("DELETE FROM deployment_ops WHERE skey = ? AND dlname = ?", (scope.key, lname))
    return gone > 0


RUNNING_STATES = ("Accepted", "Running")


@dataclass(frozen=True)
class ActiveDeployment:
    """A deployment recorded as Accepted or Running, and who runs it."""

    skey: str
    lname: str
    state: str
    owner: str | None
    op_id: str | None
    body: dict[str, Any]


class DeploymentRecords(Database):
    """The deployment history, deployment operations and async operation statuses of the store."""

    def save_deployment(
        self,
        scope: GroupScope,
        name: str,
        state: str,
        body: dict[str, Any],
        template: Any,
        *,
        owner: str | None = None,
        op_id: str | None = None,
    ) -> None:
        with self.transaction() as db:
            seq = db.execute(
                "SELECT seq FROM deployments WHERE skey = ? AND lname = ?", (scope.key, name.lower())
            ).fetchone()
            if seq is None:
                seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM deployments").fetchone()
            db.execute(
                "INSERT OR REPLACE INTO deployments (skey, lname, seq, state, body, template, owner, op_id, cancel) "
                "VALUES (?,?,?,?,?,?,?,?,0)",
                (scope.key, name.lower(), seq[0], state, dumps(body), dumps(template), owner, op_id),
            )

    def update_deployment(self, scope: GroupScope, name: str, state: str, body: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE deployments SET state = ?, body = ? WHERE skey = ? AND lname = ?",
                (state, dumps(body), scope.key, name.lower()),
            )

    def active_deployments(self, scope: GroupScope | None = None) -> list[ActiveDeployment]:
        """The deployments recorded as Accepted or Running (of one resource group, or all)."""
        sql = "SELECT skey, lname, state, owner, op_id, body FROM deployments WHERE state IN (?, ?)"
        params: tuple[Any, ...] = RUNNING_STATES
        if scope is not None:
            sql, params = sql + " AND skey = ?", (*params, scope.key)
        return [ActiveDeployment(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in self.read(sql, params)]

    def end_abandoned(self, active: ActiveDeployment, state: str, error: dict[str, Any] | None, now: str) -> bool:
        """End a deployment whose owner is gone, unless it changed meanwhile: its state, its body's state, error
        and timestamp, and the status its clients poll. True when this call ended it."""
        body = active.body
        properties = body.setdefault("properties", {})
        properties["provisioningState"] = state
        properties["timestamp"] = now
        if error is not None:
            properties["error"] = error
        status: dict[str, Any] = {"status": state}
        if error is not None:
            status["error"] = error
        with self.transaction() as db:
            changed = db.execute(
                "UPDATE deployments SET state = ?, body = ? WHERE skey = ? AND lname = ? AND state IN (?, ?) "
                "AND owner IS ?",
                (state, dumps(body), active.skey, active.lname, *RUNNING_STATES, active.owner),
            ).rowcount
            if changed and active.op_id:
                db.execute(
                    "INSERT OR REPLACE INTO async_ops (op_id, status, body) VALUES (?,?,?)",
                    (active.op_id, state, dumps(status)),
                )
        return changed > 0

    def request_cancel(self, scope: GroupScope, name: str) -> None:
        """Ask the instance running a deployment to cancel it (it reads this between resources)."""
        with self.transaction() as db:
            db.execute("UPDATE deployments SET cancel = 1 WHERE skey = ? AND lname = ?", (scope.key, name.lower()))

    def cancel_requested(self, scope: GroupScope, name: str) -> bool:
        rows = self.read("SELECT cancel FROM deployments WHERE skey = ? AND lname = ?", (scope.key, name.lower()))
        return bool(rows and rows[0][0])

    def get_deployment(self, scope: GroupScope, name: str) -> tuple[str, dict[str, Any], Any]:
        """(state, body, template) of a deployment in the history."""
        rows = self.read(
            "SELECT state, body, template FROM deployments WHERE skey = ? AND lname = ?",
            (scope.key, name.lower()),
        )
        if not rows:
            raise errors.deployment_not_found(name)
        state, body, template = rows[0]
        return state, json.loads(body), json.loads(template)

    def deployment_state(self, scope: GroupScope, name: str) -> str | None:
        rows = self.read("SELECT state FROM deployments WHERE skey = ? AND lname = ?", (scope.key, name.lower()))
        return rows[0][0] if rows else None

    def list_deployments(self, scope: GroupScope) -> list[str]:
        """Every deployment of a resource group's history, oldest first."""
        rows = self.read("SELECT body FROM deployments WHERE skey = ? ORDER BY seq", (scope.key,))
        return [r[0] for r in rows]

    def count_deployments(self, scope: GroupScope) -> int:
        return self.read("SELECT COUNT(*) FROM deployments WHERE skey = ?", (scope.key,))[0][0]

    def prune_deployments(self, scope: GroupScope, keep: int) -> int:
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
                _delete_deployment(db, scope, lname)
        return len(doomed)

    def delete_deployment(self, scope: GroupScope, name: str) -> bool:
        with self.transaction() as db:
            return _delete_deployment(db, scope, name.lower())

    def clear_operations(self, scope: GroupScope, name: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM deployment_ops WHERE skey = ? AND dlname = ?", (scope.key, name.lower()))

    def add_operation(self, scope: GroupScope, name: str, seq: int, op_id: str, body: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO deployment_ops (skey, dlname, seq, op_id, body) VALUES (?,?,?,?,?)",
                (scope.key, name.lower(), seq, op_id, dumps(body)),
            )

    def list_operations(self, scope: GroupScope, name: str) -> list[str]:
        rows = self.read(
            "SELECT body FROM deployment_ops WHERE skey = ? AND dlname = ? ORDER BY seq",
            (scope.key, name.lower()),
        )
        return [r[0] for r in rows]

    def get_operation(self, scope: GroupScope, name: str, op_id: str) -> str | None:
        rows = self.read(
            "SELECT body FROM deployment_ops WHERE skey = ? AND dlname = ? AND op_id = ?",
            (scope.key, name.lower(), op_id),
        )
        return rows[0][0] if rows else None

    def set_async(self, op_id: str, status: str, body: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO async_ops (op_id, status, body) VALUES (?,?,?)",
                (op_id, status, dumps(body)),
            )

    def get_async(self, op_id: str) -> tuple[str, dict[str, Any]] | None:
        rows = self.read("SELECT status, body FROM async_ops WHERE op_id = ?", (op_id,))
        return (rows[0][0], json.loads(rows[0][1])) if rows else None
