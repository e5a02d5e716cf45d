"""A saved plan is proven, not trusted (issue 13, "plans"), with real `promote` processes against the emulator.

Each tampered plan here is edited as an attacker would, with its hash recomputed (plain sha256 of the canonical
JSON): it passes the file's own check and must be refused because it is not the plan that its commit, the
environment file and the live factory give. Every refusal is exit 2 with nothing written (the emulator's
request log shows no write, its object counters no change).
"""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.engine_project import LOCAL_FACTORY, LOCAL_RESOURCE_GROUP, LOCAL_SUBSCRIPTION, MIRROR, Project
from tests.gitrepo import git
from tests.test_engine_safety import last_seq, object_writes, out, write_env, writes_since

OTHER_FACTORY = "adf-ml-project-other"
SECRET_VAR = "ADF_SECRET"
OTHER_VAR = "OTHER_SECRET"


def rehashed(data: dict[str, Any]) -> str:
    """A plan file's text with its hash recomputed, as anyone who edits one can do in a few lines."""
    body = {k: v for k, v in data.items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return json.dumps({**body, "hash": hashlib.sha256(canonical.encode()).hexdigest()}, indent=1)


def tampered(text: str, edit: Callable[[dict[str, Any]], None]) -> str:
    data = copy.deepcopy(json.loads(text))
    edit(data)
    return rehashed(data)


def deploys(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in data["steps"] if s["kind"] == "Deploy"]


def step(data: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(s for s in data["steps"] if s["kind"] == kind)


def create_factory(project: Project, name: str) -> None:
    with project.emulator.adf_client() as adf:
        adf._config.subscription_id = LOCAL_SUBSCRIPTION
        adf.factories.create_or_update(LOCAL_RESOURCE_GROUP, name, {"location": "westeurope"})


def factory_exists(project: Project, name: str = LOCAL_FACTORY) -> bool:
    with project.emulator.adf_client() as adf:
        adf._config.subscription_id = LOCAL_SUBSCRIPTION
        return name in {f.name for f in adf.factories.list_by_resource_group(LOCAL_RESOURCE_GROUP)}


def refused_with_nothing_written(
    project: Project, plan_file: Path, text: str, expect: str, **env: str
) -> subprocess.CompletedProcess[str]:
    plan_file.write_text(text)
    seq, before = last_seq(project), object_writes(project)
    result = project.promote("apply", str(plan_file), **env)
    assert result.returncode == 2, out(result)
    assert expect in result.stderr, out(result)
    assert writes_since(project, seq) == [], "a refused plan wrote to the emulator"
    assert object_writes(project) == before
    return result


# --------------------------------------------------------------------------------------------------- tampering


def test_an_edited_plan_with_a_recomputed_hash_is_refused_and_writes_nothing(project: Project, tmp_path: Path):
    canary, other_canary = f"canary-{uuid.uuid4().hex}", f"other-{uuid.uuid4().hex}"
    variables = {SECRET_VAR: canary, OTHER_VAR: other_canary, "POOL": "local-pool"}
    write_env(
        project,
        "vault",
        secret="${" + SECRET_VAR + "}",
        replace={"poolName: local-pool": "poolName: ${POOL}"},
    )
    create_factory(project, OTHER_FACTORY)  # another factory of the same resource group
    commits = project.mirror()
    old, new = commits[4], commits[5]
    project.deployed(old, env="vault", **variables)
    plan_file = tmp_path / "plan.json"
    text = project.planned(new, plan_file, env="vault", full=True, **variables)
    assert any(p.get("env_var") == SECRET_VAR for d in deploys(json.loads(text)) for p in d["parameters"])
    results = []

    def retarget(data: dict[str, Any]) -> None:
        data["target"]["factory"] = OTHER_FACTORY

    results.append(
        refused_with_nothing_written(
            project, plan_file, tampered(text, retarget), f"the plan targets factory {OTHER_FACTORY}", **variables
        )
    )

    def write_elsewhere(data: dict[str, Any]) -> None:  # the objects go to the other factory, the tags to ours
        for deploy in deploys(data):
            for resource in deploy["template"]["resources"]:
                resource["name"] = resource["name"].replace("parameters('factoryName')", f"'{OTHER_FACTORY}'")

    def inject(data: dict[str, Any]) -> None:
        deploy = deploys(data)[0]
        deploy["template"]["resources"].append(
            {
                "name": "[concat(parameters('factoryName'), '/injected')]",
                "type": "Microsoft.DataFactory/factories/pipelines",
                "apiVersion": "2018-06-01",
                "properties": {
                    "activities": [{"name": "w", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 1}}]
                },
            }
        )
        deploy["writes"].append(
            {
                "key": {"type": "pipelines", "name": "injected"},
                "action": "create",
                "wave": 0,
                "paths": [],
                "renamed_from": None,
                "details": [],
                "outline": [],
                "rename": None,
                "impact": [],
                "why": "",
            }
        )

    def other_variable(data: dict[str, Any]) -> None:  # the secure parameter read from another variable
        for deploy in deploys(data):
            for parameter in deploy["parameters"]:
                if parameter.get("env_var") == SECRET_VAR:
                    parameter["env_var"] = OTHER_VAR

    def into_a_description(data: dict[str, Any]) -> None:  # a variable read into a readable description
        deploy = deploys(data)[0]
        resource = next(r for r in deploy["template"]["resources"] if r["type"].endswith("/pipelines"))
        resource["properties"]["description"] = "[parameters('leak')]"
        deploy["template"]["parameters"]["leak"] = {"type": "securestring"}
        deploy["parameters"].append({"name": "leak", "type": "securestring", "keyvault": None, "env_var": OTHER_VAR})

    def record_another_commit(data: dict[str, Any]) -> None:  # `status` would report a commit not deployed
        step(data, "TagFactory")["commit"] = old

    for edit, named in (
        (write_elsewhere, f"'{OTHER_FACTORY}', '/"),
        (inject, "template.resources[pipelines/injected]: in the plan, not in the recomputation"),
        (other_variable, f"env_var: the plan says '{OTHER_VAR}', the recomputation '{SECRET_VAR}'"),
        (into_a_description, "parameters[leak]: in the plan, not in the recomputation"),
        (record_another_commit, f"step TagFactory: commit: the plan says '{old}'"),
    ):
        result = refused_with_nothing_written(
            project, plan_file, tampered(text, edit), "is not what commit", **variables
        )
        assert named in result.stderr, out(result)
        results.append(result)

    # the source of every value: a plain ${VAR} whose value changed since the plan was made is a difference
    changed = refused_with_nothing_written(
        project, plan_file, text, "is not what commit", **{**variables, "POOL": "p2"}
    )
    assert "ls_batch_mnist].properties.typeProperties.poolName: the plan says 'local-pool'" in changed.stderr

    for result in results:
        assert other_canary not in result.stdout + result.stderr and canary not in result.stdout + result.stderr
    assert not factory_objects(project, OTHER_FACTORY)

    # the plan as made is applied
    applied = project.promote("apply", str(plan_file), **variables)
    assert applied.returncode == 0, out(applied)
    assert project.in_sync(new, env="vault", **variables)
    assert other_canary not in json.dumps(project.emulator.requests())


def factory_objects(project: Project, name: str) -> list[str]:
    with project.emulator.adf_client() as adf:
        adf._config.subscription_id = LOCAL_SUBSCRIPTION
        return [p.name for p in adf.pipelines.list_by_factory(LOCAL_RESOURCE_GROUP, name)]


def test_a_plan_cannot_carry_a_commit_the_gate_never_passed(project: Project, tmp_path: Path):
    """prodlike requires local. A plan for a commit that passed local, carrying another commit's objects (the
    record still naming the one that passed), is refused; so is the other commit's own plan (the gate)."""
    prodlike = "adf-ml-project-prodlike"
    write_env(
        project,
        "prodlike",
        replace={f"factory: {LOCAL_FACTORY}": f"factory: {prodlike}", "\nsmoke:": "\nrequires: local\nsmoke:"},
    )
    commits = project.mirror()
    start, passed, never = commits[3], commits[4], commits[6]
    for env, ref in (("local", start), ("prodlike", start), ("local", passed)):
        project.deployed(ref, env=env)
    good_text = project.planned(passed, tmp_path / "good.json", env="prodlike")
    # the gate refuses `never`: promote plan shows its plan (the refusal in it) and saves none
    shown = project.promote("plan", "--env", "prodlike", "--ref", never, "--format", "json")
    assert shown.returncode == 2 and f"{never[:8]} has not succeeded in local" in shown.stderr, out(shown)
    assert json.loads(shown.stdout)["refusals"][0]["guard"] == "requires"
    # the same plan whole (the printed JSON gives each template by its size and digest), as a file could carry it
    bad_text = project.planned(never, tmp_path / "bad.json", env="prodlike")
    plan_file = tmp_path / "plan.json"

    refused_with_nothing_written(project, plan_file, bad_text, f"{never[:8]} has not succeeded in local")

    def smuggle(data: dict[str, Any]) -> None:  # the objects of `never` under the name of `passed`
        theirs = json.loads(bad_text)
        data["steps"] = [s for s in data["steps"] if s["kind"] != "Deploy"]
        for deploy in deploys(theirs):
            deploy["commit"] = passed
            data["steps"].insert(-2, deploy)
        data["summary"] = theirs["summary"]

    result = refused_with_nothing_written(project, plan_file, tampered(good_text, smuggle), "is not what commit")
    assert "step Deploy 1/" in result.stderr, out(result)

    def relabel(data: dict[str, Any]) -> None:  # `never`'s plan, every commit field saying `passed`
        data["commit"] = passed
        data["refusals"], data["gate"] = [], json.loads(good_text)["gate"]
        for s in data["steps"]:
            if "commit" in s:
                s["commit"] = passed

    refused_with_nothing_written(project, plan_file, tampered(bad_text, relabel), "is not what commit")

    plan_file.write_text(good_text)
    applied = project.promote("apply", str(plan_file))
    assert applied.returncode == 0, out(applied)
    assert project.record("prodlike").commit == passed


# --------------------------------------------------------------------------------------------------- replay


def test_replay_and_a_missing_factory_are_refused_before_anything_is_written(project: Project, tmp_path: Path):
    commits = project.mirror()
    old, new = commits[4], commits[5]

    # a commit validate refuses, against a `local` environment whose factory does not exist yet: plan, deploy
    # and rollback --to refuse it without creating the factory (a refused run touches nothing)
    path = project.path / MIRROR / "ARMTemplateForFactory.json"
    template = json.loads(path.read_text())
    pipeline = next(r for r in template["resources"] if r["type"].endswith("/pipelines"))
    pipeline["properties"]["activities"].append(
        {
            "name": "copy_from_nowhere",
            "type": "Copy",
            "inputs": [{"referenceName": "ds_that_exists_nowhere", "type": "DatasetReference"}],
            "typeProperties": {"source": {"type": "BinarySource"}, "sink": {"type": "BinarySink"}},
        }
    )
    path.write_text(json.dumps(template, indent="\t"))
    git(project.path, "commit", "-q", "-am", "a publish validate refuses")
    broken = git(project.path, "rev-parse", "HEAD")
    for command in (
        ("plan", "--env", "local", "--ref", broken),
        ("deploy", "--env", "local", "--ref", broken, "--yes"),
        ("rollback", "--env", "local", "--to", broken, "--yes"),
        ("rollback", "--env", "local", "--to", broken, "--out", str(tmp_path / "rollback.json")),
    ):
        refused = project.promote(*command)
        assert refused.returncode == 2, out(refused)
        assert "ds_that_exists_nowhere" in refused.stderr, out(refused)
    assert writes_since(project) == [] and not factory_exists(project)

    # plan, apply, go back to an earlier commit, apply the same file again: refused as stale
    project.deployed(old)
    plan_file = tmp_path / "plan.json"
    project.planned(new, plan_file)
    project.applied(plan_file)
    project.deployed(old)
    assert project.in_sync(old)
    replay = refused_with_nothing_written(project, plan_file, plan_file.read_text(), "saved plan is stale")
    assert "records another deployment" in replay.stderr
    assert project.in_sync(old)

    # a plan whose factory is gone meanwhile: stale, and apply does not create the factory to find out
    project.planned(new, plan_file)
    with project.emulator.adf_client() as adf:
        adf._config.subscription_id = LOCAL_SUBSCRIPTION
        adf.factories.delete(LOCAL_RESOURCE_GROUP, LOCAL_FACTORY)
    refused_with_nothing_written(project, plan_file, plan_file.read_text(), "saved plan is stale")
    assert not factory_exists(project)
