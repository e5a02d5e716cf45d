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
- With publishing from the collaboration branch, `publish`: it holds the token that pushes to the publish branch
  (a push with the job's own GITHUB_TOKEN starts no workflow, so the promotion would never run), and only the
  collaboration branch may use it. No Azure identity: publishing is git only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

PUBLISH_BRANCH = "adf_publish"
DEFAULT_BRANCH = "main"
STAGES = ("staging", "production")  # the promote environments the reusable workflow knows
READ_SUFFIX = "-read"
REVIEWED = ("production",)
PUBLISH_ENVIRONMENT = "publish"  # the reusable workflow's publish job names it
PUBLISH_TOKEN = "PROMOTE_PUBLISH_TOKEN"  # its secret: a token whose pushes start workflows
# or a GitHub App's, which mints a token per run
APP_CLIENT_ID, APP_KEY = "PROMOTE_APP_CLIENT_ID", "PROMOTE_APP_PRIVATE_KEY"


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
    stage: str  # staging or production ("" for publish)
    factory: str  # "" for a read environment, shared by every factory
    writes: bool
    reviewers: bool
    branches: tuple[str, ...]
    azure: bool = True  # an Azure identity is federated with it (every one but publish)

    def subject(self, repository: str) -> str:
        """The federated credential subject GitHub's ID tokens carry for jobs naming this environment."""
        return f"repo:{repository}:environment:{self.name}"


def github_environments(
    factories: Sequence[str],
    stages: Sequence[str] = STAGES,
    *,
    publish_branch: str = PUBLISH_BRANCH,
    default_branch: str = DEFAULT_BRANCH,
    collaboration_branch: str | None = None,
) -> list[GitHubEnvironment]:
    """Every environment the reusable workflow may name for these factories and stages; `publish` too when the
    publish branch is written from `collaboration_branch`."""
    branches = tuple(dict.fromkeys((publish_branch, default_branch)))
    out = [
        GitHubEnvironment(read_environment(stage), stage, "", writes=False, reviewers=False, branches=branches)
        for stage in stages
    ]
    for factory in factories:
        for stage in stages:
            name = deploy_environment(factory, stage)
            out.append(GitHubEnvironment(name, stage, factory, True, stage in REVIEWED, branches))
    if collaboration_branch:
        out.append(GitHubEnvironment(PUBLISH_ENVIRONMENT, "", "", True, False, (collaboration_branch,), azure=False))
    return out


def allows(environments: Sequence[GitHubEnvironment], name: str, branch: str) -> bool:
    """GitHub's deployment-branch rule: a job naming environment `name` runs from `branch` only if allowed.
    An environment that is not set up at all is refused too (the workflow would name one nobody created)."""
    for environment in environments:
        if environment.name == name:
            return branch in environment.branches
    return False


# ------------------------------------------------------------------------------------------- the setup commands

# What reading needs beyond Reader (a trigger's event subscription status, the pipeline runs in progress a plan
# lists: Azure registers both as actions, which Reader's `*/read` does not cover); the only custom role.
READ_ACTIONS = (
    "Microsoft.DataFactory/factories/triggers/getEventSubscriptionStatus/action",
    "Microsoft.DataFactory/factories/querypipelineruns/action",
)
DEPLOY_ROLE = "Data Factory Contributor"


@dataclass(frozen=True)
class Target:
    """Where an environment deploys, as far as its file says (placeholders otherwise)."""

    subscription: str
    resource_group: str


def setup_commands(
    repository: str,
    factories: Sequence[str],
    targets: Mapping[tuple[str, str], Target],
    *,
    publish_branch: str = PUBLISH_BRANCH,
    default_branch: str = DEFAULT_BRANCH,
    collaboration_branch: str | None = None,
) -> str:
    """The exact `gh` and `az` commands that create what the reusable workflow needs, as a shell script a person
    reads and runs. `targets[(factory, stage)]` is each environment's subscription and resource group;
    `collaboration_branch`: the publish branch is written from there (the `publish` environment and its token)."""
    environments = github_environments(
        factories,
        publish_branch=publish_branch,
        default_branch=default_branch,
        collaboration_branch=collaboration_branch,
    )
    owner_repo = repository
    slug = re.sub(r"[^A-Za-z0-9-]", "-", repository.split("/")[-1])
    out = [
        "# 1. GitHub: the environments (deployment branches; production's reviewers) and their variables.",
        "#    gh needs a token with admin rights on the repository (gh auth login).",
    ]
    for env in environments:
        body = {
            "deployment_branch_policy": {"protected_branches": False, "custom_branch_policies": True},
            **({"prevent_self_review": True, "reviewers": [{"type": "User", "id": 0}]} if env.reviewers else {}),
        }
        text = json.dumps(body)
        if env.reviewers:
            text = text.replace('"id": 0', '"id": <reviewer user id: gh api users/<login> --jq .id>')
        out.append(f"gh api -X PUT repos/{owner_repo}/environments/{env.name} --input - <<'JSON'\n{text}\nJSON")
        for branch in env.branches:
            out.append(
                f"gh api -X POST repos/{owner_repo}/environments/{env.name}/deployment-branch-policies "
                f"-f name={branch} -f type=branch"
            )
    out += [
        f"gh variable set AZURE_TENANT_ID --repo {owner_repo} --body <tenant id>",
        f"gh variable set PROMOTE_PREVIEW_CLIENT_ID --repo {owner_repo} --body <staging-read's appId>"
        "   # pull-request previews",
    ]
    if collaboration_branch:
        where = f"--repo {owner_repo} --env {PUBLISH_ENVIRONMENT}"
        out += [
            f"#    {PUBLISH_ENVIRONMENT}: the token that pushes the built templates to {publish_branch}. Not"
            " GITHUB_TOKEN: its pushes start",
            "#    no workflow, so the promotion would never run. A fine-grained token with Contents: read and write"
            " on this",
            "#    repository (gh asks for it):",
            f"gh secret set {PUBLISH_TOKEN} {where}",
            "#    or, instead, a GitHub App installed on this repository with Contents: read and write:",
            f"#    gh variable set {APP_CLIENT_ID} {where} --body <the app's client id>",
            f"#    gh secret set {APP_KEY} {where} < <the app's private key>.pem",
        ]
    out += [
        "",
        "# 2. Azure: one identity per GitHub environment, federated with it, with roles on its resource group.",
        "#    A custom role for what reading needs beyond Reader (event subscription status, runs in progress):",
    ]
    scopes = sorted({f"/subscriptions/{t.subscription}" for t in targets.values()})
    role = {
        "Name": f"adf-promote reader ({slug})",
        "Description": "Reads what Reader cannot: event subscription status, runs in progress (adf-promote)",
        "Actions": list(READ_ACTIONS),
        "AssignableScopes": scopes or ["/subscriptions/<subscription id>"],
    }
    out.append(f"az role definition create --role-definition '{json.dumps(role)}'")
    for env in environments:
        if not env.azure:
            continue
        stages = [(f, s) for (f, s) in targets if s == env.stage and (f == env.factory or not env.writes)]
        app = f"adf-promote-{slug}-{env.name}"
        credential = {
            "name": f"github-{env.name}",
            "issuer": "https://token.actions.githubusercontent.com",
            "audiences": ["api://AzureADTokenExchange"],
            "subject": env.subject(owner_repo),
        }
        out += [
            "",
            f"# {env.name}: " + ("writes the factory" if env.writes else "reads only"),
            f"app=$(az ad app create --display-name {app} --query appId -o tsv)",
            'az ad sp create --id "$app"',
            f"az ad app federated-credential create --id \"$app\" --parameters '{json.dumps(credential)}'",
        ]
        if env.name == read_environment("staging"):
            preview = {**credential, "name": "github-pull-requests", "subject": f"repo:{owner_repo}:pull_request"}
            out.append(f"az ad app federated-credential create --id \"$app\" --parameters '{json.dumps(preview)}'")
        for factory, stage in stages:
            t = targets[(factory, stage)]
            scope = f"/subscriptions/{t.subscription}/resourceGroups/{t.resource_group}"
            roles = [DEPLOY_ROLE] if env.writes else ["Reader", role["Name"]]
            out += [f'az role assignment create --assignee "$app" --role "{r}" --scope {scope}' for r in roles]
            if env.writes and stage == "production" and (factory, "staging") in targets:
                s = targets[(factory, "staging")]
                staging = f"/subscriptions/{s.subscription}/resourceGroups/{s.resource_group}"
                out.append(
                    f'az role assignment create --assignee "$app" --role Reader --scope {staging}   # requires: staging'
                )
        if env.writes:
            out.append(
                "#   event triggers: EventGrid EventSubscription Contributor on the storage accounts they watch;"
                " Key Vault references: Microsoft.KeyVault/vaults/deploy/action on each vault"
            )
        out.append(f'gh variable set AZURE_CLIENT_ID --repo {owner_repo} --env {env.name} --body "$app"')
    return "\n".join(out) + "\n"
