"""`promote init`: adopt adf-promote in a repository ADF publishes to.

Writes the environment files (from the published factory, or from an ARM parameters file), the two callers of the
reusable workflow and the `.gitignore` line, then prints what is left to do in Azure and GitHub as commands.
Nothing is overwritten: an environment file that exists stops the command (exit 2) before anything is written.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path, PurePosixPath

from promote.environment.layout import ENVIRONMENTS
from promote.errors import EXIT_OK, InputError, Problem
from promote.init.access import STAGES, Target, setup_commands
from promote.init.callers import COLLABORATION_FILE, OPERATE_FILE, callers
from promote.init.environment_file import environment_file
from promote.init.parameters import read_given
from promote.loader import open_published
from promote.source import LINKED_DIR, LINKED_MASTER, SINGLE_TEMPLATE, project_root, read_source, remote_url

GITIGNORE_LINE = ".promote/"
_SKIP = {".git", ".promote", ".adf-promote", "node_modules"}


def published_folders(root: Path) -> list[str]:
    """Folders of the working tree that hold a published factory (relative to the repository, sorted)."""
    found = set()
    for name in (SINGLE_TEMPLATE, LINKED_MASTER):
        for path in root.rglob(name):
            if _SKIP & set(path.relative_to(root).parts):
                continue
            folder = path.parent.parent if path.parent.name == LINKED_DIR else path.parent
            found.add(folder.relative_to(root).as_posix())
    return sorted(found)


def _folder(given: str) -> str:
    """A folder of the repository as the files name it: `/`-separated, relative, `.` for the root."""
    return PurePosixPath(given.replace("\\", "/")).as_posix().strip("/") or "."


def _source(root: Path, given: str | None) -> str:
    if given:
        return _folder(given)
    folders = published_folders(root)
    if len(folders) == 1:
        return folders[0]
    if not folders:
        raise InputError.single(
            str(root),
            f"no published factory here (no {SINGLE_TEMPLATE} or {LINKED_DIR}/{LINKED_MASTER})",
            hint="run promote init on a checkout of adf_publish, or pass --source FOLDER",
        )
    raise InputError.single(
        str(root), f"several published factories: {', '.join(folders)}", hint="pass --source FOLDER for one of them"
    )


def _repository(root: Path, given: str | None) -> str:
    if given:
        return given
    url = remote_url(root) or ""
    match = re.search(r"github\.com[:/]+([^/]+/[^/]+?)(?:\.git)?/?$", url)
    return match.group(1) if match else "<owner>/<repo>"


def _gitignore(root: Path) -> bool:
    """Add `.promote/` to .gitignore unless a line already covers it; whether it was added."""
    path = root / ".gitignore"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if any(line.strip() in (GITIGNORE_LINE, ".promote", "/.promote", "/.promote/") for line in text.splitlines()):
        return False
    path.write_text(text + ("" if not text or text.endswith("\n") else "\n") + GITIGNORE_LINE + "\n", encoding="utf-8")
    return True


def run_init(args: argparse.Namespace) -> int:
    root = project_root()
    factory = args.factory or ""
    if factory and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}", factory):
        raise InputError.single(
            "--factory", f"'{factory}' cannot name a folder of environment files", hint="letters, digits, '-' and '_'"
        )
    stages = list(dict.fromkeys(args.env or STAGES))
    if args.from_parameters and len(stages) != 1:
        raise InputError.single(
            "--from-parameters",
            "a parameters file is one environment's values",
            hint="name that environment with one --env",
        )
    source = _source(root, args.source)
    files, _ = read_source(args.ref if args.ref else str(root / source), folder=source, repo=root)
    published = open_published(files)
    given, label = read_given(args.from_parameters) if args.from_parameters else ({}, "")

    directory = PurePosixPath(ENVIRONMENTS, factory) if factory else PurePosixPath(ENVIRONMENTS)
    planned: dict[str, str] = {}
    for stage in stages:
        staging_there = "staging" in stages or (root / str(directory) / "staging.yaml").is_file()
        requires = "staging" if stage == "production" and staging_there else None
        planned[f"{directory}/{stage}.yaml"] = environment_file(
            stage,
            source,
            published.parameters,
            published.published_values,
            given=given or None,
            given_label=label,
            requires=requires,
        )
    existing = [path for path in planned if (root / path).exists()]
    if existing:
        raise InputError(
            [
                Problem(path, "exists: promote init never overwrites a file", hint="move it away, or name other --env")
                for path in existing
            ]
        )
    collaboration_branch = args.collaboration_branch or args.default_branch
    collaboration_root = _collaboration_root(args.collaboration_root)
    workflows = (
        {}
        if args.no_workflows
        else callers(
            args.uses,
            args.publish_branch,
            collaboration_root=collaboration_root,
            collaboration_branch=collaboration_branch,
            factory=factory,
        )
    )
    kept = [path for path in workflows if (root / path).exists()]

    for path, text in {**planned, **{p: t for p, t in workflows.items() if p not in kept}}.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    for path in kept:
        print(f"kept {path} (it exists)")
    if _gitignore(root):
        print(f"added {GITIGNORE_LINE} to .gitignore")

    declared = [n for n in published.parameters if n.lower() != "factoryname"]
    secure = [n for n in declared if published.parameters[n].secure]
    print()
    print(
        f"{source}: {len(declared)} parameter{'s' if len(declared) != 1 else ''}"
        f" ({len(secure)} secure)" + (f", values from {label}" if label else "")
    )
    print("What is left:")
    print(
        f"- fill in what is empty or <...> in {', '.join(planned)}, then: promote validate"
        + (f" --factory {factory}" if factory else "")
    )
    if workflows:
        print(
            f"- commit to {args.publish_branch}; put {OPERATE_FILE} on the default branch too"
            " (only there does GitHub run schedules and show Run workflow)"
        )
    if COLLABORATION_FILE in workflows:
        print(
            f"- put {COLLABORATION_FILE} on {collaboration_branch} (a push there is published to"
            f" {args.publish_branch}), e.g.: git switch {collaboration_branch} && git checkout"
            f" {args.publish_branch} -- {COLLABORATION_FILE} && git commit -m 'adf-promote: publish from"
            f" {collaboration_branch}'"
        )
        print(
            "- in ADF Studio (Manage → Git configuration), disable publishing from ADF Studio (the repository"
            f" setting disablePublish): the workflow publishes now, and two writers of {args.publish_branch} would"
            " race"
        )
    print("- create the GitHub environments and Azure identities (docs/adoption.md), with:")
    print()
    repository = _repository(root, args.repository)
    placeholders = {(factory, stage): Target("<subscription id>", f"<resource group of {stage}>") for stage in STAGES}
    print(
        setup_commands(
            repository,
            [factory],
            placeholders,
            publish_branch=args.publish_branch,
            default_branch=args.default_branch,
            collaboration_branch=collaboration_branch if COLLABORATION_FILE in workflows else None,
        )
    )
    return EXIT_OK


def _collaboration_root(given: str | None) -> str | None:
    """The collaboration root as the workflow names it (relative to the repository, `/`-separated; `.` for the
    repository's root), or None. It reaches a workflow file: only a plain relative path is accepted."""
    if given is None:
        return None
    root = _folder(given)
    if ".." in PurePosixPath(root).parts or not re.fullmatch(r"[A-Za-z0-9._/ -]+", root):
        raise InputError.single(
            "--collaboration-root",
            f"'{given}' is not a folder of this repository",
            hint="ADF's root folder setting, relative to the repository root (e.g. adf, or . for the root)",
        )
    return root
