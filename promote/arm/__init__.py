"""The ARM template language as Azure Data Factory emits it.

Public contract (used by the loader, the environment, and the emulator's deployments; keep it stable):

- `parse_template(text, file)`: JSON text (str or bytes, UTF-8 with or without BOM) -> dict; bad JSON raises
  `TemplateError` naming the file, line and column.
- `evaluate_template(template, parameter_values, *, file, context=None)` -> `EvaluatedTemplate`.
- `DeploymentContext`: subscription, resource group, deployment name, location used by `resourceId()`,
  `resourceGroup()`, `subscription()`, `deployment()`.

Implementation lives in `expressions.py` (tokenize, parse, evaluate one expression), `functions/` (ARM's
functions, by group), `values.py` (ARM's values and the operations on them), `errors.py` (`ExpressionError`) and
`template.py` (parameters, variables, resources).
"""

from promote.arm.template import (
    DeploymentContext,
    EvaluatedResource,
    EvaluatedTemplate,
    ParameterSpec,
    evaluate_template,
    parse_template,
)

__all__ = [
    "DeploymentContext",
    "EvaluatedResource",
    "EvaluatedTemplate",
    "ParameterSpec",
    "evaluate_template",
    "parse_template",
]
