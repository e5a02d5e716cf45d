"""Where `${VAR}` values come from: the process environment, and GitHub secrets handed over as one JSON object.

A GitHub job sees the secrets of the environment it names; the reusable workflow gives them to promote whole, as
`PROMOTE_SECRETS: ${{ toJSON(secrets) }}`, so that an environment file's `${VAR}` can name any of them without a
workflow edit per secret, and a job still gets only its own environment's. The process environment wins over it
(what a person sets on purpose). Names are only looked up, never listed; values are never printed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from promote.errors import InputError
from promote.untrusted import parse_json

SECRETS_VARIABLE = "PROMOTE_SECRETS"


def variables(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables `${VAR}` may name: `environ` (default: the process's), over the secrets in PROMOTE_SECRETS.

    A PROMOTE_SECRETS that is not a JSON object of strings is bad input (exit 2); the message never quotes it.
    """
    environ = os.environ if environ is None else environ
    raw = environ.get(SECRETS_VARIABLE)
    if not raw:
        return dict(environ)
    try:
        secrets = parse_json(raw)
    except ValueError:
        secrets = None
    if not isinstance(secrets, dict) or not all(isinstance(v, str) for v in secrets.values()):
        raise InputError.single(
            SECRETS_VARIABLE,
            "is not a JSON object of strings",
            hint="set it to ${{ toJSON(secrets) }} in the workflow, or unset it",
        )
    return {**{str(k): v for k, v in secrets.items()}, **environ}
