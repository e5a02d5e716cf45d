"""The engine's safety promises, shown with real `promote` processes against the emulator:

- a secret given through the environment never shows: not in any output, plan file, journal, or Azure's record;
- a saved plan applies exactly, or not at all when the factory changed since or the file was edited;
- one promoter per environment at a time, naming the holder; a dead holder's lock is taken over;
- `requires`: an environment accepts only commits that succeeded in the one it follows;
- deletions: a source that would delete too much is refused; protected objects survive.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import uuid
from pathlib import Path
from typing import Any

from promote.apply.lock import TargetKey, target_lock
from tests.engine_project import (
    LOCAL_FACTORY,
    LOCAL_RESOURCE_GROUP,
    LOCAL_SUBSCRIPTION,
    MIRROR,
    Project,
    local_lock,
)
from tests.gitrepo import git

SECRET_VAR = "ADF_SECRET"
KEYVAULT_SECRET = re.compile(r"^  ls_adls_mnist_accountKey:\n    keyvault: .*\n", re.M)
WRITE_METHODS = ("PUT", "POST", "DELETE", "PATCH")
READ_ONLY_POSTS = re.compile(r"/(getEventSubscriptionStatus|query\w+|validate|whatIf)$", re.I)


# --------------------------------------------------------------------------------------------------- helpers


def write_env(project: Project, name: str, *, secret: str | None = None, replace: dict[str, str] | None = None) -> Path:
    """environments/NAME.yaml in the clone: local.yaml, with the sample's one secret taken from `${secret}`
    instead of Key Vault, and `replace` applied (old text -> new text)."""
    text = (project.path / "environments" / "local.yaml").read_text()
    if secret is not None:
        text, n = KEYVAULT_SECRET.subn(f"  ls_adls_mnist_accountKey: {secret}\n", text)
        assert n == 1, "local.yaml no longer gives ls_adls_mnist_accountKey as a Key Vault reference"
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    path = project.path / "environments" / f"{name}.yaml"
    path.write_text(text)
    return path


def writes_since(project: Project, seq: int = 0) -> list[dict[str, Any]]:
    """Requests that changed something (not the POSTs that only read), after log entry `seq`."""
    return [
        r
        for r in project.emulator.requests()
        if r["seq"] > seq and r["method"] in WRITE_METHODS and not READ_ONLY_POSTS.search(r["path"])
    ]


def last_seq(project: Project) -> int:
    requests = project.emulator.requests()
    return requests[-1]["seq"] if requests else 0


def object_writes(project: Project) -> dict[str, int]:
    return dict(project.emulator.stats()["objectWrites"])


def live_names(project: Project, factory: str = LOCAL_FACTORY) -> dict[str, set[str]]:
    """Live objects by type (pipelines, datasets, linkedservices, triggers, dataflows), read through the SDK."""
    with project.emulator.adf_client() as adf:
        adf._config.subscription_id = LOCAL_SUBSCRIPTION
        rg = LOCAL_RESOURCE_GROUP
        return {
            "pipelines": {p.name for p in adf.pipelines.list_by_factory(rg, factory)},
            "datasets": {d.name for d in adf.datasets.list_by_factory(rg, factory)},
            "linkedServices": {s.name for s in adf.linked_services.list_by_factory(rg, factory)},
            "triggers": {t.name for t in adf.triggers.list_by_factory(rg, factory)},
            "dataflows": {f.name for f in adf.data_flows.list_by_factory(rg, factory)},
        }


def out(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


# --------------------------------------------------------------------------------------------------- secrets


def test_a_secret_from_the_environment_shows_nowhere(project: Project, tmp_path: Path):
    canary = f"canary-{uuid.uuid4().hex}"
    secret = {SECRET_VAR: canary}
    write_env(project, "vault", secret="${" + SECRET_VAR + "}")
    # the same secret written as part of a longer value: refused, and the error must not echo it
    write_env(project, "badsecret", secret="key-${" + SECRET_VAR + "}")
    commits = project.mirror()
    old, new = commits[4], commits[5]
    plan_file = tmp_path / "plan.json"
    results: list[subprocess.CompletedProcess[str]] = []

    def run(*args: str, expect: int | tuple[int, ...] = 0) -> subprocess.CompletedProcess[str]:
        result = project.promote(*args, timeout=120, **secret)
        results.append(result)
        codes = (expect,) if isinstance(expect, int) else expect
        assert result.returncode in codes, f"promote {' '.join(args)}: {out(result)}"
        return result

    run("diff", "--from", old, "--to", new, "--format", "json")
    run("diff", "--from", old, "--to", new, "--env", "vault")
    run("diff", "--from", old, "--to", new, "--env", "vault", "--format", "json")
    run("validate", "--env", "vault", "--ref", new)
    run("plan", "--env", "vault", "--ref", old, "--out", str(plan_file))
    plan_text = plan_file.read_text()
    assert "ADF_SECRET" in plan_text  # the plan names the variable ...
    run("apply", str(plan_file))
    run("diff", "--env", "vault", "--ref", new, "--format", "markdown")
    run("deploy", "--env", "vault", "--ref", new, "--yes")
    run("status", "--env", "vault", "--format", "json")
    run("history", "--env", "vault")
    run("drift", "--env", "vault")
    run("rollback", "--env", "vault", "--yes")
    # a deploy that fails and rolls back: the deployment of `new` fails in ADF
    project.emulator.fault(
        method="PUT", path=r"/deployments/[^/]+$", nth=1, times=1, status=400, code="BadRequest", message="injected"
    )
    run("deploy", "--env", "vault", "--ref", new, "--yes", expect=(1, 4))
    project.emulator.admin("DELETE", "/faults")
    # ... and one that fails inside the deployment, after writing
    project.emulator.fault(
        method="PUT", path=r"/pipelines/", nth=1, times=1, status=500, code="InternalServerError", message="injected"
    )
    run("deploy", "--env", "vault", "--ref", new, "--yes", expect=4)
    project.emulator.admin("DELETE", "/faults")
    # bad input
    run("deploy", "--env", "badsecret", "--ref", new, "--yes", expect=2)
    run("plan", "--env", "badsecret", "--ref", new, expect=2)
    # validate refuses what a deploy refuses (it used to say "valid")
    invalid = run("validate", "--env", "badsecret", "--ref", new, expect=2)
    assert "parameters.ls_adls_mnist_accountKey: a secure value taken from the environment must be exactly" in (
        invalid.stderr
    )
    run("deploy", "--env", "vault", "--ref", "no-such-ref", "--yes", expect=2)
    run("deploy", "--env", "nosuchenv", "--ref", new, "--yes", expect=2)
    edited = json.loads(plan_text)
    edited["summary"]["create"] = 99
    plan_file.write_text(json.dumps(edited))
    run("apply", str(plan_file), expect=2)

    # the variable is really what the deploys use: without it a deploy that writes the linked service using it
    # (--full writes every object) is refused before anything is written
    unset = project.promote("deploy", "--env", "vault", "--ref", new, "--yes", "--full", timeout=120)
    assert unset.returncode == 2 and "ADF_SECRET is not set" in unset.stderr, out(unset)

    assert_nowhere(project, canary, results, plan_text)

    # ARM's record of the deployments shows the parameter, never its value
    with project.emulator.deployments_client() as client:
        client._config.subscription_id = LOCAL_SUBSCRIPTION
        deployments = list(client.deployments.list_by_resource_group(LOCAL_RESOURCE_GROUP))
        assert deployments
        shown = [d.properties.parameters.get("ls_adls_mnist_accountKey") for d in deployments]
        assert any(p is not None for p in shown)
        for p in shown:
            assert p is None or "value" not in p, p
        assert all(canary not in json.dumps(d.as_dict(), default=str) for d in deployments)


# --------------------------------------------------------------------------------------------------- plan / apply


def test_a_saved_plan_applies_exactly_and_only_as_made(project: Project, tmp_path: Path):
    commits = project.mirror()
    old, new = commits[4], commits[5]
    # deploy with no terminal and without --yes, before the local factory even exists: nothing written
    for command in (("deploy", "--env", "local", "--ref", old), ("rollback", "--env", "local")):
        asked = project.promote(*command)
        assert asked.returncode == 2 and "--yes" in asked.stderr, out(asked)
    assert writes_since(project) == [], "a run refused for want of --yes wrote to the factory"
    project.deployed(old)
    plan_file = tmp_path / "plan.json"
    text = project.planned(new, plan_file)

    # edited by hand (a delete step dropped): refused, nothing written
    edited = json.loads(text)
    steps = edited["steps"]
    deletes = [s for s in steps if s["kind"] == "DeleteObject"]
    assert deletes, "the transition should delete something"
    steps.remove(deletes[0])
    plan_file.write_text(json.dumps(edited, indent=1))
    seq, before = last_seq(project), object_writes(project)
    refused = project.promote("apply", str(plan_file))
    assert refused.returncode == 2, out(refused)
    assert "edited" in refused.stderr, out(refused)
    assert writes_since(project, seq) == [] and object_writes(project) == before

    # as made, with no terminal and no --yes: applied without asking, and the factory is exactly `new`
    plan_file.write_text(text)
    applied = project.promote("apply", str(plan_file))
    assert applied.returncode == 0, out(applied)
    assert "confirm" not in (applied.stdout + applied.stderr).lower()
    assert project.in_sync(new)
    record = project.record()
    assert record.commit == new and record.plan == json.loads(text)["hash"]

    # deploy with no terminal and without --yes: refused before anything is written
    seq, before = last_seq(project), object_writes(project)
    asked = project.promote("deploy", "--env", "local", "--ref", old)
    assert asked.returncode == 2, out(asked)
    assert "--yes" in asked.stderr
    assert writes_since(project, seq) == [] and object_writes(project) == before
    assert project.in_sync(new)


def test_a_plan_whose_factory_changed_since_is_refused_as_stale(project: Project, tmp_path: Path):
    commits = project.mirror()
    old, new = commits[4], commits[5]
    project.deployed(old)
    plan_file = tmp_path / "plan.json"
    project.planned(new, plan_file)
    with project.emulator.adf_client() as adf:  # someone edits a pipeline in the portal meanwhile
        adf._config.subscription_id = LOCAL_SUBSCRIPTION
        pipeline = adf.pipelines.get(LOCAL_RESOURCE_GROUP, LOCAL_FACTORY, "ingest_mnist")
        pipeline.description = "edited in the portal"
        adf.pipelines.create_or_update(LOCAL_RESOURCE_GROUP, LOCAL_FACTORY, "ingest_mnist", pipeline)
    seq, before = last_seq(project), object_writes(project)
    stale = project.promote("apply", str(plan_file))
    assert stale.returncode == 2, out(stale)
    assert "stale" in stale.stderr, out(stale)
    assert writes_since(project, seq) == [] and object_writes(project) == before
    assert not project.in_sync(new)


# --------------------------------------------------------------------------------------------------- the lock


def wait_for_line(proc: subprocess.Popen[str], marker: str, seen: list[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if marker in line:
            return
    raise AssertionError(f"the run ended before printing {marker!r}:\n{''.join(seen)}")


def test_one_promoter_per_environment(project: Project):
    commits = project.mirror()
    project.deployed(commits[4])
    # The first run's smoke run stays InProgress until the emulator's clock is moved on: the run holds its lock
    # (from planning to the end) as long as the test wants.
    project.emulator.settings(run_seconds=3600)
    first = project.start("deploy", "--env", "local", "--ref", commits[5], "--yes")
    seen: list[str] = []
    try:
        wait_for_line(first, "] smoke: run pipeline", seen)
        lock = local_lock(project)
        holder = json.loads(lock.read_text())
        assert holder["pid"] == first.pid
        # The lock is the target's: another environment file naming the same factory is refused too.
        twin = project.path / "environments" / "local-twin.yaml"
        twin.write_text((project.path / "environments" / "local.yaml").read_text())
        for env in ("local", "local-twin"):
            second = project.promote("deploy", "--env", env, "--ref", commits[6], "--yes", timeout=60)
            assert first.poll() is None, "the first run ended before the second was tried"
            assert second.returncode == 2, out(second)
            message = second.stderr
            assert "held by another promote run" in message, message
            assert f"pid {first.pid}" in message and "as environment local" in message
            assert holder["user"] in message and socket.gethostname() in message
            assert "[1/" not in second.stdout  # it did not start a single step
    finally:
        project.emulator.advance(3600)
        project.emulator.settings(run_seconds=0.2)
        rest, _ = first.communicate(timeout=60)
    assert first.returncode == 0, "".join(seen) + rest
    assert lock.read_text() == ""  # released: the file stays, holding no one
    after = project.deploy(commits[6])
    assert after.returncode == 0, out(after)
    assert project.in_sync(commits[6])


def test_the_lock_of_a_dead_run_is_taken_over_and_a_live_one_is_not(project: Project):
    dead = subprocess.Popen(["true"])
    dead.wait()
    lock = local_lock(project)
    lock.parent.mkdir(parents=True)
    # what a killed run leaves: its description, but no process holding the lock
    lock.write_text(
        json.dumps({"user": "someone", "host": socket.gethostname(), "pid": dead.pid, "since": "2025-01-01T00:00:00Z"})
    )
    head = project.mirror()[-1]
    result = project.deploy(head)
    assert result.returncode == 0, out(result)
    assert project.in_sync(head)
    assert lock.read_text() == ""
    # a live holder (this test's process) is not taken over
    key = TargetKey(LOCAL_SUBSCRIPTION, LOCAL_RESOURCE_GROUP, LOCAL_FACTORY)
    with target_lock(project.path, key, environment="elsewhere"):
        refused = project.deploy(head)
    assert refused.returncode == 2 and f"pid {os.getpid()}" in refused.stderr, out(refused)
    assert "as environment elsewhere" in refused.stderr


# --------------------------------------------------------------------------------------------------- requires


def test_requires_accepts_only_commits_that_succeeded_in_the_environment_before(project: Project):
    write_env(
        project,
        "prodlike",
        replace={
            f"factory: {LOCAL_FACTORY}": "factory: adf-ml-project-prodlike",
            "\nsmoke:": "\nrequires: local\nsmoke:",
        },
    )
    commits = project.mirror()
    first, second = commits[4], commits[5]

    def deploy_prodlike(ref: str) -> subprocess.CompletedProcess[str]:
        return project.promote("deploy", "--env", "prodlike", "--ref", ref, "--yes")

    def prodlike_writes() -> list[dict[str, Any]]:
        return [r for r in writes_since(project) if "/factories/adf-ml-project-prodlike" in r["path"]]

    refused = deploy_prodlike(first)
    assert refused.returncode == 2, out(refused)
    assert f"{first[:8]} has not succeeded in local" in refused.stderr, out(refused)
    assert prodlike_writes() == [], "a refused run wrote to the factory"

    project.deployed(first)
    accepted = deploy_prodlike(first)
    assert accepted.returncode == 0, out(accepted)

    # `second` is tried in local and fails there (rolled back): it has still not succeeded in local
    project.emulator.fault(
        method="PUT", path=r"/pipelines/", nth=1, times=1, status=500, code="InternalServerError", message="injected"
    )
    failed = project.deploy(second)
    assert failed.returncode == 4, out(failed)
    project.emulator.admin("DELETE", "/faults")
    seq = last_seq(project)
    again = deploy_prodlike(second)
    assert again.returncode == 2, out(again)
    assert "has not succeeded in local" in again.stderr
    assert [r for r in writes_since(project, seq) if "prodlike" in r["path"]] == []


# --------------------------------------------------------------------------------------------------- deletions


def commit_partial_source(project: Project, keep: tuple[str, ...]) -> str:
    """Commit, in the clone, a publish whose single template holds only the resources of the `keep` types (as a
    tool that read part of a factory would produce); its commit."""
    path = project.path / MIRROR / "ARMTemplateForFactory.json"
    template = json.loads(path.read_text())
    template["resources"] = [r for r in template["resources"] if r["type"].rsplit("/", 1)[-1].lower() in keep]
    path.write_text(json.dumps(template, indent="\t"))
    git(project.path, "commit", "-q", "-am", "publish part of the factory")
    return git(project.path, "rev-parse", "HEAD")


def test_a_source_that_would_delete_too_much_is_refused(project: Project):
    head = project.mirror()[-1]
    project.deployed(head)
    before_names = live_names(project)
    partial = commit_partial_source(project, keep=("linkedservices", "globalparameters"))
    seq, before = last_seq(project), object_writes(project)
    refused = project.deploy(partial)
    assert refused.returncode == 2, out(refused)
    assert "deletion.max_share" in refused.stderr and "refusing to delete" in refused.stderr, out(refused)
    assert writes_since(project, seq) == [] and object_writes(project) == before
    assert live_names(project) == before_names
    assert project.in_sync(head)


def test_protected_objects_survive_a_deploy_that_removes_them(project: Project, tmp_path: Path):
    write_env(project, "guarded", replace={"  protected: []": "  protected: [pipelines/evaluate_*]"})
    commits = project.mirror()
    old, new = commits[4], commits[5]  # `new` drops pipelines/evaluate_mnist and two datasets
    project.deployed(old, env="guarded")
    assert "evaluate_mnist" in live_names(project)["pipelines"]
    plan_file = tmp_path / "plan.json"
    plan = json.loads(project.planned(new, plan_file, env="guarded"))
    kept = {(k["key"]["type"], k["key"]["name"]): k["reason"] for k in plan["kept"]}
    assert kept[("pipelines", "evaluate_mnist")] == "protected"
    deleted = {(s["key"]["type"], s["key"]["name"]) for s in plan["steps"] if s["kind"] == "DeleteObject"}
    assert ("pipelines", "evaluate_mnist") not in deleted and deleted, plan["kept"]
    applied = project.promote("apply", str(plan_file))
    assert applied.returncode == 0, out(applied)
    live = live_names(project)
    assert "evaluate_mnist" in live["pipelines"]
    for kind, name in deleted:
        assert name not in live[kind], f"{kind}/{name} should have been deleted"
    for kind, name in kept:  # whatever the protected pipeline references stays with it
        assert name in live[kind]


def test_a_saved_plan_is_refused_once_the_factory_records_another_deployment(project: Project, tmp_path: Path):
    """Replay: plan A -> B, then B and A are deployed by other runs; the objects are A's again, as when the plan
    was made, but the factory's record is not: the plan would record a stale list of good commits."""
    commits = project.mirror()
    old, new = commits[4], commits[5]
    project.deployed(old)
    plan_file = tmp_path / "plan.json"
    project.planned(new, plan_file)
    project.deployed(new)
    project.deployed(old)
    seq, before = last_seq(project), object_writes(project)
    replay = project.promote("apply", str(plan_file))
    assert replay.returncode == 2, out(replay)
    assert "saved plan is stale" in replay.stderr and "records another deployment" in replay.stderr, out(replay)
    assert writes_since(project, seq) == [] and object_writes(project) == before
    assert project.in_sync(old)


