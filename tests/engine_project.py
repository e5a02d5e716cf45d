"""A user's project for engine tests: a clone of this repository in a temporary folder, where `promote` runs as
a real subprocess against the test's emulator (shared state, clock and fault rules)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.emulator_fixtures import EmulatorHandle
from tests.gitrepo import git

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

    def in_sync(self, ref: str, *, env: str = "local", stopped: tuple[str, ...] = ()) -> bool:
        """`promote diff --env ENV --ref REF --exit-code` says the live factory equals REF's desired state.

        `stopped`: triggers the test stopped by hand (or a failure left stopped) although the template marks them
        Started. Under `triggers.start: template` (the `local` environment) that is a difference a deploy would
        undo, `runtimeState: "Stopped" -> "Started"`, and then it must be the only one.
        """
        result = self.promote("diff", "--env", env, "--ref", ref, "--exit-code", "--format", "json")
        assert result.returncode in (0, 3), result.stderr
        changes = {(c["type"], c["name"], tuple(c["paths"])) for c in json.loads(result.stdout)["changes"]}
        return changes == {("triggers", name, ("runtimeState",)) for name in stopped}

    def live_triggers(self) -> dict[str, str]:
        result = self.promote("status", "--env", "local", "--format", "json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)["triggers"]


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
