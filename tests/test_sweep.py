"""The sweep: every factory history of ../shared/reference/templates, replayed as a git repository and deployed
version by version to the emulator, as an adopter would run `promote` on it.

Every version either deploys, after which `promote diff --env sweep --exit-code` and `promote drift` both exit 0
(a freshly deployed factory shows no changes, secrets included), or is refused with exit 2 and a message naming
the file and what is wrong. Then a rollback, with the same checks.

Marked `sweep`: the README's test command leaves it out (`-m "not sweep"`), `.ci/run` runs it as a step of its
own, one test per factory history so that xdist spreads them. Set PROMOTE_SWEEP_REPORT to a folder to get one
JSON file of outcomes per history (what bench/README.md's table is made from).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REFERENCE, reference_path
from tests.emulator_fixtures import EmulatorHandle
from tests.engine_project import PROMOTE
from tests.gitrepo import Repo, git

pytestmark = pytest.mark.sweep

SECRET_VARIABLE = "SWEEP_SECRET"
# A value of the shape ADF's storage linked services get, with the part real ADF strips on read.
SECRET_VALUE = "DefaultEndpointsProtocol=https;AccountName=sweep;AccountKey=c3dlZXAta2V5;EndpointSuffix=core.net"
ENV = "sweep"


def _histories() -> dict[str, list[dict[str, Any]]]:
    """`owner/repo:prefix` -> its versions oldest first (only entries holding a template: a version)."""
    manifest = REFERENCE / "templates" / "manifest.json"
    if not manifest.exists():
        return {}
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in json.loads(manifest.read_text()):
        names = {f["path"].rsplit("/", 1)[-1] for f in entry["files"]}
        if names & {"ARMTemplateForFactory.json", "ArmTemplate_master.json"}:
            out[f"{entry['repo']}:{entry['prefix']}"].append(entry)
    return {k: sorted(v, key=lambda e: e["commit_time"]) for k, v in sorted(out.items())}


HISTORIES = _histories()


@dataclass
class Outcome:
    """What happened to one version (or the rollback)."""

    commit: str
    step: str  # "deploy" or "rollback"
    result: str  # "deployed" or "refused"
    reason: str = ""
    problems: list[str] = field(default_factory=list)


def _folder(history: str) -> str:
    prefix = history.split(":", 1)[1].strip("/")
    return prefix or "."


def _replay(repo: Repo, entry: dict[str, Any], folder: str) -> None:
    """Make the factory folder hold exactly this version's files, as the publish did."""
    target = repo.path / folder
    if folder != ".":
        shutil.rmtree(target, ignore_errors=True)
    else:
        for child in repo.path.iterdir():
            if child.name not in (".git", "environments", ".promote"):
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    prefix = entry["prefix"]
    base = reference_path("templates")
    for f in entry["files"]:
        if not f["path"].startswith(prefix) or not f.get("local") or not (base / f["local"]).is_file():
            continue  # a file of another folder of the repository, or one the corpus did not keep
        rel = f["path"][len(prefix) :]
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(base / f["local"], target / rel)


