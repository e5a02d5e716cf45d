"""Connections: the `local` endpoint runs the emulator in-process with state kept in the project, so separate
invocations see the same factory; the SDKs stay out of the command line's start-up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from promote.azure import operations as ops
from promote.azure.connection import LOCAL_SETTINGS, open_connection
from promote.azure.reader import read_live
from promote.emulator import local_state_dir
from promote.environment import Target
from tests.conftest import ROOT

TARGET = Target(
    subscription="00000000-0000-0000-0000-000000000000",
    resource_group="adf-promote-local",
    factory="adf-promote-conn-test",
    location="westeurope",
    endpoint="local",
)


def test_local_state_survives_between_invocations(tmp_path: Path) -> None:
    with open_connection(TARGET, project_root=tmp_path) as conn:
        assert conn.emulator is not None and conn.settings == LOCAL_SETTINGS
        assert read_live(conn).exists is False
        assert ops.ensure_factory(conn) is True
        ops.set_factory_tags(conn, {"promote-commit": "abc123"})
        first_endpoint = conn.endpoint
    assert (local_state_dir(tmp_path) / "state.db").exists()
    with open_connection(TARGET, project_root=tmp_path) as conn:
        live = read_live(conn)
        assert live.exists and live.tags == {"promote-commit": "abc123"}
        assert ops.ensure_factory(conn) is False
    assert first_endpoint.startswith("https://127.0.0.1:")


def test_the_cli_does_not_import_the_sdks() -> None:
    code = (
        "import sys, promote.cli, promote.azure, promote.azure.errors, promote.normalise; "
        "loaded = sorted(m for m in sys.modules if m == 'azure' or m.startswith('azure.')); "
        "print(','.join(loaded)); sys.exit(1 if loaded else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"imported at start-up: {result.stdout or result.stderr}"
