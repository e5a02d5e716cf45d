"""The local lock on a target factory: exact under real racing processes, keyed by the target, released by the
kernel when its holder dies. Racers are real subprocesses started together through a FIFO (a barrier), never
by sleeping."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from promote.apply.lock import TargetKey, lock_path, target_lock
from promote.errors import InputError

KEY = TargetKey("sub-1", "rg-prod", "adf-prod")

# One racer: open the barrier (a FIFO the test holds open, so opening does not block), say it is ready, wait
# until the test closes the FIFO (every racer's read ends then, at once), try the lock, say what happened, and
# hold a lock it won until its stdin ends.
RACER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from promote.apply.lock import TargetKey, target_lock
    from promote.errors import InputError

    root, barrier, subscription, group, factory = sys.argv[1:6]
    with open(barrier, "rb") as gate:
        print("ready", flush=True)
        gate.read()
    try:
        with target_lock(Path(root), TargetKey(subscription, group, factory), environment=sys.argv[6]):
            print("acquired", flush=True)
            sys.stdin.read()
    except InputError as exc:
        print("refused " + str(exc).replace("\\n", " "), flush=True)
    """
)


def start_racer(root: Path, barrier: Path, key: TargetKey, environment: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            RACER,
            str(root),
            str(barrier),
            key.subscription,
            key.resource_group,
            key.factory,
            environment,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    return proc


@contextlib.contextmanager
def barrier(root: Path) -> Iterator[Path]:
    """A FIFO held open by the test for the block: racers open it and wait; closing it lets all go at once."""
    path = root / "barrier"
    if path.exists():
        path.unlink()
    os.mkfifo(path)
    held = os.open(path, os.O_RDWR)  # a writer (and reader) from the start: the racers' open() never blocks
    try:
        yield path
    finally:
        os.close(held)  # the last writer gone: every racer's read() returns end-of-file


def race(root: Path, keys: list[tuple[TargetKey, str]]) -> list[tuple[subprocess.Popen[str], str]]:
    """Start one racer per (key, environment), release them together, return each with its first answer."""
    with barrier(root) as gate:
        racers = [start_racer(root, gate, key, env) for key, env in keys]
    return [(proc, proc.stdout.readline().strip()) for proc in racers if proc.stdout is not None]


def finish(racers: list[tuple[subprocess.Popen[str], str]]) -> None:
    for proc, _ in racers:
        proc.communicate(timeout=30)  # closes stdin: a holder releases and exits


def kill_a_holder(root: Path, key: TargetKey) -> None:
    """A run that took the lock and was killed with SIGKILL: no cleanup ran, its description is still in the file."""
    with barrier(root) as gate:
        holder = start_racer(root, gate, key, "ghost")
    assert holder.stdout is not None and holder.stdout.readline().strip() == "acquired"
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert json.loads(lock_path(root, key).read_text())["environment"] == "ghost"  # what it left behind


@pytest.mark.parametrize("trial", range(30))
def test_four_racers_after_a_dead_holder_exactly_one_wins(tmp_path: Path, trial: int) -> None:
    kill_a_holder(tmp_path, KEY)
    racers = race(tmp_path, [(KEY, f"env{i}") for i in range(4)])
    try:
        answers = [answer for _, answer in racers]
        assert answers.count("acquired") == 1, answers
        assert all(a == "acquired" or (a.startswith("refused") and "held by another promote run" in a) for a in answers)
    finally:
        finish(racers)


def test_two_environment_names_for_one_target_exclude_each_other_and_other_targets_do_not(tmp_path: Path) -> None:
    same = TargetKey("SUB-1", "RG-Prod", "ADF-PROD")  # ARM compares names without case
    other = TargetKey("sub-1", "rg-prod", "adf-staging")
    racers = race(tmp_path, [(KEY, "production"), (same, "production-copy"), (other, "staging")])
    try:
        answers = [answer for _, answer in racers]
        assert answers[2] == "acquired"  # another factory is another lock
        assert sorted(answers[:2])[0] == "acquired" and answers[:2].count("acquired") == 1
        refused = next(a for a in answers[:2] if a.startswith("refused"))
        assert "factory adf-prod" in refused.casefold() and "held by another promote run" in refused
    finally:
        finish(racers)


def test_the_refusal_names_the_holder_and_the_lock_is_free_again_after(tmp_path: Path) -> None:
    with target_lock(tmp_path, KEY, environment="production"):
        with pytest.raises(InputError) as refused, target_lock(tmp_path, KEY, environment="other"):
            pass
        assert refused.value.exit_code == 2
        assert f"pid {os.getpid()}" in str(refused.value) and "adf-prod" in str(refused.value)
        assert "as environment production" in str(refused.value)
    with target_lock(tmp_path, KEY):  # released
        pass
    assert lock_path(tmp_path, KEY).read_text() == ""  # kept, with no holder in it


def test_a_lease_is_taken_inside_the_local_lock_and_given_back(tmp_path: Path) -> None:
    calls: list[str] = []

    class Lease:
        def acquire(self, holder: dict[str, str | int]) -> None:
            calls.append(f"acquire {holder['environment']}")

        def release(self) -> None:
            calls.append("release")

    with target_lock(tmp_path, KEY, environment="production", lease=Lease()):
        calls.append("work")
    assert calls == ["acquire production", "work", "release"]


def test_a_lease_refused_releases_the_local_lock(tmp_path: Path) -> None:
    class Taken:
        def acquire(self, holder: dict[str, str | int]) -> None:
            raise InputError.single("factory", "leased by a run on another machine")

        def release(self) -> None:  # pragma: no cover - never acquired
            raise AssertionError

    with pytest.raises(InputError, match="another machine"), target_lock(tmp_path, KEY, lease=Taken()):
        pass
    with target_lock(tmp_path, KEY):
        pass
