"""One promoter per target factory.

Two runs against one factory interleave their trigger stops and deployments and each restores the other's
half-state. The lock is keyed by the target (subscription, resource group, factory; compared as ARM compares
names, ignoring case), not by the environment's name: two environment files naming the same factory are one
target. It is two halves:

- Local, exact: `fcntl.flock` on `.promote/locks/<factory>-<hash of the target>.lock`. The kernel gives the lock
  to one process and takes it back when that process ends, however it ends (kill -9 included), so there is no
  pid to check and no window in which two racers both see a dead holder and both take over. The file is never
  deleted (deleting a lock file lets a third process lock a new file while a second still holds the old one);
  it holds the holder's description while held, for the refusal's message.
- Across machines: a `TargetLease` on the factory itself, taken after the local lock and released before it
  (`promote.apply.lease.FactoryLease`, in the factory's tags; the runner takes it once its checks have passed).
  The holder's description names the lock file (`machine`: the kernel's boot id and the file's device and inode),
  so that a lease left by a run that held this very file is known to be its own: holding the flock proves that
  run is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import hashlib
import json
import os
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from promote.errors import InputError
from promote.untrusted import parse_json

LOCK_DIR = Path(".promote") / "locks"


@dataclass(frozen=True)
class TargetKey:
    """What is locked: one factory, wherever it is named from."""

    subscription: str
    resource_group: str
    factory: str

    @classmethod
    def of(cls, target: Any) -> TargetKey:
        """From anything carrying the three names (an environment's `Target`, a `Connection`)."""
        return cls(str(target.subscription), str(target.resource_group), str(target.factory))

    @property
    def folded(self) -> str:
        return "/".join((self.subscription, self.resource_group, self.factory)).casefold()

    @property
    def file_name(self) -> str:
        """Readable (the factory's name, made safe) and exact (a hash of the whole target)."""
        readable = re.sub(r"[^a-z0-9-]", "_", self.factory.casefold())[:60] or "factory"
        return f"{readable}-{hashlib.sha256(self.folded.encode()).hexdigest()[:16]}.lock"

    def __str__(self) -> str:
        return f"factory {self.factory} (resource group {self.resource_group}, subscription {self.subscription})"


class TargetLease(Protocol):
    """The cross-machine half of the lock: a lease on the target factory, held by Azure.

    `acquire` takes it for `holder` or raises InputError naming who holds it; `release` gives it back. Taken
    after the local lock, so that one machine's racers never contend for the lease among themselves.
    """

    def acquire(self, holder: dict[str, str | int]) -> None: ...

    def release(self) -> None: ...


def machine_of(fd: int) -> str:
    """This lock file on this running kernel: a lease taken under it (`promote.apply.lease`) was taken by a run
    that held this flock. Two clones of the project, two containers or two machines never share it."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:  # pragma: no cover - not Linux: the host's name stands in for the boot
        boot = socket.gethostname()
    stat = os.fstat(fd)
    return hashlib.sha256(f"{boot}:{stat.st_dev}:{stat.st_ino}".encode()).hexdigest()[:16]


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


def holder_text(holder: dict[str, Any]) -> str:
    if not holder:
        return "a run that is still starting"
    text = f"{holder.get('user')} on {holder.get('host')} (pid {holder.get('pid')}) since {holder.get('since')}"
    if holder.get("environment"):
        text += f", as environment {holder['environment']}"
    if holder.get("run"):
        text += f", run {holder['run']}"
    return text


def lock_path(root: Path, key: TargetKey) -> Path:
    return Path(root) / LOCK_DIR / key.file_name


@contextlib.contextmanager
def target_lock(
    root: Path, key: TargetKey, *, environment: str = "", lease: TargetLease | None = None
) -> Iterator[dict[str, str | int]]:
    """Hold the target for the duration of the block, or refuse (exit 2) naming who holds it. Yields the holder's
    description (with its `machine`, see `machine_of`), what a lease taken later in the block names."""
    from promote.writable import writable_folder

    path = lock_path(root, key)
    writable_folder(str(path.parent), path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _refusal(path, key, _read_holder(fd)) from None
        me = {
            **holder_description(),
            **({"environment": environment} if environment else {}),
            "machine": machine_of(fd),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        try:
            if lease is not None:
                lease.acquire(me)
            try:
                yield me
            finally:
                if lease is not None:
                    lease.release()
        finally:
            os.ftruncate(fd, 0)  # no holder any more; the file stays (see the module's docstring)
    finally:
        os.close(fd)  # releases the flock


def _read_holder(fd: int) -> dict[str, Any]:
    """The holder's description; empty while it is still writing it (or when the file is not one)."""
    try:
        data = os.pread(fd, 64 * 1024, 0)
        holder = parse_json(data.decode("utf-8", errors="replace")) if data else {}
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _refusal(path: Path, key: TargetKey, holder: dict[str, Any]) -> InputError:
    return InputError.single(
        str(path),
        f"{key} is held by another promote run: {holder_text(holder)}",
        hint="wait for it to finish: the lock goes with its process, even a killed one",
    )
