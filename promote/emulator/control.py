"""The state of the test controls: fault rules, the request log, and the settings to restore on reset.

No HTTP here: the admin API (`api/admin.py`, under `/_emulator/`) reads and changes this state, the server asks
it which fault fires for a request and logs every request into it, and the deployment engine asks it about the
writes a deployment makes (method PUT, path = the object's ARM id), so that a test can fail or delay the Nth
resource of a deployment the same way it fails a direct PUT.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from promote.emulator import errors
from promote.emulator.settings import Clock, Settings

LOG_LIMIT = 200_000  # entries kept; a 5,000-object benchmark stays far below


@dataclass
class FaultRule:
    """Fire on the `nth` request matching `method` and `path` (a regex searched case-insensitively), then on
    the following ones up to `times` firings in all (`times` None: every one from the nth on).

    What firing does, in this order: with `hold`, wait until the rule is released (`release`, the control API's
    `POST /_emulator/faults/{id}/release`, its removal, a reset or the server's stop), `held` counting the
    requests waiting; sleep `delay` seconds; then close the connection without an answer (`drop`), or answer
    `status` with a CloudError body (`code`, `message`; a 429 carries `Retry-After`), or answer exactly `answer`
    (`status`, JSON `body`, `headers`: what no Azure would say, for the client's defences), or, with none of
    these, let the request through (a pure delay or hold). A hold makes "the request is in flight" a state a test
    can wait for (`held` > 0) instead of a moment it must hit.
    """

    id: int
    method: str
    path: str
    nth: int = 1
    times: int | None = 1
    status: int | None = None
    code: str | None = None
    message: str | None = None
    retry_after: float | None = None
    delay: float = 0.0
    drop: bool = False
    hold: bool = False
    answer: dict[str, Any] | None = None  # {"status", "body", "headers"}: answered as it is
    matched: int = 0
    fired: int = 0
    held: int = 0  # requests waiting in the hold now
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _released: threading.Event = field(init=False, repr=False, compare=False, default_factory=threading.Event)
    _held_lock: threading.Lock = field(init=False, repr=False, compare=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        self._pattern = re.compile(self.path, re.IGNORECASE)

    def apply_wait(self) -> None:
        """What firing does before answering: the hold (until released), then the delay."""
        if self.hold and not self._released.is_set():
            with self._held_lock:
                self.held += 1
            try:
                self._released.wait()
            finally:
                with self._held_lock:
                    self.held -= 1
        if self.delay:
            time.sleep(self.delay)

    def release(self) -> None:
        """Let every held request go on (and later firings through the hold at once)."""
        self._released.set()

    def consider(self, method: str, path: str) -> bool:
        """Count a request; True when this one is due to fire."""
        if self.method not in ("*", method.upper()) or not self._pattern.search(path):
            return False
        self.matched += 1
        if self.matched < self.nth or (self.times is not None and self.fired >= self.times):
            return False
        self.fired += 1
        return True

    def error(self) -> errors.EmulatorError | None:
        """The error answer of this fault, or None for a pure delay or a dropped connection."""
        if self.drop or self.status is None:
            return None
        if self.status == 429:
            err = errors.throttled(self.retry_after if self.retry_after is not None else 1.0)
            if self.code or self.message:
                err.code, err.message = self.code or err.code, self.message or err.message
            return err
        err = errors.injected(self.status, self.code, self.message)
        if self.retry_after is not None:
            err.headers["Retry-After"] = f"{self.retry_after:g}"
        return err

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "method": self.method,
            "path": self.path,
            "nth": self.nth,
            "times": self.times,
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "retry_after": self.retry_after,
            "delay": self.delay,
            "drop": self.drop,
            "hold": self.hold,
            "answer": self.answer,
            "held": self.held,
            "released": self._released.is_set(),
            "matched": self.matched,
            "fired": self.fired,
        }

    @classmethod
    def from_spec(cls, rule_id: int, spec: Any) -> FaultRule:
        """Build a rule from the control API's JSON, refusing what would silently never fire."""
        if not isinstance(spec, dict):
            raise ValueError("a fault is a JSON object")
        known = {
            "method",
            "path",
            "nth",
            "times",
            "every",
            "status",
            "code",
            "message",
            "retry_after",
            "delay",
            "drop",
            "hold",
            "answer",
        }
        unknown = sorted(set(spec) - known)
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        if not spec.get("path"):
            raise ValueError("a fault needs 'path' (a regular expression searched in the request path)")
        status = spec.get("status")
        if status is not None and not (400 <= int(status) <= 599):
            raise ValueError("'status' must be an HTTP error status (400-599)")
        answer = spec.get("answer")
        if answer is not None and (
            not isinstance(answer, dict)
            or set(answer) - {"status", "body", "headers"}
            or not isinstance(answer.get("status"), int)
            or not 100 <= answer["status"] <= 599
            or not isinstance(answer.get("headers", {}), dict)
        ):
            raise ValueError('\'answer\' is {"status": 100-599, "body": any JSON, "headers": {name: value}}')
        if status is not None and answer is not None:
            raise ValueError("a fault answers 'status' (a CloudError) or 'answer', not both")
        if status is None and answer is None and not any(spec.get(k) for k in ("drop", "delay", "hold")):
            raise ValueError("a fault needs 'status', 'answer', 'drop', 'delay' or 'hold'")
        every = bool(spec.get("every"))
        nth = int(spec.get("nth", 1))
        if nth < 1:
            raise ValueError("'nth' counts from 1")
        try:
            return cls(
                id=rule_id,
                method=str(spec.get("method", "*")),
                path=str(spec["path"]),
                nth=nth,
                times=None if every else (None if spec.get("times", 1) is None else int(spec.get("times", 1))),
                status=None if status is None else int(status),
                code=spec.get("code"),
                message=spec.get("message"),
                retry_after=None if spec.get("retry_after") is None else float(spec["retry_after"]),
                delay=float(spec.get("delay", 0.0)),
                drop=bool(spec.get("drop", False)),
                hold=bool(spec.get("hold", False)),
                answer=None if answer is None else {"headers": {}, **answer},
            )
        except re.error as exc:
            raise ValueError(f"'path' is not a valid regular expression: {exc}") from None


@dataclass
class LogEntry:
    seq: int
    time: float
    method: str
    path: str
    query: str
    status: int  # 0 for a dropped connection
    ms: float
    fault: int | None  # id of the fault rule that fired, if any

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "ms": round(self.ms, 3),
            "fault": self.fault,
        }


class ControlState:
    """Fault rules, the request log and the settings the server started with (restored by reset)."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self._initial = settings.copy()
        self._lock = threading.Lock()
        self._faults: list[FaultRule] = []
        self._next_id = 1
        self._log: deque[LogEntry] = deque(maxlen=LOG_LIMIT)
        self._seq = 0

    def reset(self) -> None:
        self.release_holds()
        with self._lock:
            self._faults.clear()
            self._log.clear()
            self._seq = 0
            fresh = self._initial.copy()
            for name, value in fresh.as_dict().items():
                setattr(self.settings, name, value)
        self.clock.reset()

    # faults

    def add_fault(self, spec: Any) -> FaultRule:
        with self._lock:
            rule = FaultRule.from_spec(self._next_id, spec)
            self._next_id += 1
            self._faults.append(rule)
            return rule

    def faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.as_dict() for r in self._faults]

    def remove_fault(self, rule_id: int | None) -> int:
        """Remove one rule (or all with None), releasing what it holds; how many went."""
        with self._lock:
            gone = [r for r in self._faults if rule_id is None or r.id == rule_id]
            self._faults = [r for r in self._faults if r not in gone]
        for rule in gone:
            rule.release()
        return len(gone)

    def release(self, rule_id: int) -> bool:
        """Release one rule's hold; False when there is no such rule."""
        with self._lock:
            rule = next((r for r in self._faults if r.id == rule_id), None)
        if rule is not None:
            rule.release()
        return rule is not None

    def release_holds(self) -> None:
        """Release every hold (reset, the server's stop): no request or deployment stays waiting."""
        with self._lock:
            rules = list(self._faults)
        for rule in rules:
            rule.release()

    def fault_for(self, method: str, path: str) -> FaultRule | None:
        """The rule that fires for this request, if any (every rule counts the match; the first due fires)."""
        with self._lock:
            chosen: FaultRule | None = None
            for rule in self._faults:
                if rule.consider(method, path) and chosen is None:
                    chosen = rule
            return chosen

    def internal_write(self, path: str) -> None:
        """A write a deployment is about to make: delay it, or fail it, as a matching fault says."""
        rule = self.fault_for("PUT", path)
        if rule is None:
            return
        rule.apply_wait()
        if rule.drop:
            raise errors.internal("The resource provider closed the connection (fault injected).")
        err = rule.error()
        if err is not None:
            raise err

    # request log

    def record(self, method: str, path: str, query: str, status: int, ms: float, fault: int | None) -> None:
        with self._lock:
            self._seq += 1
            self._log.append(LogEntry(self._seq, time.time(), method, path, query, status, ms, fault))

    def requests(self, since: int = 0, method: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        pattern = re.compile(path, re.IGNORECASE) if path else None
        with self._lock:
            entries = list(self._log)
        return [
            e.as_dict()
            for e in entries
            if e.seq > since
            and (method is None or e.method == method.upper())
            and (pattern is None or pattern.search(e.path))
        ]

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    def request_counts(self) -> dict[str, Any]:
        """Requests by method and by status, and how many were writes (PUT, PATCH, DELETE, POST)."""
        with self._lock:
            entries = list(self._log)
        by_method: dict[str, int] = {}
        by_status: dict[str, int] = {}
        for e in entries:
            by_method[e.method] = by_method.get(e.method, 0) + 1
            by_status[str(e.status)] = by_status.get(str(e.status), 0) + 1
        writes = sum(n for m, n in by_method.items() if m in ("PUT", "PATCH", "DELETE", "POST"))
        return {"total": len(entries), "byMethod": by_method, "byStatus": by_status, "writes": writes}
