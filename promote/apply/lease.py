"""The cross-machine half of the lock on a target factory: a lease held in the factory's own tags.

The local `flock` (`promote.apply.lock`) keeps apart runs that share a project folder; two CI runners, or two
clones of the project, share only the factory. So the factory carries the lease: tag `promote-lease` holds the
holder's token, the time the lease runs until (UTC) and the machine it was taken on, `promote-lease-holder`
who holds it, for the refusal's message. docs/locks.md says how it is used; in short:

- Taken after every check of the run has passed (no refusal writes anything), with one tags-only PATCH that
  carries `If-Match` with the factory's etag as read for the plan: a compare-and-set against the very state the
  plan was made from. A second promoter that read the same etag gets 412 and is refused naming the holder.
- Microsoft's specification declares `If-Match` for the factory's PUT only; whether Data Factory honours it on
  the PATCH is not established. So a taker also reads the lease back (after `settle` seconds, in Azure) and backs
  off when another holds it: when both wrote, the last write stays and the other taker sees it. And it checks
  that the factory's deployment record is still the one its plan was made from (a run that ended in between
  changed it), so that the lease never covers a plan made against a state that is gone.
- It runs `seconds` (`PROMOTE_LEASE_SECONDS`, default 600) and is renewed while the run lasts (a thread renews
  it at a third of that); a run killed on another machine blocks the factory until its lease expires. A lease
  taken on this machine from this project folder (the same lock file) is taken over at once: holding the flock
  proves its holder is gone.
- Given back at the end of the run, whatever the run's outcome (the run's envelope, like the local lock: its
  writes are not changes to the factory a reviewer approves, so they are not plan steps).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from promote.errors import InputError, PromoteError
from promote.inert import inert

TAG_LEASE = "promote-lease"
TAG_LEASE_HOLDER = "promote-lease-holder"
DEFAULT_SECONDS = 600.0
AZURE_SETTLE_SECONDS = 5.0  # the read-back's wait where If-Match on the factory's PATCH is not known to hold
CLOCK_SKEW = timedelta(seconds=30)  # a lease counts as expired only this long after its time (clocks differ)
SECONDS_VARIABLE = "PROMOTE_LEASE_SECONDS"
SETTLE_VARIABLE = "PROMOTE_LEASE_SETTLE_SECONDS"
_TIME = "%Y-%m-%dT%H:%M:%SZ"
_ATTEMPTS = 5


@dataclass(frozen=True)
class Lease:
    """A lease as the factory's tags hold it."""

    token: str
    until: datetime
    machine: str
    holder: str = ""

    def expired(self, now: datetime) -> bool:
        return now > self.until + CLOCK_SKEW

    @property
    def until_text(self) -> str:
        return self.until.strftime(_TIME)

    def tags(self) -> dict[str, str | None]:
        return {TAG_LEASE: f"{self.token} {self.until_text} {self.machine}", TAG_LEASE_HOLDER: self.holder[:256]}


def read_lease(tags: Mapping[str, str]) -> Lease | None:
    """The lease the tags hold; None when there is none (a malformed one counts as none: it cannot be renewed)."""
    parts = (tags.get(TAG_LEASE) or "").split()
    if len(parts) != 3:
        return None
    try:
        until = datetime.strptime(parts[1], _TIME).replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return Lease(parts[0], until, parts[2], tags.get(TAG_LEASE_HOLDER) or "")


def lease_removal() -> dict[str, str | None]:
    return {TAG_LEASE: None, TAG_LEASE_HOLDER: None}


@dataclass(frozen=True)
class TagsRead:
    """The factory's tags with the etag they were read with."""

    tags: Mapping[str, str]
    etag: str | None


class LeaseStore(Protocol):
    """The factory's tags, read and written conditionally (`promote.azure.api.AzureLeaseStore`)."""

    def read(self) -> TagsRead | None:
        """The tags and etag; None when the factory does not exist."""
        ...

    def write(self, tags: Mapping[str, str], *, if_match: str | None) -> TagsRead | None:
        """Set exactly `tags` if the factory's etag is still `if_match`; None when it is not (412)."""
        ...


