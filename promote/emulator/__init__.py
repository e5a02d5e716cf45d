"""A local stand-in for the Azure Resource Manager and Data Factory endpoints the promoter calls.

The real `azure-mgmt-*` clients talk to it unchanged (`base_url=<endpoint>`, `connection_verify=<ca file>`).
See README.md in this folder for what it serves, the rules it enforces, and the control API for tests.
Importing this package does not import the Azure SDK.
"""

from promote.emulator.credential import EmulatorCredential
from promote.emulator.server import EmulatorServer, local_state_dir
from promote.emulator.settings import Settings

__all__ = ["EmulatorCredential", "EmulatorServer", "Settings", "local_state_dir"]
