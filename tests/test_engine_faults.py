"""Fault matrix: a realistic deploy (one publish of the sample to the next) with a failure injected into each of
its writes in turn, and separately with the process killed after each of its steps. Every case must end with
the live factory equal to the new commit's or the previous commit's desired state, triggers as they were, and
nothing else lost."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest

from tests.engine_project import Project, kill_after

# Two transitions of the sample's history: v03 -> v04 stops and restarts a started schedule trigger whose
# payload changes and creates an event trigger; v05 -> v06 deletes, renames and rewrites callers.
TRANSITIONS = {"triggers": (2, 3), "deletions": (4, 5)}
DIRECT_ATTEMPTS = 4  # the local settings retry a failed call 3 times: fail every attempt of the Nth write
# Each matrix is split into SHARDS cases per transition (case i of the matrix goes to shard i % SHARDS), so that
# test workers share it out; every case of the matrix still runs, however many writes or steps a plan has.
SHARDS = 4
DEPLOYMENT_PREFIX = "/deployments/promote-local-"
MATRIX = [(transition, shard) for transition in sorted(TRANSITIONS) for shard in range(SHARDS)]


@dataclass(frozen=True)
class Write:
    method: str
    path: str
    nth: int  # which occurrence of this method + pattern in the deploy
    internal: bool  # written by a deployment, not by a request of its own
    lease: str = ""  # "take" or "give back": the run's lease on the factory (its first and last writes)

    @property
    def pattern(self) -> str:
        """The path as a rule matches it. A deployment's name holds the time it was planned, different in every
        deploy: deployments are matched by the environment's prefix, and told apart by `nth`."""
        head, found, _ = self.path.partition(DEPLOYMENT_PREFIX)
        return re.escape(head + found) + "[^/]+$" if found and not self.internal else re.escape(self.path) + "$"

    def rule(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.pattern,
            "nth": self.nth,
            "times": 1 if self.internal else DIRECT_ATTEMPTS,
            "status": 500,
            "code": "InternalServerError",
            "message": "injected by the fault matrix",
        }

    def __str__(self) -> str:
        where = " (in a deployment)" if self.internal else ""
        return f"{self.method} {self.path.split('/providers/')[-1]} #{self.nth}{where}"


def setup(project: Project, old: str) -> dict[str, str]:
    """An empty emulator with `old` deployed (in this process: the scene, not the action); its trigger states."""
    project.emulator.admin("POST", "/reset")
    return project.deployed(old)


_CLEAN_DEPLOYS: dict[tuple[str, str], tuple[list[Write], dict[str, str], int]] = {}


def clean_deploy(project: Project, old: str, new: str) -> tuple[list[Write], dict[str, str], int]:
    """`writes_of` and the plan's step count, found once per test process: every shard of a matrix needs them,
    and they depend only on the two commits (the factory's paths are the same in every clone)."""
    if (old, new) not in _CLEAN_DEPLOYS:
        writes, after = writes_of(project, old, new)
        steps = len(json.loads((project.path / "plan.json").read_text())["steps"])
        _CLEAN_DEPLOYS[(old, new)] = (writes, after, steps)
    return _CLEAN_DEPLOYS[(old, new)]


def writes_of(project: Project, old: str, new: str) -> tuple[list[Write], dict[str, str]]:
    """Every write a clean deploy of `new` over `old` makes, in order, found by doing it once; and the trigger
    states that clean deploy ends with."""
    setup(project, old)
    project.emulator.admin("DELETE", "/requests")
    plan_file = project.path / "plan.json"
    plan = json.loads(project.planned(new, plan_file))
    project.deployed(new)  # in this process too: the same service makes the same requests
    seen: dict[tuple[str, str], int] = {}
    writes: list[Write] = []

    def add(method: str, path: str, internal: bool) -> None:
        pattern = Write(method, path, 0, internal).pattern
        seen[(method, pattern)] = seen.get((method, pattern), 0) + 1
        writes.append(Write(method, path, seen[(method, pattern)], internal))

    # The deploy planned again, so its deployments have other names than the saved plan's (the time is in them):
    # the k-th deployment the deploy made is the saved plan's k-th Deploy step.
    deploy_steps = iter(step for step in plan["steps"] if step["kind"] == "Deploy")
    factory = "/providers/Microsoft.DataFactory/factories/adf-ml-project-local"
    for request in project.emulator.requests():
        if re.search(r"/(getEventSubscriptionStatus|query\w+)$", request["path"], re.I):
            continue  # POSTs that only read
        if request["method"] in ("PUT", "POST", "DELETE", "PATCH") and request["status"] < 400:
            add(request["method"], request["path"], False)
            if (
                request["method"] == "PUT"
                and DEPLOYMENT_PREFIX in request["path"]
                and not request["path"].endswith("-record")
            ):  # the run's entry in the history (the record step's) writes no object
                for w in next(deploy_steps)["writes"]:
                    add("PUT", f"{factory}/{w['key']['type']}/{w['key']['name']}", True)
    assert next(deploy_steps, None) is None, "the deploy made fewer deployments than its saved plan"
    tags = [i for i, w in enumerate(writes) if w.method == "PATCH" and w.path.endswith(factory)]
    assert tags[0] == 0 and tags[-1] == len(writes) - 1, "the lease is not the run's first and last write"
    writes[0] = dataclasses.replace(writes[0], lease="take")
    writes[-1] = dataclasses.replace(writes[-1], lease="give back")
    return writes, project.live_triggers()


