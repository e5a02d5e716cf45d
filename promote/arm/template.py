"""Evaluate a whole ARM template: parameters, variables, then every resource. (Stub: to be implemented.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DeploymentContext:
    subscription_id: str = "00000000-0000-0000-0000-000000000000"
    resource_group: str = "local"
    deployment_name: str = "promote"
    location: str = "westeurope"


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    type: str  # lower case: string, securestring, int, bool, object, secureobject, array
    has_default: bool
    default: Any = None  # evaluated default, when has_default
    metadata: Any = None

    @property
    def secure(self) -> bool:
        return self.type in ("securestring", "secureobject")


@dataclass
class EvaluatedResource:
    type: str  # as written in the template, e.g. Microsoft.DataFactory/factories/pipelines
    name: str  # evaluated, e.g. "adf-ml-project/train_mnist"
    api_version: str
    properties: Any  # evaluated, `[[` unescaped
    depends_on: list[str] = field(default_factory=list)  # evaluated
    index: int = 0  # position in the template's resources list
    other: dict[str, Any] = field(default_factory=dict)  # other evaluated top-level keys (location, tags, ...)


@dataclass
class EvaluatedTemplate:
    file: str
    parameters: dict[str, ParameterSpec]
    parameter_values: dict[str, Any]
    variables: dict[str, Any]
    resources: list[EvaluatedResource]


def parse_template(text: str | bytes, file: str) -> dict:
    raise NotImplementedError


def evaluate_template(
    template: dict,
    parameter_values: dict[str, Any],
    *,
    file: str,
    context: DeploymentContext | None = None,
) -> EvaluatedTemplate:
    raise NotImplementedError
