"""Many factories in one repository: `environments/<factory>/<env>.yaml`, `promote factories`, `--factory`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.engine_project import PROMOTE
from tests.gitrepo import Repo

ENV = """\
source: {source}
target:
  subscription: 00000000-0000-0000-0000-000000000000
  resource_group: rg-{name}
  factory: adf-{name}
  endpoint: local
"""


TEMPLATE = {
    "$schema": "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
    "contentVersion": "1.0.0.0",
    "parameters": {"factoryName": {"type": "string"}},
    "resources": [
        {
            "name": "[concat(parameters('factoryName'), '/wait')]",
            "type": "Microsoft.DataFactory/factories/pipelines",
            "apiVersion": "2018-06-01",
            "properties": {"activities": [{"name": "w", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 1}}]},
            "dependsOn": [],
        }
    ],
}


def promote(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMOTE, *args], cwd=repo, capture_output=True, text=True, timeout=60)


def repository(tmp_path: Path) -> tuple[Repo, str]:
    repo = Repo(tmp_path / "repo")
    for factory in ("hr", "sales"):
        repo.write(f"{factory}-dev/ARMTemplateForFactory.json", TEMPLATE)
        for stage in ("staging", "production"):
            repo.write(f"environments/{factory}/{stage}.yaml", ENV.format(source=f"{factory}-dev", name=factory))
    return repo, repo.commit("two factories")


def test_factories_lists_each_with_its_environments_and_what_a_change_touched(tmp_path: Path):
    repo, first = repository(tmp_path)
    repo.write("sales-dev/ARMTemplateForFactory.json", {**TEMPLATE, "contentVersion": "1.0.0.1"})
    repo.commit("sales published")
    listed = promote(repo.path, "factories", "--format", "json", "--changed-since", first)
    assert listed.returncode == 0, listed.stderr
    rows = {r["name"]: r for r in json.loads(listed.stdout)["factories"]}
    assert rows["hr"] == {
        "name": "hr",
        "label": "hr",
        "prefix": "hr-",
        "directory": "environments/hr",
        "environments": ["production", "staging"],
        "sources": ["hr-dev"],
        "changed": False,
    }
    assert rows["sales"]["changed"] is True
    # an environment file counts as a change of its factory; a commit that is not here makes every factory count
    repo.write("environments/hr/staging.yaml", ENV.format(source="hr-dev", name="hr-2"))
    head = repo.commit("hr staging moves")
    since = json.loads(promote(repo.path, "factories", "--format", "json", "--changed-since", f"{head}~1").stdout)
    assert [r["name"] for r in since["factories"] if r["changed"]] == ["hr"]
    unknown = promote(repo.path, "factories", "--format", "json", "--changed-since", "0" * 40)
    assert all(r["changed"] for r in json.loads(unknown.stdout)["factories"])
    assert "every factory counts as changed" in unknown.stderr


def test_commands_take_the_factory_and_refuse_an_unknown_one(tmp_path: Path):
    repo, _ = repository(tmp_path)
    checked = promote(repo.path, "validate", "--factory", "hr", "--format", "json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert {"environment production", "environment staging"} <= set(json.loads(checked.stdout)["checked"])
    refused = promote(repo.path, "validate", "--factory", "hrr")
    assert refused.returncode == 2
    assert "unknown factory 'hrr'" in refused.stderr and "did you mean 'hr'? factories: hr, sales" in refused.stderr
    # without --factory, a repository of folders only has no environments/<env>.yaml
    plain = promote(repo.path, "diff", "--env", "staging", "--from", "HEAD", "--to", "HEAD")
    assert plain.returncode == 2 and "unknown environment 'staging'" in plain.stderr


def test_two_factories_staging_keep_their_own_lock_and_journal(tmp_path: Path):
    from promote.apply.lock import TargetKey, target_lock
    from promote.desired import load_env
    from promote.environment.layout import select_factory
    from promote.record.journal import journal_path

    repo, _ = repository(tmp_path)
    try:
        select_factory(repo.path, "hr")
        hr = journal_path(repo.path, "staging")
        with target_lock(repo.path, TargetKey.of(load_env("staging", repo.path).target)):
            select_factory(repo.path, "sales")
            assert journal_path(repo.path, "staging") != hr
            # not refused: the lock is the target factory's, and sales' staging is another factory
            with target_lock(repo.path, TargetKey.of(load_env("staging", repo.path).target)):
                pass
    finally:
        select_factory(None, None)
    assert journal_path(repo.path, "staging").name == "staging.json"  # one factory: as before
