"""Who may do what: the GitHub environments a repository needs, and the Azure identities behind them.

The reusable workflow (`.github/workflows/promote.yml`) names environments by these rules, `promote factories`
tells it each factory's prefix, `promote init` prints the commands that create them, docs/adoption.md explains
them, and the workflow tests check that every job's environment allows the branch that runs it.

- A deploy environment per factory and promote environment: `<prefix>staging`, `<prefix>production` (the prefix
  is `<factory>-` with a folder of environment files per factory, else empty). Its identity writes the
  factory. Deployment branches: the publish branch (pushes deploy) and the default branch (deploys and
  rollbacks by hand run there, since only the default branch shows "Run workflow"). `production` has required
  reviewers: they are the approval, of a plan they can read.
- A read environment per promote environment, shared by the factories: `staging-read`, `production-read`. Its
  identity only reads (the diff before deploying, production's plan, a rollback's plan, drift). Same branches:
  drift is scheduled, and schedules run on the default branch.
- Pull-request previews name no environment (a pull request's head branch is arbitrary, and branch rules
  apply to it): the preview identity is federated for `pull_request` and only reads staging.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

PUBLISH_BRANCH = "adf_publish"
DEFAULT_BRANCH = "main"
STAGES = ("staging", "production")  # the promote environments the reusable workflow knows
READ_SUFFIX = "-read"
REVIEWED = ("production",)


def prefix(factory: str) -> str:
    """The GitHub environment prefix of a factory: `<factory>-`, or nothing for a repository of one factory."""
    return f"{factory}-" if factory else ""


def deploy_environment(factory: str, stage: str) -> str:
    return f"{prefix(factory)}{stage}"


def read_environment(stage: str) -> str:
    return f"{stage}{READ_SUFFIX}"


@dataclass(frozen=True)
class GitHubEnvironment:
    """One GitHub environment to create: who uses it, which branches may, and whether a person approves."""

    name: str
    stage: str  # staging or production
    factory: str  # "" for a read environment, shared by every factory
    writes: bool
    reviewers: bool
    branches: tuple[str, ...]

    def subject(self, repository: str) -> str:
        """The federated credential subject GitHub's ID tokens carry for jobs naming this environment."""
        return f"repo:{repository}:environment:{self.name}"


def github_environments(
    factories: Sequence[str],
    stages: Sequence[str] = STAGES,
    *,
    publish_branch: str = PUBLISH_BRANCH,
    default_branch: str = DEFAULT_BRANCH,
) -> list[GitHubEnvironment]:
    """Every environment the reusable workflow may name for these factories and stages."""
    branches = tuple(dict.fromkeys((publish_branch, default_branch)))
    out = [
        GitHubEnvironment(read_environment(stage), stage, "", writes=False, reviewers=False, branches=branches)
        for stage in stages
    ]
    for factory in factories:
        for stage in stages:
            name = deploy_environment(factory, stage)
            out.append(GitHubEnvironment(name, stage, factory, True, stage in REVIEWED, branches))
    return out


def allows(environments: Sequence[GitHubEnvironment], name: str, branch: str) -> bool:
    """GitHub's deployment-branch rule: a job naming environment `name` runs from `branch` only if allowed.
    An environment that is not set up at all is refused too (the workflow would name one nobody created)."""
    for environment in environments:
        if environment.name == name:
            return branch in environment.branches
    return False
