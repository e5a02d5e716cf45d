"""Where `promote` writes files of its own (`plan --out`, the emulator's state, `.promote/`): checked before the
first write anywhere, so that a path that cannot be written is bad input (exit 2) naming the option or folder,
not a failure half way through a run."""

from __future__ import annotations

import tempfile
from pathlib import Path

from promote.errors import InputError


def writable_file(option: str, name: str) -> Path:
    """A file an option says to write: refused when it is a folder, its folder is missing, or cannot be written."""
    path = Path(name)
    if path.is_dir():
        raise InputError.single(option, f"{name} is a folder", hint="give a file name, for example plan.json")
    if not path.parent.is_dir():
        raise InputError.single(option, f"the folder {path.parent} does not exist", hint="create it first")
    writable_folder(option, path.parent)
    return path


def writable_folder(what: str, path: Path) -> Path:
    """A folder `promote` keeps files in, created when missing: refused when it cannot be (a file in the way, no
    permission, a read-only file system). Tried by creating a file there: permissions alone do not tell."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError.single(what, f"{path} is not a folder", hint="give a folder, or move that file away")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError.single(
            what, f"cannot write into the folder {path}: {reason}", hint="give a folder this user can write"
        ) from None
    return path
