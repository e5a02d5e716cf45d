"""Which emulators are running on a state directory, so that a deployment left behind by one that died can be
told from one another live emulator is still running.

Several emulators may share one state directory: `promote emulator` in a terminal, and each `promote` process of
the `local` environment, which runs its own in-process. Each holds an exclusive `flock` on its own file in
`instances/` for as long as it runs. The kernel drops the lock when the process ends, however it ends
(SIGKILL included), so "its file can be locked" means "it is gone", without trusting a pid that may have been
reused. Where `fcntl` does not exist (Windows), an instance counts as gone only when its file is gone (a clean
stop removes it).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

INSTANCE_DIR = "instances"


class Instance:
    """This emulator's claim on a state directory, and the liveness of the others."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = Path(state_dir) / INSTANCE_DIR
        self.token = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._fd: int | None = None

    def _path(self, token: str) -> Path:
        return self.dir / f"{token}.lock"

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path(self.token), os.O_RDWR | os.O_CREAT, 0o600)
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._fd = fd

    def stop(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self._path(self.token).unlink()
        os.close(self._fd)  # releases the lock
        self._fd = None

    def alive(self, token: str | None) -> bool:
        """Whether the emulator that wrote `token` is still running (this one is)."""
        if token is None:
            return False
        if token == self.token:
            return self._fd is not None
        path = self._path(token)
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            return False  # stopped cleanly (or never here)
        try:
            if fcntl is None:
                return True
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True  # its process holds the lock
            with contextlib.suppress(OSError):  # its process is gone: tidy up after it
                path.unlink()
            return False
        finally:
            os.close(fd)
