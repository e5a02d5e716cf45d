"""`promote init` in an adopter's repository: environment files from the published factory (or from an ARM
parameters file), the two callers, the `.gitignore` line, and the commands for what is left; nothing overwritten.

The factories are real publishes from ../shared/reference/templates, copied into throwaway git repositories as
an adopter's adf_publish would hold them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from promote.environment import load_environment, values_for_template
from promote.init.parameters import from_override_parameters
from promote.loader import open_published
from promote.source import read_path
from tests.conftest import reference_path
from tests.engine_project import PROMOTE
from tests.gitrepo import Repo

USES = "acme/adf-promote@v1"
# Three published factories of different shapes: linked service secrets and Key Vault, Azure Batch and blob event
# triggers, a CI/CD sample with global parameters.
REFERENCE = (
    "devlace__datadevops/dee72227/ddodfdev",
    "leroymasongov__spokacc-adf-01",
    "jayyei__example-ci-cd-datafactory",
)


def factory_folder(entry: str) -> Path:
    """The newest published folder of a reference factory (`owner__repo[/version/folder]`)."""
    path = reference_path("templates", *entry.split("/"))
    if (path / "ARMTemplateForFactory.json").exists():
        return path
    folders = sorted(p.parent for p in path.rglob("ARMTemplateForFactory.json"))
    assert folders, entry
    return folders[-1]


def adopter(tmp_path: Path, folder: Path) -> Repo:
    repo = Repo(tmp_path / "repo")
    shutil.copytree(folder, repo.path / folder.name)
    repo.commit("ARM template published")
    return repo


def promote(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PROMOTE_"))}
    return subprocess.run([PROMOTE, *args], cwd=repo, env=env, capture_output=True, text=True, timeout=120)


def fill(text: str, published: Any, stage: str) -> str:
    """What a person does with the written file: real target names, a value for every empty parameter (the
    published one, as staging often keeps dev's), a vault name."""
    text = text.replace("<subscription id>", "3c1f0b6a-9d2e-4f57-8a41-2b7e6d9c0f13")
    text = text.replace("<resource group>", f"rg-{stage}").replace("<factory name>", f"adf-{stage}")
    text = text.replace("<vault>", f"kv-{stage}")
    dummies = {"string": "x", "int": 1, "bool": True, "array": [], "object": {}}
    lines = text.split("\n")
    for i, line in enumerate(lines):
        match = re.fullmatch(r"  (\S+):", line)
        if not match or (i + 1 < len(lines) and lines[i + 1].startswith("    ")):
            continue
        name = json.loads(match.group(1)) if match.group(1).startswith('"') else match.group(1)
        spec = published.parameters[name]
        value = published.published_values.get(name, spec.default if spec.has_default else None)
        if value is None or (isinstance(value, str) and value.startswith("[")):
            value = dummies.get(spec.type, "x")
        lines[i] = f"{line} {json.dumps(value)}"
    return "\n".join(lines)


@pytest.mark.parametrize("entry", REFERENCE)
def test_init_writes_files_that_validate_once_the_placeholders_are_filled(tmp_path: Path, entry: str):
    folder = factory_folder(entry)
    repo = adopter(tmp_path, folder)
    done = promote(repo.path, "init", "--uses", USES, "--repository", "acme/factories")
    assert done.returncode == 0, done.stdout + done.stderr
    written = {
        p.relative_to(repo.path).as_posix() for p in repo.path.rglob("*") if p.is_file() and ".git" not in p.parts
    }
    for path in (
        "environments/staging.yaml",
        "environments/production.yaml",
        ".github/workflows/promote-publish.yml",
        ".github/workflows/promote-operate.yml",
        ".gitignore",
    ):
        assert path in written, (path, done.stdout)
    assert (repo.path / ".gitignore").read_text() == ".promote/\n"
    published = open_published(read_path(repo.path / folder.name))
    staging = (repo.path / "environments" / "staging.yaml").read_text()
    # every parameter is listed, each with its published value as a comment; secrets never in plain text
    declared = [n for n in published.parameters if n.lower() != "factoryname"]
    keys = yaml.safe_load(staging)["parameters"] or {}
    assert sorted(keys) == sorted(declared)
    for name, value in published.published_values.items():
        if name in declared and not published.parameters[name].secure:
            assert f"published: {json.dumps(value, ensure_ascii=False)[:60]}" in staging, name
    for name in declared:
        if published.parameters[name].secure:
            assert set(keys[name]) == {"keyvault"}, name
    assert "requires: staging" in (repo.path / "environments" / "production.yaml").read_text()

    # as written, validate refuses: the placeholders are not values
    refused = promote(repo.path, "validate")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "target.subscription" in refused.stderr

    # filled in, it passes
    for stage in ("staging", "production"):
        path = repo.path / "environments" / f"{stage}.yaml"
        path.write_text(fill(path.read_text(), published, stage))
    valid = promote(repo.path, "validate")
    assert valid.returncode == 0, valid.stdout + valid.stderr

    # what is left, as commands with the repository's names
    assert "gh api -X PUT repos/acme/factories/environments/production --input -" in done.stdout
    assert '"subject": "repo:acme/factories:environment:staging-read"' in done.stdout
    assert "Microsoft.DataFactory/factories/triggers/getEventSubscriptionStatus/action" in done.stdout
    assert 'az role assignment create --assignee "$app" --role "Data Factory Contributor"' in done.stdout


def test_init_writes_callers_actionlint_accepts(tmp_path: Path):
    repo = adopter(tmp_path, factory_folder(REFERENCE[0]))
    assert promote(repo.path, "init", "--uses", USES).returncode == 0
    actionlint = Path(sys.executable).with_name("actionlint")
    done = subprocess.run([str(actionlint), "-no-color"], cwd=repo.path, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")
    publish = yaml.safe_load((repo.path / ".github" / "workflows" / "promote-publish.yml").read_text())
    assert publish["jobs"]["promote"]["uses"] == "acme/adf-promote/.github/workflows/promote.yml@v1"


def test_init_for_publishing_from_the_collaboration_branch(tmp_path: Path):
    """`--collaboration-root`: a third caller, for the collaboration branch (push: publish; pull request: preview),
    the `publish` environment kept to that branch with the token it pushes with, and where each file goes."""
    repo = adopter(tmp_path, factory_folder(REFERENCE[0]))
    refused = promote(repo.path, "init", "--uses", USES, "--collaboration-root", "../elsewhere")
    assert refused.returncode == 2 and "--collaboration-root" in refused.stderr
    assert not (repo.path / "environments").exists()  # nothing written
    done = promote(
        repo.path, "init", "--uses", USES, "--repository", "acme/factories", "--collaboration-root", "./adf/"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    actionlint = Path(sys.executable).with_name("actionlint")
    linted = subprocess.run([str(actionlint), "-no-color"], cwd=repo.path, capture_output=True, text=True, timeout=120)
    assert (linted.returncode, linted.stdout + linted.stderr) == (0, "")
    caller = yaml.safe_load((repo.path / ".github" / "workflows" / "promote-collaboration.yml").read_text())
    assert caller[True] == {"push": {"branches": ["main"]}, "pull_request": {"branches": ["main"]}}
    assert caller["jobs"]["promote"]["with"] == {
        "action": "${{ github.event_name == 'pull_request' && 'preview' || 'publish' }}",
        "collaboration-root": "adf",
        "branch": "adf_publish",
    }
    assert "put .github/workflows/promote-collaboration.yml on main" in done.stdout
    assert "disablePublish" in done.stdout
    # the publish environment: only main may use it, and it holds the token that pushes
    assert "gh api -X PUT repos/acme/factories/environments/publish --input -" in done.stdout
    assert "environments/publish/deployment-branch-policies -f name=main -f type=branch" in done.stdout
    assert "environments/publish/deployment-branch-policies -f name=adf_publish" not in done.stdout
    assert "gh secret set PROMOTE_PUBLISH_TOKEN --repo acme/factories --env publish" in done.stdout
    assert "github-publish" not in done.stdout  # no Azure identity: publishing is git only


def test_init_never_overwrites(tmp_path: Path):
    repo = adopter(tmp_path, factory_folder(REFERENCE[0]))
    (repo.path / "environments").mkdir()
    (repo.path / "environments" / "production.yaml").write_text("# mine\n")
    refused = promote(repo.path, "init", "--uses", USES)
    assert refused.returncode == 2
    assert "environments/production.yaml" in refused.stderr and "never overwrites" in refused.stderr
    assert (repo.path / "environments" / "production.yaml").read_text() == "# mine\n"
    assert not (repo.path / "environments" / "staging.yaml").exists()  # nothing written at all
    assert not (repo.path / ".github").exists()


def _deployment(repo: Path, env_file: Path, folder: str) -> dict[str, Any]:
    env = load_environment(env_file, env={"STORAGE_KEY": "from-the-agent"})
    published = open_published(read_path(repo / folder))
    return values_for_template(env, published.parameters).deployment


def test_from_parameters_round_trips_a_parameters_file(tmp_path: Path):
    folder = factory_folder(REFERENCE[0])
    repo = adopter(tmp_path, folder)
    published = open_published(read_path(repo.path / folder.name))
    original = json.loads((folder / "ARMTemplateParametersForFactory.json").read_text(encoding="utf-8-sig"))
    # production's file, as teams keep it: its own values, secrets as Key Vault references
    vault = (
        "/subscriptions/8d4e2a71-5c3f-4b96-a0e8-6f1d9b27c35e/resourceGroups/rg-kv"
        "/providers/Microsoft.KeyVault/vaults/kv-prod"
    )
    production: dict[str, Any] = {}
    for name, entry in original["parameters"].items():
        spec = published.parameters.get(name)
        if name.lower() == "factoryname":
            production[name] = {"value": "adf-ddo-prod"}
        elif spec is not None and spec.secure:
            production[name] = {"reference": {"keyVault": {"id": vault}, "secretName": name.replace("_", "-")}}
        else:
            value = entry["value"]
            production[name] = {"value": value.replace("dev", "prod") if isinstance(value, str) else value}
    assert any("reference" in e for e in production.values()) and len(production) > 3
    parameters_file = tmp_path / "ARMTemplateParametersForFactory.production.json"
    parameters_file.write_text(json.dumps({"parameters": production}))

    done = promote(
        repo.path, "init", "--from-parameters", str(parameters_file), "--env", "production", "--no-workflows"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    env_file = repo.path / "environments" / "production.yaml"
    text = env_file.read_text()
    assert 'factory: "adf-ddo-prod"' in text
    env_file.write_text(
        text.replace("<subscription id>", "8d4e2a71-5c3f-4b96-a0e8-6f1d9b27c35e").replace(
            "<resource group>", "rg-ddo-prod"
        )
    )
    deployment = _deployment(repo.path, env_file, folder.name)
    assert deployment == {name: entry for name, entry in production.items() if name in published.parameters}


def test_from_override_parameters_reads_a_deployment_task_string():
    given = from_override_parameters(
        '-factoryName "adf-prod" -ls_url "https://st prod.blob.core.windows.net/" -retries 3 '
        '-tags \'["a","b"]\' -ls_key $(storage.key) -flag true'
    )
    assert given["factoryName"].value == "adf-prod"
    assert given["ls_url"].value == "https://st prod.blob.core.windows.net/"
    assert (given["retries"].value, given["tags"].value, given["flag"].value) == (3, ["a", "b"], True)
    assert given["ls_key"].variable == "STORAGE_KEY"  # an Azure DevOps variable, as the agent exports it


def test_from_override_parameters_round_trips_through_an_environment_file(tmp_path: Path):
    folder = factory_folder(REFERENCE[0])
    repo = adopter(tmp_path, folder)
    published = open_published(read_path(repo.path / folder.name))
    plain = [
        n for n, s in published.parameters.items() if not s.secure and s.type == "string" and n.lower() != "factoryname"
    ][:3]
    secure = [n for n, s in published.parameters.items() if s.type == "securestring"][:1]
    assert plain and secure
    overrides = " ".join([f'-{n} "value of {n}"' for n in plain] + [f"-{secure[0]} $(storage.key)"])
    done = promote(
        repo.path, "init", "--from-parameters", f"-factoryName adf-x {overrides}", "--env", "staging", "--no-workflows"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    env_file = repo.path / "environments" / "staging.yaml"
    env_file.write_text(fill(env_file.read_text(), published, "staging"))  # what it did not give
    deployment = _deployment(repo.path, env_file, folder.name)
    for name in plain:
        assert deployment[name] == {"value": f"value of {name}"}
    assert deployment[secure[0]] == {"value": "from-the-agent"}
    assert deployment["factoryName"] == {"value": "adf-x"}


def test_init_adds_a_second_factory_beside_the_first_and_keeps_the_callers(tmp_path: Path):
    first, second = factory_folder(REFERENCE[0]), factory_folder(REFERENCE[2])
    repo = Repo(tmp_path / "repo")
    shutil.copytree(first, repo.path / first.name)
    shutil.copytree(second, repo.path / second.name)
    repo.commit("two published factories")
    ambiguous = promote(repo.path, "init", "--uses", USES)
    assert ambiguous.returncode == 2 and "several published factories" in ambiguous.stderr
    one = promote(repo.path, "init", "--source", first.name, "--factory", "traffic", "--uses", USES)
    assert one.returncode == 0, one.stderr
    assert "gh api -X PUT repos/<owner>/<repo>/environments/traffic-production" in one.stdout
    two = promote(repo.path, "init", "--source", second.name, "--factory", "sales", "--uses", USES)
    assert two.returncode == 0, two.stderr
    assert "kept .github/workflows/promote-publish.yml (it exists)" in two.stdout
    assert (repo.path / "environments" / "sales" / "production.yaml").is_file()
    listed = json.loads(promote(repo.path, "factories", "--format", "json").stdout)["factories"]
    assert [(f["name"], f["sources"]) for f in listed] == [("sales", [second.name]), ("traffic", [first.name])]
