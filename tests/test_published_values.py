"""What ADF really publishes as parameter values, through the real CLI: `diff` between versions compares what
it cannot convert as written (one warning per parameter naming the quirk), `validate` refuses it naming the
parameter, the file and what ADF did, and an environment's values replace the development ones (what only
those get wrong is a warning). Also where the factory folder comes from when no `--source` is given."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from promote.cli import main
from tests.gitrepo import Repo
from tests.test_reference_factories import BROKEN, FACTORIES, folder_of

FOLDER = "adf-quirks-dev"


def template(parameters: dict[str, Any], url: str = "https://example.invalid/") -> dict[str, Any]:
    """A factory of one Blob linked service (its connection string from a secure parameter, ADF's default
    export) and one pipeline whose retry count comes from `retries`."""
    return {
        "$schema": "http://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {
            "factoryName": {"type": "string", "defaultValue": FOLDER},
            "blob_ls_connectionString": {"type": "secureString"},
            **parameters,
        },
        "variables": {"factoryId": "[concat('Microsoft.DataFactory/factories/', parameters('factoryName'))]"},
        "resources": [
            {
                "name": "[concat(parameters('factoryName'), '/blob_ls')]",
                "type": "Microsoft.DataFactory/factories/linkedServices",
                "apiVersion": "2018-06-01",
                "properties": {
                    "type": "AzureBlobStorage",
                    "typeProperties": {"connectionString": "[parameters('blob_ls_connectionString')]"},
                    "description": url,
                },
                "dependsOn": [],
            },
            {
                "name": "[concat(parameters('factoryName'), '/copy')]",
                "type": "Microsoft.DataFactory/factories/pipelines",
                "apiVersion": "2018-06-01",
                "properties": {
                    "activities": [
                        {
                            "name": "wait",
                            "type": "Wait",
                            "policy": {"retry": "[parameters('retries')]"},
                            "typeProperties": {"waitTimeInSeconds": "[parameters('seconds')]"},
                        }
                    ],
                },
                "dependsOn": [],
            },
        ],
    }


QUIRKY = {
    "retries": {"type": "int"},  # no default; ADF's custom parameterization writes "value": "" for it
    "seconds": {"type": "number"},  # hand-written type in arm-template-parameters-definition.json
}


def values_file(parameters: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": "https://schema.management.azure.com/schemas/2015-01-01/deploymentParameters.json#",
        "contentVersion": "1.0.0.0",
        "parameters": parameters,
    }


def factory_repo(tmp_path: Path, environments: dict[str, str] | None = None) -> tuple[Repo, str, str]:
    """Two publishes: the first with a parameters file holding ADF's quirks, the second without any."""
    repo = Repo(tmp_path / "repo")
    repo.write(f"{FOLDER}/ARMTemplateForFactory.json", template(QUIRKY))
    repo.write(
        f"{FOLDER}/ARMTemplateParametersForFactory.json",
        values_file({"factoryName": {"value": FOLDER}, "retries": {"value": ""}, "seconds": {}}),
    )
    for name, text in (environments or {}).items():
        repo.write(f"environments/{name}.yaml", text)
    first = repo.commit("publish 1")
    repo.remove(f"{FOLDER}/ARMTemplateParametersForFactory.json")
    repo.write(f"{FOLDER}/ARMTemplateForFactory.json", template(QUIRKY, url="https://example.invalid/v2"))
    second = repo.commit("publish 2")
    return repo, first, second


def environment(source: str | None = FOLDER, extra: str = "") -> str:
    return (
        (f"source: {source}\n" if source else "")
        + "target:\n  subscription: 00000000-0000-0000-0000-000000000000\n  resource_group: rg\n"
        "  factory: adf-quirks-staging\n  endpoint: local\n"
        "parameters:\n  blob_ls_connectionString: ${BLOB_CONN}\n  retries: 3\n  seconds: 10\n" + extra
    )


