"""docs/: the environment file's reference lists every key the reader accepts, with the defaults the model has and
the error a typo really gives, so that it cannot go stale; the adoption guide's callers are what `promote init`
writes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from promote.environment import model, reader
from promote.environment.reader import load_environment
from promote.errors import EnvironmentFileError
from promote.init.callers import callers
from tests.conftest import ROOT

REFERENCE = ROOT / "docs" / "environments.md"


def documented() -> dict[str, str]:
    """`key` → its table row, from every table of the reference."""
    rows = {}
    for line in REFERENCE.read_text().splitlines():
        match = re.match(r"^\| `([^`]+)` \|(.*)$", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def accepted() -> set[str]:
    keys = set(reader.TOP_KEYS)
    keys |= {f"target.{k}" for k in reader.TARGET_KEYS}
    keys |= {f"parameters.<name>.keyvault.{k}" for k in reader.KEYVAULT_KEYS}
    keys |= {f"overrides[].{k}" for k in reader.OVERRIDE_KEYS}
    keys |= {f"triggers.{k}" for k in reader.TRIGGER_KEYS}
    keys |= {f"deletion.{k}" for k in reader.DELETION_KEYS}
    keys |= {f"smoke[].{k}" for k in reader.SMOKE_KEYS}
    keys |= {f"runs.{k}" for k in reader.RUNS_KEYS}
    return keys


def test_the_reference_lists_every_key_the_reader_accepts_and_no_other():
    assert set(documented()) == accepted()


@pytest.mark.parametrize(
    ("key", "default"),
    [
        ("target.location", model.DEFAULT_LOCATION),
        ("target.endpoint", model.ENDPOINTS[0]),
        ("triggers.stop", model.TriggerPolicy().stop),
        ("triggers.start", model.TriggerPolicy().start),
        ("triggers.subscription_timeout", f"{model.DEFAULT_SUBSCRIPTION_TIMEOUT}"),
        ("deletion.enabled", "true" if model.DeletionPolicy().enabled else "false"),
        ("deletion.max_share", f"{model.DEFAULT_MAX_SHARE}"),
        ("smoke[].timeout", f"{model.DEFAULT_SMOKE_TIMEOUT}"),
        ("runs.in_progress", model.RunsPolicy().in_progress),
        ("runs.timeout", f"{model.DEFAULT_RUNS_TIMEOUT}"),
    ],
)
def test_the_documented_defaults_are_the_models(key: str, default: str):
    assert documented()[key].split("|")[0].strip() == f"`{default}`"


def test_the_documented_typo_gives_the_documented_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    text = REFERENCE.read_text()
    yaml_block, error_block = re.findall(r"```(?:yaml|text)\n(.*?)```", text, re.S)[:2]
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "staging.yaml").write_text(yaml_block)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(EnvironmentFileError) as caught:
        load_environment(Path("environments/staging.yaml"), env={})
    assert str(caught.value).strip() == error_block.strip()


def test_the_adoption_guide_shows_the_callers_promote_init_writes():
    guide = (ROOT / "docs" / "adoption.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", guide, re.S)
    written = callers("<owner>/adf-promote@<ref>", "adf_publish", collaboration_root="adf")
    assert len(written) == 3
    for path, text in written.items():
        body = text[text.index("name:") :]  # the guide leaves out the header comment
        assert body in blocks, path
