"""A user's project for engine tests: a clone of this repository in a temporary folder, where `promote` runs as
a real subprocess against the test's emulator (shared state, clock and fault rules).

The action a test is about always runs as a `promote` subprocess (`promote`, `start`, `deploy`). What only sets
the scene or checks the outcome (`deployed`, `in_sync`, `live_triggers`, `record`) runs the same service the
commands call (`promote.session`) in the test's process, against the same emulator with the real SDK clients:
the same answers without a process start and an import of the Azure SDKs (about half a second of CPU) each.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest

from tests.conftest import ROOT
from tests.emulator_fixtures import EmulatorHandle
from tests.gitrepo import git

if TYPE_CHECKING:
    from promote.record.tags import FactoryRecord
    from promote.session import EnvironmentSession

MIRROR = "adf_publish_mirror/adf-ml-project"
LOCAL_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
LOCAL_RESOURCE_GROUP = "adf-promote-local"
LOCAL_FACTORY = "adf-ml-project-local"
TRIGGER_STATES = ("Started", "Stopped", "Disabled")
# The installed console script, as a user runs it. (`python -m promote` in the clone would import the clone's
# committed copy of the package instead of the one under test.)
PROMOTE = str(Path(sys.executable).with_name("promote"))


@dataclass
class Project:
    path: Path
    emulator: EmulatorHandle

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "PROMOTE_EMULATOR_URL": self.emulator.endpoint,
            "PROMOTE_EMULATOR_CA": self.emulator.ca_file,
            "AZURE_SUBSCRIPTION_ID": "11111111-2222-3333-4444-555555555555",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }

    def promote(self, *args: str, timeout: float = 180, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PROMOTE, *args],
            cwd=self.path,
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def start(self, *args: str, **extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [PROMOTE, *args],
            cwd=self.path,
            env=self.env(**extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )

    def mirror(self) -> list[str]:
        return git(self.path, "log", "--reverse", "--format=%H", "--", MIRROR).split()

    def deploy(self, ref: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.promote("deploy", "--env", "local", "--ref", ref, "--yes", *extra)

    def session(self, env: str = "local", **extra: str) -> contextlib.AbstractContextManager[EnvironmentSession]:
        return session_in_process(self.path, env, self.env(**extra))

    def deployed(self, *refs: str, env: str = "local", **extra: str) -> dict[str, str]:
        """Set the scene: deploy each ref in turn, in this process, through the same service and runner as
        `promote deploy --yes` (each must succeed); the trigger states the last one leaves."""
        for ref in refs:
            lines: list[str] = []
            with self.session(env, **extra) as s:
                s.progress = lines.append
                report = s.deploy(ref, review=lambda plan: None)
            assert report.exit_code == 0, "\n".join([*lines, report.render()])
        return self.live_triggers(env)

    def planned(self, ref: str, out: Path, *, env: str = "local", full: bool = False, **extra: str) -> str:
        """Set the scene: what `promote plan --env ENV --ref REF --out OUT [--full]` saves, made in this process by
        the same service; the file's text."""
        from promote.plan import to_json

        with self.session(env, **extra) as s:
            text = to_json(s.plan(ref, full=full))
        out.write_text(text)
        return text

    def applied(self, plan_file: Path, **extra: str) -> None:
        """Set the scene: what `promote apply PLAN` does, in this process by the same service (it must succeed)."""
        from promote.plan import from_json

        plan = from_json(plan_file.read_bytes(), str(plan_file))
        lines: list[str] = []
        with self.session(plan.environment, **extra) as s:
            s.progress = lines.append
            report = s.apply(plan, str(plan_file), review=lambda checked: None)
        assert report.exit_code == 0, "\n".join([*lines, report.render()])

    def in_sync(self, ref: str, *, env: str = "local", stopped: tuple[str, ...] = (), **extra: str) -> bool:
        """The live factory equals REF's desired state, as `promote diff --env ENV --ref REF --exit-code` says it
        (the same `live_diff`, in this process).

        `stopped`: triggers the test stopped by hand (or a failure left stopped) although the template marks them
        Started. Under `triggers.start: template` (the `local` environment) that is a difference a deploy would
        undo, `runtimeState: "Stopped" -> "Started"`, and then it must be the only one.
        """
        with self.session(env, **extra) as s:
            diff = s.live_diff(ref, s.read_live())
        changes = {(c["type"], c["name"], tuple(c["paths"])) for c in diff.to_json()["changes"]}
        return changes == {("triggers", name, ("runtimeState",)) for name in stopped}

    def live_triggers(self, env: str = "local") -> dict[str, str]:
        """Every trigger's runtime state, as `promote status --format json` lists them."""
        with self.session(env) as s:
            live = s.read_live()
        return {name: trigger.runtime_state for name, trigger in sorted(live.triggers.items())}

    def record(self, env: str = "local") -> FactoryRecord:
        """The factory-side record (`promote.record.tags`) as `promote status` reads it: the deployed commit, the
        previous good one."""
        from promote.record.tags import read_record

        with self.session(env) as s:
            return read_record(s.read_live().tags)


@contextlib.contextmanager
def session_in_process(root: Path, env: str, environ: Mapping[str, str]) -> Iterator[EnvironmentSession]:
    """Environment `env` of the repository at `root`, connected to its factory in this process as a `promote`
    process with `environ` would connect (the same file, the same `${VAR}` values, the same endpoint decision:
    the test's emulator, the real SDK clients); warnings and progress are dropped.

    The process environment is `environ` for the block, as it would be for that process: what the service reads
    from it later (a `requires:` environment's endpoint, a secure value at apply time) comes from there too."""
    from promote.endpoints import open_target
    from promote.environment import find_environment, load_environment
    from promote.environment.variables import variables
    from promote.session import EnvironmentSession

    with mock.patch.dict(os.environ, environ, clear=True):
        environment = load_environment(find_environment(env, root), env=variables(environ))
        with open_target(environment, root, environ=environ) as conn:
            yield EnvironmentSession(root, environment, conn, warn=lambda line: None, progress=lambda line: None)


def local_lock(project: Project) -> Path:
    """The local lock file of the `local` environment's target factory."""
    from promote.apply.lock import TargetKey, lock_path

    return lock_path(project.path, TargetKey(LOCAL_SUBSCRIPTION, LOCAL_RESOURCE_GROUP, LOCAL_FACTORY))


def kill_after(proc: subprocess.Popen[str], marker: str, timeout: float = 120) -> str:
    """Read the process's output until a line containing `marker`, then SIGKILL it (no cleanup runs)."""
    seen: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if marker in line:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=timeout)
    return "".join(seen)


@pytest.fixture
def project(tmp_path: Path, emulator: EmulatorHandle) -> Project:
    path = tmp_path / "project"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(path)], check=True)
    if len(git(path, "log", "--format=%H", "--", MIRROR).split()) < 7:
        pytest.skip("the sample's publish history is not in this clone (shallow?)")
    return Project(path, emulator)


def error_responses(emulator: EmulatorHandle) -> list[dict[str, Any]]:
    """Requests the emulator refused with a 4xx other than a 404 on a read (reads of absent things are normal)."""
    return [
        r
        for r in emulator.requests()
        if 400 <= r["status"] < 500 and not (r["status"] == 404 and r["method"] in ("GET", "HEAD"))
    ]
