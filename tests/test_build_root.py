"""Reading a collaboration-branch root: the shapes real roots have, and bad input (exit 2, naming the file)."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import weakref

import pytest

from promote.build import build, prepare
from promote.build.root import is_collaboration_root, read_root
from promote.errors import InputError
from promote.source import SourceFiles, read_path, read_source
from tests.gitrepo import Repo


def saved(name: str, properties: dict, *, arm_type: str | None = None, crlf: bool = False, bom: bool = False) -> bytes:
    """An object file as ADF Studio writes it (tabs), optionally with a top-level type, CRLF or a BOM."""
    doc: dict = {"name": name, "properties": properties}
    if arm_type:
        doc["type"] = arm_type
    text = json.dumps(doc, indent="\t")
    if crlf:
        text = text.replace("\n", "\r\n")
    data = text.encode()
    return b"\xef\xbb\xbf" + data if bom else data


BLOB = {"type": "AzureBlobStorage", "typeProperties": {"serviceEndpoint": "https://dev.blob.core.windows.net/"}}
DATASET = {
    "linkedServiceName": {"referenceName": "ls_blob", "type": "LinkedServiceReference"},
    "type": "Binary",
    "typeProperties": {"location": {"type": "AzureBlobStorageLocation", "container": "raw"}},
}
PIPELINE = {
    "activities": [
        {
            "name": "copy",
            "type": "Copy",
            "inputs": [{"referenceName": "ds_raw", "type": "DatasetReference"}],
            "outputs": [{"referenceName": "ds_raw", "type": "DatasetReference"}],
            "typeProperties": {"source": {"type": "BinarySource"}, "sink": {"type": "BinarySink"}},
        }
    ]
}


def root(**extra: bytes) -> dict[str, bytes]:
    files = {
        "linkedService/ls_blob.json": saved("ls_blob", BLOB, arm_type="Microsoft.DataFactory/factories/linkedservices"),
        "dataset/ds_raw.json": saved("ds_raw", DATASET, crlf=True),
        "pipeline/copy_raw.json": saved("copy_raw", PIPELINE, bom=True),
        "factory/adf-dev.json": json.dumps({"name": "adf-dev", "location": "westeurope"}).encode(),
    }
    files.update(extra)
    return files


def problems_of(files: dict[str, bytes], **kwargs) -> list:
    with pytest.raises(InputError) as caught:
        prepare(SourceFiles("adf", files), **kwargs)
    assert caught.value.exit_code == 2
    return caught.value.problems


def test_reads_every_shape_adf_studio_saves():
    synapse = saved("ls_synapse", BLOB, arm_type="Microsoft.Synapse/workspaces/linkedservices")
    legacy = json.dumps({"name": "temp1", "type": "Microsoft.Synapse/x", "properties": {"groupId": "blob"}}).encode()
    files = root(
        **{
            "linkedService/ls_synapse.json": synapse,
            "managedPrivateEndpoint/temp1.json": legacy,  # the legacy folder: never published
            "notebook/nb1.json": saved("nb1", {"cells": []}),  # a Synapse folder on a shared branch
            "package.json": b'{"name": "build", "dependencies": {}}',  # the npm package's file
            "managedVirtualNetwork/default.json": json.dumps({"name": "default", "type": "x"}).encode(),
            "managedVirtualNetwork/default/managedPrivateEndpoint/pe1.json": saved(
                "pe1", {"privateLinkResourceId": "/subscriptions/x", "groupId": "blob"}
            ),
        }
    )
    read = read_root(SourceFiles("adf", files))
    assert sorted((o.type, o.name) for o in read.objects) == [
        ("datasets", "ds_raw"),
        ("linkedServices", "ls_blob"),
        ("linkedServices", "ls_synapse"),
        ("managedVirtualNetworks", "default"),
        ("managedVirtualNetworks/managedPrivateEndpoints", "default/pe1"),
        ("pipelines", "copy_raw"),
    ]
    assert read.factory_name == "adf-dev"
    built = build(SourceFiles("adf", files))
    template = json.loads(built.files["ARMTemplateForFactory.json"])
    types = {r["name"]: r["type"] for r in template["resources"]}
    # the folder decides the kind: the Synapse-typed file is published as a Data Factory linked service
    assert (
        types["[concat(parameters('factoryName'), '/ls_synapse')]"] == "Microsoft.DataFactory/factories/linkedServices"
    )
    assert "[concat(parameters('factoryName'), '/default/pe1')]" in types


def test_a_root_is_told_from_a_published_folder():
    assert is_collaboration_root(SourceFiles("adf", root()))
    assert not is_collaboration_root(SourceFiles("f", {"ARMTemplateForFactory.json": b"{}"}))


def test_invalid_json_in_one_object_names_the_file_and_line():
    broken = b'{\n\t"name": "copy_raw",\n\t"properties": {\n\t\t"activities": [\n<<<<<<< HEAD\n'
    found = problems_of(root(**{"pipeline/copy_raw.json": broken}))
    assert [(p.file, p.line) for p in found] == [("adf/pipeline/copy_raw.json", 5)]
    assert "invalid JSON" in found[0].message


def test_two_files_holding_one_object_are_both_reported():
    stale = saved("ls_blob", {**BLOB, "description": "stale"})
    files = root(**{"linkedService/LS_Blob.json": stale})
    found = problems_of(files)
    assert [p.file for p in found] == ["adf/linkedService/LS_Blob.json"]
    assert "adf/linkedService/ls_blob.json" in found[0].message and "adf/linkedService/LS_Blob.json" in found[0].message
    assert "ADF publishes the one named after it" in found[0].message
    # publishing as ADF does takes the file whose name matches, with a warning
    built = build(SourceFiles("adf", files), lenient=True)
    assert "stale" not in built.files["ARMTemplateForFactory.json"].decode()
    assert any("LS_Blob.json" in w for w in built.warnings)


def test_a_file_named_differently_from_its_object_is_bad_input():
    found = problems_of(root(**{"pipeline/copy_raw.json": saved("copy_everything", PIPELINE)}))
    assert [(p.file, p.object) for p in found] == [("adf/pipeline/copy_raw.json", "pipelines/copy_everything")]
    assert "differs from the object's name" in found[0].message


def test_a_reference_to_an_object_the_root_lacks_names_file_and_object():
    files = root()
    del files["dataset/ds_raw.json"]
    found = problems_of(files)
    assert [(p.file, p.object) for p in found] == [("adf/pipeline/copy_raw.json", "pipelines/copy_raw")]
    assert "references datasets/ds_raw" in found[0].message
    assert "dataset/" in (found[0].hint or "")


def test_the_built_in_runtime_needs_no_file():
    via = {
        **BLOB,
        "connectVia": {"referenceName": "AutoResolveIntegrationRuntime", "type": "IntegrationRuntimeReference"},
    }
    built = build(SourceFiles("adf", root(**{"linkedService/ls_blob.json": saved("ls_blob", via)})))
    template = json.loads(built.files["ARMTemplateForFactory.json"])
    blob = next(r for r in template["resources"] if r["name"].endswith("/ls_blob')]"))
    assert blob["dependsOn"] == []


def test_an_object_in_an_unknown_folder_is_bad_input():
    found = problems_of(root(**{"pipelines/other.json": saved("other", PIPELINE)}))
    assert [p.file for p in found] == ["adf/pipelines/other.json"]
    assert "unknown folder 'pipelines/'" in found[0].message
    assert found[0].hint == "ADF saves this kind in 'pipeline/'"


def test_every_problem_is_listed_at_once():
    files = root(**{"pipelines/other.json": saved("other", PIPELINE), "trigger/t.json": b"{"})
    assert sorted(p.file for p in problems_of(files)) == ["adf/pipelines/other.json", "adf/trigger/t.json"]


def test_several_factory_files_need_an_explicit_choice():
    files = root(**{"factory/adf-other.json": json.dumps({"name": "adf-other"}).encode()})
    found = problems_of(files)
    assert "2 factories share this root (adf-dev, adf-other)" in found[0].message
    assert build(SourceFiles("adf", files), factory="adf-other").factory_name == "adf-other"
    found = problems_of(files, factory="adf-third")
    assert "no factory file 'adf-third.json' here; the root holds adf-dev, adf-other" in found[0].message


def test_a_source_path_naming_the_factory_file_chooses_it(tmp_path):
    for rel, data in root(**{"factory/adf-other.json": b'{"name": "adf-other"}'}).items():
        (tmp_path / "adf" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "adf" / rel).write_bytes(data)
    files, revision = read_source(str(tmp_path / "adf" / "factory" / "adf-other.json"), folder="adf")
    assert revision is None and files.factory == "adf-other"
    assert build(files).factory_name == "adf-other"


def test_a_root_without_factory_file_takes_the_name_given_or_its_folder():
    files = root()
    del files["factory/adf-dev.json"]
    assert build(SourceFiles("repo:src/adf", files)).factory_name == "adf"
    assert build(SourceFiles("repo:src/adf", files), factory="adf-dev").factory_name == "adf-dev"


def test_global_parameters_are_published_only_when_publish_config_asks():
    factory = {"name": "adf-dev", "properties": {"globalParameters": {"env": {"type": "String", "value": "dev"}}}}
    files = root(**{"factory/adf-dev.json": json.dumps(factory).encode()})
    without = json.loads(build(SourceFiles("adf", files)).files["ARMTemplateForFactory.json"])
    assert not [r for r in without["resources"] if r["type"].endswith("globalparameters")]
    files["publish_config.json"] = b'{"publishBranch":"adf_publish","includeGlobalParamsTemplate":true}'
    built = build(SourceFiles("adf", files))
    template = json.loads(built.files["ARMTemplateForFactory.json"])
    (gp,) = [r for r in template["resources"] if r["type"] == "Microsoft.DataFactory/factories/globalparameters"]
    assert gp["properties"] == {"env": {"type": "String", "value": "[parameters('default_properties_env_value')]"}}
    assert template["parameters"]["default_properties_env_value"] == {"type": "string", "defaultValue": "dev"}
    # either way, the global parameters file holds them
    assert (
        json.loads(built.files["globalParameters/adf-dev_GlobalParameters.json"])
        == factory["properties"]["globalParameters"]
    )


def test_a_root_at_any_git_revision(tmp_path):
    repo = Repo(tmp_path / "repo")
    for rel, data in root().items():
        repo.write(f"adf/{rel}", data)
    first = repo.commit("first")
    repo.write("adf/pipeline/copy_raw.json", saved("copy_raw", {**PIPELINE, "description": "second"}))
    repo.commit("second")
    files, revision = read_source(first, folder="adf", repo=repo.path)
    assert revision is not None and revision.commit == first
    assert "second" not in build(files).files["ARMTemplateForFactory.json"].decode()
    on_disk, _ = read_source(str(repo.path / "adf"), folder="adf")
    assert "second" in build(on_disk).files["ARMTemplateForFactory.json"].decode()
    assert read_path(repo.path / "adf").files.keys() == files.files.keys()


def test_a_build_leaves_the_garbage_collector_as_it_found_it():
    """The build pauses Python's cyclic collector while it runs (promote.build._uncollected), and only then."""
    assert gc.isenabled()
    build(SourceFiles("adf", root()))
    assert gc.isenabled()
    problems_of(root(**{"pipeline/broken.json": b"{"}))  # raises out of the paused section
    assert gc.isenabled()
    gc.disable()
    try:
        build(SourceFiles("adf", root()))
        assert not gc.isenabled()  # a caller's own pause is left alone
    finally:
        gc.enable()