def run(cwd: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str):
    monkeypatch.chdir(cwd)
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_diff_compares_what_adf_wrote_as_written_with_one_warning_per_parameter(tmp_path, monkeypatch, capsys):
    repo, first, second = factory_repo(tmp_path, {"staging": environment()})
    code, out, err = run(repo.path, monkeypatch, capsys, "diff", "--from", first, "--to", second, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert {(c["name"], tuple(c["paths"])) for c in doc["changes"]} == {
        ("blob_ls", ("description",)),  # the secret is opaque on both sides: only the real change shows
        ("copy", ("activities[name=wait].policy.retry",)),  # "" as written, then no value at all
    }
    code, out, _ = run(repo.path, monkeypatch, capsys, "diff", "--from", first, "--to", second)
    assert 'policy.retry: "" -> "[parameters(\'retries\')]"' in out
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    # one line per parameter and side, each naming the parameter and what ADF did
    assert any("parameters.retries" in w and 'writes "value": ""' in w for w in warnings), err
    assert any("parameters.seconds" in w and "neither 'value' nor 'reference'" in w for w in warnings), err
    assert any("parameters.seconds" in w and "'number', which ARM does not have" in w for w in warnings), err
    assert any(
        "parameters.blob_ls_connectionString" in w and "no secret values and wrote no parameters file" in w
        for w in warnings
    ), err
    assert all(w.endswith("compared as written") for w in warnings)


def test_validate_refuses_what_adf_published_naming_parameter_file_and_quirk(tmp_path, monkeypatch, capsys):
    repo, first, _ = factory_repo(tmp_path)
    code, _, err = run(repo.path, monkeypatch, capsys, "validate", "--ref", first, "--source", FOLDER)
    assert code == 2
    problems = [line.strip() for line in err.splitlines() if "✗" in line]
    values = f"{first}:{FOLDER}/ARMTemplateParametersForFactory.json"
    retries = next(p for p in problems if "parameters.retries" in p)
    assert values in retries and 'ADF writes "value": "" for a parameter of type int' in retries
    assert "fix its value in the environment" not in err  # the old, wrong hint
    number = next(p for p in problems if "parameters.seconds" in p and "number" in p)
    assert f"{first}:{FOLDER}/ARMTemplateForFactory.json" in number
    assert "ARM does not have" in number and "write its type as int" in number


def test_validate_with_an_environment_checks_its_values_and_warns_about_the_published_ones(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("BLOB_CONN", "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=k")
    repo, first, _ = factory_repo(tmp_path, {"staging": environment(extra="  retired_parameter: x\n")})
    code, out, err = run(repo.path, monkeypatch, capsys, "validate", "--env", "staging", "--ref", first)
    problems = [line.strip() for line in err.splitlines() if "✗" in line]
    # the environment gives retries and seconds: only the template's own quirk (type number) is an error
    assert code == 2
    assert len(problems) == 1 and "parameters.seconds" in problems[0] and "number" in problems[0], err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert any("published (development) values" in w and "parameters.retries" in w for w in warnings), err
    # a value for a parameter the template does not declare: left out with a warning, as deploy does
    assert any("parameters.retired_parameter" in w and "does not declare it" in w for w in warnings), err
    assert "checked environment staging" in out


def test_validate_reports_the_environment_files_own_errors_as_such(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("BLOB_CONN", raising=False)
    env = environment().replace("  retries: 3\n", "  retries: ${RETRIES_NOT_SET}\n").replace("target:", "targt:")
    repo, first, _ = factory_repo(tmp_path, {"staging": env})
    code, _, err = run(repo.path, monkeypatch, capsys, "validate", "--env", "staging", "--ref", first)
    assert code == 2
    assert "staging.yaml" in err and "targt" in err
    assert "neither an existing path nor a git revision" not in err


def test_the_source_is_the_environments_common_one_or_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BLOB_CONN", "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=k")
    repo, first, second = factory_repo(
        tmp_path, {"staging": environment(), "production": environment().replace("staging", "prod")}
    )
    code, _, err = run(repo.path, monkeypatch, capsys, "diff", "--from", first, "--to", second)
    assert code == 0, err  # both environments name adf-quirks-dev
    repo.write("environments/other.yaml", environment(source="another-factory"))
    code, _, err = run(repo.path, monkeypatch, capsys, "diff", "--from", first, "--to", second)
    assert code == 2
    assert "different factory folders" in err and "another-factory" in err and "--source" in err
    code, _, err = run(repo.path, monkeypatch, capsys, "diff", "--from", first, "--to", second, "--env", "staging")
    assert code == 0, err  # the one of --env
    for name in ("staging", "production", "other"):
        repo.remove(f"environments/{name}.yaml")
    code, _, err = run(repo.path, monkeypatch, capsys, "diff", "--from", first, "--to", second)
    assert code == 2 and "no factory folder" in err and "--source" in err
    code, _, err = run(repo.path, monkeypatch, capsys, "diff", "--from", first, "--to", second, "--source", FOLDER)
    assert code == 0, err


def test_no_sample_path_in_any_help_text(monkeypatch, capsys):
    from promote.cli import build_parser

    parser = build_parser()
    texts = [parser.format_help()]
    for action in parser._subparsers._group_actions:  # type: ignore[union-attr]
        texts += [sub.format_help() for sub in action.choices.values()]
    assert not [t for t in texts if "adf_publish_mirror" in t or "adf-ml-project" in t]


@pytest.mark.parametrize("factory", [name for name, v in FACTORIES if len(v) > 1] or ["none"])
def test_every_consecutive_pair_of_reference_versions_diffs_without_an_environment(factory, monkeypatch, capsys):
    """Every publish ADF wrote diffs against the one before it (exit 0 or 3), with nothing but the folders.
    The only exceptions are the two templates a GitHub workflow rewrote by hand (quotes stripped from their
    expressions): not ADF's output, and ARM refuses them too; they are refused naming the file."""
    entries = dict(FACTORIES).get(factory) or pytest.skip("reference templates absent")
    for old, new in itertools.pairwise(entries):
        code, out, err = run(
            Path.cwd(), monkeypatch, capsys, "diff", "--from", str(folder_of(old)), "--to", str(folder_of(new)),
            "--exit-code",
        )  # fmt: skip
        if {old["commit"][:8], new["commit"][:8]} & BROKEN:
            assert code == 2 and re.search(r"ARMTemplateForFactory\.json", err), err
            continue
        assert code in (0, 3), (old["commit"][:8], new["commit"][:8], err)
        assert out.startswith("Diff:")


def linked_master(passes: dict[int, list[str]]) -> dict[str, Any]:
    """A linked-templates master: `passes[i]` are the parameters it passes to ArmTemplate_i.json."""
    resources = []
    for index, names in passes.items():
        parameters = {"factoryName": {"value": "[parameters('factoryName')]"}}
        parameters.update({name: {"value": f"[parameters('{name}')]"} for name in names})
        resources.append(
            {
                "name": f"{FOLDER}_ArmTemplate_{index}",
                "type": "Microsoft.Resources/deployments",
                "apiVersion": "2024-03-01",
                "properties": {
                    "mode": "incremental",
                    "templateLink": {
                        "uri": f"[concat(parameters('containerUri'), '/ArmTemplate_{index}.json', "
                        "parameters('containerSasToken'))]",
                        "contentVersion": "1.0.0.0",
                    },
                    "parameters": parameters,
                },
                "dependsOn": [],
            }
        )
    return {
        "$schema": "http://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {
            "factoryName": {"type": "string", "defaultValue": FOLDER},
            "containerUri": {"type": "string"},
            "containerSasToken": {"type": "string"},
            "url": {"type": "string"},
        },
        "resources": resources,
    }


def linked_part(parameters: dict[str, Any]) -> dict[str, Any]:
    name = next(iter(parameters), None)
    return {
        "$schema": "http://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {"factoryName": {"type": "string"}, **parameters},
        "resources": [
            {
                "name": f"[concat(parameters('factoryName'), '/ls_{name or 'none'}')]",
                "type": "Microsoft.DataFactory/factories/linkedServices",
                "apiVersion": "2018-06-01",
                "properties": {
                    "type": "HttpServer",
                    "typeProperties": {"url": f"[parameters('{name}')]" if name else ""},
                },
            }
        ],
    }


def test_a_master_passing_a_parameter_to_the_wrong_part_is_named_with_the_part(tmp_path, monkeypatch, capsys):
    """The master passes `url` to ArmTemplate_0, but ArmTemplate_1 is the part that declares (and needs) it:
    ARM refuses that deployment. The environment gives `url` already, so the message must not send the user
    there: it names the master and each part."""
    monkeypatch.setenv("BLOB_CONN", "x")
    repo = Repo(tmp_path / "repo")
    repo.write(f"{FOLDER}/linkedTemplates/ArmTemplate_master.json", linked_master({0: ["url"], 1: []}))
    repo.write(f"{FOLDER}/linkedTemplates/ArmTemplate_0.json", linked_part({}))
    repo.write(f"{FOLDER}/linkedTemplates/ArmTemplate_1.json", linked_part({"url": {"type": "string"}}))
    repo.write(
        "environments/staging.yaml",
        environment().replace("  retries: 3\n  seconds: 10\n", "  url: https://example.invalid/\n"),
    )
    commit = repo.commit("publish")
    code, _, err = run(repo.path, monkeypatch, capsys, "validate", "--env", "staging", "--ref", commit)
    assert code == 2
    master = f"{commit}:{FOLDER}/linkedTemplates/ArmTemplate_master.json"
    problems = [line.strip() for line in err.splitlines() if "✗" in line]
    assert any(master in p and "passes url to ArmTemplate_0.json, which does not declare it" in p for p in problems)
    assert any(master in p and "passes no value for url, which ArmTemplate_1.json requires" in p for p in problems)
    assert not [p for p in problems if "in the environment" in p]
