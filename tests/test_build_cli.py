"""`promote build`, `publish`, `preview`, and `diff` / `validate` / `deploy` from a collaboration root, as a user
runs them: real subprocesses in real git repositories (and the emulator for the deploy)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.collaboration import unpublish
from tests.conftest import ROOT
from tests.engine_project import MIRROR, Project
from tests.gitrepo import Repo, git

FACTORY = "adf-ml-project"


def promote(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "promote", *args], cwd=cwd, capture_output=True, text=True, timeout=180
    )


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """A collaboration branch holding the sample factory as ADF Studio saves it, under adf/."""
    repo = Repo(tmp_path / "repo")
    unpublish(ROOT / MIRROR, repo.path / "adf")
    repo.commit("Updating pipeline: ingest_mnist")
    return repo


def changes(result: subprocess.CompletedProcess[str]) -> list[tuple[str, str, str]]:
    assert result.returncode in (0, 3), result.stderr
    return [(c["type"], c["name"], c["action"]) for c in json.loads(result.stdout)["changes"]]


def test_build_output_replaces_an_earlier_publish_without_writing_through_links(tmp_path: Path):
    from promote.commands.build import replace_published

    out, outside = tmp_path / "out", tmp_path / "outside"
    outside.mkdir()
    (outside / "target.json").write_text("outside")
    (outside / "linked.json").write_text("outside")
    (out / "linkedTemplates" / "old").mkdir(parents=True)
    (out / "linkedTemplates" / "old" / "x.json").write_text("stale")
    (out / "linkedTemplates" / "ArmTemplate_0.json").symlink_to(outside / "target.json")
    (out / "linkedTemplates" / "ArmTemplate_1.json").hardlink_to(outside / "linked.json")
    (out / "linkedTemplates" / "ArmTemplate_9.json").write_text("stale")
    (out / "ARMTemplateForFactory.json").mkdir()  # a folder where a file goes
    (out / "ARMTemplateParametersForFactory.json").write_text("an older, longer parameters file")
    (out / "README.md").write_text("kept")
    files = {
        "ARMTemplateForFactory.json": b"{}",
        "ARMTemplateParametersForFactory.json": b"{1}",
        "linkedTemplates/ArmTemplate_0.json": b"{0}",
        "linkedTemplates/ArmTemplate_1.json": b"{1}",
    }

    replace_published(out, files)

    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == sorted([*files, "README.md"])
    assert all((out / rel).read_bytes() == data for rel, data in files.items())
    assert not (out / "linkedTemplates" / "ArmTemplate_0.json").is_symlink()
    assert (outside / "target.json").read_text() == "outside"  # neither link written through
    assert (outside / "linked.json").read_text() == "outside"
    assert (out / "README.md").read_text() == "kept"


def test_build_writes_what_adf_published(repo: Repo):
    out = repo.path / "out" / FACTORY
    (out / "linkedTemplates").mkdir(parents=True)
    (out / "linkedTemplates" / "ArmTemplate_9.json").write_text("{}")  # a stale part of an earlier publish
    (out / "README.md").write_text("kept")
    result = promote("build", "--ref", "HEAD", "--source", "adf", "--out", str(out), cwd=repo.path)
    assert result.returncode == 0, result.stderr
    assert f"built {FACTORY}: 19 objects, 16 parameters, 6 files, from HEAD:adf at " in result.stdout
    assert not (out / "linkedTemplates" / "ArmTemplate_9.json").exists()
    assert (out / "README.md").read_text() == "kept"
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.json"))
    assert written == [
        "ARMTemplateForFactory.json",
        "ARMTemplateParametersForFactory.json",
        f"globalParameters/{FACTORY}_GlobalParameters.json",
        "linkedTemplates/ArmTemplateParameters_master.json",
        "linkedTemplates/ArmTemplate_0.json",
        "linkedTemplates/ArmTemplate_master.json",
    ]
    # the same objects as ADF's publish, with the same parameter names: the sample's environment files fit
    assert (
        changes(promote("diff", "--from", str(ROOT / MIRROR), "--to", str(out), "--format", "json", cwd=repo.path))
        == []
    )
    built = json.loads((out / "ARMTemplateForFactory.json").read_text())
    published = json.loads((ROOT / MIRROR / "ARMTemplateForFactory.json").read_text())
    assert list(built["parameters"]) == list(published["parameters"])


def test_diff_and_validate_take_a_collaboration_root(repo: Repo):
    first = git(repo.path, "rev-parse", "HEAD")
    pipeline = repo.path / "adf" / "pipeline" / "train_mnist.json"
    doc = json.loads(pipeline.read_text())
    doc["properties"]["description"] = "trains for longer"
    pipeline.write_text(json.dumps(doc, indent="\t"))
    repo.remove("adf/trigger/score_on_inference_data.json")
    repo.write("adf/dataset/mnist_extra.json", {"name": "mnist_extra", "properties": doc_of(repo, "mnist_raw")})
    second = repo.commit("Updating pipeline: train_mnist")

    result = promote("diff", "--from", first, "--to", second, "--source", "adf", "--format", "json", cwd=repo.path)
    assert changes(result) == [
        ("datasets", "mnist_extra", "create"),
        ("pipelines", "train_mnist", "update"),
        ("triggers", "score_on_inference_data", "delete"),
    ]
    assert json.loads(result.stdout)["changes"][1]["paths"] == ["description"]
    # the published folder and the root it was published from: the same factory
    same = promote(
        "diff", "--from", str(ROOT / MIRROR), "--to", first, "--source", "adf", "--format", "json", cwd=repo.path
    )
    assert changes(same) == []

    result = promote("validate", "--ref", second, "--source", "adf", cwd=repo.path)
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout


def doc_of(repo: Repo, dataset: str) -> dict:
    return json.loads((repo.path / "adf" / "dataset" / f"{dataset}.json").read_text())["properties"]


def test_bad_input_is_exit_2_naming_the_file(repo: Repo):
    repo.write("adf/pipeline/broken.json", '{"name": "broken",\n "properties": {\n')
    repo.remove("adf/dataset/mnist_raw.json")
    bad = repo.commit("a bad merge")
    for command in (["build", "--out", "out"], ["validate"], ["diff", "--to", bad, "--format", "json"]):
        result = promote(*command, "--ref" if command[0] != "diff" else "--from", bad, "--source", "adf", cwd=repo.path)
        assert result.returncode == 2, (command, result.stderr)
        assert "adf/pipeline/broken.json:3: invalid JSON" in result.stderr, result.stderr
        assert "references datasets/mnist_raw, which the root does not hold" in result.stderr
    assert not (repo.path / "out").exists()


PUBLISH_MESSAGE = re.compile(
    r"ARM template and parameters deployed on \d{1,2}-\d{1,2}-\d{4} \d{1,2}:\d{1,2}:\d{1,2}, "
    r"based on the collaboration branch's commit ID: ([0-9a-f]{40})"
)


def test_publish_commits_to_the_publish_branch_as_adf_does(repo: Repo):
    collaboration = git(repo.path, "rev-parse", "HEAD")
    result = promote("publish", "--source", "adf", cwd=repo.path)
    assert result.returncode == 0, result.stderr
    assert "adf_publish " in result.stdout and f"{FACTORY}/" in result.stdout
    message = git(repo.path, "log", "-1", "--format=%s", "adf_publish")
    assert PUBLISH_MESSAGE.fullmatch(message) and PUBLISH_MESSAGE.fullmatch(message).group(1) == collaboration
    files = git(repo.path, "ls-tree", "-r", "--name-only", "adf_publish").split()
    assert f"{FACTORY}/ARMTemplateForFactory.json" in files and f"{FACTORY}/linkedTemplates/ArmTemplate_0.json" in files
    assert git(repo.path, "rev-parse", "--abbrev-ref", "HEAD") == "main"  # nothing was checked out
    assert git(repo.path, "status", "--porcelain") == ""

    # files others keep on the publish branch (the workflow, the environments) stay; a publish of the same
    # commit again changes nothing
    git(repo.path, "switch", "-q", "adf_publish")
    repo.write("environments/staging.yaml", "source: adf-ml-project\n")
    repo.commit("promote: environments")
    git(repo.path, "switch", "-q", "main")
    again = promote("publish", "--source", "adf", cwd=repo.path)
    assert again.returncode == 0 and "nothing to commit" in again.stdout
    repo.remove("adf/trigger/score_on_inference_data.json")
    second = repo.commit("Deleting trigger: score_on_inference_data")
    assert promote("publish", "--source", "adf", cwd=repo.path).returncode == 0
    assert PUBLISH_MESSAGE.fullmatch(git(repo.path, "log", "-1", "--format=%s", "adf_publish")).group(1) == second
    assert git(repo.path, "show", "adf_publish:environments/staging.yaml") == "source: adf-ml-project"
    # what the promotion then reads from adf_publish: exactly the change made on the collaboration branch
    diff = promote(
        "diff", "--from", "adf_publish~1", "--to", "adf_publish", "--source", FACTORY, "--format", "json", cwd=repo.path
    )
    assert changes(diff) == [("triggers", "score_on_inference_data", "delete")]


def test_preview_is_one_comment_from_validate_and_diff(tmp_path: Path):
    (tmp_path / "validate.json").write_text(
        json.dumps(
            {
                "checked": ["environment staging"],
                "problems": [{"file": "adf/pipeline/p|1.json", "message": "::error::boom", "line": 3, "object": "p`1"}],
                "warnings": [],
            }
        )
    )
    (tmp_path / "diff.json").write_text(
        json.dumps(
            {
                "from": "staging (live)",
                "to": "abc12345",
                "changes": [{"type": "pipelines", "name": "train", "action": "update", "paths": ["a.b", "c"]}],
                "summary": {"create": 0, "update": 1, "delete": 0, "unchanged": 18},
            }
        )
    )
    result = promote(
        "preview", "--validate", "validate.json", "--diff", "diff.json", "--env", "staging", "--revision", "abc12345",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("<!-- adf-promote preview -->\n## adf-promote preview of `abc12345`")
    assert "❌ 1 problem (checked: `environment staging`)" in text
    assert "| `adf/pipeline/p\\|1.json:3` | `` p`1 `` | `::error::boom` |" in text
    assert "| 0 | 1 | 0 | 18 |" in text
    assert "- `~ pipelines/train`: `a.b`, `c`" in text
    assert not any(line.startswith("::") for line in text.splitlines())


def test_deploy_from_a_collaboration_root_with_the_same_environment_file(project: Project):
    unpublish(project.path / MIRROR, project.path / "adf")
    git(project.path, "add", "adf")
    git(project.path, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "collaboration root")
    result = project.promote("deploy", "--env", "local", "--source", "adf", "--ref", "HEAD", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    # the live factory is what the published folder describes, evaluated with the same environment file
    check = project.promote("diff", "--env", "local", "--source", MIRROR, "--ref", "HEAD", "--exit-code")
    assert check.returncode == 0, check.stdout + check.stderr
