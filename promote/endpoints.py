"""Where an environment's target factory is reached: Azure, or an emulator. Decided here and nowhere else.

- `endpoint: cloud` talks to Azure's public cloud with a real credential (GitHub OIDC in Actions, else
  `DefaultAzureCredential`: `az login`, managed identity, ...).
- `endpoint: local` runs the emulator inside the `promote` process, its state in `.promote/emulator/` of the
  project, so that one command after another sees the same factory.
- `PROMOTE_EMULATOR_URL` (and `PROMOTE_EMULATOR_CA`, the CA file it serves with), as `promote emulator` prints
  them, point at an emulator that is already running, so that its state, clock and fault rules are shared
  (another terminal, a test, a self-hosted runner). They apply to every `local` environment, and to a `cloud`
  environment only when `PROMOTE_EMULATOR_ENVIRONMENTS` names it (comma-separated names, or `*`): a variable
  left set in a shell must never silently turn a production deploy into a deploy to a laptop, nor the other
  way. When the URL is set but an environment does not take it, `promote` says so on stderr.

The emulator accepts any bearer token; no Azure credential is asked for on the way to one.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from promote.azure.connection import ClientSettings, Connection
    from promote.environment import Environment

EMULATOR_URL = "PROMOTE_EMULATOR_URL"
EMULATOR_CA = "PROMOTE_EMULATOR_CA"
EMULATOR_ENVIRONMENTS = "PROMOTE_EMULATOR_ENVIRONMENTS"

Kind = Literal["azure", "emulator", "in-process emulator"]
_warned: set[str] = set()


@dataclass(frozen=True)
class Endpoint:
    """Where one environment's factory is reached, and why (`warning`: a setting that was not taken)."""

    kind: Kind
    url: str | None = None  # None: Azure's public cloud, or the in-process emulator's own
    ca_file: str | None = None
    warning: str | None = None


def endpoint_for(env: Environment, environ: Mapping[str, str] | None = None) -> Endpoint:
    """The endpoint of `env`'s target: the one decision, with no I/O."""
    environ = os.environ if environ is None else environ
    url = environ.get(EMULATOR_URL) or None
    ca_file = environ.get(EMULATOR_CA) or None
    if env.target.endpoint == "local":
        return Endpoint("emulator", url, ca_file) if url else Endpoint("in-process emulator")
    chosen = {name.strip() for name in environ.get(EMULATOR_ENVIRONMENTS, "").split(",") if name.strip()}
    if url and ("*" in chosen or env.name in chosen):
        return Endpoint("emulator", url, ca_file)
    if url:
        return Endpoint(
            "azure",
            warning=f"{EMULATOR_URL} is set but environment {env.name} targets Azure (endpoint: cloud): ignored; "
            f"to point it at the emulator too, set {EMULATOR_ENVIRONMENTS}={env.name}",
        )
    return Endpoint("azure")


@contextlib.contextmanager
def open_target(
    env: Environment,
    root: Path,
    *,
    environ: Mapping[str, str] | None = None,
    settings: ClientSettings | None = None,
) -> Iterator[Connection]:
    """A connection to `env`'s target factory for the block; an in-process emulator is stopped after it.

    The factory itself is not created here (`operations.ensure_factory` does that on the deploy path of a
    `local` environment only), so that reading a missing factory reports it missing instead of creating it.
    """
    from promote.azure.connection import DEFAULT_SETTINGS, LOCAL_SETTINGS, connect

    endpoint = endpoint_for(env, environ)
    if endpoint.warning and endpoint.warning not in _warned:
        _warned.add(endpoint.warning)
        print(f"warning: {endpoint.warning}", file=sys.stderr)
    target = env.target
    with contextlib.ExitStack() as stack:
        if endpoint.kind == "azure":
            from promote.azure.credentials import ExplainedCredential, cloud_credential

            credential = ExplainedCredential(
                cloud_credential(environ), f"environment {env.name} (factory {target.factory})"
            )
            if hasattr(credential, "close"):
                stack.callback(credential.close)
            conn = connect(
                subscription=target.subscription,
                resource_group=target.resource_group,
                factory=target.factory,
                credential=credential,
                location=target.location,
                settings=settings or DEFAULT_SETTINGS,
            )
        else:
            from promote.emulator import EmulatorCredential

            url, ca_file = endpoint.url, endpoint.ca_file
            if endpoint.kind == "in-process emulator":
                from promote.emulator import EmulatorServer, local_state_dir
                from promote.writable import writable_folder

                state = writable_folder("the local environment's emulator state", local_state_dir(root))
                server = EmulatorServer(state)
                server.start()
                stack.callback(server.stop)
                url, ca_file = server.endpoint, str(server.ca_file)
            conn = connect(
                subscription=target.subscription,
                resource_group=target.resource_group,
                factory=target.factory,
                credential=EmulatorCredential(),
                endpoint=url,
                ca_file=ca_file,
                location=target.location,
                settings=settings or LOCAL_SETTINGS,
            )
        stack.callback(conn.close)
        yield conn


def export_lines(url: str, ca_file: Path) -> list[str]:
    """What `promote emulator` prints for a shell: ready to paste, the CA file as an absolute path."""
    return [f"export {EMULATOR_URL}={url}", f"export {EMULATOR_CA}={ca_file.resolve()}"]
