"""Publishing from the collaboration branch, and its pull-request previews, run as GitHub would run them
(`tests/actions_runner.py`) against the emulator.

The repository is an adopter's, as `promote init --collaboration-root adf` leaves it: `main` is ADF's collaboration
branch (the sample factory as ADF Studio saves it, under `adf/`, and promote-collaboration.yml); `adf_publish`
holds the environment files (staging and production on the emulator) and promote-publish.yml, and no templates
until the first publish. The callers name adf-promote as `example/adf-promote/...@v1`: a clone of this
repository carrying this working tree's workflows and action (tests/test_workflows.py's `retarget`).

What it promises: a push to main is built and committed to adf_publish once, with ADF's commit message naming the
pushed commit, pushed with a token whose pushes start workflows, and that push runs the promotion; a push that
changes nothing ADF would publish commits nothing; a pull request into main gets one comment (validate, and the
diff against what staging runs) that each push updates, red with the file at fault when an object file is bad.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promote.init.access import (
    APP_CLIENT_ID,
    APP_KEY,
    PUBLISH_BRANCH,
    PUBLISH_ENVIRONMENT,
    PUBLISH_TOKEN,
    allows,
    github_environments,
)
from promote.init.callers import COLLABORATION_FILE, PUBLISH_FILE, callers
from promote.render.preview import MARKER
from tests.actions_runner import (
    CHECKOUT_AUTH_KEY,
    GITHUB_TOKEN,
    JobRun,
    Runner,
    WorkflowRun,
    app_token,
    checkout_auth_header,
)
from tests.collaboration import unpublish
from tests.engine_project import MIRROR, PROMOTE, Project
from tests.gitrepo import Repo, git
from tests.test_workflows import FAKE_GH, TENANT, commands, deployed_commit, results, retarget

COLLABORATION = "main"  # ADF's collaboration branch
ROOT_FOLDER = "adf"  # ADF's root folder setting
FACTORY = "adf-ml-project"  # the factory's name: the folder the publish writes on adf_publish
USES = "example/adf-promote@v1"
BRANCH = "feature/score"  # a pull request's head branch
ENVIRONMENTS = github_environments([""], collaboration_branch=COLLABORATION)
PUBLISH_SECRET = {PUBLISH_ENVIRONMENT: {PUBLISH_TOKEN: "github_pat_11PUBLISH0token"}}
PUBLISH_MESSAGE = re.compile(
    r"ARM template and parameters deployed on \d{1,2}-\d{1,2}-\d{4} \d{1,2}:\d{1,2}:\d{1,2}, "
    r"based on the collaboration branch's commit ID: ([0-9a-f]{40})"
)


@dataclass
class Adopter:
    repo: Repo  # GitHub's copy of the repository (main checked out)
    project: Project  # adf-promote as the callers name it, and the emulator

    def head(self, branch: str) -> str:
        return git(self.repo.path, "rev-parse", f"refs/heads/{branch}")

    def run(
        self,
        work: Path,
        workflow: str,
        *,
        sha: str,
        event: str = "push",
        branch: str = COLLABORATION,
        payload: Mapping[str, Any] | None = None,
        head_ref: str = "",
        environment_secrets: Mapping[str, Mapping[str, str]] | None = None,
        environment_vars: Mapping[str, Mapping[str, str]] | None = None,
        approve: Any = None,
        gh: Path | None = None,
    ) -> WorkflowRun:
        """One run of a caller as it is in commit `sha`, for `event` on `branch`, with the GitHub environments
        `promote init` prints (publish kept to main; production's reviewers)."""
        work.mkdir(parents=True)
        caller = work / Path(workflow).name  # the file as the pushed commit holds it
        caller.write_text(git(self.repo.path, "show", f"{sha}:{workflow}") + "\n")
        env = self.project.env()
        return Runner(
            caller,
            origin=self.repo.path,
            work=work,
            event_name=event,
            sha=sha,
            ref=f"refs/pull/{(payload or {}).get('number')}/merge"
            if event == "pull_request"
            else f"refs/heads/{branch}",
            head_ref=head_ref,
            event=payload,
            vars={"AZURE_TENANT_ID": TENANT, "AZURE_SUBSCRIPTION_ID": env["AZURE_SUBSCRIPTION_ID"]},
            environment_vars=environment_vars,
            environment_secrets=environment_secrets,
            base_env={k: v for k, v in env.items() if not k.startswith(("GITHUB_", "RUNNER_", "ACTIONS_", "AZURE_"))},
            tools={"promote": PROMOTE, **({"gh": str(gh)} if gh else {})},
            repository="example/adf-factory",
            repositories={"example/adf-promote": self.project.path},
            branch_policy=lambda name, on: allows(ENVIRONMENTS, name, on),
            reviewed=[e.name for e in ENVIRONMENTS if e.reviewers],
            approve=approve,
        ).run()


def adopter(project: Project, path: Path) -> Adopter:
    retarget(project)
    git(project.path, "tag", "-f", "v1")
    repo = Repo(path)
    written = callers(USES, PUBLISH_BRANCH, collaboration_root=ROOT_FOLDER, collaboration_branch=COLLABORATION)
    # adf_publish: the environment files and the promotion's caller; no templates until the first publish
    git(repo.path, "switch", "-q", "--orphan", PUBLISH_BRANCH)
    for stage in ("staging", "production"):
        text = (project.path / "environments" / f"{stage}.yaml").read_text()
        repo.write(f"environments/{stage}.yaml", re.sub(r"^source: .*$", f"source: {FACTORY}", text, flags=re.M))
    repo.write(PUBLISH_FILE, written[PUBLISH_FILE])
    repo.commit("adf-promote: environments and the promotion")
    # main, the collaboration branch: what ADF Studio saved, and the caller that publishes it
    git(repo.path, "switch", "-q", "--orphan", COLLABORATION)  # which leaves none of adf_publish's files
    unpublish(project.path / MIRROR, repo.path / ROOT_FOLDER)
    repo.write(COLLABORATION_FILE, written[COLLABORATION_FILE])
    repo.commit("Updating pipeline: ingest_mnist")
    return Adopter(repo, project)


def edit(repo: Repo, rel: str, change: Any) -> None:
    """Change one object file as ADF Studio saves it (`change(document)` edits the parsed JSON)."""
    document = json.loads((repo.path / rel).read_text())
    change(document)
    repo.write(rel, document)


def promote_in(project: Project, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`promote` run by a person in a checkout of the adopter's repository (against the test's emulator)."""
    return subprocess.run(
        [PROMOTE, *args], cwd=cwd, env=project.env(), capture_output=True, text=True, timeout=180, check=False
    )


def credential(job: JobRun) -> str:
    """What the job's later git commands (the push) authenticate with, as the checkout persisted it."""
    assert job.workspace is not None
    return git(job.workspace, "config", "--get", CHECKOUT_AUTH_KEY)


def reject(job: JobRun, run: WorkflowRun) -> bool:
    return False  # production's reviewers have not approved yet: this test is about what reaches staging


def test_a_push_to_the_collaboration_branch_is_published_once_and_the_publish_is_promoted(
    project: Project, tmp_path: Path
):
    adopting = adopter(project, tmp_path / "factory")
    repo = adopting.repo
    pushed = adopting.head(COLLABORATION)
    before = adopting.head(PUBLISH_BRANCH)

    run = adopting.run(tmp_path / "push", COLLABORATION_FILE, sha=pushed, environment_secrets=PUBLISH_SECRET)
    got = results(run)
    assert got.pop("publish") == "success", run.report()
    assert set(got.values()) == {"skipped"}, got  # publishing only: no factories job, nothing deployed

    # exactly one commit on adf_publish, with ADF's message naming the pushed commit
    published = adopting.head(PUBLISH_BRANCH)
    assert git(repo.path, "rev-list", f"{before}..{published}").split() == [published]
    match = PUBLISH_MESSAGE.fullmatch(git(repo.path, "log", "-1", "--format=%B", published))
    assert match and match.group(1) == pushed
    # authored by whoever made the published change (ADF's publish names who published), committed by the bot
    assert git(repo.path, "log", "-1", "--format=%an <%ae>|%cn", published) == (
        "test <test@example.invalid>|github-actions[bot]"
    )
    files = git(repo.path, "ls-tree", "-r", "--name-only", published).split()
    assert f"{FACTORY}/ARMTemplateForFactory.json" in files and f"{FACTORY}/linkedTemplates/ArmTemplate_0.json" in files
    assert "environments/staging.yaml" in files and PUBLISH_FILE in files  # the branch's own files stay
    publish = run.job("promote/publish")
    assert publish.environment == {"name": PUBLISH_ENVIRONMENT}
    assert publish.outputs == {"commit": published}
    assert f"### ✅ Published `{pushed[:8]}` to adf_publish as `{published[:8]}`" in publish.summary
    # pushed with the publish token (a push with the job's own GITHUB_TOKEN would start no workflow)
    assert credential(publish) == checkout_auth_header(PUBLISH_SECRET[PUBLISH_ENVIRONMENT][PUBLISH_TOKEN])
    assert credential(publish) != checkout_auth_header(GITHUB_TOKEN)

    # that push starts the promotion on adf_publish, as a Publish would: validate, staging, production's plan
    promotion = adopting.run(
        tmp_path / "promotion",
        PUBLISH_FILE,
        sha=published,
        branch=PUBLISH_BRANCH,
        payload={"before": before},
        approve=reject,
    )
    got = results(promotion)
    assert (got["validate"], got["staging"], got["plan"]) == ("success", "success", "success"), promotion.report()
    assert commands(promotion, "staging") == [["deploy", "--env", "staging", "--ref", published, "--yes"]]
    assert deployed_commit(adopting.project, "staging") == published

    # a push that changes nothing ADF would publish commits nothing; a GitHub App's token this time
    repo.write("README.md", "The factory's notes.\n")
    notes = repo.commit("notes")
    app = {PUBLISH_ENVIRONMENT: {APP_CLIENT_ID: "Iv23liPublishApp"}}
    again = adopting.run(
        tmp_path / "again",
        COLLABORATION_FILE,
        sha=notes,
        environment_vars=app,
        environment_secrets={PUBLISH_ENVIRONMENT: {APP_KEY: "-----BEGIN RSA PRIVATE KEY-----"}},
    )
    assert results(again)["publish"] == "success", again.report()
    assert adopting.head(PUBLISH_BRANCH) == published
    assert f"### adf_publish already holds what `{notes[:8]}` builds: nothing to publish" in (
        again.job("promote/publish").summary
    )
    assert again.job("promote/publish").outputs == {"commit": ""}
    assert credential(again.job("promote/publish")) == checkout_auth_header(app_token("Iv23liPublishApp"))

    # a re-run of an older push publishes nothing: it would put older templates over newer ones
    rerun = adopting.run(tmp_path / "rerun", COLLABORATION_FILE, sha=pushed, environment_secrets=PUBLISH_SECRET)
    assert results(rerun)["publish"] == "success" and adopting.head(PUBLISH_BRANCH) == published
    assert f"main is at `{notes[:8]}` now: its own run publishes it" in rerun.job("promote/publish").summary

    # a bad object file on main: red, the file annotated, nothing committed
    repo.write(f"{ROOT_FOLDER}/pipeline/broken.json", '{"name": "broken",\n "properties": {\n')
    broken = repo.commit("a bad merge")
    red = adopting.run(tmp_path / "broken", COLLABORATION_FILE, sha=broken, environment_secrets=PUBLISH_SECRET)
    assert red.job("promote/publish").result == "failure", red.report()
    assert [(a["file"], a["line"]) for a in red.job("promote/publish").annotations] == [
        (f"{ROOT_FOLDER}/pipeline/broken.json", "3")
    ]
    assert adopting.head(PUBLISH_BRANCH) == published

    # without a token: red before anything, saying what to set up
    bare = adopting.run(tmp_path / "bare", COLLABORATION_FILE, sha=broken)
    failed = bare.job("promote/publish")
    assert failed.result == "failure" and [s.outcome for s in failed.steps][:3] == ["skipped", "failure", "skipped"]
    (annotation,) = failed.annotations
    assert f"no {PUBLISH_TOKEN} secret" in annotation["message"] and "'publish'" in annotation["message"]
    assert adopting.head(PUBLISH_BRANCH) == published


def test_a_pull_request_to_the_collaboration_branch_gets_one_preview_comment_updated_on_each_push(
    project: Project, tmp_path: Path
):
    adopting = adopter(project, tmp_path / "factory")
    repo = adopting.repo
    base = adopting.head(COLLABORATION)
    # staging runs the collaboration branch as published
    assert promote_in(project, repo.path, "publish", "--source", ROOT_FOLDER).returncode == 0
    published = tmp_path / "published"
    git(repo.path, "worktree", "add", "-q", str(published), PUBLISH_BRANCH)
    deployed = git(published, "rev-parse", "HEAD")
    done = promote_in(project, published, "deploy", "--env", "staging", "--ref", deployed, "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    git(repo.path, "worktree", "remove", "--force", str(published))  # with the .promote/ it left

    state = tmp_path / "comments.json"
    gh = tmp_path / "gh"
    gh.write_text(FAKE_GH.format(python=sys.executable, state=str(state)))
    gh.chmod(0o755)
    git(repo.path, "switch", "-q", "-c", BRANCH)

    def push(name: str) -> tuple[str, WorkflowRun, str]:
        """Commit what the test changed, run the preview for it, and return the pull request's one comment."""
        head = repo.commit(name)
        pull = {"number": 7, "pull_request": {"number": 7, "base": {"sha": base}, "head": {"sha": head}}}
        run = adopting.run(
            tmp_path / name,
            COLLABORATION_FILE,
            sha=head,
            event="pull_request",
            payload=pull,
            head_ref=BRANCH,
            gh=gh,
        )
        assert run.job("promote/preview").environment is None  # a pull request's branch is anyone's
        comments = json.loads(state.read_text())
        assert len(comments) == 1, comments  # created once, then updated
        return head, run, comments[0]["body"]

    # a change to one pipeline: valid, and the one object it changes in staging
    edit(repo, f"{ROOT_FOLDER}/pipeline/score_mnist.json", lambda d: d["properties"].__setitem__("description", "v2"))
    head, run, body = push("score-description")
    assert results(run)["preview"] == "success", run.report()
    assert body.startswith(f"{MARKER}\n## adf-promote preview of `{head[:8]}`")
    assert "✅ valid" in body
    assert "### Changes to `staging`" in body and "| 0 | 1 | 0 | 18 |" in body
    assert '- `~ pipelines/score_mnist` (content): `description`\n  - `+ description = "v2"`' in body
    assert commands(run, "preview")[0] == ["validate", "--ref", head, "--source", ROOT_FOLDER, "--format", "json"]

    # the next push updates that comment
    repo.remove(f"{ROOT_FOLDER}/trigger/score_on_inference_data.json")
    head, run, body = push("no-event-trigger")
    assert results(run)["preview"] == "success", run.report()
    assert f"preview of `{head[:8]}`" in body and "| 0 | 1 | 1 | 17 |" in body
    assert "- `- triggers/score_on_inference_data`" in body

    # a bad object file: the comment shows validate's error naming the file, and the job is red
    repo.write(f"{ROOT_FOLDER}/pipeline/broken.json", '{"name": "broken",\n "properties": {\n')
    head, run, body = push("broken")
    preview = run.job("promote/preview")
    assert preview.result == "failure", run.report()
    assert "❌ 1 problem" in body and f"`{head}:{ROOT_FOLDER}/pipeline/broken.json:3`" in body
    assert "invalid JSON" in body
    assert [a["file"] for a in preview.annotations] == [f"{ROOT_FOLDER}/pipeline/broken.json"]
    assert deployed_commit(project, "staging") == deployed  # a preview never deploys