@dataclass(frozen=True)
class LeaseSettings:
    seconds: float = DEFAULT_SECONDS
    settle: float = 0.0  # seconds between taking the lease and reading it back

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], *, settle: float) -> LeaseSettings:
        """`PROMOTE_LEASE_SECONDS` and `PROMOTE_LEASE_SETTLE_SECONDS` when set (bad values: exit 2)."""
        return cls(
            seconds=_seconds(environ, SECONDS_VARIABLE, DEFAULT_SECONDS, minimum=1.0),
            settle=_seconds(environ, SETTLE_VARIABLE, settle, minimum=0.0),
        )


def _seconds(environ: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    text = environ.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value >= minimum or value > 86_400:
        raise InputError.single(name, f"is not a number of seconds from {minimum:g} to 86400", hint="unset it")
    return value


class LeaseLost(PromoteError):
    """Another run holds the lease this run held: it stops before its next write."""


# What the record of a deployment is: a lease taken over a plan made before one of these changed covers nothing.
RECORD_TAGS = ("promote-plan", "promote-commit", "promote-time", "promote-run-id")


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class FactoryLease:
    """The lease on one target factory for one run (`promote.apply.lock.TargetLease`, and more: `check` before
    the run reads, `acquire` on the state read, `renew_if_due`, `ensure_held` before each step)."""

    def __init__(
        self,
        store: LeaseStore,
        factory: str,
        *,
        settings: LeaseSettings = LeaseSettings(),
        clock: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], None] = time.sleep,
        progress: Callable[[str], None] = print,
    ) -> None:
        self.store = store
        self.factory = factory
        self.settings = settings
        self.clock = clock
        self.sleep = sleep
        self.progress = progress
        self.token = uuid.uuid4().hex[:16]
        self.machine = ""
        self.holder = ""
        self.held: Lease | None = None
        self.lost: str | None = None  # who took it, once lost
        self._renewer: threading.Thread | None = None
        self._stop = threading.Event()
        self._mutex = threading.Lock()

    # ------------------------------------------------------------------------------------------- taking it

    def check(self, tags: Mapping[str, str], machine: str) -> None:
        """Refuse (exit 2) when another machine's run holds a lease that has not expired: read-only, before the
        run reads or settles anything (it would cancel the holder's deployments)."""
        other = read_lease(tags)
        if other is not None and not self._free(other, machine):
            raise self._refusal(other)

    def acquire(
        self, holder: dict[str, Any], *, etag: str | None = None, basis: Mapping[str, str] | None = None
    ) -> None:
        """Take the lease for `holder` (its `machine`: `promote.apply.lock`), on the factory as read at `etag`
        with the record `basis`; refused (InputError, exit 2) when another run holds it or the factory's record
        changed since it was read. Nothing is taken on a factory that does not exist (a `local` one is created
        before this)."""
        from promote.apply.lock import holder_text

        self.machine = str(holder.get("machine") or "")
        self.holder = holder_text(holder)
        try:
            self._take(etag, basis)
        except InputError:
            raise
        except PromoteError as exc:
            self.release()  # when it was written before the failure
            raise PromoteError(
                f"could not take the lease on factory {self.factory}: {exc}; nothing was written"
            ) from exc

    def _take(self, etag: str | None, basis: Mapping[str, str] | None) -> None:
        if_match = etag
        for _ in range(_ATTEMPTS):
            read = self.store.read()
            if read is None:
                return
            if basis is not None and _record(read.tags) != _record(basis):
                raise self._changed()
            other = read_lease(read.tags)
            if other is not None and other.token != self.token and not self._free(other, self.machine):
                raise self._refusal(other)
            if if_match is None:
                if_match = read.etag
            mine = self._lease()
            written = self.store.write({**_merged(read.tags, mine.tags())}, if_match=if_match)
            if written is None:  # another writer since `if_match` was read: look again, from the new state
                if basis is not None and etag is not None:
                    again = self.store.read()
                    other = read_lease(again.tags) if again is not None else None
                    if other is not None and other.token != self.token and not self._free(other, self.machine):
                        raise self._refusal(other)
                    raise self._changed()
                if_match = None
                continue
            self.held = mine
            if other is not None and other.token != self.token:
                why = "it had expired" if other.expired(self.clock()) else "its run on this machine had ended"
                self.progress(f"Took over the lease on factory {self.factory} from {inert(other.holder)}: {why}.")
            self._read_back(basis)
            self._start_renewing()
            return
        raise InputError.single(
            f"factory {self.factory}",
            f"its tags changed under each of {_ATTEMPTS} attempts to take the lease",
            hint="another program writes the factory's tags: run again",
        )

    def _read_back(self, basis: Mapping[str, str] | None) -> None:
        """Where Azure ignored If-Match, two takers may both have written: after `settle`, the last write is the
        one that stayed, and every other taker backs off here."""
        if self.settings.settle:
            self.sleep(self.settings.settle)
        read = self.store.read()
        now = read_lease(read.tags) if read is not None else None
        if now is None or now.token != self.token:
            self.held = None
            if now is not None:
                raise self._refusal(now)
            raise self._changed()
        if basis is not None and _record(read.tags if read else {}) != _record(basis):
            self.release()
            raise self._changed()

    def _free(self, lease: Lease, machine: str) -> bool:
        """Whether `lease` may be taken: expired, or taken on this machine from this project folder (the same
        lock file: this run holds its flock, so the run that took it is gone)."""
        return lease.expired(self.clock()) or (bool(machine) and lease.machine == machine)

    def _lease(self) -> Lease:
        until = self.clock() + timedelta(seconds=self.settings.seconds)
        return Lease(self.token, until.replace(microsecond=0), self.machine or "-", self.holder)

    def _refusal(self, other: Lease) -> InputError:
        return InputError.single(
            f"factory {self.factory}",
            f"is leased by another promote run: {inert(other.holder) or 'a run'} until {other.until_text} (UTC)",
            hint="wait for it to finish; a lease its run left behind (a killed run) expires at that time",
        )

    def _changed(self) -> InputError:
        return InputError.single(
            f"factory {self.factory}",
            "its record of deployments changed while this run was planning (another run ended meanwhile); "
            "nothing was written",
            hint="run again: the plan is made anew against the factory as it is now",
        )

    # ------------------------------------------------------------------------------------------- keeping it

    def ensure_held(self) -> None:
        """Before each write of the run: raise LeaseLost when another run took the lease (no request)."""
        if self.lost is not None:
            raise LeaseLost(
                f"the lease on factory {self.factory} was taken by {self.lost}: this run stopped before its next write"
            )

    def renew_if_due(self) -> bool:
        """Renew once a third of the lease's time has passed; True when renewed. A lease found held by another
        run (this one outlived it, and it was taken over) is lost: `ensure_held` then stops the run."""
        with self._mutex:
            held = self.held
            if held is None or self.lost is not None:
                return False
            left = (held.until - self.clock()).total_seconds()
            if left > self.settings.seconds * 2 / 3:
                return False
            for _ in range(_ATTEMPTS):
                read = self.store.read()
                now = read_lease(read.tags) if read is not None else None
                if read is None or now is None or now.token != self.token:
                    self.lost = inert(now.holder) if now is not None else "nobody (the lease was removed)"
                    self.held = None
                    return False
                mine = self._lease()
                if self.store.write(_merged(read.tags, mine.tags()), if_match=read.etag) is not None:
                    self.held = mine
                    return True
            return False

    def _start_renewing(self) -> None:
        if self._renewer is not None:
            return
        interval = self.settings.seconds / 3

        def renew() -> None:
            while not self._stop.wait(interval):
                try:
                    self.renew_if_due()
                except Exception as exc:  # a failed renewal is tried again; the lease lasts until it expires
                    self.progress(f"warning: could not renew the lease on factory {self.factory}: {exc}")

        self._renewer = threading.Thread(target=renew, name="promote-lease", daemon=True)
        self._renewer.start()

    # ------------------------------------------------------------------------------------------- giving it back

    def release(self) -> None:
        """Give the lease back (a lease another run holds now is left alone)."""
        self._stop.set()
        if self._renewer is not None and self._renewer is not threading.current_thread():
            self._renewer.join()
        with self._mutex:
            held, self.held = self.held, None
            if held is None:
                return
            try:
                for _ in range(_ATTEMPTS):
                    read = self.store.read()
                    now = read_lease(read.tags) if read is not None else None
                    if read is None or now is None or now.token != self.token:
                        return
                    if self.store.write(_merged(read.tags, lease_removal()), if_match=read.etag) is not None:
                        return
            except PromoteError as exc:  # the run's outcome stands; the lease runs out by itself
                self.progress(
                    f"warning: could not give back the lease on factory {self.factory} ({exc}): "
                    f"it expires at {held.until_text} (UTC)"
                )


def _merged(tags: Mapping[str, str], change: Mapping[str, str | None]) -> dict[str, str]:
    out = dict(tags)
    for key, value in change.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def _record(tags: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(tags.get(name, "") for name in RECORD_TAGS)