def test_what_a_build_leaves_is_still_collected():
    """After a build, what the collector did not examine while paused is moved to its oldest generation, not
    frozen: cyclic garbage made before or during the build is still freed by the next full collection, and
    objects a caller froze itself stay frozen."""

    class Node:
        pass

    cycle = Node()
    cycle.me = cycle  # type: ignore[attr-defined]
    alive = weakref.ref(cycle)
    del cycle
    build(SourceFiles("adf", root()))
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert alive() is None
    kept = Node()
    gc.freeze()
    try:
        build(SourceFiles("adf", root()))
        # the caller's freeze is left alone: its objects are not back in a generation the collector examines
        assert gc.get_freeze_count() > 0
        assert all(found is not kept for found in gc.get_objects())
        assert gc.isenabled()
    finally:
        gc.unfreeze()
    assert any(found is kept for found in gc.get_objects())


def test_the_build_commands_do_not_import_the_evaluator():
    """`promote build` and `publish` evaluate nothing: the loader and the ARM evaluator (a sixth of a build's
    process, bench/README.md) are not imported by the command's module, only by the commands that evaluate; nor
    are the environment files' reader and YAML (another fifth), which `build --source DIR` never reads."""
    code = (
        "import sys, promote.cli, promote.commands.build\n"
        "print(sorted(m for m in sys.modules if m in ('promote.loader', 'yaml')"
        " or m.startswith(('promote.arm', 'promote.environment'))))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"


REF = {"referenceName": "ds_raw", "type": "DatasetReference"}


@pytest.mark.parametrize(
    "activities",
    [
        pytest.param(1.5, id="activities-a-number"),
        pytest.param({"inputs": [REF]}, id="activities-an-object"),
        pytest.param("copy", id="activities-text"),
        pytest.param(
            [{"name": "s", "type": "Switch", "typeProperties": {"cases": 2.5, "on": "x"}}], id="cases-a-number"
        ),
        pytest.param(
            [{"name": "s", "type": "Switch", "typeProperties": {"cases": {"activities": [{"inputs": [REF]}]}}}],
            id="cases-an-object",
        ),
        pytest.param(
            [{"name": "i", "type": "IfCondition", "typeProperties": {"ifTrueActivities": {"inputs": [REF]}}}],
            id="nested-an-object",
        ),
        pytest.param(
            [{"name": "t", "type": ["Copy"], "inputs": [REF], "typeProperties": {}}], id="activity-type-a-list"
        ),
        pytest.param(
            [{"name": "t", "type": {"type": "Copy"}, "inputs": [REF], "typeProperties": {}}],
            id="activity-type-an-object",
        ),
        pytest.param(
            [
                {
                    "name": "i",
                    "type": "IfCondition",
                    "typeProperties": {"ifFalseActivities": [], "ifTrueActivities": {"inputs": [REF]}},
                }
            ],
            id="nested-an-object-beside-a-list",
        ),
    ],
)
def test_a_pipeline_shaped_unlike_studio_saves_builds_and_keeps_its_references(activities):
    """Found by mutating the reference roots: a pipeline whose activities (or a container activity's nested
    activities or cases) are not lists, or an activity whose type is not text, crashed the build with a
    TypeError ("a bug in promote", exit 1). Studio
    never saves such a file, but a hand edit can: the build takes it as it takes any other property, and a
    reference anywhere in it is still a dependency."""
    files = root(**{"pipeline/odd.json": saved("odd", {"activities": activities})})
    built = prepare(SourceFiles("adf", files))
    odd = next(r for r in built.template.resources if r.key.name == "odd")
    refers = "ds_raw" in json.dumps(activities)
    assert [str(k) for k in odd.depends_on if k is not None] == (["datasets/ds_raw"] if refers else [])
