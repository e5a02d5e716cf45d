"""The emulator's state in SQLite, with Azure Data Factory's rules.

Plain state plus the service's rules, and nothing about HTTP: every method takes names and JSON values and
either returns what Azure would answer or raises an `EmulatorError` that knows its status, code and message
(moto's and Azurite's split). The deployment engine writes through the same methods, so an object written by
a deployment meets exactly the rules of a direct PUT.

`Store` is one object over one connection, assembled from a part per thing it holds:

- `values`: the vocabulary (Kind, GroupScope, Page, timestamps, etags, tokens, masking), no state;
- `database`: the schema, the connection, transactions and reads (concurrency is described there);
- `factories`: factories and their rules;
- `objects`: child objects and ADF's rules on them (names, references, started triggers, runtime type,
  private endpoints);
- `triggers`: what start and stop change (runtime state, event subscriptions, change data capture);
- `runs`: pipeline runs on the emulator's clock;
- `deployment_records`: the rows of deployments (the engine in `deployments/` owns their behaviour).
"""

from __future__ import annotations

from promote.emulator.store.deployment_records import DeploymentRecords
from promote.emulator.store.factories import Factories
from promote.emulator.store.objects import Objects
from promote.emulator.store.runs import Runs
from promote.emulator.store.triggers import Triggers
from promote.emulator.store.values import (
    FACTORY_TYPE,
    KIND_BY_TYPE,
    KINDS,
    MASK,
    MPE_TYPE,
    GroupScope,
    Kind,
    Page,
    as_adf_keeps,
    iso,
)


class Store(Factories, Objects, Triggers, Runs, DeploymentRecords):
    """Factories, their objects, trigger states, pipeline runs and deployments, in one SQLite file."""


__all__ = [
    "FACTORY_TYPE",
    "KINDS",
    "KIND_BY_TYPE",
    "MASK",
    "MPE_TYPE",
    "GroupScope",
    "Kind",
    "Page",
    "Store",
    "as_adf_keeps",
    "iso",
]
