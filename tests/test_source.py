"""Reading factory folders from disk and from git revisions (real repositories, no checkout)."""

from __future__ import annotations

import pytest

from promote.errors import InputError
from promote.source import commits_touching, read_path, read_ref, read_source, resolve_ref
from tests.gitrepo import Repo


@pytest.fixture
def repo(tmp_path):
    return Repo(tmp_path / "repo")


def test_reads_a_folder_at_a_ref_without_checking_it_out(repo):
    repo.write("f/ARMTemplateForFactory.json", '{"v": 1}')
    repo.write("f/linkedTemplates/ArmTemplate_0.json", '{"part": 0}')
    repo.write("f/README.md", "not json")
    first = repo.commit("one")
    repo.write("f/ARMTemplateForFactory.json", '{"v": 2}')
    repo.commit("two")

    files = read_ref(repo.path, resolve_ref(repo.path, first), "f")

    assert files.files == {
        "ARMTemplateForFactory.json": b'{"v": 1}',
        "linkedTemplates/ArmTemplate_0.json": b'{"part": 0}',
    }
    assert files.label == f"{first}:f"
    # the work tree still holds the newest version: nothing was checked out
    assert (repo.path / "f/ARMTemplateForFactory.json").read_text() == '{"v": 2}'


def test_any_revision_syntax_git_accepts(repo):
    repo.write("f/a.json", "1")
    repo.commit("one")
    repo.write("f/a.json", "2")
    repo.commit("two")
    for spec in ("HEAD~1", "main^", "main@{1}"):
        assert read_ref(repo.path, resolve_ref(repo.path, spec), "f").files == {"a.json": b"1"}


def test_unknown_ref_is_bad_input(repo):
    repo.write("f/a.json", "1")
    repo.commit("one")
    with pytest.raises(InputError, match="neither an existing path nor a git revision") as exc:
        resolve_ref(repo.path, "no-such-branch")
    assert exc.value.exit_code == 2


def test_folder_missing_at_ref_names_the_ref(repo):
    repo.write("f/a.json", "1")
    repo.commit("one")
    with pytest.raises(InputError, match="no JSON files under 'elsewhere' at HEAD"):
        read_ref(repo.path, resolve_ref(repo.path, "HEAD"), "elsewhere")


def test_a_path_wins_over_a_ref(repo, monkeypatch):
    repo.write("f/a.json", "committed")
    repo.commit("one")
    repo.write("f/a.json", "on disk")
    monkeypatch.chdir(repo.path)
    files, revision = read_source(str(repo.path / "f"), folder="f")
    assert revision is None and files.files == {"a.json": b"on disk"}
    files, revision = read_source("HEAD", folder="f")
    assert revision is not None and files.files == {"a.json": b"committed"}


def test_read_path_of_a_single_file(tmp_path):
    target = tmp_path / "ARMTemplateForFactory.json"
    target.write_text("{}")
    assert read_path(target).files == {"ARMTemplateForFactory.json": b"{}"}


def test_binary_content_and_many_files_survive_the_batch_read(repo):
    blobs = {f"f/p{i}.json": bytes([i % 256]) * (i * 37) + b"\n\x00\n" for i in range(60)}
    for rel, content in blobs.items():
        repo.write(rel, content)
    repo.commit("many")
    files = read_ref(repo.path, resolve_ref(repo.path, "HEAD"), "f")
    assert files.files == {rel[2:]: content for rel, content in blobs.items()}


def test_commits_touching_lists_oldest_first(repo):
    repo.write("other.txt", "x")
    repo.commit("unrelated")
    a = (repo.write("f/a.json", "1"), repo.commit("a"))[1]
    repo.write("other.txt", "y")
    repo.commit("unrelated again")
    b = (repo.write("f/a.json", "2"), repo.commit("b"))[1]
    assert commits_touching(repo.path, "f") == [a, b]


@pytest.mark.parametrize("folder", [".", "", "./"])
def test_a_factory_published_at_the_repository_root(repo, folder):
    """Some repositories hold the factory at the top level (`source: .`): every path stays whole."""
    repo.write("ARMTemplateForFactory.json", '{"v": 1}')
    repo.write("linkedTemplates/ArmTemplate_0.json", '{"part": 0}')
    commit = repo.commit("one")
    files = read_ref(repo.path, resolve_ref(repo.path, commit), folder)
    assert set(files.files) == {"ARMTemplateForFactory.json", "linkedTemplates/ArmTemplate_0.json"}
