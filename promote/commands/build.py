"""`promote build`, `promote publish`, `promote preview`: the collaboration branch without ADF's Publish button.

- build: the files ADF's publish writes, from the collaboration root at a revision (or on disk), into a folder;
- publish: the same files committed to the publish branch with ADF's commit message, which is what starts the
  promotion on `adf_publish` as a Publish would (the workflow pushes the branch);
- preview: one markdown comment for a pull request, from `validate` and `diff --env` results.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import stat
import sys
from pathlib import Path

from promote.build import Build, build
from promote.build.texts import Texts
from promote.errors import EXIT_OK, InputError
from promote.source import PUBLISHED_PATHS, Revision, SourceFiles, commit_folder, project_root, read_source
from promote.untrusted import load_json

DEFAULT_BRANCH = "adf_publish"


def _read(args: argparse.Namespace, ref: str | None) -> tuple[SourceFiles, Revision | None, Path]:
    root = project_root()
    if args.source:
        folder = args.source
    else:  # the folder the environment files name: only then are they read (YAML is a fifth of a build's process)
        from promote.desired import resolve_source

        folder = resolve_source(None, None, root)
    spec = ref if ref is not None else str(root / folder)
    files, revision = read_source(spec, folder=folder, repo=root)
    return files, revision, root


def _as_of(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError.single(
            "<command line>", f"--as-of {text!r} is not a date", hint="write it YYYY-MM-DD"
        ) from None


def _build(args: argparse.Namespace, ref: str | None) -> tuple[Build, Revision | None, Path]:
    files, revision, root = _read(args, ref)
    built = build(
        files, factory=args.factory_file, as_of=_as_of(args.as_of), lenient=args.lenient, language=args.language
    )
    for warning in built.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return built, revision, root


def _describe(built: Build, revision: Revision | None) -> str:
    objects = len(built.template.resources)
    params = len(built.template.parameters)
    where = f"{built.root.label} at {revision.short}" if revision else built.root.label
    return (
        f"{built.factory_name}: {objects} object{'s' if objects != 1 else ''}, {params} parameter"
        f"{'s' if params != 1 else ''}, {len(built.files)} files, from {where}"
    )


def run_build(args: argparse.Namespace) -> int:
    built, revision, _ = _build(args, args.ref)
    out = Path(args.out)
    replace_published(out, built.files)
    print(f"built {_describe(built, revision)}")
    for rel in sorted(built.files):
        print(f"  {out / rel}")
    return EXIT_OK


def replace_published(out: Path, files: dict[str, bytes]) -> None:
    """Write `files` into `out`, leaving nothing else of what an earlier publish wrote there (`PUBLISHED_PATHS`)
    and touching nothing outside those. The earlier files are removed one by one and the new ones created, in
    the folders already there (`_prune`): a file overwritten in place waits for the disk when it was written
    shortly before (ext4 starts writing back a file truncated and written again as it is closed), and removing
    the folders and making them again costs more than their files (both measured: bench/README.md)."""
    folders = {rel.rsplit("/", depth)[0] for rel in files for depth in range(1, rel.count("/") + 1)}
    for name in PUBLISHED_PATHS:
        _prune(out, name, folders)
    made: set[str] = set()
    for rel, data in files.items():
        folder = rel.rsplit("/", 1)[0] if "/" in rel else ""
        if folder not in made:
            (out / folder).mkdir(parents=True, exist_ok=True)
            made.add(folder)
        with open(out / rel, "wb") as handle:
            handle.write(data)


def _prune(out: Path, rel: str, folders: set[str]) -> None:
    """Remove what `out / rel` holds but the folders the new files go into (`folders`): every file, symbolic
    links included (removed, never followed), and every other folder."""
    path = out / rel
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode) and rel in folders:
        for entry in os.scandir(path):
            _prune(out, f"{rel}/{entry.name}", folders)
    elif stat.S_ISDIR(mode):
        shutil.rmtree(path)
    else:
        path.unlink()


def publish_message(commit: str, when: dt.datetime, texts: Texts) -> str:
    """ADF's publish commit message, which names the collaboration commit the templates come from."""
    stamp = f"{when.month}-{when.day}-{when.year} {when.hour}:{when.minute}:{when.second}"
    return texts.commit.format(stamp=stamp, commit=commit)


def run_publish(args: argparse.Namespace) -> int:
    built, revision, root = _build(args, args.ref)
    assert revision is not None  # a ref is always given (default HEAD)
    config_branch = built.root.publish_config.get("publishBranch")
    branch = args.branch or (config_branch if isinstance(config_branch, str) and config_branch else DEFAULT_BRANCH)
    folder = args.folder if args.folder is not None else built.factory_name
    message = publish_message(revision.commit, dt.datetime.now(dt.timezone.utc), built.texts)
    commit = commit_folder(root, branch, folder, built.files, message)
    if commit is None:
        print(f"{branch} already holds {folder}/ as built from {revision.short}: nothing to commit")
        return EXIT_OK
    print(f"published {_describe(built, revision)}")
    print(f"  {branch} {commit[:8]}: {folder}/ ({message})")
    return EXIT_OK


def run_preview(args: argparse.Namespace) -> int:
    from promote.render.preview import Preview, render_preview

    preview = Preview(
        revision=args.revision or "the pull request",
        environment=args.env,
        validate=_load_json(args.validate),
        diff=_load_json(args.diff),
        warnings=[line for path in args.warnings or [] for line in _lines(path)],
    )
    text = render_preview(preview)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _load_json(path: str | None) -> dict | None:
    if path is None:
        return None
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError.single(
            path, "no such file", hint="the output of promote validate/diff --format json"
        ) from None
    doc = load_json(data, path)
    if not isinstance(doc, dict):
        raise InputError.single(path, "expected the JSON object promote validate/diff --format json print")
    return doc


def _lines(path: str) -> list[str]:
    try:
        return [line for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    except FileNotFoundError:
        raise InputError.single(path, "no such file") from None