def test_deploy_and_rollback_refuse_what_validate_refuses_before_the_first_write(project: Project, tmp_path: Path):
    """A publish whose pipeline names a dataset that exists nowhere: validate refuses it, and so do deploy,
    apply and rollback --to, with exit 2 and nothing written (not a deployment that fails half way)."""
    head = project.mirror()[-1]
    project.deployed(head)
    path = project.path / MIRROR / "ARMTemplateForFactory.json"
    template = json.loads(path.read_text())
    pipeline = next(r for r in template["resources"] if r["type"].endswith("/pipelines"))
    dataset = next(r for r in template["resources"] if r["type"].endswith("/datasets"))
    name = dataset["name"].split("'/")[1].split("'")[0]
    pipeline["properties"]["activities"].append(
        {
            "name": "copy_from_nowhere",
            "type": "Copy",
            "inputs": [{"referenceName": "ds_that_exists_nowhere", "type": "DatasetReference"}],
            "outputs": [{"referenceName": name, "type": "DatasetReference"}],
            "typeProperties": {"source": {"type": "BinarySource"}, "sink": {"type": "BinarySink"}},
        }
    )
    path.write_text(json.dumps(template, indent="\t"))
    git(project.path, "commit", "-q", "-am", "a publish with a dangling reference")
    broken = git(project.path, "rev-parse", "HEAD")
    validated = project.promote("validate", "--env", "local", "--ref", broken)
    assert validated.returncode == 2 and "ds_that_exists_nowhere" in validated.stderr, out(validated)

    seq, before = last_seq(project), object_writes(project)
    for command in (
        ("deploy", "--env", "local", "--ref", broken, "--yes"),
        ("rollback", "--env", "local", "--to", broken, "--yes"),
        ("plan", "--env", "local", "--ref", broken, "--out", str(tmp_path / "plan.json")),
    ):
        refused = project.promote(*command)
        assert refused.returncode == 2, out(refused)
        assert "references datasets/ds_that_exists_nowhere, which the factory does not have" in refused.stderr
    assert not (tmp_path / "plan.json").exists()
    assert writes_since(project, seq) == [] and object_writes(project) == before
    assert project.in_sync(head)


