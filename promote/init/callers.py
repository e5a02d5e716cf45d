"""The short workflows an adopting repository keeps, calling adf-promote's reusable workflow.

GitHub runs a push's workflow as it is in the pushed commit, so the deploying caller lives on the publish
branch; "Run workflow" buttons and schedules exist only for workflows on the default branch, so the operating
caller lives there (and names the publish branch, where the environment files and the factory's history are).
A team that publishes from the collaboration branch (no Publish button) keeps a third caller there: a push is
built and committed to the publish branch, a pull request gets its preview.
"""

from __future__ import annotations

import json

PUBLISH_FILE = ".github/workflows/promote-publish.yml"
OPERATE_FILE = ".github/workflows/promote-operate.yml"
COLLABORATION_FILE = ".github/workflows/promote-collaboration.yml"

_PUBLISH = """\
# What ADF publishes to {publish_branch} goes validate → staging → production's plan → a person approves it →
# exactly that plan is applied; a pull request into {publish_branch} gets the diff as one comment. Written by
# `promote init`; the steps are in adf-promote's reusable workflow, at the ref below (docs/adoption.md).

name: promote-publish

on:
  push:
    branches: [{publish_branch}]
  pull_request:
    branches: [{publish_branch}]

permissions:
  contents: read
  id-token: write # promote exchanges GitHub's ID tokens for Azure tokens (OIDC): no secret anywhere
  pull-requests: write # a preview's comment

jobs:
  promote:
    uses: {repository}/.github/workflows/promote.yml@{ref}
    with:
      action: ${{{{ github.event_name == 'pull_request' && 'preview' || 'deploy' }}}}
"""

_OPERATE = """\
# By hand (Actions → promote-operate → Run workflow): deploy a revision, roll an environment back (a plan its
# reviewers read, then apply), or look for drift; and drift every working day. Keep this file on the default
# branch: only there does GitHub show "Run workflow" and run schedules. Written by `promote init`.

name: promote-operate

on:
  workflow_dispatch:
    inputs:
      action:
        description: "deploy, roll back, or look for drift"
        type: choice
        options: [deploy, rollback, drift]
        default: deploy
      environment:
        description: "deploy: how far to go (production goes through staging first); rollback: which environment"
        type: choice
        options: [production, staging]
        default: production
      ref:
        description: "deploy: the revision (default: the head); rollback: where to go back to (default: the last good)"
        type: string
        default: ""
      factory:
        description: "with a folder of environment files per factory: which one (default: every factory)"
        type: string
        default: ""
      override-gate:
        description: "production, rollback: go around `requires:` for this run; your reason (shown, recorded)"
        type: string
        default: ""
      allow-deletions:
        description: "allow up to this many deletions over deletion.max_share for this run (recorded)"
        type: string
        default: ""
      confirm:
        description: "impact classes the environment's confirm: asks for, e.g. destructive,infrastructure (recorded)"
        type: string
        default: ""
  schedule:
    - cron: "23 5 * * 1-5" # drift, 05:23 UTC, Monday to Friday

permissions: # what the reusable workflow's jobs may ask for; each asks for less
  contents: read
  id-token: write
  pull-requests: write

jobs:
  promote:
    uses: {repository}/.github/workflows/promote.yml@{ref}
    with:
      action: ${{{{ github.event_name == 'schedule' && 'drift' || inputs.action }}}}
      environment: ${{{{ inputs.environment || 'production' }}}}
      ref: ${{{{ inputs.ref }}}}
      factory: ${{{{ inputs.factory }}}}
      override-gate: ${{{{ inputs.override-gate }}}}
      allow-deletions: ${{{{ inputs.allow-deletions }}}}
      confirm: ${{{{ inputs.confirm }}}}
      branch: {publish_branch}
"""


_COLLABORATION = """\
# ADF Studio saves the factory to {collaboration_branch}; instead of Studio's Publish button, each push there is
# built as ADF's publish would build it and committed to {publish_branch} (which starts promote-publish.yml there,
# as a Publish would), and a pull request into {collaboration_branch} gets `promote validate` and its diff against
# what staging runs as one comment, updated on each push. Keep this file on {collaboration_branch}. Written by
# `promote init --collaboration-root`; the GitHub environment `publish` holds the token that pushes
# (docs/adoption.md).

name: promote-collaboration

on:
  push:
    branches: [{collaboration_branch}]
  pull_request:
    branches: [{collaboration_branch}]

permissions:
  contents: read # the push to {publish_branch} uses the publish token, not this workflow's
  id-token: write # the preview reads staging with GitHub's ID token (OIDC)
  pull-requests: write # the preview's comment

jobs:
  promote:
    uses: {repository}/.github/workflows/promote.yml@{ref}
    with:
      action: ${{{{ github.event_name == 'pull_request' && 'preview' || 'publish' }}}}
      collaboration-root: {collaboration_root}
      branch: {publish_branch}
{factory_line}"""


def callers(
    uses: str,
    publish_branch: str,
    *,
    collaboration_root: str | None = None,
    collaboration_branch: str = "main",
    factory: str = "",
) -> dict[str, str]:
    """{path: text} of the callers; `uses` is `<owner>/<repo>@<ref>` of adf-promote. With `collaboration_root`
    (the folder ADF Studio saves into, as its "root folder" setting says), also the collaboration branch's."""
    repository, _, ref = uses.partition("@")
    values = {"repository": repository, "ref": ref, "publish_branch": publish_branch}
    out = {PUBLISH_FILE: _PUBLISH.format(**values), OPERATE_FILE: _OPERATE.format(**values)}
    if collaboration_root is not None:
        out[COLLABORATION_FILE] = _COLLABORATION.format(
            **values,
            collaboration_root=json.dumps(collaboration_root),
            collaboration_branch=collaboration_branch,
            factory_line=f"      factory: {factory}\n" if factory else "",
        )
    return out
