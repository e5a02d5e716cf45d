"""Pipeline runs: created against a stored pipeline, then moving on the emulator's clock.

A run's course is fixed when it is created (queued for `run_queue_seconds`, in progress for `run_seconds`, then
Succeeded, or Failed with the message of the pipeline's top-level `Fail` activity), so its row holds only those
facts and its status is computed from the clock on every read. A run started through the control API (a run a
schedule started, say) is `InProgress` until the control API ends it. What can cut a course short: a cancel
(`Cancelled`), or the control API ending the run with the status it names.

A run of a pipeline whose top-level activities execute other pipelines (`ExecutePipeline`) starts a run of each
when it starts (invoked by `PipelineActivity`, naming the parent run), as ADF does; a cancel with `isRecursive`
cancels those too, one without leaves them running.

Queries filter, order and page the computed runs as PipelineRuns_QueryByFactory does, with the operands,
operators and order fields its REST specification allows for pipeline runs.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import sqlite3
import uuid
from typing import Any

from promote.emulator import errors
from promote.emulator.store.database import Database, count_write
from promote.emulator.store.factories import factory_key, require_factory
from promote.emulator.store.objects import object_row, require_object
from promote.emulator.store.values import KINDS, GroupScope, decode_token, dumps, encode_token, iso

_RUN_COLUMNS = (
    "run_id, pipeline, parameters, created, queue_s, run_s, cancelled, fail_message, dimensions, parent, "
    "invoked_by, ended, end_status, end_message"
)
HELD_SECONDS = 1e9  # the course of a run the control API started: until the control API ends it
MAX_CHILD_DEPTH = 8  # Execute Pipeline nesting followed when a run starts
END_STATUSES = ("Succeeded", "Failed", "Cancelled")
_PARAMETER = re.compile(r"@pipeline\(\)\.parameters\.(\w+)", re.IGNORECASE)
_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?")
# RunFilterParameters (datafactory.json): the operands the specification allows for pipeline runs, and the field
# of a run each compares; the enum's activity and trigger operands belong to the other queries.
_RUN_OPERANDS = {
    "PipelineName": "pipelineName",
    "Status": "status",
    "RunStart": "runStart",
    "RunEnd": "runEnd",
    "RunGroupId": "runGroupId",
    "LatestOnly": "isLatest",
}
_TIME_OPERANDS = frozenset({"RunStart", "RunEnd"})
_OPERATORS = frozenset({"Equals", "NotEquals", "In", "NotIn"})
_RUN_ORDER = {
    "RunStart": "runStart",
    "RunEnd": "runEnd",
    "PipelineName": "pipelineName",
    "Status": "status",
}


def find_fail_activity(activities: Any) -> dict[str, Any] | None:
    """The first top-level `Fail` activity of a pipeline: running it ends the run Failed with its message."""
    for activity in activities or []:
        if isinstance(activity, dict) and activity.get("type") == "Fail":
            return activity
    return None


def _parameter_text(value: Any) -> str:
    """A run parameter as ADF shows it: a string as it is, anything else as compact JSON."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


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
            out[key] = _parameter_text(parameters[m.group(1)])
    return out


def _expression_text(value: Any) -> str:
    if isinstance(value, dict) and "value" in value:
        return str(value["value"])
    return "" if value is None else str(value)


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


def _sort_value(key: str, run: dict[str, Any]) -> str:
    return str(run.get(key) or "")


def _field_text(run: dict[str, Any], field: str) -> str:
    value = run.get(field)
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)


