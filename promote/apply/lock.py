"""One promoter per environment.

Two runs against one factory interleave their trigger stops and deployments and each restores the other's
half-state. A lock file beside the run (`.promote/locks/<env>.lock`, created with O_EXCL) refuses the second run
and names the holder; a holder that died on this host (its pid is gone) no longer holds it. Runs on different
machines are kept apart by the CI's concurrency group (see `.github/workflows/promote.yml`).
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from promote.errors import InputError


def holder_description() -> dict[str, str | int]:
    """Who is running: user, host, pid, and the CI run when there is one."""
    run = os.environ.get("GITHUB_RUN_ID")
    who: dict[str, str | int] = {
        "user": os.environ.get("GITHUB_ACTOR") or _user(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "since": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if run:
        server, repo = os.environ.get("GITHUB_SERVER_URL", ""), os.environ.get("GITHUB_REPOSITORY", "")
        who["run"] = f"{server}/{repo}/actions/runs/{run}"
    return who


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # pragma: no cover - no user name in some containers
        return "unknown"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - exists, owned by someone else
        return True
    return True


def describe(holder: dict[str, object]) -> str:
    text = f"{holder.get('user')} on {holder.get('host')} (pid {holder.get('pid')}) since {holder.get('since')}"
    if holder.get("run"):
        text += f", run {holder['run']}"
    return text


@contextmanager
def environment_lock(root: Path, environment: str) -> Iterator[None]:
    """Hold the environment for the duration of the block, or refuse (exit 2) naming who holds it."""
    from promote.environment.layout import scoped  # one factory's staging never holds another's

    path = root / ".promote" / "locks" / f"{scoped(environment)}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    me = holder_description()
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                holder = json.loads(path.read_text() or "{}")
            except (OSError, ValueError):
                holder = {}
            same_host = holder.get("host") == me["host"]
            pid = holder.get("pid")
            if same_host and isinstance(pid, int) and not _alive(pid):
                path.unlink(missing_ok=True)  # its holder died: the journal tells what it left
                continue
            raise InputError.single(
                str(path),
                f"environment {environment} is held by another promote run: {describe(holder)}",
                hint="wait for it to finish; if it is gone for good, delete this lock file",
            ) from None
        with os.fdopen(fd, "w") as handle:
            json.dump(me, handle)
        break
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
