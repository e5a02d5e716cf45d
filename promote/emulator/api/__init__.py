"""The routing tables: thin handlers (request -> one store or engine call -> Azure's envelope), one module per
API, as moto splits a service into `urls` and `responses`.

- `datafactory`: factories, their child objects, triggers, pipeline runs, change data capture (2018-06-01);
- `resources`: resource group deployments and their operations (Microsoft.Resources);
- `admin`: the control API under `/_emulator` (no token, never faulted or logged).
"""

from __future__ import annotations

from promote.emulator.api import datafactory, resources
from promote.emulator.api.admin import ADMIN_PREFIX, admin_router
from promote.emulator.app import App
from promote.emulator.routing import Router


def build_router() -> Router[App]:
    """Every route of the Azure APIs the emulator serves, in matching order."""
    router: Router[App] = Router()
    datafactory.add_routes(router)
    resources.add_routes(router)
    return router


__all__ = ["ADMIN_PREFIX", "admin_router", "build_router"]
