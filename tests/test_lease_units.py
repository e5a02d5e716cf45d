"""The lease on a target factory (`promote.apply.lease`) against an in-memory factory's tags: who may take it,
what a taker that lost is told, expiry, renewal, a lease lost to another run, and the case Azure leaves open (a
tags update that ignores If-Match), each ordered by events, never by time."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from promote.apply.lease import (
    TAG_LEASE,
    TAG_LEASE_HOLDER,
    FactoryLease,
    Lease,
    LeaseLost,
    LeaseSettings,
    TagsRead,
    read_lease,
)
from promote.apply.runner import ROLLBACK_FAILED, run
from promote.errors import InputError
from tests.test_apply_runner import NEW, context, deployed, new_factory, planner, rollback_to_old

T0 = datetime(2026, 12, 2, 12, 0, 0, tzinfo=timezone.utc)


class Tags:
    """A factory's tags with an etag that every write changes; `honour_if_match=False` is the Azure case nobody
    has seen: the PATCH succeeds whatever If-Match says. `before_write` runs once, just before the next write
    lands (a write in flight)."""

    def __init__(self, tags: Mapping[str, str] | None = None, *, honour_if_match: bool = True) -> None:
        self.tags = dict(tags or {})
        self.version = 0
        self.honour = honour_if_match
        self.writes: list[dict[str, str]] = []
        self.before_write: Callable[[], None] | None = None

    @property
    def etag(self) -> str:
        return f'"e{self.version}"'

    def read(self) -> TagsRead | None:
        return TagsRead(dict(self.tags), self.etag)

    def write(self, tags: Mapping[str, str], *, if_match: str | None) -> TagsRead | None:
        hook, self.before_write = self.before_write, None
        if hook is not None:
            hook()
        if self.honour and if_match is not None and if_match != self.etag:
            return None
        self.tags = dict(tags)
        self.version += 1
        self.writes.append(dict(tags))
        return self.read()


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def lease(store: Tags, clock: Clock | None = None, *, seconds: float = 600, settle: float = 0, **kw) -> FactoryLease:
    said: list[str] = []
    taken = FactoryLease(
        store,
        "adf-prod",
        settings=LeaseSettings(seconds=seconds, settle=settle),
        clock=clock or Clock(),
        progress=said.append,
        **kw,
    )
    taken.said = said  # type: ignore[attr-defined]
    return taken


def holder(machine: str, pid: int = 1) -> dict[str, str | int]:
    return {"user": "ana", "host": f"runner-{machine}", "pid": pid, "since": "2026-12-02T12:00:00Z", "machine": machine}


def test_a_second_run_is_refused_naming_the_holder_and_until_when():
    store = Tags({"team": "data"})
    first = lease(store)
    first.acquire(holder("m1", pid=41))
    try:
        held = read_lease(store.tags)
        assert held is not None and held.until == T0 + timedelta(seconds=600) and held.machine == "m1"
        assert store.tags["team"] == "data"  # other teams' tags stay
        second = lease(store)
        with pytest.raises(InputError) as refused:
            second.check(store.tags, "m2")
        with pytest.raises(InputError) as refused_again:
            second.acquire(holder("m2"))
        for error in (refused.value, refused_again.value):
            text = str(error)
            assert error.exit_code == 2
            assert "leased by another promote run" in text and "ana on runner-m1 (pid 41)" in text
            assert "until 2026-12-02T12:10:00Z (UTC)" in text
        assert len(store.writes) == 1  # the refused run wrote nothing
    finally:
        first.release()
    assert TAG_LEASE not in store.tags and TAG_LEASE_HOLDER not in store.tags and store.tags["team"] == "data"


def test_two_takers_that_read_the_same_etag_cannot_both_win():
    store = Tags()
    seen = store.read()
    assert seen is not None
    winner, loser = lease(store), lease(store)
    winner.acquire(holder("m1"), etag=seen.etag, basis=seen.tags)
    with pytest.raises(InputError, match="leased by another promote run: ana on runner-m1"):
        loser.acquire(holder("m2"), etag=seen.etag, basis=seen.tags)  # its If-Match names the etag before it
    assert read_lease(store.tags).token == winner.token  # type: ignore[union-attr]
    winner.release()


def test_a_factory_whose_record_changed_since_it_was_read_is_not_leased():
    store = Tags({"promote-plan": "a" * 64})
    seen = store.read()
    assert seen is not None
    store.tags["promote-plan"] = "b" * 64  # another run ended meanwhile (its record step)
    with pytest.raises(InputError, match="record of deployments changed while this run was planning"):
        lease(store).acquire(holder("m1"), etag=seen.etag, basis=seen.tags)
    assert store.writes == []


def test_where_if_match_is_ignored_the_taker_whose_write_was_overwritten_backs_off():
    """Both takers find the factory free and both write; the read-back after `settle` (longer than a write in
    flight: here, until it has landed) shows the last write, and the other taker backs off naming it."""
    store = Tags(honour_if_match=False)
    first, second = lease(store), lease(store)
    in_flight, landed = threading.Event(), threading.Event()
    store.before_write = lambda: (in_flight.set(), go.wait(30))
    go = threading.Event()
    errors: list[BaseException] = []

    def take_first() -> None:
        try:
            first.acquire(holder("m1"))
        except BaseException as exc:
            errors.append(exc)
        landed.set()

    thread = threading.Thread(target=take_first)
    thread.start()
    assert in_flight.wait(30)  # the first taker read a free factory; its write is on the way
    second.sleep = lambda _: (go.set(), landed.wait(30))  # type: ignore[method-assign]
    second.settings = LeaseSettings(seconds=600, settle=2.0)
    with pytest.raises(InputError, match="leased by another promote run: ana on runner-m1"):
        second.acquire(holder("m2"))
    thread.join(30)
    assert errors == [] and first.held is not None and second.held is None
    assert read_lease(store.tags).token == first.token  # type: ignore[union-attr]
    first.release()


def test_an_expired_lease_is_taken_over_and_said():
    clock = Clock()
    store = Tags()
    ghost = Lease("deadbeef", T0 - timedelta(minutes=5), "m9", "bob on runner-9 (pid 7) since 2026-12-02T11:00:00Z")
    store.tags.update({k: v for k, v in ghost.tags().items() if v is not None})
    taker = lease(store, clock)
    taker.check(store.tags, "m1")  # expired: not a refusal
    taker.acquire(holder("m1"))
    assert read_lease(store.tags).token == taker.token  # type: ignore[union-attr]
    assert any("from bob on runner-9 (pid 7)" in line and "it had expired" in line for line in taker.said)  # type: ignore[attr-defined]
    taker.release()


def test_a_lease_inside_the_clock_skew_margin_still_holds():
    store = Tags()
    almost = Lease("feedf00d", T0 - timedelta(seconds=10), "m9", "bob")
    store.tags.update({k: v for k, v in almost.tags().items() if v is not None})
    with pytest.raises(InputError, match="leased by another promote run: bob"):
        lease(store).acquire(holder("m1"))


def test_a_lease_left_by_a_run_under_the_same_lock_file_is_taken_over_at_once():
    store = Tags()
    mine_before = Lease("0badc0de", T0 + timedelta(minutes=9), "m1", "ana on runner-m1 (pid 3)")
    store.tags.update({k: v for k, v in mine_before.tags().items() if v is not None})
    taker = lease(store)
    taker.acquire(holder("m1"))  # this run holds m1's flock: the run that took the lease is gone
    assert any("its run on this machine had ended" in line for line in taker.said)  # type: ignore[attr-defined]
    taker.release()


def test_a_run_that_outlives_a_third_of_its_lease_renews_it():
    clock = Clock()
    store = Tags()
    taken = lease(store, clock, seconds=300)
    taken.acquire(holder("m1"))
    try:
        clock.now = T0 + timedelta(seconds=60)
        assert taken.renew_if_due() is False and len(store.writes) == 1  # not due yet
        clock.now = T0 + timedelta(seconds=101)
        assert taken.renew_if_due() is True
        assert read_lease(store.tags).until == clock.now + timedelta(seconds=300)  # type: ignore[union-attr]
        taken.ensure_held()
    finally:
        taken.release()


def test_a_lease_taken_over_by_another_run_is_lost_and_stops_the_run_before_its_next_write():
    clock = Clock()
    store = Tags()
    slow = lease(store, clock, seconds=60)
    slow.acquire(holder("m1"))
    later = Clock(T0 + timedelta(minutes=10))  # the first run was stopped for ten minutes: its lease expired
    other = lease(store, later)
    other.acquire(holder("m2", pid=99))
    clock.now = later.now
    assert slow.renew_if_due() is False
    with pytest.raises(LeaseLost, match=r"taken by ana on runner-m2 \(pid 99\)"):
        slow.ensure_held()
    slow.release()  # leaves the other run's lease alone
    assert read_lease(store.tags).token == other.token  # type: ignore[union-attr]
    other.release()


def test_bad_lease_settings_are_refused_naming_the_variable():
    assert LeaseSettings.from_environ({"PROMOTE_LEASE_SECONDS": "90"}, settle=5).seconds == 90
    assert LeaseSettings.from_environ({}, settle=5).settle == 5
    for bad in ("0", "-3", "soon", "nan", "1e9"):
        with pytest.raises(InputError, match="PROMOTE_LEASE_SECONDS"):
            LeaseSettings.from_environ({"PROMOTE_LEASE_SECONDS": bad}, settle=0)


# ------------------------------------------------------------------------------------------------- in a run


class FakeTags:
    """The lease's view of the runner's in-process fake factory: the same tags, an etag from their content."""

    def __init__(self, fake) -> None:
        self.fake = fake

    def read(self) -> TagsRead | None:
        return TagsRead(dict(self.fake.tags), str(hash(tuple(sorted(self.fake.tags.items())))))

    def write(self, tags: Mapping[str, str], *, if_match: str | None) -> TagsRead | None:
        if if_match is not None and if_match != self.read().etag:  # type: ignore[union-attr]
            return None
        self.fake.tags = dict(tags)
        return self.read()


def test_a_run_holds_the_lease_from_its_first_write_to_its_end(tmp_path: Path):
    fake = deployed()
    store = FakeTags(fake)
    held_during: list[bool] = []
    original = fake.deploy_template

    def deploy_and_look(*args, **kwargs):
        held_during.append(read_lease(fake.tags) is not None)
        return original(*args, **kwargs)

    fake.deploy_template = deploy_and_look  # type: ignore[method-assign]
    ctx = context(tmp_path, fake)
    ctx.lease = lease(store)  # type: ignore[arg-type]
    report = run(ctx, planner(new_factory(), NEW), rollback_to_old)
    assert report.status == "succeeded" and held_during and all(held_during)
    assert TAG_LEASE not in fake.tags  # given back


def test_a_run_whose_lease_was_taken_stops_and_writes_nothing_more(tmp_path: Path):
    fake = deployed()
    store = FakeTags(fake)
    clock = Clock()
    ctx = context(tmp_path, fake)
    ctx.lease = lease(store, clock, seconds=60)  # type: ignore[arg-type]
    original = fake.stop_trigger

    def stopped_for_ten_minutes(name: str) -> None:
        original(name)
        later = Clock(T0 + timedelta(minutes=10))
        lease(store, later).acquire(holder("m2", pid=99))  # another run took the expired lease
        clock.now = later.now
        ctx.lease.renew_if_due()  # type: ignore[union-attr]

    fake.stop_trigger = stopped_for_ten_minutes  # type: ignore[method-assign]
    report = run(ctx, planner(new_factory(), NEW), rollback_to_old)
    assert report.status == ROLLBACK_FAILED
    assert report.outcome is not None and "taken by ana on runner-m2 (pid 99)" in str(report.outcome.error)
    assert any("nothing was rolled back" in p for p in report.problems)
    calls = [k for k, _ in fake.calls]
    assert "deploy_template" not in calls and calls.count("stop_trigger") == 1  # nothing after the stop
    assert read_lease(fake.tags) is not None and read_lease(fake.tags).machine == "m2"  # type: ignore[union-attr]
