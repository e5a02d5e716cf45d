"""The table of ARM functions the compiler knows, and the ARM functions it refuses with a reason.

A function module registers each implementation with `@arm_function(name, min_args, max_args)`; the compiler
checks the argument count when it compiles a call, so a wrong count fails even in a branch that would not run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class _Function:
    impl: Callable[..., Any]
    min_args: int
    max_args: int | None  # None: any number
    lazy: bool = False  # impl(scope, literals, arg_closures) instead of impl(scope, values)


FUNCTIONS: dict[str, _Function] = {}


def arm_function(name: str, min_args: int, max_args: int | None = -1, *, lazy: bool = False):
    """Register an ARM function under its lower-cased name (max_args -1: exactly min_args)."""

    def register(impl: Callable[..., Any]) -> Callable[..., Any]:
        FUNCTIONS[name.lower()] = _Function(impl, min_args, min_args if max_args == -1 else max_args, lazy)
        return impl

    return register


# Functions that exist in ARM but that an offline, deterministic evaluator must refuse, with the reason.
_REFUSED: dict[str, str] = {
    "reference": "it reads a deployed resource's state, which promote never queries while evaluating",
    "list": "list* functions read secrets from a deployed resource; give the value as a parameter instead",
    "newguid": "it is not deterministic; every diff would show a change",
    "utcnow": "it is not deterministic; every diff would show a change",
    "copyindex": "copy loops are not supported (ADF never emits them)",
    "pickzones": "it needs Azure's zone data",
    "providers": "it needs Azure's provider registry",
    "environment": "it describes an Azure cloud; write the value in the template or a parameter",
    "managementgroup": "promote deploys to a resource group only",
    "managementgroupresourceid": "promote deploys to a resource group only",
    "tenant": "promote deploys to a resource group only",
    "lambda": "lambda functions are not supported",
    "filter": "lambda functions are not supported",
    "map": "lambda functions are not supported",
    "reduce": "lambda functions are not supported",
    "sort": "lambda functions are not supported",
    "toobject": "lambda functions are not supported",
    "groupby": "lambda functions are not supported",
    "mapvalues": "lambda functions are not supported",
}


def refusal(name: str) -> str | None:
    lower = name.lower()
    if lower.startswith("list"):
        return _REFUSED["list"]
    return _REFUSED.get(lower)
