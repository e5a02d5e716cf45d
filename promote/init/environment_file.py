"""A published factory's parameters as `environments/<env>.yaml`, for a person to finish.

Every parameter the template declares is listed, with its type and the published (development) value as a
comment. What only a person can know is left as a placeholder that `promote validate` refuses until it is filled:
an empty value (`has no value`), `<...>` in `target:` and in Key Vault names. Values from a parameters file
(`--from-parameters`) are written as they are; a secure one becomes a Key Vault reference (as the file's own
reference, or a placeholder when the file held the secret in plain text) or a `${VAR}`.

Values are written as JSON, which YAML reads back as the same values; whatever is quoted from the template in a
comment is JSON-escaped onto one line, so that no published text can add a key to the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from promote.arm import ParameterSpec
from promote.init.parameters import GivenValue

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
COMMENT_WIDTH = 100


def _key(name: str) -> str:
    return name if _PLAIN_KEY.match(name) else json.dumps(name)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _quoted(value: Any) -> str:
    """A published value for a comment: one line, JSON-escaped, shortened."""
    text = _json(value)
    return text if len(text) <= COMMENT_WIDTH else text[: COMMENT_WIDTH - 3] + "..."


def secret_name(parameter: str) -> str:
    """A Key Vault secret name suggested for a parameter (letters, digits and '-', at most 127)."""
    return re.sub(r"-+", "-", re.sub(r"[^0-9A-Za-z-]", "-", parameter)).strip("-")[:127] or "secret"


def _is_factory_name(name: str) -> bool:
    return name.lower() == "factoryname"


def environment_file(
    name: str,
    source: str,
    parameters: Mapping[str, ParameterSpec],
    published: Mapping[str, Any],
    *,
    given: Mapping[str, GivenValue] | None = None,
    given_label: str = "",
    requires: str | None = None,
) -> str:
    """The text of `environments/<name>.yaml` for the factory published in `source`."""
    given = dict(given or {})
    by_lower = {k.lower(): k for k in given}
    factory = next((given[k].value for k in given if _is_factory_name(k) and isinstance(given[k].value, str)), None)
    origin = f"from {given_label}" if given_label else "from the published factory"
    lines = [
        f"# environments/{name}.yaml: written by `promote init` {origin} ({source}).",
        "# Fill in what is empty or <...>; then `promote validate` must pass. docs/environments.md explains every key.",
        "",
        f"source: {_json(source)}                     # the folder ADF publishes the factory into",
        "",
        "target:",
        "  subscription: <subscription id>       # the subscription of the target factory (a GUID)",
        "  resource_group: <resource group>",
        f"  factory: {_json(factory) if factory else '<factory name>'}"
        + ("                # from factoryName" if factory else "       # it must exist: promote writes its objects"),
        "  endpoint: cloud",
    ]
    if requires:
        lines += ["", f"requires: {requires}                     # only commits that succeeded in {requires}"]
    declared = [(n, s) for n, s in parameters.items() if not _is_factory_name(n)]
    lines += ["", "parameters:" if declared else "parameters: {}"]
    for pname, spec in declared:
        lines += _parameter(pname, spec, published, given.pop(by_lower.get(pname.lower(), ""), None), given_label)
    leftover = [k for k in given if not _is_factory_name(k)]
    if leftover:
        lines += ["", f"# In {given_label} but not declared by the template (left out):"]
        lines += [f"#   {_quoted(k)}" for k in leftover]
    lines += [
        "",
        "# Policies, with their defaults (docs/environments.md):",
        "# triggers: {stop: changed, start: previous, subscription_timeout: 300}",
        "# deletion: {enabled: true, protected: [], max_share: 0.5}",
        "# smoke: [{pipeline: <a pipeline that checks the deploy>, parameters: {}, timeout: 600}]",
        "# overrides: [{object: pipelines/<name>, path: properties.<path>, value: <value>}]",
        "",
    ]
    return "\n".join(lines)


def _parameter(
    name: str, spec: ParameterSpec, published: Mapping[str, Any], given: GivenValue | None, label: str
) -> list[str]:
    key = _key(name)
    about = spec.type + ("" if spec.has_default else ", required")
    if name in published and not spec.secure:
        about += f"; published: {_quoted(published[name])}"
    elif spec.has_default and not spec.secure and isinstance(spec.default, (str, int, float, bool, list, dict)):
        about += f"; template default: {_quoted(spec.default)}"
    lines = [f"  # {about}"]
    if given is not None and given.keyvault:
        fields = {"id": given.vault_id, "secret": given.secret}
        if given.version:
            fields["version"] = given.version
        inner = ", ".join(f"{k}: {_json(v)}" for k, v in fields.items())
        return [*lines, f"  {key}:", f"    keyvault: {{{inner}}}"]
    if given is not None and given.variable:
        return [*lines, f"  {key}: ${{{given.variable}}}"]
    if spec.secure:
        if given is not None:
            lines.append(f"  # {label} gave it in plain text: keep the secret in Key Vault instead")
        return [
            *lines,
            f"  {key}:                               # or ${{VARIABLE}}, a secret of the GitHub environment",
            f"    keyvault: {{vault: <vault>, secret: {secret_name(name)}}}",
        ]
    if given is not None:
        return [*lines, f"  {key}: {_json(given.value)}"]
    return [*lines, f"  {key}:"]
