"""Resource group deployments without HTTP, in parts:

- `model`: the plain data (a resource evaluated and placed, a deployment ready to run);
- `validation`: ARM's template validation, producing that data;
- `graph`: dependsOn resolved, cycles refused, the order of running;
- `running`: a worker writing the resources through the store and recording each operation;
- `recording`: the deployment's and its operations' bodies, in ARM's shapes;
- `diffing`: what-if;
- `service`: `Deployments`, the operations the HTTP handlers (`api/resources.py`) call.
"""

from promote.emulator.deployments.service import Accepted, Deployments

__all__ = ["Accepted", "Deployments"]