def _json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (ValueError, OSError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _declared(folder: Path) -> dict[str, dict[str, Any]]:
    """The version's declared parameters, each with the value its parameters file published (`published`), and
    for a parameter naming an integration runtime to connect through, a runtime the version defines
    (`runtime`: ADF publishes "" for it, and an adopter names one of the factory's)."""
    for name, values in (
        ("ARMTemplateForFactory.json", "ARMTemplateParametersForFactory.json"),
        ("linkedTemplates/ArmTemplate_master.json", "linkedTemplates/ArmTemplateParameters_master.json"),
    ):
        template = _json(folder / name)
        if not template:
            continue
        declared = template.get("parameters") or {}
        published = _json(folder / values).get("parameters") or {}
        for key, spec in declared.items():
            entry = published.get(key)
            if isinstance(spec, dict) and isinstance(entry, dict) and "value" in entry:
                spec["published"] = entry["value"]
        runtime = _runtime(_json(folder / "ARMTemplateForFactory.json"), declared)
        for key, spec in declared.items():
            if key.endswith("connectVia_referenceName") and isinstance(spec, dict):
                spec["runtime"] = runtime
        return declared
    return {}


def _runtime(template: dict[str, Any], declared: dict[str, Any]) -> str:
    """The name of an integration runtime the template defines, else the one every factory has."""
    for resource in template.get("resources") or []:
        if "integrationruntimes" not in str(resource.get("type", "")).lower():
            continue
        name = str(resource.get("name", ""))
        literal = re.search(r"'/([^']+)'\)\]$", name)
        if literal:
            return literal.group(1)
        parameter = re.search(r"parameters\('([^']+)'\)\)\]$", name)
        spec = declared.get(parameter.group(1)) if parameter else None
        if isinstance(spec, dict) and spec.get("defaultValue"):
            return str(spec["defaultValue"])
    return "AutoResolveIntegrationRuntime"


def _environment(history: str, folder: str, declared: dict[str, dict[str, Any]], factory: str) -> str:
    """An environment written for the whole history: every secure parameter any version declares gets the
    secret (alternately from ${VAR} and from Key Vault), every parameter without a default a value."""
    lines = [
        f"source: {json.dumps(folder)}",
        "target:",
        "  subscription: 00000000-0000-0000-0000-0000000000aa",
        "  resource_group: rg-promote-test",
        f"  factory: {factory}",
        "  endpoint: local",
        "parameters:",
    ]
    for index, (name, spec) in enumerate(sorted(declared.items())):
        kind = str(spec.get("type", "")).lower()
        if name in ("factoryName", "containerUri", "containerSasToken"):
            continue
        if kind.startswith("secure"):
            if index % 2:
                lines.append(f"  {name}: ${{{SECRET_VARIABLE}}}")
            else:
                lines.append(f"  {name}:")
                lines.append(f"    keyvault: {{vault: kv-sweep, secret: {name[:100].replace('_', '-')}}}")
        elif "defaultValue" not in spec:  # what the development factory used, as an environment would copy it
            value = spec.get("published")
            if spec.get("runtime"):
                value = spec["runtime"]  # the dev value is "": an adopter names one of the factory's runtimes
            elif value in (None, ""):
                value = {"int": 1, "bool": False, "object": {}, "array": []}.get(kind, "sweep")
            lines.append(f"  {name}: {json.dumps(value)}")
    lines += ["deletion:", "  max_share: 1.0", ""]
    return "\n".join(lines)


def _promote(repo: Path, emulator: EmulatorHandle, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PROMOTE_EMULATOR_URL": emulator.endpoint,
        "PROMOTE_EMULATOR_CA": emulator.ca_file,
        SECRET_VARIABLE: SECRET_VALUE,
    }
    return subprocess.run(
        [PROMOTE, *args], cwd=repo, env=env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL
    )


def _refusal(result: subprocess.CompletedProcess[str], commit: str) -> Outcome:
    """A refusal names the file at fault (a template, a parameters file or the environment file) and what is
    wrong there; the first problem line is what the table reports."""
    lines = [line.strip(" ✗") for line in result.stderr.splitlines() if line.strip() and not line.startswith("warning")]
    problems = [line for line in lines if line != "error:"]
    assert problems and re.search(r"\S+\.(json|yaml)\b", problems[0]), f"{commit[:8]} refused:\n{result.stderr}"
    return Outcome(commit, "deploy", "refused", problems[0].removeprefix("error: "), problems)


@pytest.mark.parametrize("history", list(HISTORIES) or ["none"])
def test_every_version_deploys_or_is_refused_and_then_shows_no_changes(history, tmp_path, emulator):
    entries = HISTORIES.get(history) or pytest.skip("reference templates absent")
    folder = _folder(history)
    repo = Repo(tmp_path / "factory")
    factory = "sweep-" + re.sub(r"[^a-z0-9]+", "-", history.lower()).strip("-")[:40].strip("-")
    commits: list[tuple[str, dict[str, Any]]] = []
    declared: dict[str, dict[str, Any]] = {}
    for entry in entries:
        _replay(repo, entry, folder)
        declared.update(_declared(repo.path / folder))
        commits.append((repo.commit(entry["subject"][:200] or entry["commit"]), entry))
    repo.write("environments/sweep.yaml", _environment(history, folder, declared, factory))
    git(repo.path, "add", "-A")
    git(repo.path, "commit", "-q", "-m", "environment")

    outcomes: list[Outcome] = []
    deployed: list[str] = []
    for commit, _entry in commits:
        result = _promote(repo.path, emulator, "deploy", "--env", ENV, "--ref", commit, "--yes")
        if result.returncode == 2:
            outcomes.append(_refusal(result, commit))
            continue
        assert result.returncode == 0, f"deploy {commit[:8]}: exit {result.returncode}\n{result.stdout}{result.stderr}"
        outcomes.append(Outcome(commit, "deploy", "deployed"))
        deployed.append(commit)
        _check_in_sync_at(repo.path, emulator, commit)

    if len(deployed) >= 2:
        result = _promote(repo.path, emulator, "rollback", "--env", ENV, "--yes")
        assert result.returncode == 0, f"rollback exit {result.returncode}:\n{result.stdout}{result.stderr}"
        outcomes.append(Outcome(deployed[-2], "rollback", "deployed"))
        _check_in_sync_at(repo.path, emulator, deployed[-2])

    report = os.environ.get("PROMOTE_SWEEP_REPORT")
    if report:
        Path(report).mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9]+", "_", history).strip("_")
        (Path(report) / f"{name}.json").write_text(
            json.dumps({"history": history, "outcomes": [o.__dict__ for o in outcomes]}, indent=2)
        )


def _check_in_sync_at(repo: Path, emulator: EmulatorHandle, commit: str) -> None:
    diff = _promote(repo, emulator, "diff", "--env", ENV, "--ref", commit, "--exit-code")
    assert diff.returncode == 0, f"diff --env --ref {commit[:8]} after deploying it:\n{diff.stdout}{diff.stderr}"
    drift = _promote(repo, emulator, "drift", "--env", ENV)
    assert drift.returncode == 0, f"drift after deploying {commit[:8]}:\n{drift.stdout}{drift.stderr}"
