"""Shared fixtures. Reference material lives beside the project in ../shared/reference (present in CI)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference"

# `promote` writes job summaries and annotations when it runs in GitHub Actions (`promote.github`). The tests run
# it on purpose with failures; when the suite itself runs in Actions (ci.yml), those must not land in the real
# job's summary and annotations. Tests that want them give their own (tests/test_workflows.py).
for _name in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH"):
    os.environ.pop(_name, None)


def pytest_configure(config: pytest.Config) -> None:
    """Compile `promote/` to bytecode once, before the workers start. The suite runs hundreds of `promote`
    processes; where PYTHONDONTWRITEBYTECODE is set (as in some shells and CI) and the clone is fresh, none writes
    its `.pyc` files, and each compiled every module it imported again: 50-90 ms of CPU per process (a third of
    `promote validate`). `compileall` writes them whatever that variable says, and skips what is up to date."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    import compileall

    compileall.compile_dir(ROOT / "promote", quiet=1)


def reference_path(*parts: str) -> Path:
    """Path under ../shared/reference; skips the calling test when the reference material is absent."""
    path = REFERENCE.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference material not found at {path} (it sits beside the project in CI, not in a clone)")
    return path


@pytest.fixture
def reference_dir() -> Path:
    return reference_path()


# The emulator's fixtures (emulator, adf_client, deployments_client, emulator_factory): tests/emulator_fixtures.py.
from tests.emulator_fixtures import (  # noqa: E402, F401
    adf_client,
    deployments_client,
    emulator,
    emulator_factory,
    emulator_server,
)
from tests.engine_project import project  # noqa: E402, F401  (a clone of this repository where promote runs)
