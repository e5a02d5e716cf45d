"""A local stand-in for the Azure Resource Manager and Data Factory endpoints the promoter calls.

The real `azure-mgmt-*` clients talk to it unchanged (`base_url=<endpoint>`, `connection_verify=<ca file>`).
See README.md in this folder for what it serves, the rules it enforces, and the control API for tests.
Importing this package does not import the Azure SDK, nor the server: a `promote` process that talks to an
emulator running elsewhere (`PROMOTE_EMULATOR_URL`) needs the clients' credential alone, and the server (HTTP,
TLS, SQLite, the deployment engine) is imported when `EmulatorServer` or `local_state_dir` is first asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from promote.emulator.credential import EmulatorCredential
from promote.emulator.settings import Settings

if TYPE_CHECKING:
    from promote.emulator.server import EmulatorServer, local_state_dir

__all__ = ["EmulatorCredential", "EmulatorServer", "Settings", "local_state_dir"]
_SERVER = ("EmulatorServer", "local_state_dir")


def __getattr__(name: str) -> Any:
    if name in _SERVER:
        from promote.emulator import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
