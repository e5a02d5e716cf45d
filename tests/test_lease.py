"""One promoter per factory across machines: the lease in the factory's tags, shown with real `promote` processes
in two clones of the project (two machines: two lock folders) against one emulator. A run stays in progress as
long as the test wants through its smoke run (the emulator's run time) or a held request, never by sleeping."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from promote.apply.lease import TAG_LEASE, TAG_LEASE_HOLDER, read_lease
from tests.engine_project import LOCAL_FACTORY, LOCAL_RESOURCE_GROUP, LOCAL_SUBSCRIPTION, Project, kill_after
from tests.test_engine_safety import last_seq, out, wait_for_line, writes_since

FACTORY_PATH = rf"/factories/{LOCAL_FACTORY}$"


@pytest.fixture
def machines(project: Project, tmp_path: Path) -> tuple[Project, Project]:
    """The project on two machines: a second clone (its own `.promote/locks`), the same emulator and factory."""
    other = tmp_path / "machine-2"
    subprocess.run(["git", "clone", "-q", str(project.path), str(other)], check=True)
    commits = project.mirror()
    assert project.deploy(commits[4]).returncode == 0
    return project, Project(other, project.emulator)


def factory_tags(project: Project) -> dict[str, str]:
    with project.emulator.adf_client() as adf:
        adf._config.subscription_id = LOCAL_SUBSCRIPTION
        return dict(adf.factories.get(LOCAL_RESOURCE_GROUP, LOCAL_FACTORY).tags or {})


def tag_factory(project: Project, tags: dict[str, str]) -> None:
    """What another machine's run left in the factory's tags (written as any client writes them)."""
    with project.emulator.adf_client() as adf:
        adf._config.subscription_id = LOCAL_SUBSCRIPTION
        adf.factories.update(LOCAL_RESOURCE_GROUP, LOCAL_FACTORY, {"tags": {**factory_tags(project), **tags}})


def expire_lease(project: Project) -> str:
    """Move the factory's lease's time five minutes into the past, as time passing would leave a lease whose run
    is gone (its `PROMOTE_LEASE_SECONDS` ran out): the lease's holder."""
    lease = read_lease(factory_tags(project))
    assert lease is not None, "the factory holds no lease"
    past = datetime.now(timezone.utc) - timedelta(minutes=5)
    tag_factory(project, {TAG_LEASE: f"{lease.token} {past:%Y-%m-%dT%H:%M:%SZ} {lease.machine}"})
    return lease.holder


def twin_env(project: Project) -> None:
    """Another environment file naming the same factory."""
    (project.path / "environments" / "local-twin.yaml").write_text(
        (project.path / "environments" / "local.yaml").read_text()
    )


def in_smoke(project: Project, ref: str, seen: list[str], **extra: str) -> subprocess.Popen[str]:
    """A deploy that stays in its smoke run (the emulator's runs last an hour until its clock moves)."""
    project.emulator.settings(run_seconds=3600)
    proc = project.start("deploy", "--env", "local", "--ref", ref, "--yes", **extra)
    wait_for_line(proc, "] smoke: run pipeline", seen)
    return proc


def finish(proc: subprocess.Popen[str], project: Project, seen: list[str]) -> str:
    project.emulator.advance(3600)
    project.emulator.settings(run_seconds=0.2)
    rest, _ = proc.communicate(timeout=120)
    return "".join(seen) + rest


def test_a_second_machine_is_refused_under_either_environment_name_and_writes_nothing(machines):
    first, second = machines
    commits = first.mirror()
    twin_env(second)
    seen: list[str] = []
    holder = in_smoke(first, commits[5], seen)
    try:
        lease = read_lease(factory_tags(first))
        assert lease is not None
        seq = last_seq(first)
        for env in ("local", "local-twin"):
            refused = second.promote("deploy", "--env", env, "--ref", commits[6], "--yes", timeout=120)
            assert holder.poll() is None, "the first run ended before the second was tried"
            assert refused.returncode == 2, out(refused)
            assert "is leased by another promote run" in refused.stderr, out(refused)
            assert f"(pid {holder.pid})" in refused.stderr and "as environment local" in refused.stderr
            assert f"until {lease.until_text} (UTC)" in refused.stderr
            assert "[1/" not in refused.stdout  # not one step
        assert writes_since(first, seq) == [], "a refused promoter wrote while the first held the factory"
        status = second.promote("status", "--env", "local")
        assert f"held by a promote run: {lease.holder} until {lease.until_text} (UTC)" in status.stdout, out(status)
    finally:
        text = finish(holder, first, seen)
    assert holder.returncode == 0, text
    assert TAG_LEASE not in factory_tags(first) and TAG_LEASE_HOLDER not in factory_tags(first)  # given back
    after = second.deploy(commits[6])
    assert after.returncode == 0, out(after)
    assert second.in_sync(commits[6])


