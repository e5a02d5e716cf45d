"""What the approver reads, through the real CLI against the emulator: the plan's values old -> new, creates'
outlines, deletes' referrers, the impact counts, in text, markdown and JSON, and never a secret (canaries in a
`${VAR}` secret and in a secret-shaped override value)."""

from __future__ import annotations

import json

from tests.engine_project import Project
from tests.test_engine_safety import last_seq, write_env, writes_since

CANARY = "Zq8cAnArY"
SECRET_VALUE = f"DefaultEndpointsProtocol=https;AccountName=devstoreaccount1;AccountKey={CANARY}=="
POOL = f"Server=tcp:pool.example.net;Password={CANARY}pw"
OVERRIDE = f"""
  - object: linkedServices/ls_batch_mnist
    path: properties.typeProperties.poolName
    value: "{POOL}"
"""


def test_the_plan_shows_values_outlines_referrers_and_impact_and_no_secret(project: Project) -> None:
    commits = project.mirror()
    project.deployed(commits[2])
    write_env(
        project,
        "local",
        secret="${ADF_ACCOUNT_KEY}",
        replace={
            "default_properties_env_value: local\n": "default_properties_env_value: local-2\n",
            "overrides:\n": "overrides:" + OVERRIDE,
        },
    )
    secrets = {"ADF_ACCOUNT_KEY": SECRET_VALUE}
    head = commits[-1]
    md = project.promote("plan", "--env", "local", "--ref", head, "--format", "markdown", **secrets)
    assert md.returncode == 0, md.stderr
    text = md.stdout
    # the impact counts at the top, before the first phase
    table = (
        "| destructive | trigger-affecting | infrastructure | parameter-only | content |\n|---:|---:|---:|---:|---:|\n"
    )
    assert table + "| 2 | 6 | 2 | 1 | 0 |" in text
    assert text.index(table) < text.index("### Record trigger states")
    # a changed scalar: old -> new
    assert (
        '~ activities[name=train_model].typeProperties.command: "python train.py --data mnist/train --test-data '
        'mnist/test --model-dir models" -> "python train.py --data mnist/train --test-data mnist/test --model-dir '
        'models --epochs 15"'
    ) in text
    assert '~ globalParameters/default [parameter-only]\n      ~ env.value: "local" -> "local-2"' in text
    # a secret's source changed: where it comes from (the factory's record), never what it is
    assert (
        "~ typeProperties.accountKey.value: <secret from the source deployed before> -> <secret from $ADF_ACCOUNT_KEY>"
        in text
    )
    # a secret-shaped value in a plain property is masked
    assert '~ typeProperties.poolName: "local-pool" -> <secret>' in text
    # creates show their main properties
    assert (
        "+ triggers/hourly_ingest [trigger-affecting]\n      type: TumblingWindowTrigger\n"
        "      window: every 1 Hour from 2025-04-01T00:00:00Z\n      pipelines: ingest_mnist"
    ) in text
    # a delete says what referenced it in the live factory, and that it is a rename
    assert (
        ". - datasets/mnist\\_scores \\[destructive\\] (renamed to datasets/mnist\\_predictions; referenced by "
        "pipelines/score\\_mnist)"
    ) in text
    assert CANARY not in text + md.stderr

    out = project.path / "plan.json"
    saved = project.promote("plan", "--env", "local", "--ref", head, "--format", "json", "--out", str(out), **secrets)
    assert saved.returncode == 0, saved.stderr
    assert CANARY not in saved.stdout + saved.stderr
    # the file holds the templates ARM receives (plain values as written); never the secret variable's value
    assert SECRET_VALUE not in out.read_text() and "ADF_ACCOUNT_KEY" in out.read_text()
    doc = json.loads(saved.stdout)
    assert all(set(s["template"]) == {"bytes", "sha256", "shown"} for s in doc["steps"] if s["kind"] == "Deploy")
    assert doc["impact"] == {
        "destructive": 2,
        "trigger-affecting": 6,
        "infrastructure": 2,
        "parameter-only": 1,
        "content": 0,
    }
    writes = {
        f"{w['key']['type']}/{w['key']['name']}": w for s in doc["steps"] if s["kind"] == "Deploy" for w in s["writes"]
    }
    assert writes["globalParameters/default"]["details"] == [
        {"path": "env.value", "kind": "change", "before": '"local"', "after": '"local-2"'}
    ]
    assert writes["globalParameters/default"]["impact"] == ["parameter-only"]
    assert writes["triggers/hourly_ingest"]["outline"][0] == {"label": "type", "text": "TumblingWindowTrigger"}
    [delete] = [s for s in doc["steps"] if s["kind"] == "DeleteObject"]
    assert delete["referrers"] == ["pipelines/score_mnist"] and delete["rename"] == "datasets/mnist_predictions"
    # the same plan in text, as apply shows it
    plain = project.promote("plan", "--env", "local", "--ref", head, **secrets)
    assert "Impact: 2 destructive, 6 trigger-affecting, 2 infrastructure, 1 parameter-only, 0 content." in plain.stdout
    assert '~ env.value: "local" -> "local-2"' in plain.stdout and CANARY not in plain.stdout + plain.stderr


def test_an_environment_that_wants_destructive_changes_confirmed_refuses_without_the_flag(project: Project) -> None:
    commits = project.mirror()
    project.deployed(commits[2])
    write_env(project, "local", replace={"\ndeletion:\n": "\nconfirm: [destructive, infrastructure]\n\ndeletion:\n"})
    head = commits[-1]  # deletes datasets/mnist_scores (a rename): 2 destructive changes, no infrastructure one
    seq = last_seq(project)

    # the plan says so up front, exits 2 and saves nothing
    plan_file = project.path / "plan.json"
    planned = project.promote("plan", "--env", "local", "--ref", head, "--out", str(plan_file))
    assert planned.returncode == 2 and not plan_file.exists(), planned.stdout + planned.stderr
    assert planned.stdout.index("Apply will be refused:") < planned.stdout.index("Record trigger states:")
    wants = "the plan holds 2 destructive changes, which local wants confirmed (confirm: [destructive, infrastructure])"
    assert f"impact.confirm: {wants}" in planned.stdout
    assert "make it again with --confirm destructive;" in planned.stdout  # the hint names the flag
    # deploy without the flag, or confirming another class only: refused, nothing written
    for extra in ((), ("--confirm", "infrastructure")):
        refused = project.promote("deploy", "--env", "local", "--ref", head, "--yes", *extra)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert wants in refused.stderr
    bad = project.promote("deploy", "--env", "local", "--ref", head, "--yes", "--confirm", "destructve")
    assert bad.returncode == 2 and "'destructve' is not an impact class" in bad.stderr
    assert writes_since(project, seq) == [], "a refused plan wrote to the emulator"

    # confirmed: the saved plan says so, apply carries it out, and the factory and the history record it with who
    planned = project.promote(
        "plan", "--env", "local", "--ref", head, "--out", str(plan_file), "--confirm", "destructive"
    )
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert f"impact.confirm overridden (--confirm destructive): {wants}" in planned.stdout
    assert json.loads(plan_file.read_text())["confirm"] == ["destructive"]
    applied = project.promote("apply", str(plan_file))
    assert applied.returncode == 0, applied.stdout + applied.stderr
    status = json.loads(project.promote("status", "--env", "local", "--format", "json").stdout)
    assert status["commit"] == head and "--confirm destructive" in status["override"] and status["deployed_by"]
    rows = json.loads(project.promote("history", "--env", "local", "--format", "json").stdout)
    assert any(r["record"] and r["commit"] == head and "impact.confirm" in (r["override"] or "") for r in rows)