def assert_old_or_new(project: Project, old: str, new: str, triggers: dict[str, dict[str, str]], why: str) -> str:
    """The factory is the old or the new commit's desired state, with that state's trigger states."""
    state = "new" if project.in_sync(new) else "old" if project.in_sync(old) else None
    assert state, f"{why}: the factory is neither the new nor the old commit's desired state"
    assert project.live_triggers() == triggers[state], f"{why}: trigger states are not those of the {state} state"
    return state


@pytest.mark.parametrize(("transition", "shard"), MATRIX)
def test_a_failure_in_any_write_ends_in_the_new_or_the_old_state(project: Project, transition: str, shard: int):
    commits = project.mirror()
    old, new = (commits[i] for i in TRANSITIONS[transition])
    writes, after, _ = clean_deploy(project, old, new)
    assert len(writes) >= SHARDS, "the transition makes too few writes for a matrix"
    outcomes: dict[int, int] = {}
    for write in writes[shard::SHARDS]:
        before = setup(project, old)
        project.emulator.fault(**write.rule())
        result = project.deploy(new)
        why = f"500 on {write}: exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}"
        if write.lease == "take":  # before the first change: a failure, nothing written
            assert result.returncode == 1 and "nothing was written" in result.stderr, why
        elif write.lease == "give back":  # after the record: the deploy stands, the lease runs out by itself
            assert result.returncode == 0 and "could not give back the lease" in result.stdout, why
        else:
            assert result.returncode in (0, 4), why
        assert "TriggerEnabledCannotUpdate" not in result.stdout, why
        project.emulator.admin("DELETE", "/faults")
        state = assert_old_or_new(project, old, new, {"old": before, "new": after}, why)
        assert state == ("old" if result.returncode in (1, 4) else "new"), why
        outcomes[result.returncode] = outcomes.get(result.returncode, 0) + 1
    assert sum(outcomes.values()) == len(writes[shard::SHARDS])


@pytest.mark.parametrize("transition", sorted(TRANSITIONS))
def test_the_fault_matrix_makes_deploys_roll_back(project: Project, transition: str):
    """The matrix tests something: a 500 on the first object a deployment writes fails the deploy, which rolls
    back. (A deployment's own name holds the time it was planned, so the matrix's faults on deployment PUTs match
    only the clean deploy's name: the objects inside are what it reaches.)"""
    commits = project.mirror()
    old, new = (commits[i] for i in TRANSITIONS[transition])
    writes, _, _ = clean_deploy(project, old, new)
    first = next(w for w in writes if w.internal)
    before = setup(project, old)
    project.emulator.fault(**first.rule())
    result = project.deploy(new)
    project.emulator.admin("DELETE", "/faults")
    assert result.returncode == 4, result.stdout[-3000:] + result.stderr[-2000:]
    assert assert_old_or_new(project, old, new, {"old": before, "new": {}}, f"500 on {first}") == "old"


@pytest.mark.parametrize(("transition", "shard"), MATRIX)
def test_a_run_killed_after_any_step_is_finished_by_the_next_one(project: Project, transition: str, shard: int):
    commits = project.mirror()
    old, new = (commits[i] for i in TRANSITIONS[transition])
    writes, after, steps = clean_deploy(project, old, new)
    assert steps > SHARDS, "the plan has too few steps for a matrix"
    record = [w for w in writes if w.method == "PATCH" and not w.lease][-1]  # the last step's: the factory's tags
    for done in range(1, steps)[shard::SHARDS]:
        setup(project, old)
        if done == steps - 1:
            # Killed as the last step begins: its tags update is held (and refused once the rule goes, after the
            # kill), so that the run cannot finish, and archive its journal, between printing the step and being
            # killed. A hold, not a delay: nothing here races the clock.
            project.emulator.fault(**{**record.rule(), "hold": True})
        proc = project.start("deploy", "--env", "local", "--ref", new, "--yes")
        output = kill_after(proc, f"[{done + 1}/{steps}]")
        project.emulator.admin("DELETE", "/faults")
        assert proc.returncode != 0, f"the run was not killed after step {done}:\n{output}"
        again = project.deploy(new)
        why = f"killed after step {done}/{steps}:\n{output[-2000:]}\nthen:\n{again.stdout[-3000:]}{again.stderr}"
        assert again.returncode == 0, why
        assert "Recovering the interrupted deploy" in again.stdout, why
        assert project.in_sync(new), why
        assert project.live_triggers() == after, why


@pytest.mark.parametrize("transition", ["triggers"])
def test_a_killed_run_can_be_rolled_back_instead(project: Project, transition: str):
    commits = project.mirror()
    old, new = (commits[i] for i in TRANSITIONS[transition])
    before = setup(project, old)
    proc = project.start("deploy", "--env", "local", "--ref", new, "--yes")
    kill_after(proc, "[4/")  # as step 4 (record, mark the run, stop, deploy) begins
    result = project.promote("rollback", "--env", "local", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert project.in_sync(old)
    assert project.live_triggers() == before