def test_two_promoters_that_read_the_factory_together_cannot_both_take_it(machines):
    """The first promoter's lease write is held in flight; the second reads the same factory, takes the lease and
    deploys; the first's write then arrives with an etag that is no longer the factory's: 412, and it is refused
    naming the second, having written nothing."""
    first, second = machines
    commits = first.mirror()
    held = first.emulator.hold("PATCH", FACTORY_PATH, nth=1, times=1)
    late = first.start("deploy", "--env", "local", "--ref", commits[5], "--yes")
    seen: list[str] = []
    try:
        first.emulator.wait_until_held(held)
        winner = in_smoke(second, commits[6], seen)
    finally:
        first.emulator.release(held)
    late_out, _ = late.communicate(timeout=120)
    assert late.returncode == 2, late_out
    assert "is leased by another promote run" in late_out and f"(pid {winner.pid})" in late_out, late_out
    assert "[1/" not in late_out
    (attempt,) = [r for r in first.emulator.requests(method="PATCH") if r.get("fault") == held]
    assert attempt["status"] == 412  # its only write was refused by the factory
    text = finish(winner, second, seen)
    assert winner.returncode == 0, text
    assert second.in_sync(commits[6])


def test_a_killed_run_blocks_other_machines_until_its_lease_expires_and_not_its_own(machines):
    first, second = machines
    commits = first.mirror()
    first.emulator.settings(run_seconds=3600)
    killed = second.start("deploy", "--env", "local", "--ref", commits[5], "--yes")
    kill_after(killed, "] smoke: run pipeline")
    left = read_lease(factory_tags(first))
    assert left is not None and f"pid {killed.pid}" in left.holder
    first.emulator.settings(run_seconds=0.2)
    seq = last_seq(first)
    refused = first.deploy(commits[6])
    assert refused.returncode == 2 and f"(pid {killed.pid})" in refused.stderr, out(refused)
    assert writes_since(first, seq) == []
    # On its own machine the lease is taken over at once: that clone's flock proves its run is gone.
    again = second.deploy(commits[5])
    assert again.returncode == 0, out(again)
    assert "its run on this machine had ended" in again.stdout
    # Another machine takes over a lease whose time has passed (written as the killed run would have left it).
    expired = datetime.now(timezone.utc) - timedelta(minutes=5)
    tag_factory(
        first,
        {TAG_LEASE: f"0123456789abcdef {expired:%Y-%m-%dT%H:%M:%SZ} elsewhere", TAG_LEASE_HOLDER: "ghost on nowhere"},
    )
    taken = first.deploy(commits[6])
    assert taken.returncode == 0, out(taken)
    assert "from ghost on nowhere: it had expired" in taken.stdout
    assert TAG_LEASE not in factory_tags(first) and first.in_sync(commits[6])


def lease_writes(project: Project, since: int) -> list[dict[str, Any]]:
    return [r for r in project.emulator.requests(method="PATCH", path=FACTORY_PATH) if r["seq"] > since]


def test_a_run_that_outlives_its_lease_renews_it(machines):
    first, second = machines
    commits = first.mirror()
    seq = last_seq(first)
    seen: list[str] = []
    holder = in_smoke(first, commits[5], seen, PROMOTE_LEASE_SECONDS="3")
    try:
        taken = read_lease(factory_tags(first))
        assert taken is not None
        before = len(lease_writes(first, seq))
        deadline = time.monotonic() + 60
        while len(lease_writes(first, seq)) < before + 2:  # two renewals, seen in the emulator's request log
            assert time.monotonic() < deadline, "the lease was not renewed"
            time.sleep(0.05)
        renewed = read_lease(factory_tags(first))
        assert renewed is not None and renewed.token == taken.token and renewed.until > taken.until
        refused = second.deploy(commits[6])  # still held, although its first 3 seconds are long gone
        assert refused.returncode == 2 and "is leased by another promote run" in refused.stderr, out(refused)
    finally:
        text = finish(holder, first, seen)
    assert holder.returncode == 0, text
    assert TAG_LEASE not in factory_tags(first)


def test_the_lease_is_the_runs_first_write_and_a_refused_run_takes_none(machines):
    first, _ = machines
    commits = first.mirror()
    seq = last_seq(first)
    assert first.deploy(commits[6]).returncode == 0
    written = writes_since(first, seq)
    assert written[0]["method"] == "PATCH" and written[0]["path"].endswith(f"/factories/{LOCAL_FACTORY}")
    assert written[-1]["method"] == "PATCH" and written[-1]["path"].endswith(f"/factories/{LOCAL_FACTORY}")
    # a plan refused by its checks (here: already applied) writes nothing, lease included
    plan_file = first.path / "plan.json"
    made = first.promote("plan", "--env", "local", "--ref", commits[6], "--out", str(plan_file))
    assert made.returncode in (0, 3), out(made)
    assert first.promote("apply", str(plan_file)).returncode == 0
    seq = last_seq(first)
    again = first.promote("apply", str(plan_file))
    assert again.returncode == 0 and "already applied" in again.stdout.lower(), out(again)
    assert writes_since(first, seq) == []
    assert json.dumps(factory_tags(first)).count(TAG_LEASE) == 0
