"""A storage account key in a linked service's plain connection string, through the real CLI against the emulator.

ADF takes the `AccountKey=` part out of a plain-string connection string and keeps it encrypted (the emulator
does the same, `promote/emulator/store/values.py`), so the factory never answers with the key. A key that comes
from a secureString parameter is compared through the factory's record of sources; one written as plain text (a
literal in the template, or a `string` parameter, as custom parameterization declares them) must be too: a
freshly deployed factory shows no change, a changed key is a change that a deploy writes, a changed account
name is still a change, and no output shows a key, nor a saved plan (a digest stands for it there, and apply
deploys the key from the commit).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.emulator_fixtures import EmulatorHandle
from tests.engine_project import PROMOTE
from tests.gitrepo import Repo

FOLDER = "adf-keys"
FACTORY = "adf-keys-staging"
RG = "rg-keys"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
# Canaries, never a real key: each must never appear in what promote prints or keeps.
KEYS = {"secure": "Q2FuYXJ5U2VjdXJl", "literal": "Q2FuYXJ5TGl0ZXJhbA", "string": "Q2FuYXJ5U3RyaW5n"}
VARIABLE = "KEYS_SECURE_CONNECTION"


def connection(account: str, key: str) -> str:
    return f"DefaultEndpointsProtocol=https;AccountName={account};AccountKey={key}==;EndpointSuffix=core.windows.net"


def linked_service(name: str, connection_string: str) -> dict[str, Any]:
    return {
        "name": f"[concat(parameters('factoryName'), '/{name}')]",
        "type": "Microsoft.DataFactory/factories/linkedServices",
        "apiVersion": "2018-06-01",
        "properties": {"type": "AzureBlobStorage", "typeProperties": {"connectionString": connection_string}},
        "dependsOn": [],
    }


def template(literal_key: str) -> dict[str, Any]:
    """Three linked services: the key from a secureString parameter (ADF's default export), written in the
    template, and from a plain `string` parameter."""
    return {
        "$schema": "http://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {
            "factoryName": {"type": "string", "defaultValue": FOLDER},
            "ls_secure_connectionString": {"type": "secureString"},
            "ls_string_connectionString": {"type": "string"},
        },
        "variables": {"factoryId": "[concat('Microsoft.DataFactory/factories/', parameters('factoryName'))]"},
        "resources": [
            linked_service("ls_secure", "[parameters('ls_secure_connectionString')]"),
            linked_service("ls_literal", connection("literal", literal_key)),
            linked_service("ls_string", "[parameters('ls_string_connectionString')]"),
        ],
    }


def environment(string_key: str) -> str:
    return (
        f"source: {FOLDER}\ntarget:\n  subscription: {SUBSCRIPTION}\n  resource_group: {RG}\n"
        f"  factory: {FACTORY}\n  endpoint: local\nparameters:\n"
        f"  ls_secure_connectionString: ${{{VARIABLE}}}\n"
        f'  ls_string_connectionString: "{connection("string", string_key)}"\n'
    )


def publish(repo: Repo, literal_key: str, string_key: str, message: str) -> str:
    repo.write(f"{FOLDER}/ARMTemplateForFactory.json", template(literal_key))
    repo.write("environments/staging.yaml", environment(string_key))
    return repo.commit(message)


class Cli:
    """`promote` as a user runs it, every output kept to look for the keys."""

    def __init__(self, repo: Repo, emulator: EmulatorHandle):
        self.repo = repo
        self.emulator = emulator
        self.outputs: list[str] = []

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "PROMOTE_EMULATOR_URL": self.emulator.endpoint,
            "PROMOTE_EMULATOR_CA": self.emulator.ca_file,
            VARIABLE: connection("secure", KEYS["secure"]),
        }
        result = subprocess.run(
            [PROMOTE, *args], cwd=self.repo.path, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        self.outputs.append(result.stdout + result.stderr)
        return result

    def changed(self, ref: str) -> dict[str, list[str]]:
        """`promote diff --env staging --format json --exit-code`: changed object -> paths (exit 3 iff any)."""
        result = self("diff", "--env", "staging", "--ref", ref, "--format", "json", "--exit-code")
        assert result.returncode in (0, 3), result.stderr
        changes = {c["name"]: c["paths"] for c in json.loads(result.stdout)["changes"]}
        assert (result.returncode == 3) == bool(changes)
        return changes

    def drift(self) -> str:
        result = self("drift", "--env", "staging")
        assert result.returncode in (0, 3), result.stderr
        return result.stdout if result.returncode == 3 else ""


def linked_service_writes(emulator: EmulatorHandle) -> int:
    return int(dict(emulator.stats()["objectWrites"]).get("linkedServices", 0))


def received(emulator: EmulatorHandle) -> set[str]:
    """Which rotated keys ARM received in a deployment's template (their names: a failure prints no key)."""
    with emulator.deployments_client() as arm:
        arm._config.subscription_id = SUBSCRIPTION
        templates = [
            json.dumps(arm.deployments.export_template(RG, d.name).template)
            for d in arm.deployments.list_by_resource_group(RG)
        ]
    return {name for name in ("literal", "string") if any(KEYS[name] + "2" in text for text in templates)}


def shown_keys(texts: list[str]) -> list[str]:
    """Which canaries any of the texts holds (their names, not the keys)."""
    return [name for name, key in KEYS.items() if any(key in text for text in texts)]


def test_a_plain_account_key_deploys_quietly_and_a_changed_one_is_written(
    tmp_path: Path, emulator: EmulatorHandle
) -> None:
    repo = Repo(tmp_path / "repo")
    cli = Cli(repo, emulator)
    first = publish(repo, KEYS["literal"], KEYS["string"], "publish 1")
    deployed = cli("deploy", "--env", "staging", "--ref", first, "--yes")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    with emulator.adf_client() as adf:
        adf._config.subscription_id = SUBSCRIPTION
        live = {
            ls.name: ls.as_dict()["properties"]["typeProperties"]
            for ls in adf.linked_services.list_by_factory(RG, FACTORY)
        }
    assert {name: tp["connectionString"].count("AccountKey") for name, tp in live.items()} == dict.fromkeys(live, 0)

    # the key ADF took out is no change: not in diff, not in drift, and a second deploy writes nothing
    assert cli.changed(first) == {}
    assert cli.drift() == ""
    writes = linked_service_writes(emulator)
    again = cli("deploy", "--env", "staging", "--ref", first, "--yes")
    assert again.returncode == 0 and linked_service_writes(emulator) == writes, again.stdout + again.stderr

    # another key, in the template and in the string parameter: a change, which the deploy writes
    second = publish(repo, KEYS["literal"] + "2", KEYS["string"] + "2", "publish 2: keys rotated")
    assert cli.changed(second) == {
        "ls_literal": ["typeProperties.connectionString"],
        "ls_string": ["typeProperties.connectionString"],
    }
    # saved, the plan holds a digest of each key, not the key; applied, ARM gets the key from the commit
    plan_file = tmp_path / "plan.json"
    planned = cli("plan", "--env", "staging", "--ref", second, "--out", str(plan_file))
    assert planned.returncode == 0, planned.stdout + planned.stderr
    saved = plan_file.read_text()
    digests = saved.count("AccountKey=<sha256 ")  # counted apart: a failed assert prints no file text
    assert digests == 2 and shown_keys([saved]) == []
    rotated = cli("apply", str(plan_file))
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    assert linked_service_writes(emulator) == writes + 2
    assert received(emulator) == {"literal", "string"}
    assert cli.changed(second) == {} and cli.drift() == ""

    # the rest of the connection string is still compared: another account name set by hand is drift
    with emulator.adf_client() as adf:
        adf._config.subscription_id = SUBSCRIPTION
        by_hand = {"type": "AzureBlobStorage", "typeProperties": {"connectionString": connection("elsewhere", "x")}}
        adf.linked_services.create_or_update(RG, FACTORY, "ls_literal", {"properties": by_hand})
    assert "ls_literal" in cli.drift()
    assert cli.changed(second) == {"ls_literal": ["typeProperties.connectionString"]}

    assert shown_keys(cli.outputs) == []
    kept = [p.read_text(errors="replace") for p in (repo.path / ".promote").rglob("*") if p.is_file()]
    files = len(kept)
    assert files > 0 and shown_keys(kept) == []  # journals and logs
