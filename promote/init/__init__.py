"""Adopting adf-promote in a repository that ADF publishes to: `promote init`.

- `access`: the GitHub environments a repository needs (names, deployment branches, reviewers), the Azure
  identities behind them (federated credential subjects, roles, the custom roles built-in ones lack), and the
  exact commands that create them;
- `environment_file`: a published factory's parameters → `environments/<env>.yaml`;
- `parameters`: an ARM parameters file (or an `overrideParameters` string) → an environment's values;
- `callers`: the two short workflows that call the reusable workflow;
- `writer`: what `promote init` writes, refusing to overwrite anything.
"""