def _check_query(query: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """The query's filters as (field, operator, values), after refusing what the specification does not allow
    (chosen texts: ADF's own are not recorded)."""
    for required in ("lastUpdatedAfter", "lastUpdatedBefore"):
        if not query.get(required):
            raise errors.bad_body(f"The query needs '{required}' (a date and time in ISO 8601 format).")
    filters = []
    for condition in query.get("filters") or []:
        operand, operator = str(condition.get("operand")), str(condition.get("operator"))
        field = _RUN_OPERANDS.get(operand)
        if field is None:
            raise errors.bad_body(f"'{operand}' is not an operand for pipeline runs: use {', '.join(_RUN_OPERANDS)}.")
        if operator not in _OPERATORS:
            raise errors.bad_body(f"'{operator}' is not a filter operator: use {', '.join(sorted(_OPERATORS))}.")
        values = condition.get("values")
        if not isinstance(values, list) or not values:
            raise errors.bad_body(f"The filter on '{operand}' needs 'values' (a non-empty list).")
        texts = [str(v) for v in values]
        if operand in _TIME_OPERANDS:
            texts = [_normalise_time(t) for t in texts]
        filters.append((field, operator, [t.lower() for t in texts]))
    for order in query.get("orderBy") or []:
        if str(order.get("orderBy")) not in _RUN_ORDER:
            raise errors.bad_body(
                f"'{order.get('orderBy')}' is not an order for pipeline runs: use {', '.join(_RUN_ORDER)}."
            )
        if str(order.get("order")).upper() not in ("ASC", "DESC"):
            raise errors.bad_body(f"'{order.get('order')}' is not an order: use ASC or DESC.")
    return filters


def _matches(run: dict[str, Any], field: str, operator: str, values: list[str]) -> bool:
    found = _field_text(run, field).lower() in values
    return found if operator in ("Equals", "In") else not found


def _executed_pipelines(activities: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """(activity name, pipeline, parameters) of each top-level Execute Pipeline activity."""
    found = []
    for activity in activities or []:
        if not isinstance(activity, dict) or activity.get("type") != "ExecutePipeline":
            continue
        type_properties = activity.get("typeProperties") or {}
        reference = type_properties.get("pipeline") or {}
        if isinstance(reference, dict) and reference.get("referenceName"):
            parameters = type_properties.get("parameters")
            found.append(
                (
                    str(activity.get("name") or ""),
                    str(reference["referenceName"]),
                    parameters if isinstance(parameters, dict) else {},
                )
            )
    return found


class Runs(Database):
    """The pipeline-run operations of the store."""

    def create_run(self, scope: GroupScope, factory: str, pipeline: str, parameters: Any) -> str:
        """Queue a run of a pipeline; its course (and a Fail activity's message) is fixed now."""
        if parameters is not None and not isinstance(parameters, dict):
            raise errors.bad_body("The run parameters must be a JSON object.")
        with self.transaction() as db:
            fkey, row = require_object(db, scope, factory, KINDS["pipelines"], pipeline)
            return self._start(
                db,
                fkey,
                row,
                parameters or {},
                self.clock.now(),
                self.settings.run_queue_seconds,
                self.settings.run_seconds,
                None,
                None,
                (),
            )

    def start_held_run(
        self, scope: GroupScope, factory: str, pipeline: str, parameters: Any, invoked_by: Any
    ) -> dict[str, Any]:
        """A run that is `InProgress` until `end_run` (the control API's: a run a trigger or a person started
        before a deployment); `invoked_by` (`name`, `invokedByType`) says who started it (default Manual)."""
        if parameters is not None and not isinstance(parameters, dict):
            raise errors.bad_body("The run parameters must be a JSON object.")
        if invoked_by is not None and not isinstance(invoked_by, dict):
            raise errors.bad_body("'invokedBy' must be a JSON object (name, invokedByType).")
        with self.transaction() as db:
            fkey, row = require_object(db, scope, factory, KINDS["pipelines"], pipeline)
            shown = None
            if invoked_by:
                name = str(invoked_by.get("name") or "Manual")
                shown = {
                    "id": str(invoked_by.get("id") or uuid.uuid5(uuid.NAMESPACE_OID, name).hex),
                    "name": name,
                    "invokedByType": str(invoked_by.get("invokedByType") or "Manual"),
                }
            run_id = self._start(db, fkey, row, parameters or {}, self.clock.now(), 0.0, HELD_SECONDS, None, shown, ())
            found = db.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return self._render_run(found)

    def _start(
        self,
        db: sqlite3.Connection,
        fkey: str,
        row: tuple[Any, ...],
        parameters: dict[str, Any],
        created: float,
        queue_s: float,
        run_s: float,
        parent: str | None,
        invoked_by: dict[str, Any] | None,
        chain: tuple[str, ...],
    ) -> str:
        """Insert one run and, when it starts, the runs its Execute Pipeline activities start."""
        properties = json.loads(row[2])["properties"]
        fail = find_fail_activity(properties.get("activities"))
        type_properties = (fail or {}).get("typeProperties") or {}
        run_id = str(uuid.uuid4())
        dimensions = _run_dimensions(properties.get("runDimensions"), parameters, run_id)
        shown = {k: _parameter_text(v) for k, v in parameters.items()}
        db.execute(
            "INSERT INTO runs (run_id, fkey, pipeline, parameters, created, queue_s, run_s, fail_message, "
            "fail_code, dimensions, parent, invoked_by) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                run_id,
                fkey,
                row[0],
                dumps(shown),
                created,
                queue_s,
                run_s,
                _expression_text(type_properties.get("message")) if fail else None,
                _expression_text(type_properties.get("errorCode")) if fail else None,
                dumps(dimensions),
                parent,
                dumps(invoked_by) if invoked_by else None,
            ),
        )
        count_write(db, "pipelineruns")
        chain = (*chain, row[0].lower())
        if len(chain) > MAX_CHILD_DEPTH:
            return run_id
        for activity, pipeline, child_parameters in _executed_pipelines(properties.get("activities")):
            child = object_row(db, fkey, KINDS["pipelines"], pipeline)
            if child is None or pipeline.lower() in chain:  # ADF fails such an activity; not modelled
                continue
            by = {
                "id": uuid.uuid5(uuid.NAMESPACE_OID, f"{run_id}/{activity}").hex,
                "name": activity,
                "invokedByType": "PipelineActivity",
                "pipelineName": row[0],
                "pipelineRunId": run_id,
            }
            self._start(db, fkey, child, child_parameters, created + queue_s, 0.0, run_s, run_id, by, chain)
        return run_id

    def _render_run(self, row: tuple[Any, ...]) -> dict[str, Any]:
        (
            run_id,
            pipeline,
            parameters,
            created,
            queue_s,
            run_s,
            cancelled,
            fail_message,
            dimensions,
            _parent,
            invoked_by,
            ended,
            end_status,
            end_message,
        ) = row[:14]
        now = self.clock.now()
        started, ends = created + queue_s, created + queue_s + run_s
        run_end: float | None = None
        message = ""
        stop: tuple[float, str, str] | None = None
        if cancelled is not None and cancelled < ends:
            stop = (cancelled, "Cancelled", "")
        if ended is not None and ended < ends and (stop is None or ended < stop[0]):
            stop = (ended, end_status, end_message or "")
        if stop is not None:
            run_end = updated = stop[0]
            status, message = stop[1], stop[2]
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
            "invokedBy": json.loads(invoked_by)
            if invoked_by
            else {"id": uuid.uuid5(uuid.NAMESPACE_OID, run_id).hex, "name": "Manual", "invokedByType": "Manual"},
            "runStart": iso(created),
            "runEnd": iso(run_end) if run_end is not None else None,
            "durationInMs": round((run_end - created) * 1000) if run_end is not None else None,
            "status": status,
            "message": message,
            "lastUpdated": iso(updated),
            "annotations": [],
            "runDimension": json.loads(dimensions or "{}"),
        }

    def get_run(self, scope: GroupScope, factory: str, run_id: str) -> dict[str, Any]:
        with self.reading() as db:
            require_factory(db, scope, factory)
            row = db.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ? AND fkey = ?",
                (run_id.lower(), factory_key(scope, factory)),
            ).fetchone()
        if row is None:
            raise errors.run_not_found(run_id)
        return self._render_run(row)

    def _unfinished(self, db: sqlite3.Connection, run_id: str, recursive: bool) -> list[str]:
        """The run and (recursive) its descendants that have not finished yet."""
        todo, found = [run_id], []
        while todo:
            current = todo.pop()
            row = db.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (current,)).fetchone()
            if row is not None and self._render_run(row)["status"] in ("Queued", "InProgress"):
                found.append(current)
            if recursive:
                todo += [r[0] for r in db.execute("SELECT run_id FROM runs WHERE parent = ?", (current,))]
        return found

    def cancel_run(self, scope: GroupScope, factory: str, run_id: str, *, recursive: bool = False) -> None:
        """Cancel a run that has not finished, and with `recursive` the runs its Execute Pipeline activities
        started (a finished run is left as it is, as ADF does)."""
        with self.transaction() as db:
            require_factory(db, scope, factory)
            exists = db.execute(
                "SELECT 1 FROM runs WHERE run_id = ? AND fkey = ?", (run_id.lower(), factory_key(scope, factory))
            ).fetchone()
            if exists is None:
                raise errors.referenced_run_not_found(run_id)
            now = self.clock.now()
            for current in self._unfinished(db, run_id.lower(), recursive):
                db.execute("UPDATE runs SET cancelled = ? WHERE run_id = ?", (now, current))
                count_write(db, "pipelineruns")

    def end_run(self, run_id: str, status: str, message: str | None) -> dict[str, Any]:
        """The control API's: end a run that has not finished (and the runs it started) with `status`."""
        if status not in END_STATUSES:
            raise errors.bad_body(f"A run ends {', '.join(END_STATUSES)}, not '{status}'.")
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id.lower(),)).fetchone() is None:
                raise errors.run_not_found(run_id)
            now = self.clock.now()
            for current in self._unfinished(db, run_id.lower(), True):
                db.execute(
                    "UPDATE runs SET ended = ?, end_status = ?, end_message = ? WHERE run_id = ?",
                    (now, status, message or "", current),
                )
                count_write(db, "pipelineruns")
            row = db.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id.lower(),)).fetchone()
        return self._render_run(row)

    def query_runs(
        self, scope: GroupScope, factory: str, query: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], str | None]:
        """PipelineRuns_QueryByFactory: runs last updated in the window, filtered (every filter holds), ordered,
        a page at a time."""
        filters = _check_query(query)
        after, before = _normalise_time(query["lastUpdatedAfter"]), _normalise_time(query["lastUpdatedBefore"])
        with self.reading() as db:
            require_factory(db, scope, factory)
            rows = db.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE fkey = ? ORDER BY created, run_id",
                (factory_key(scope, factory),),
            ).fetchall()
        runs = [self._render_run(r) for r in rows]
        runs = [r for r in runs if after <= r["lastUpdated"] <= before]
        for field, operator, values in filters:
            runs = [r for r in runs if _matches(r, field, operator, values)]
        for order in reversed(query.get("orderBy") or []):
            key = _RUN_ORDER[str(order["orderBy"])]
            runs.sort(key=functools.partial(_sort_value, key), reverse=str(order.get("order")).upper() == "DESC")
        start = int(decode_token(query["continuationToken"])) if query.get("continuationToken") else 0
        size = self.settings.page_size
        page = runs[start : start + size]
        token = encode_token(str(start + size)) if start + size < len(runs) else None
        return page, token