def test_a_plan_applied_a_second_time_is_already_applied_and_writes_nothing(project: Project, tmp_path: Path):
    commits = project.mirror()
    old, new = commits[4], commits[5]
    project.deployed(old)
    plan_file = tmp_path / "plan.json"
    project.planned(new, plan_file)
    project.applied(plan_file)
    seq, before = last_seq(project), object_writes(project)
    again = project.promote("apply", str(plan_file))
    assert again.returncode == 0, out(again)
    plan_hash = json.loads(plan_file.read_text())["hash"]
    assert f"Plan {plan_hash[:12]} (commit {new[:8]}) was already applied to {LOCAL_FACTORY}" in again.stdout
    assert "nothing was done" in again.stdout and "stale" not in again.stdout + again.stderr
    assert "Record trigger states" not in again.stdout  # the plan is not shown as if it would run
    assert writes_since(project, seq) == [] and object_writes(project) == before
    assert project.in_sync(new)


def assert_nowhere(project: Project, canary: str, results: list[Any], *texts: str) -> None:
    """`canary` is in no output of `results`, none of `texts` (plan files, summaries), no file of `.promote/`
    (journals, runs), nothing of the emulator's state and no request it logged."""
    for result in results:
        assert canary not in result.stdout + result.stderr, f"promote {' '.join(result.args[1:])} printed it"
    for text in texts:
        assert canary not in text
    files = [p for p in (project.path / ".promote").rglob("*") if p.is_file()]
    assert any("journal" in p.parts or "runs" in p.parts for p in files)
    for path in files:
        assert canary.encode() not in path.read_bytes(), f"{path} holds the secret"
    for path in Path(project.emulator.server.state_dir).rglob("*"):
        if path.is_file():
            assert canary.encode() not in path.read_bytes(), f"the emulator's {path.name} holds the secret"
    log = project.emulator.requests()
    assert log and canary not in json.dumps(log)
