"""Bad input where a target is involved: `promote deploy` (and `plan`) refuse with exit 2 what `promote validate`
refuses, naming the file and the object, and nothing in Azure is touched (the emulator's request log holds no
write). And what deploy can do, validate accepts: a published template over 4 MB deploys in parts."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.emulator_fixtures import EmulatorHandle
from tests.engine_project import LOCAL_FACTORY, LOCAL_RESOURCE_GROUP, LOCAL_SUBSCRIPTION, PROMOTE
from tests.gitrepo import Repo
from tests.test_bad_input import RULE_CASES, TEMPLATE, Case, dataset

MIRROR = "adf_publish_mirror/adf-ml-project"
WRITES = ("PUT", "POST", "DELETE", "PATCH")
READ_ONLY_POSTS = re.compile(r"/(getEventSubscriptionStatus|query\w+|validate|whatIf)$", re.I)


def writes(emulator: EmulatorHandle) -> list[dict[str, Any]]:
    return [
        r for r in emulator.requests() if r["method"] in WRITES and not READ_ONLY_POSTS.search(r["path"].split("?")[0])
    ]


@pytest.fixture
def repo(tmp_path: Path, emulator: EmulatorHandle, adf_client: Any) -> Repo:
    """The sample factory and its environments, committed; the local factory exists (so that only what a deploy
    itself would write shows in the request log), and the log is cleared."""
    repo = Repo(tmp_path / "project")
    shutil.copytree(ROOT / MIRROR, repo.path / MIRROR, ignore=shutil.ignore_patterns("linkedTemplates"))
    shutil.copytree(ROOT / "environments", repo.path / "environments")
    repo.commit("as published")
    adf_client._config.subscription_id = LOCAL_SUBSCRIPTION
    adf_client.factories.create_or_update(LOCAL_RESOURCE_GROUP, LOCAL_FACTORY, {"location": "westeurope"})
    emulator.admin("DELETE", "/requests")
    return repo


def promote(repo: Repo, emulator: EmulatorHandle, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PROMOTE_EMULATOR_URL": emulator.endpoint,
        "PROMOTE_EMULATOR_CA": emulator.ca_file,
        "AZURE_SUBSCRIPTION_ID": LOCAL_SUBSCRIPTION,
    }
    return subprocess.run(
        [PROMOTE, *args], cwd=repo.path, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
    )


# The cases validate refuses that a deploy reaches (the factory-name case changes only the published values,
# which a deploy never uses: the environment names the factory).
DEPLOY_CASES = [case for case in RULE_CASES if case.command == ("validate",)]
RAW_CASES = [
    Case("nan", lambda p: None, (TEMPLATE, "NaN is not a JSON number")),
    Case("nested-950", lambda p: None, (TEMPLATE, "nested more than 128 levels")),
]


def _raw(repo: Repo, case_id: str) -> None:
    text = (repo.path / MIRROR / TEMPLATE).read_text()
    if case_id == "nan":
        text = text.replace('"Started"', "NaN", 1)
    else:
        text = text.replace('"activities": [', '"deep": ' + "[" * 950 + "1" + "]" * 950 + ', "activities": [', 1)
    (repo.path / MIRROR / TEMPLATE).write_text(text)


@pytest.mark.parametrize("case", DEPLOY_CASES + RAW_CASES, ids=lambda c: c.id)
def test_deploy_refuses_what_validate_refuses_and_touches_nothing(
    repo: Repo, emulator: EmulatorHandle, case: Case
) -> None:
    if case in RAW_CASES:
        _raw(repo, case.id)
    else:
        case.mutate(repo.path)
    repo.commit(f"bad: {case.id}")
    validate = promote(repo, emulator, "validate", "--ref", "HEAD")
    deploy = promote(repo, emulator, "deploy", "--env", "local", "--ref", "HEAD", "--yes")
    for result in (validate, deploy):
        assert result.returncode == 2, (result.args, result.stdout[-3000:], result.stderr[-3000:])
        for fragment in case.expect:
            assert fragment in result.stderr, (result.args, fragment, result.stderr[-3000:])
        assert "Traceback" not in result.stderr
    assert "[1/" not in deploy.stdout  # not a single step ran
    assert writes(emulator) == []


def test_a_template_over_4_mb_validates_and_deploys_in_parts(repo: Repo, emulator: EmulatorHandle) -> None:
    path = repo.path / MIRROR / TEMPLATE
    doc = json.loads(path.read_text())
    doc["resources"] += [dataset(f"wide_{i:03d}", description="w" * 20_000) for i in range(220)]
    path.write_text(json.dumps(doc, indent="\t"))
    assert path.stat().st_size > 4 * 1024 * 1024
    repo.commit("a factory past ARM's 4 MB")
    validate = promote(repo, emulator, "validate", "--ref", "HEAD")
    assert validate.returncode == 0, validate.stderr
    plan = promote(repo, emulator, "plan", "--env", "local", "--ref", "HEAD")
    assert plan.returncode == 0, plan.stderr
    assert "(part 1 of 2," in plan.stdout and "(part 2 of 2," in plan.stdout


@pytest.mark.parametrize(
    "body, expect",
    [
        ('{"properties": {"activities": [], "description": NaN}}', "NaN is not a JSON number"),
        ('{"properties": {"activities": [], "x": ' + "[" * 300 + "]" * 300 + "}}", "nested more than 160 levels"),
    ],
    ids=["nan", "nested-300"],
)
def test_the_factorys_answers_are_untrusted_too(repo: Repo, emulator: EmulatorHandle, body: str, expect: str) -> None:
    """Someone wrote an object through the API that JSON does not allow (Python's parser on the emulator's side
    takes it): reading the live factory refuses to go on, naming the request, instead of crashing or diffing it."""
    path = emulator.factory_path(LOCAL_FACTORY).replace(emulator.subscription, LOCAL_SUBSCRIPTION, 1)
    path = path.replace(emulator.resource_group, LOCAL_RESOURCE_GROUP, 1)
    answer = emulator.session.put(
        f"{emulator.endpoint}{path}/pipelines/hand_made?api-version=2018-06-01",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": "Bearer x"},
        verify=emulator.ca_file,
        timeout=30,
    )
    assert answer.status_code in (200, 201), answer.text
    emulator.admin("DELETE", "/requests")
    for command in (("diff", "--env", "local"), ("deploy", "--env", "local", "--ref", "HEAD", "--yes")):
        result = promote(repo, emulator, *command)
        assert result.returncode == 2, (command, result.stdout[-2000:], result.stderr[-2000:])
        assert "Azure's answer cannot be read" in result.stderr and expect in result.stderr
        assert "/pipelines" in result.stderr and "Traceback" not in result.stderr
    assert writes(emulator) == []
