"""Bad input exits 2 with a message naming the file and what to fix (real `promote` subprocesses)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_cli_diff import MIRROR, promote

GOOD = ROOT / MIRROR


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder (not a git repository) holding a copy of the sample and its environments."""
    shutil.copytree(GOOD, tmp_path / MIRROR, ignore=shutil.ignore_patterns("linkedTemplates"))
    shutil.copytree(ROOT / "environments", tmp_path / "environments")
    return tmp_path


def template(project: Path) -> Path:
    return project / MIRROR / "ARMTemplateForFactory.json"


def diff_against_itself(project: Path, *extra: str):
    folder = str(project / MIRROR)
    return promote("diff", "--from", folder, "--to", folder, *extra, cwd=project)


def test_truncated_json(project):
    raw = template(project).read_text()
    template(project).write_text(raw[: len(raw) // 2])
    result = diff_against_itself(project)
    assert result.returncode == 2
    assert "ARMTemplateForFactory.json" in result.stderr
    assert "invalid JSON" in result.stderr and "line" in result.stderr


def test_template_with_no_resources(project):
    doc = json.loads(template(project).read_text())
    doc["resources"] = []
    template(project).write_text(json.dumps(doc))
    result = diff_against_itself(project)
    assert result.returncode == 2
    assert "ARMTemplateForFactory.json" in result.stderr
    assert "no Data Factory objects" in result.stderr and "refusing an empty factory" in result.stderr


def test_duplicate_object_names(project):
    doc = json.loads(template(project).read_text())
    pipeline = next(r for r in doc["resources"] if r["type"].endswith("/pipelines"))
    twin = json.loads(json.dumps(pipeline))
    twin["name"] = twin["name"].upper()  # names are case-insensitive in ADF
    doc["resources"].append(twin)
    template(project).write_text(json.dumps(doc))
    result = diff_against_itself(project)
    assert result.returncode == 2
    assert "duplicate object" in result.stderr and "defined twice" in result.stderr
    assert "ARMTemplateForFactory.json" in result.stderr


def test_unsupported_function_names_file_object_and_function(project):
    doc = json.loads(template(project).read_text())
    linked = next(r for r in doc["resources"] if r["type"].endswith("/linkedServices"))
    linked["properties"]["description"] = "[listKeys('x', '2019-01-01')]"
    template(project).write_text(json.dumps(doc))
    result = diff_against_itself(project)
    assert result.returncode == 2
    assert "listKeys" in result.stderr and "ARMTemplateForFactory.json" in result.stderr


def test_typo_in_an_environment_key(project):
    env = project / "environments" / "production.yaml"
    env.write_text(env.read_text().replace("\ntriggers:", "\ntrigers:"))
    result = diff_against_itself(project, "--env", "production")
    assert result.returncode == 2
    assert "production.yaml:" in result.stderr
    assert "trigers" in result.stderr and "did you mean 'triggers'" in result.stderr


def test_plaintext_secret_is_refused_and_never_printed(project):
    env = project / "environments" / "local.yaml"
    text = env.read_text()
    start = text.index("  ls_adls_mnist_accountKey:")
    end = text.index("\n  ls_keyvault_properties")
    env.write_text(text[:start] + "  ls_adls_mnist_accountKey: Sup3rS3cretAccountKey==" + text[end:])
    result = diff_against_itself(project, "--env", "local")
    assert result.returncode == 2
    assert "local.yaml:" in result.stderr and "ls_adls_mnist_accountKey" in result.stderr
    assert "Key Vault" in result.stderr or "keyvault" in result.stderr
    assert "Sup3rS3cretAccountKey" not in result.stderr + result.stdout


def test_validate_lists_every_problem_not_only_the_first(project):
    env = project / "environments" / "staging.yaml"
    env.write_text(env.read_text().replace("\ndeletion:", "\ndeletions:").replace("\nsmoke:", "\nsmokes:"))
    result = promote("validate", "--env", "staging", cwd=project)
    assert result.returncode == 2
    assert "deletions" in result.stderr and "smokes" in result.stderr


def test_unknown_ref_or_path(project):
    result = promote("diff", "--from", "no-such-ref", "--to", str(project / MIRROR), cwd=ROOT)
    assert result.returncode == 2
    assert "no-such-ref" in result.stderr
