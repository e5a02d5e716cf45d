"""`environments/<env>.yaml` -> a validated `Environment`, and its checks against a template and a factory.

An environment file is the only input a platform engineer writes by hand, so every mistake in it is reported
at once, each with file, line and key, before anything touches Azure (`EnvironmentFileError`, exit code 2).

Three consumers use the result:

- the template evaluator, through `values_for_template`: plain values in which every secret is an opaque
  placeholder (so secrets never reach a diff or a printout), plus the ARM deployment parameters that carry the
  real values or Key Vault references for the deploy itself;
- the desired state, through `apply_overrides`: property values that ADF did not parameterize;
- the plan and apply stages: trigger, deletion, smoke-test and runs-in-progress policy.

The package, by what each module holds (import from `promote.environment`, which re-exports the public names):

- `model`: the values (`Environment`, `Target`, the policies, `ParameterValue`, `Override` and its path segments,
  `TemplateValues`);
- `paths`: object keys and property paths as written (`parse_object_key`, `parse_path`, `format_path`);
- `nodes`: a YAML node tree read into typed values with line numbers, every problem collected;
- `reader`: the file's schema on top of it (`load_environment`), and the environment files of a folder
  (`available_environments`);
- `layout`: where a repository's environment files are, one factory or a folder per factory, and which file an
  environment's name means (`find_environment`);
- `values`: the parameters checked against a template (`values_and_problems`, `values_for_template`);
- `overrides`: the overrides and smoke pipelines checked against a factory (`apply_overrides`, `check_smoke`);
- `hints`: the shared wording of problems ("did you mean ...").

Decisions where the contract is silent:

- `${VAR}` is expanded in strings only: target fields, Key Vault fields, parameter values, override values and
  smoke-test parameters (also inside lists and mappings). `$${` writes a literal `${`. Enums, numbers,
  booleans, object keys, paths and globs are never expanded: they are policy, not per-run values.
- Schema fields that must be strings (names, ids) take the scalar as written, so `factory: 0123` stays "0123";
  free-form values (parameters, overrides) keep YAML's types, including YAML 1.1's `on`/`yes` booleans, which
  the check against the template then reports for string parameters ("quote it").
- A Key Vault named by `vault:` is assumed to live in the target's subscription and resource group unless the
  reference says `resource_group:` / `subscription:`; `id:` names it exactly.
- A Key Vault reference is accepted only for `securestring`/`secureobject` parameters: ARM shows the values of
  other parameters in the deployment history, which would publish the secret.
- Parameter names match the template's case-insensitively, as ARM does.
"""

from promote.environment.layout import find_environment
from promote.environment.model import (
    DEFAULT_LOCATION,
    DeletionPolicy,
    Environment,
    Index,
    Key,
    KeyVaultRef,
    Match,
    Override,
    ParameterValue,
    RunsPolicy,
    SmokePipeline,
    Target,
    TemplateValues,
    TriggerPolicy,
)
from promote.environment.overrides import apply_overrides, check_overrides, check_smoke, overrides_and_problems
from promote.environment.paths import ValueSyntaxError, format_path, parse_object_key, parse_path
from promote.environment.reader import available_environments, declared_source, load_environment, load_target
from promote.environment.values import check_parameters, values_and_problems, values_for_template

__all__ = [
    "DEFAULT_LOCATION",
    "DeletionPolicy",
    "Environment",
    "Index",
    "Key",
    "KeyVaultRef",
    "Match",
    "Override",
    "ParameterValue",
    "RunsPolicy",
    "SmokePipeline",
    "Target",
    "TemplateValues",
    "TriggerPolicy",
    "ValueSyntaxError",
    "apply_overrides",
    "available_environments",
    "check_overrides",
    "check_parameters",
    "check_smoke",
    "declared_source",
    "find_environment",
    "format_path",
    "load_environment",
    "load_target",
    "overrides_and_problems",
    "parse_object_key",
    "parse_path",
    "values_and_problems",
    "values_for_template",
]
