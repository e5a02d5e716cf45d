"""What every command that talks to a target factory shares: the environment, the connection, the live state,
and how a plan is made for a git revision. The commands themselves (`deploy`, `apply`, `rollback`, ...) are
thin layers over this.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from promote.desired import Side, deployable_problems, load_env, load_side, project_root
from promote.environment import Environment
from promote.errors import InputError, Problem
from promote.live import LiveState


@dataclass
class Session:
    """One environment, connected."""

    root: Path
    env: Environment
    conn: Any
    source: str | None  # --source, when given
    warned: set[str] = field(default_factory=set)

    def read_live(self, conn: Any = None) -> LiveState:
        from promote.azure.reader import read_live

        return read_live(conn or self.conn)

    def ensure_local_factory(self) -> None:
        """The `local` environment's factory is created on first use (in Azure a factory is never created).
        Commands that may refuse call this only after their checks: a refused run touches nothing."""
        if self.env.target.endpoint == "local":
            from promote.azure.operations import ensure_factory

            ensure_factory(self.conn, self.env.target.location)

    def commit_of(self, ref: str) -> str:
        """The commit a git revision names, without evaluating anything (a folder is not a deployable version)."""
        from promote.source import resolve_ref

        if Path(ref).exists():
            raise _not_a_revision(ref)
        return resolve_ref(self.root, ref).commit

    def desired(self, ref: str) -> Side:
        """The desired state of a git revision with this environment (a path is not a deployable version)."""
        side = load_side(ref, source=self.source, env=self.env, root=self.root)
        if side.revision is None:
            raise _not_a_revision(ref)
        for warning in side.warnings:
            if warning not in self.warned:
                self.warned.add(warning)
                print(f"warning: {warning}", file=sys.stderr)
        return side

    def plan_for(
        self,
        ref: str,
        live: LiveState,
        *,
        full: bool = False,
        rollback: bool = False,
        undo_creates: Any = (),
        rotate_secrets: bool = False,
    ) -> Any:
        """The plan that takes the live factory to `ref`'s desired state (`rollback`, `undo_creates`: see
        `build_plan`; `rotate_secrets`: see `promote.normalise.rotated`)."""
        from promote.diff import diff_factories
        from promote.normalise import desired_vs_live, rotated
        from promote.plan import build_plan

        side = self.desired(ref)
        assert side.revision is not None  # `desired` refuses a folder
        refused = deployable_problems(side)  # what ADF published that ARM refuses whatever the values
        if refused:
            raise InputError(refused)
        live_side, desired = desired_vs_live(side.factory, live, start=self.env.triggers.start)
        diff = diff_factories(live_side, desired)
        if rotate_secrets:
            diff = rotated(diff, live_side, desired)
        return build_plan(
            desired=side.factory,
            live=live,
            diff=diff,
            env=self.env,
            commit=side.revision.commit,
            source=side.label,
            secure_parameters=secure_parameters(side),
            now=datetime.now(timezone.utc),
            full=full,
            rollback=rollback,
            undo_creates=undo_creates,
        )


def _not_a_revision(ref: str) -> InputError:
    return InputError.single(
        ref,
        "a deployment needs a git revision, not a folder: what is deployed must be findable again",
        hint="commit the factory and pass the commit, a branch or a tag",
    )


def secure_parameters(side: Side) -> dict[str, tuple[str, Any, str]]:
    """placeholder -> (deployment parameter name, where its value comes from, type) for the plan's templates.

    A Key Vault reference goes to ARM as it is; a `${VAR}` value is read from the process when the plan is
    applied. The plan never holds a secret.
    """
    out: dict[str, tuple[str, Any, str]] = {}
    if side.env is None or side.values is None:
        return out
    problems = secure_value_problems(side.env, side.published.parameters)
    if problems:
        raise InputError(problems)
    given = {name.lower(): pv for name, pv in side.env.parameters.items()}
    for name, spec in side.published.parameters.items():
        value = side.values.values.get(name)
        pv = given.get(name.lower())
        if not spec.secure or pv is None or not isinstance(value, str) or not value.startswith("<"):
            continue
        if pv.keyvault is not None:
            out[value] = (name, pv.keyvault, spec.type)
        elif pv.env_var:
            out[value] = (name, pv.env_var, spec.type)
    return out


def secure_value_problems(env: Environment, parameters: Mapping[str, Any]) -> list[Problem]:
    """Secure values taken from the process environment that are not exactly `${VARIABLE}` (a plan could only
    hold them, not name them). Shared by deploys and `promote validate`, so that validate refuses what a deploy
    refuses. Never echoes the value."""
    declared = {name.lower(): spec for name, spec in parameters.items()}
    problems: list[Problem] = []
    for pv in env.parameters.values():
        spec = declared.get(pv.name.lower())
        if spec is None or not spec.secure or pv.keyvault is not None or not pv.from_env or pv.env_var:
            continue
        problems.append(
            Problem(
                env.file,
                "a secure value taken from the environment must be exactly ${VARIABLE}",
                object=f"parameters.{pv.name}",
                line=pv.line,
                hint="so that a saved plan can name the variable instead of holding the secret",
            )
        )
    return problems


# A `local` environment normally runs the emulator inside the promote process. These point it at an emulator
# that is already running instead (`promote emulator` in another terminal, or a test's), so that its state,
# clock and fault rules are shared: the URL it printed and its CA file.
EMULATOR_URL = "PROMOTE_EMULATOR_URL"
EMULATOR_CA = "PROMOTE_EMULATOR_CA"


@contextlib.contextmanager
def connect_to(env: Environment, root: Path) -> Iterator[Any]:
    from promote.azure.connection import LOCAL_SETTINGS, connect, open_connection

    url = os.environ.get(EMULATOR_URL)
    if env.target.endpoint != "local" or not url:
        with open_connection(env.target, project_root=root) as conn:
            yield conn
        return
    from promote.emulator import EmulatorCredential

    conn = connect(
        subscription=env.target.subscription,
        resource_group=env.target.resource_group,
        factory=env.target.factory,
        credential=EmulatorCredential(),
        endpoint=url,
        ca_file=os.environ.get(EMULATOR_CA),
        location=env.target.location,
        settings=LOCAL_SETTINGS,
    )
    try:
        yield conn
    finally:
        conn.close()


@contextlib.contextmanager
def session(env_name: str, *, source: str | None = None, create_local_factory: bool = False) -> Iterator[Session]:
    """Load the environment and connect to its target for the block."""
    root = project_root()
    env = load_env(env_name, root)
    with connect_to(env, root) as conn:
        s = Session(root, env, conn, source)
        if create_local_factory:
            s.ensure_local_factory()
        yield s
