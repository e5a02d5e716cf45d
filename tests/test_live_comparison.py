"""Desired × live on the shapes real factories have, through the real CLI against the emulator: secrets from a
secure parameter (ADF's default export of a Blob or SQL linked service), from Key Vault and from `${VAR}`
compare by where they come from; global parameters follow one rule through deploy, rollback, diff and drift;
trigger runtime state is compared as `triggers.start: template` implies."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.emulator_fixtures import EmulatorHandle
from tests.engine_project import PROMOTE, session_in_process
from tests.gitrepo import Repo
from tests.test_engine_safety import writes_since

FOLDER = "adf-shop-dev"
FACTORY = "adf-shop-staging"
SECRETS = {
    "BLOB_CONN": "DefaultEndpointsProtocol=https;AccountName=shop;AccountKey=c2hvcC1rZXk=;EndpointSuffix=core.net",
    "BLOB_CONN_V2": "DefaultEndpointsProtocol=https;AccountName=shop;AccountKey=bmV3LWtleQ==;EndpointSuffix=core.net",
}


def resource(kind: str, name: str, properties: dict[str, Any], depends: list[str] | None = None) -> dict[str, Any]:
    return {
        "name": f"[concat(parameters('factoryName'), '/{name}')]",
        "type": f"Microsoft.DataFactory/factories/{kind}",
        "apiVersion": "2018-06-01",
        "properties": properties,
        "dependsOn": depends or [],
    }


def template(
    *,
    description: str = "v1",
    global_parameters: bool = False,
    trigger: str = "Started",
    blob_parameter: str = "blob_ls_connectionString",
    interval: int = 1,
) -> dict:
    """ADF's export of a small shop factory: a Blob linked service whose connection string is a secureString
    parameter (plain text, which ADF returns with AccountKey= stripped), an SQL one whose password is a
    SecureString (returned as ten asterisks), a pipeline and a schedule trigger."""
    resources = [
        resource(
            "linkedServices",
            "blob_ls",
            {
                "type": "AzureBlobStorage",
                "typeProperties": {"connectionString": f"[parameters('{blob_parameter}')]"},
            },
        ),
        resource(
            "linkedServices",
            "sql_ls",
            {
                "type": "AzureSqlDatabase",
                "typeProperties": {
                    "connectionString": "Server=tcp:shop.database.windows.net;Database=shop;User ID=etl",
                    "password": {"type": "SecureString", "value": "[parameters('sql_ls_password')]"},
                },
            },
        ),
        resource(
            "pipelines",
            "load",
            {
                "description": description,
                "activities": [{"name": "w", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 1}}],
            },
        ),
        resource(
            "triggers",
            "nightly",
            {
                "type": "ScheduleTrigger",
                "runtimeState": trigger,
                "pipelines": [{"pipelineReference": {"referenceName": "load", "type": "PipelineReference"}}],
                "typeProperties": {
                    "recurrence": {"frequency": "Day", "interval": interval, "startTime": "2024-01-01T02:00:00Z"}
                },
            },
            ["[concat(variables('factoryId'), '/pipelines/load')]"],
        ),
    ]
    if global_parameters:
        resources.append(resource("globalparameters", "default", {"region": {"type": "string", "value": "westeurope"}}))
    return {
        "$schema": "http://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {
            "factoryName": {"type": "string", "defaultValue": FOLDER},
            blob_parameter: {"type": "secureString"},
            "sql_ls_password": {"type": "secureString"},
        },
        "variables": {"factoryId": "[concat('Microsoft.DataFactory/factories/', parameters('factoryName'))]"},
        "resources": resources,
    }


def environment(
    emulator: EmulatorHandle, *, blob: str = "BLOB_CONN", sql: str = "sql-pw", start: str = "previous"
) -> str:
    return (
        f"source: {FOLDER}\n"
        f"target:\n  subscription: {emulator.subscription}\n  resource_group: {emulator.resource_group}\n"
        f"  factory: {FACTORY}\n  endpoint: local\n"
        f"parameters:\n  blob_ls_connectionString: ${{{blob}}}\n  blob_ls_connectionString_v2: ${{BLOB_CONN_V2}}\n"
        f"  sql_ls_password:\n    keyvault: {{vault: kv-shop, secret: {sql}}}\n"
        f"triggers:\n  start: {start}\n"
    )


class Shop:
    """A repository of the shop factory's publishes, and `promote` run in it against the test's emulator."""

    def __init__(self, path: Path, emulator: EmulatorHandle):
        self.repo = Repo(path)
        self.emulator = emulator

    def publish(self, message: str, **kwargs: Any) -> str:
        self.repo.write(f"{FOLDER}/ARMTemplateForFactory.json", template(**kwargs))
        return self.repo.commit(message)

    def environment(self, **kwargs: Any) -> None:
        self.repo.write("environments/staging.yaml", environment(self.emulator, **kwargs))

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PROMOTE_EMULATOR_URL": self.emulator.endpoint,
            "PROMOTE_EMULATOR_CA": self.emulator.ca_file,
            **SECRETS,
        }

    def promote(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PROMOTE, *args], cwd=self.repo.path, env=self.env(), capture_output=True, text=True, timeout=300,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip

    def deploy(self, ref: str, *extra: str) -> subprocess.CompletedProcess[str]:
        result = self.promote("deploy", "--env", "staging", "--ref", ref, "--yes", *extra)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def deployed(self, ref: str) -> None:
        """Set the scene: what `promote deploy --env staging --ref REF --yes` does, in this process by the same
        service (it must succeed)."""
        lines: list[str] = []
        with session_in_process(self.repo.path, "staging", self.env()) as s:
            s.progress = lines.append
            report = s.deploy(ref, review=lambda plan: None)
        assert report.exit_code == 0, "\n".join([*lines, report.render()])

    def diff(self, ref: str) -> subprocess.CompletedProcess[str]:
        return self.promote("diff", "--env", "staging", "--ref", ref, "--exit-code")

    def assert_in_sync(self, ref: str) -> None:
        """What `promote diff --env staging --ref REF` and `promote drift --env staging` would say, asked of the
        same service in this process: no change either way, and the factory records REF as deployed."""
        from promote.record.tags import read_record
        from promote.render.text import render_diff

        with session_in_process(self.repo.path, "staging", self.env()) as s:
            live = s.read_live()
            diff = s.live_diff(ref, live)
            assert not diff.changes, render_diff(diff)
            assert read_record(live.tags).commit == ref
            drift = s.live_diff(ref, live, drift=True)
            assert not drift.changes, render_diff(drift)

    def deployments_since(self, seq: int) -> list[dict[str, Any]]:
        return [
            r
            for r in self.emulator.requests(method="PUT")
            if r["seq"] > seq and "/Microsoft.Resources/deployments/" in r["path"] and not r["path"].endswith("-record")
        ]  # a run's entry in the history (`promote.record.history`) writes no object

    def killed_deploy(self, ref: str, *, method: str = "PUT", path: str = r"/triggers/nightly$", **fault: Any) -> str:
        """A `promote deploy` of REF killed while a request is held, by default the second wave's (the trigger's
        PUT): the linked service and the pipeline are written, the run is gone. The killed run's id (its
        journal's)."""
        rule = self.emulator.hold(method, path, **fault)
        killed = subprocess.Popen(
            [PROMOTE, "deploy", "--env", "staging", "--ref", ref, "--yes"], cwd=self.repo.path, env=self.env(),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            self.emulator.wait_until_held(rule)
        finally:
            killed.kill()
            killed.wait(timeout=60)
            self.emulator.release(rule)  # the deployment ends in the emulator; the run that started it is gone
            self.emulator.admin("DELETE", "/faults")
        from promote.record import journal

        killed_run = journal.load(journal.journal_path(self.repo.path, "staging"))
        assert killed_run is not None and killed_run.unfinished
        return killed_run.run_id

    def start_trigger(self) -> None:
        """Start `nightly` by hand (a deploy leaves a new trigger stopped under `start: previous`): a plan that
        changes it then stops it first, and marks its run in progress on the factory (`promote.record.marker`)."""
        with self.emulator.adf_client() as adf:
            adf.triggers.begin_start(self.emulator.resource_group, FACTORY, "nightly").result()

    def fresh_runner(self, path: Path) -> Shop:
        """The repository on a fresh CI runner: a clone, with no `.promote/` (no journal, no lock)."""
        subprocess.run(["git", "clone", "-q", str(self.repo.path), str(path)], check=True)
        return Shop(path, self.emulator)  # (`git init` in a clone only initialises it again)

    def factory_tags(self) -> dict[str, str]:
        with self.emulator.adf_client() as adf:
            return dict(adf.factories.get(self.emulator.resource_group, FACTORY).tags or {})

    def record(self) -> Any:
        from promote.record.tags import read_record

        return read_record(self.factory_tags())

    def expire_lease(self) -> None:
        """Move the factory's lease into the past, as its `PROMOTE_LEASE_SECONDS` running out would (written as
        any client writes tags)."""
        from datetime import datetime, timedelta, timezone

        from promote.apply.lease import TAG_LEASE, read_lease

        tags = self.factory_tags()
        lease = read_lease(tags)
        assert lease is not None, "the factory holds no lease"
        past = datetime.now(timezone.utc) - timedelta(minutes=5)
        tags[TAG_LEASE] = f"{lease.token} {past:%Y-%m-%dT%H:%M:%SZ} {lease.machine}"
        with self.emulator.adf_client() as adf:
            adf.factories.update(self.emulator.resource_group, FACTORY, {"tags": tags})

    def last_seq(self) -> int:
        requests = self.emulator.requests()
        return requests[-1]["seq"] if requests else 0


@pytest.fixture
def shop(tmp_path: Path, emulator: EmulatorHandle) -> Shop:
    return Shop(tmp_path / "repo", emulator)


def test_secrets_compare_by_their_source_and_rotation_is_explicit(shop: Shop):
    shop.environment()
    v1 = shop.publish("publish 1")
    shop.deployed(v1)
    # ADF returns neither secret: a freshly deployed factory still shows no change, and drift is clean
    shop.assert_in_sync(v1)
    seq = shop.last_seq()
    again = shop.deploy(v1)
    assert shop.deployments_since(seq) == [], again.stdout  # nothing rewritten only because it holds a secret

    # another Key Vault secret for the SQL password: a change, shown as where the value comes from
    shop.environment(sql="sql-pw-2")
    diff = shop.diff(v1)
    assert diff.returncode == 3
    # (the record holds digests, not names: it knows the source changed, and says where the new one is)
    assert (
        "~ typeProperties.password.value: <secret from the source deployed before> -> "
        "<secret from Key Vault kv-shop/sql-pw-2>" in diff.stdout
    )
    assert "blob_ls" not in diff.stdout
    plan = shop.promote("plan", "--env", "staging", "--ref", v1)
    assert "~ linkedServices/sql_ls" in plan.stdout and "linkedServices/blob_ls" not in plan.stdout, plan.stdout
    assert "sql_ls_password from Key Vault kv-shop/sql-pw-2" in plan.stdout  # the plan says a secret is written
    shop.deploy(v1)
    shop.assert_in_sync(v1)

    # another variable for the Blob connection string: a change too, never showing either value
    shop.environment(blob="BLOB_CONN_V2", sql="sql-pw-2")
    diff = shop.diff(v1)
    assert diff.returncode == 3
    assert (
        "typeProperties.connectionString: <secret from the source deployed before> -> <secret from $BLOB_CONN_V2>"
        in diff.stdout
    )
    assert "sql_ls" not in diff.stdout
    assert not [s for s in SECRETS.values() if s in diff.stdout + diff.stderr]
    shop.deploy(v1)
    shop.assert_in_sync(v1)

    # rotation: new values behind the same sources reach the factory only when asked for, and the plan says so
    plan = shop.promote("plan", "--env", "staging", "--ref", v1, "--rotate-secrets")
    assert plan.returncode == 0, plan.stderr
    assert "~ linkedServices/blob_ls" in plan.stdout and "~ linkedServices/sql_ls" in plan.stdout
    assert "--rotate-secrets: 2 objects holding secrets written again" in plan.stdout
    seq = shop.last_seq()
    rotated = shop.deploy(v1, "--rotate-secrets")
    assert len(shop.deployments_since(seq)) == 1, rotated.stdout
    shop.assert_in_sync(v1)


def test_a_rollback_after_a_failure_writes_again_the_secrets_the_failed_run_wrote(shop: Shop):
    """A deploy that writes a linked service whose secret now comes from another source (another secure
    parameter, fed by another variable), then fails, is rolled back with that linked service written again from
    the old source. A secret's value is never compared (ADF does not return it) and the factory's record still
    names the old source, so without this the rollback would leave the new value in place and call it in sync."""
    shop.environment()
    v1 = shop.publish("publish 1")
    v2 = shop.publish("publish 2", description="v2", blob_parameter="blob_ls_connectionString_v2", interval=2)
    shop.deployed(v1)
    # the trigger is written in the second wave, after the linked service and the pipeline: its 500 fails the deploy
    shop.emulator.fault(method="PUT", path=r"/triggers/nightly$", times=1, status=500, code="InternalServerError")
    failed = shop.promote("deploy", "--env", "staging", "--ref", v2, "--yes")
    shop.emulator.admin("DELETE", "/faults")
    assert failed.returncode == 4, failed.stdout + failed.stderr
    wrote, rolled_back = failed.stdout.split("Rolling back to the last good commit", 1)
    assert "deploy 3 objects [1/1]: linkedServices/blob_ls, pipelines/load, triggers/nightly" in wrote, wrote
    # blob_ls is written again from $BLOB_CONN, although it compares equal to v1 (the record names that source)
    assert "deploy 2 objects [1/1]: linkedServices/blob_ls, pipelines/load" in rolled_back, rolled_back
    assert not [s for s in SECRETS.values() if s in failed.stdout + failed.stderr]
    shop.assert_in_sync(v1)
    # only after a failure: a rollback by hand to v1 now writes nothing (nothing holds a secret from elsewhere)
    assert shop.promote("diff", "--env", "staging", "--ref", v1, "--exit-code").returncode == 0


def test_the_run_that_finishes_a_killed_one_writes_again_every_object_holding_a_secret(shop: Shop):
    """The same source change, but the deploy is killed after writing the linked service: the rollback that
    finishes it cannot know what the killed run wrote, so it writes again every object holding a secret."""
    shop.environment()
    v1 = shop.publish("publish 1")
    v2 = shop.publish("publish 2", description="v2", blob_parameter="blob_ls_connectionString_v2", interval=2)
    shop.deployed(v1)
    shop.killed_deploy(v2)
    rolled = shop.promote("rollback", "--env", "staging", "--yes")
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert "Recovering the interrupted deploy" in rolled.stdout, rolled.stdout
    assert "written again: the interrupted run wrote, perhaps secrets from another source" in rolled.stdout
    deploys = [line for line in rolled.stdout.splitlines() if re.match(r"\s*\[\d+/\d+\] deploy ", line)]
    assert any("linkedServices/blob_ls" in line for line in deploys), rolled.stdout
    assert any("linkedServices/sql_ls" in line for line in deploys), rolled.stdout  # every secret: unknown
    assert not [s for s in SECRETS.values() if s in rolled.stdout + rolled.stderr]
    shop.assert_in_sync(v1)


def test_a_saved_plan_made_on_a_fresh_runner_after_a_killed_run_writes_the_secrets_again(shop: Shop, tmp_path: Path):
    """The path production takes: a plan job and an apply job, each on a fresh runner with no journal. After a
    deploy killed with its second wave held, the plan made there finds the killed run in the factory's record,
    says it finishes it, and writes again every object holding a secret, each with the reason; a plan made before
    the run was killed is refused as stale; the new plan is applied, writes them, and the factory is in sync."""
    shop.environment()
    v1 = shop.publish("publish 1")
    v2 = shop.publish("publish 2", description="v2", blob_parameter="blob_ls_connectionString_v2", interval=2)
    shop.deployed(v1)
    shop.start_trigger()  # the killed run stops it first: the factory records that run (a fresh runner's only trace)
    runner = shop.fresh_runner(tmp_path / "runner")
    before = runner.promote("plan", "--env", "staging", "--ref", v1, "--out", "before.json")
    assert before.returncode == 0, before.stdout + before.stderr
    run_id = shop.killed_deploy(v2)
    marker = shop.record().in_progress
    assert marker is not None and marker.run_id == run_id
    shop.expire_lease()  # the killed run's lease, taken on another machine, ran out (as time passing does)

    seq = shop.last_seq()
    stale = runner.promote("apply", "before.json")
    assert stale.returncode == 2, stale.stdout + stale.stderr
    assert f"saved plan is stale: run {run_id}, interrupted, is still unfinished on factory {FACTORY}" in stale.stderr
    assert "make a new plan" in stale.stderr, stale.stderr
    assert not writes_since(shop, seq), stale.stdout  # refused before anything was touched

    made = runner.promote("plan", "--env", "staging", "--ref", v1, "--out", "p.json")
    assert made.returncode == 0, made.stdout + made.stderr
    assert f"finishes:          the interrupted run {run_id}" in made.stdout, made.stdout
    why = "2 objects holding secrets written again: the interrupted run wrote, perhaps secrets from another source"
    assert why in made.stdout, made.stdout
    for name in ("blob_ls", "sql_ls"):  # compared, both equal v1's: written only because of the killed run
        assert re.search(rf"~ linkedServices/{name} .*interrupted run", made.stdout), made.stdout
    markdown = runner.promote("plan", "--env", "staging", "--ref", v1, "--format", "markdown")
    assert f"| finishes | the interrupted run {run_id}, left unfinished" in markdown.stdout, markdown.stdout
    assert why in markdown.stdout, markdown.stdout
    saved = json.loads((runner.repo.path / "p.json").read_text())
    assert saved["finishes"] == run_id
    assert why in saved["notes"]

    seq = shop.last_seq()
    applied = runner.promote("apply", "p.json")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert f"Recovering the interrupted run {run_id}" in applied.stdout, applied.stdout
    written = [r["path"] for r in shop.deployments_since(seq)]
    assert len(written) == 1, applied.stdout  # one deployment, holding both linked services (its template's log)
    deploys = [line for line in applied.stdout.splitlines() if re.match(r"\s*\[\d+/\d+\] deploy ", line)]
    assert any("linkedServices/blob_ls" in line and "linkedServices/sql_ls" in line for line in deploys), deploys
    assert not [s for s in SECRETS.values() if s in made.stdout + made.stderr + applied.stdout + applied.stderr]
    shop.assert_in_sync(v1)
    assert shop.record().in_progress is None


def test_a_plan_made_before_a_run_was_killed_is_refused_though_the_run_changed_no_object(shop: Shop, tmp_path: Path):
    """A deploy killed right after recording itself on the factory, while its first trigger stop is held (and
    then refused): no object and no trigger state changed, so the factory as a plan compares it is the same, but
    the factory records a run in progress that nobody knows the writes of. On a fresh runner, `promote status`
    says so, and a plan made before the kill is refused as stale, naming the run, nothing written."""
    shop.environment()
    v1 = shop.publish("publish 1")
    v2 = shop.publish("publish 2", description="v2", interval=2)
    shop.deployed(v1)
    shop.start_trigger()
    runner = shop.fresh_runner(tmp_path / "runner")
    before = runner.promote("plan", "--env", "staging", "--ref", v2, "--out", "before.json")
    assert before.returncode == 0, before.stdout + before.stderr
    run_id = shop.killed_deploy(v2, method="POST", path=r"/triggers/nightly/stop$", status=500, code="Gone")
    shop.expire_lease()
    status = runner.promote("status", "--env", "staging")
    assert f"an interrupted run ({run_id}) awaits recovery" in status.stdout, status.stdout + status.stderr
    seq = shop.last_seq()
    stale = runner.promote("apply", "before.json")
    assert stale.returncode == 2, stale.stdout + stale.stderr
    assert f"saved plan is stale: run {run_id}, interrupted, is still unfinished" in stale.stderr, stale.stderr
    assert "make a new plan" in stale.stderr, stale.stderr
    assert not writes_since(shop, seq), stale.stdout


def test_a_saved_plan_made_where_the_run_was_killed_writes_the_secrets_again(shop: Shop):
    """The same on the machine where the deploy was killed: its journal says which run, the plan (as JSON) says
    it finishes it and writes every object holding a secret again, and apply goes forward to the commit."""
    shop.environment()
    v1 = shop.publish("publish 1")
    v2 = shop.publish("publish 2", description="v2", blob_parameter="blob_ls_connectionString_v2", interval=2)
    shop.deployed(v1)
    run_id = shop.killed_deploy(v2)
    made = shop.promote("plan", "--env", "staging", "--ref", v2, "--out", "p.json", "--format", "json")
    assert made.returncode == 0, made.stdout + made.stderr
    shown = json.loads(made.stdout)
    assert shown["finishes"] == run_id
    # blob_ls changes anyway (its secret's source changed); sql_ls is written only because of the killed run
    why = "1 object holding secrets written again: the interrupted run wrote, perhaps secrets from another source"
    assert why in shown["notes"], shown["notes"]
    writes = {w["key"]["name"]: w for step in shown["steps"] if step["kind"] == "Deploy" for w in step["writes"]}
    assert "sql_ls" in writes and "blob_ls" in writes, writes
    seq = shop.last_seq()
    applied = shop.promote("apply", "p.json")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "Recovering the interrupted deploy" in applied.stdout, applied.stdout
    assert len(shop.deployments_since(seq)) == 1, applied.stdout
    shop.assert_in_sync(v2)
    assert shop.record().in_progress is None


def test_a_factory_without_a_secrets_record_writes_its_secrets_once(shop: Shop):
    """A factory deployed before the record existed (or by another tool): where its secrets come from is
    unknown, so they count as changed, the next deploy writes them and records them, and then all is quiet."""
    shop.environment()
    v1 = shop.publish("publish 1")
    shop.deployed(v1)
    with shop.emulator.adf_client() as adf:
        factory = adf.factories.get(shop.emulator.resource_group, FACTORY)
        tags = {k: v for k, v in (factory.tags or {}).items() if k != "promote-secrets"}
        adf.factories.update(shop.emulator.resource_group, FACTORY, {"tags": tags})
    diff = shop.diff(v1)
    assert diff.returncode == 3
    assert "<secret from a source no deployment record tells> -> <secret from $BLOB_CONN>" in diff.stdout
    shop.deploy(v1)
    shop.assert_in_sync(v1)


def test_global_parameters_one_rule_through_deploy_rollback_diff_and_drift(shop: Shop):
    shop.environment()
    without = shop.publish("publish 1: no global parameters")
    with_them = shop.publish("publish 2: global parameters", description="v2", global_parameters=True)
    shop.deployed(without)
    shop.deployed(with_them)
    shop.assert_in_sync(with_them)
    rollback = shop.promote("rollback", "--env", "staging", "--yes")
    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    # the version gone back to holds none: the live ones stay, and nothing lists them as a change
    shop.assert_in_sync(without)
    diff = shop.promote("diff", "--env", "staging", "--ref", without, "--format", "json")
    assert (
        json.loads(diff.stdout)["notes"]
        == [
            f'{without[:8]}:{FOLDER} holds no global parameters (ADF publishes them only with "Include global '
            "parameters in ARM template\" on): the other side's are left as they are, not compared"
        ]
        or "holds no global parameters" in json.loads(diff.stdout)["notes"][0]
    )


def test_trigger_runtime_state_is_compared_as_start_template_implies(shop: Shop):
    shop.environment(start="template")
    v1 = shop.publish("publish 1")
    shop.deployed(v1)
    assert shop.promote("status", "--env", "staging", "--format", "json").stdout.count('"Started"') == 1
    shop.assert_in_sync(v1)
    with shop.emulator.adf_client() as adf:
        adf.triggers.begin_stop(shop.emulator.resource_group, FACTORY, "nightly").result()
    # someone stopped it by hand: the template marks it Started, so the deploy would start it
    drift = shop.promote("drift", "--env", "staging")
    assert drift.returncode == 3 and '~ runtimeState: "Started" -> "Stopped"' in drift.stdout, drift.stdout
    diff = shop.diff(v1)
    assert diff.returncode == 3 and '~ runtimeState: "Stopped" -> "Started"' in diff.stdout
    seq = shop.last_seq()
    shop.deploy(v1)
    assert shop.deployments_since(seq) == []  # only started: no rewrite of the trigger
    shop.assert_in_sync(v1)
    # a version that does not mark it Started: start: template leaves a running trigger alone; not compared
    v2 = shop.publish("publish 2", trigger="Stopped")
    assert shop.diff(v2).returncode == 0


def test_start_previous_does_not_compare_runtime_state(shop: Shop):
    shop.environment()
    v1 = shop.publish("publish 1")
    shop.deployed(v1)  # created Stopped; `previous` starts nothing that did not run
    shop.assert_in_sync(v1)


def test_plan_and_deploy_refuse_a_type_arm_does_not_have_naming_parameter_and_file(shop: Shop):
    shop.environment()
    doc = template()
    doc["parameters"]["retries"] = {"type": "number", "defaultValue": 3}  # custom parameterization wrote it
    shop.repo.write(f"{FOLDER}/ARMTemplateForFactory.json", doc)
    commit = shop.repo.commit("publish with a number parameter")
    seq = shop.last_seq()
    for command in (("deploy", "--yes"), ("plan",)):
        refused = shop.promote(*command, "--env", "staging", "--ref", commit)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert f"{commit}:{FOLDER}/ARMTemplateForFactory.json" in refused.stderr
        assert "parameters.retries" in refused.stderr and "'number', which ARM does not have" in refused.stderr
        assert "write its type as int" in refused.stderr
        # refused before any object or deployment is written (the local target's empty factory may be created)
        written = [
            r["path"]
            for r in shop.emulator.requests()
            if r["seq"] > seq and r["method"] != "GET" and re.search(f"/factories/{FACTORY}/|/deployments/", r["path"])
        ]
        assert written == [], written
    # a diff only needs to compare: it warns and goes on
    diff = shop.promote("diff", "--env", "staging", "--from", commit, "--to", commit)
    assert diff.returncode == 0 and "'number', which ARM does not have" in diff.stderr
