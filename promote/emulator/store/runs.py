"""Pipeline runs: created against a stored pipeline, then moving on the emulator's clock.

A run's course is fixed when it is created (queued for `run_queue_seconds`, in progress for `run_seconds`, then
Succeeded, or Failed with the message of the pipeline's top-level `Fail` activity), so its row holds only those
facts and its status is computed from the clock on every read. Queries filter, order and page the computed
runs as PipelineRuns_QueryByFactory does.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import uuid
from typing import Any

from promote.emulator import errors
from promote.emulator.store.database import Database, count_write
from promote.emulator.store.factories import factory_key, require_factory
from promote.emulator.store.objects import require_object
from promote.emulator.store.values import KINDS, Scope, decode_token, dumps, encode_token, iso

_RUN_COLUMNS = "run_id, pipeline, parameters, created, queue_s, run_s, cancelled, fail_message, dimensions"
_PARAMETER = re.compile(r"@pipeline\(\)\.parameters\.(\w+)", re.IGNORECASE)
_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?")
_RUN_OPERANDS = {
    "PipelineName": "pipelineName",
    "Status": "status",
    "RunId": "runId",
    "RunGroupId": "runGroupId",
}
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


class Runs(Database):
    """The pipeline-run operations of the store."""

    def create_run(self, scope: Scope, factory: str, pipeline: str, parameters: Any) -> str:
        """Queue a run of a pipeline; its course (and a Fail activity's message) is fixed now."""
        if parameters is not None and not isinstance(parameters, dict):
            raise errors.bad_body("The run parameters must be a JSON object.")
        with self.transaction() as db:
            fkey, row = require_object(db, scope, factory, KINDS["pipelines"], pipeline)
            properties = json.loads(row[2])["properties"]
            fail = find_fail_activity(properties.get("activities"))
            type_properties = (fail or {}).get("typeProperties") or {}
            run_id = str(uuid.uuid4())
            dimensions = _run_dimensions(properties.get("runDimensions"), parameters or {}, run_id)
            shown = {k: _parameter_text(v) for k, v in (parameters or {}).items()}
            db.execute(
                "INSERT INTO runs (run_id, fkey, pipeline, parameters, created, queue_s, run_s, fail_message, "
                "fail_code, dimensions) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    fkey,
                    row[0],
                    dumps(shown),
                    self.clock.now(),
                    self.settings.run_queue_seconds,
                    self.settings.run_seconds,
                    _expression_text(type_properties.get("message")) if fail else None,
                    _expression_text(type_properties.get("errorCode")) if fail else None,
                    dumps(dimensions),
                ),
            )
            count_write(db, "pipelineruns")
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

    def get_run(self, scope: Scope, factory: str, run_id: str) -> dict[str, Any]:
        with self.reading() as db:
            require_factory(db, scope, factory)
            row = db.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ? AND fkey = ?",
                (run_id.lower(), factory_key(scope, factory)),
            ).fetchone()
        if row is None:
            raise errors.run_not_found(run_id)
        return self._render_run(row)

    def cancel_run(self, scope: Scope, factory: str, run_id: str) -> None:
        """Cancel a run that has not finished (a finished one is left as it is, as ADF does)."""
        with self.transaction() as db:
            require_factory(db, scope, factory)
            row = db.execute(
                "SELECT created, queue_s, run_s, cancelled FROM runs WHERE run_id = ? AND fkey = ?",
                (run_id.lower(), factory_key(scope, factory)),
            ).fetchone()
            if row is None:
                raise errors.referenced_run_not_found(run_id)
            now = self.clock.now()
            if row[3] is None and now < row[0] + row[1] + row[2]:
                db.execute("UPDATE runs SET cancelled = ? WHERE run_id = ?", (now, run_id.lower()))
                count_write(db, "pipelineruns")

    def query_runs(self, scope: Scope, factory: str, query: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        """PipelineRuns_QueryByFactory: runs last updated in the window, filtered, ordered, a page at a time."""
        with self.reading() as db:
            require_factory(db, scope, factory)
            rows = db.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE fkey = ? ORDER BY created, run_id",
                (factory_key(scope, factory),),
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
            key = _RUN_ORDER.get(str(order.get("orderBy")), "runStart")
            runs.sort(key=functools.partial(_sort_value, key), reverse=str(order.get("order")).upper() == "DESC")
        start = int(decode_token(query["continuationToken"])) if query.get("continuationToken") else 0
        size = self.settings.page_size
        page = runs[start : start + size]
        token = encode_token(str(start + size)) if start + size < len(runs) else None
        return page, token
