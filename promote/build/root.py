"""A collaboration-branch root (the folder ADF Studio saves a factory into) read into objects, strictly.

ADF Studio saves each object as `<folder>/<name>.json`: `pipeline/`, `dataset/`, `linkedService/`, `trigger/`,
`dataflow/`, `integrationRuntime/`, `credential/`, `managedVirtualNetwork/<vnet>.json` with
`managedVirtualNetwork/<vnet>/managedPrivateEndpoint/<name>.json`, plus `factory/<factory>.json`,
`publish_config.json` and `arm-template-parameters-definition.json`. What real roots hold beyond that, and what
is done about it (evidence: the reference folders in ../shared/reference/collaboration):

- the top-level `type` of a file is present or not, even within one folder, and can be a Synapse type
  (`Microsoft.Synapse/workspaces/linkedservices`) on a branch shared with a workspace: ADF publishes by folder,
  so the folder decides the kind and the `type` is ignored;
- the legacy top-level `managedPrivateEndpoint/` and the folders of Synapse (`notebook/`, `sqlscript/`, ...)
  or of the template gallery (`templates/`) are never published: they are skipped;
- several `factory/*.json` files in one root (a branch shared by two factories): which one the root holds is
  chosen explicitly, never guessed;
- a stale copy whose file name differs from its object's `name` only in letter case (two files, one object):
  ADF publishes the file whose name matches. That and every other inconsistency is bad input here (exit 2,
  every problem listed with its file), unless the caller asks to publish as ADF does (`lenient`), which turns
  the ones ADF resolves itself into warnings.

A root at the top of a repository sits beside unrelated files: a JSON file outside ADF's folders matters only
when it looks like an object of a factory (a `name` and `properties`), as a misspelt folder would hold.
"""

from __future__ import annotations

import codecs
import difflib
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from promote.errors import InputError, Problem
from promote.source import SourceFiles
from promote.untrusted import JsonRefused, StrictDecoder, parse_json

PUBLISH_CONFIG = "publish_config.json"
DEFINITION_FILE = "arm-template-parameters-definition.json"
FACTORY_FOLDER = "factory"
VNET_FOLDER = "managedVirtualNetwork"
ENDPOINT_FOLDER = "managedPrivateEndpoint"

# Folder ADF Studio saves a kind of object in -> the object type (docs/architecture.md, "Object identity").
KIND_FOLDERS: dict[str, str] = {
    "integrationRuntime": "integrationRuntimes",
    "managedVirtualNetwork": "managedVirtualNetworks",
    "credential": "credentials",
    "linkedService": "linkedServices",
    "dataset": "datasets",
    "dataflow": "dataflows",
    "pipeline": "pipelines",
    "trigger": "triggers",
    "adfcdc": "adfcdcs",
}
ENDPOINT_TYPE = "managedVirtualNetworks/managedPrivateEndpoints"

# Folders a collaboration branch can hold that ADF's publish never reads: the legacy top-level private
# endpoints, Synapse's kinds (a branch shared with a workspace) and the template gallery.
SKIPPED_FOLDERS = frozenset(
    {
        "managedPrivateEndpoint",
        "notebook",
        "sqlscript",
        "sparkJobDefinition",
        "kqlscript",
        "bigDataPool",
        "sqlPool",
        "kustoPool",
        "library",
        "lakeDatabase",
        "database",
        "sparkconfiguration",
        "templates",
    }
)
ROOT_MARKERS = frozenset({*KIND_FOLDERS, FACTORY_FOLDER, PUBLISH_CONFIG, DEFINITION_FILE})
_PLAIN = StrictDecoder()
_BOM = codecs.BOM_UTF8


@dataclass(frozen=True)
class ObjectFile:
    """One object of the factory as its file holds it."""

    type: str  # contract casing: pipelines, linkedServices, managedVirtualNetworks/managedPrivateEndpoints, ...
    name: str  # below the factory: `x`, or `default/x` for a private endpoint
    path: str  # relative to the root
    display: str  # as shown in messages
    doc: dict[str, Any]  # the parsed file

    @property
    def properties(self) -> dict[str, Any]:
        props = self.doc.get("properties")
        return props if isinstance(props, dict) else {}


@dataclass(frozen=True)
class CollaborationRoot:
    """Everything of one factory a publish reads from the root, checked."""

    files: SourceFiles
    factory_name: str
    factory_file: str | None  # display path of factory/<name>.json, when there is one
    factory: dict[str, Any]  # the parsed factory file ({} without one)
    publish_config: dict[str, Any]
    definition: Any  # the parsed arm-template-parameters-definition.json, None without one
    definition_file: str | None
    objects: tuple[ObjectFile, ...]
    warnings: tuple[str, ...] = field(default=())
    unreadable: frozenset[tuple[str, str]] = field(default=frozenset())  # (type, lower name) of broken files
    floats: bool = True  # whether a file read holds a float (or NaN, Infinity): the writer then checks its text

    @property
    def label(self) -> str:
        return self.files.label

    @property
    def global_parameters(self) -> dict[str, Any]:
        props = self.factory.get("properties")
        found = props.get("globalParameters") if isinstance(props, dict) else None
        return found if isinstance(found, dict) else {}


def is_collaboration_root(files: SourceFiles) -> bool:
    """Whether `files` is a root ADF Studio saves into (as opposed to a folder ADF published)."""
    return any(PurePosixPath(path).parts[0] in ROOT_MARKERS for path in files.files)


def factory_names(files: SourceFiles) -> list[str]:
    """The factories whose files `factory/` holds, in file-name order."""
    prefix = FACTORY_FOLDER + "/"
    return sorted(
        path[len(prefix) : -len(".json")]
        for path in files.files
        if path.startswith(prefix) and path.endswith(".json") and "/" not in path[len(prefix) :]
    )


def read_root(files: SourceFiles, *, factory: str | None = None, lenient: bool = False) -> CollaborationRoot:
    """Parse and check every file a publish reads. Raises InputError listing every problem found."""
    root, problems = examine_root(files, factory=factory, lenient=lenient)
    if problems:
        raise InputError(problems)
    return root


def examine_root(
    files: SourceFiles,
    *,
    factory: str | None = None,
    lenient: bool = False,
    previous: CollaborationRoot | None = None,
) -> tuple[CollaborationRoot, list[Problem]]:
    """The root as far as it could be read, and every problem found (so that later checks add theirs).

    `unreadable` names the objects whose files could not be read or were refused: their names still count as
    present, so that a reference to one is not reported a second time. `previous`, another revision of the
    root: an object file with the same path and bytes there is not parsed again, its parsed document is shared
    (nothing modifies one), which is what lets a build reuse its work (`build_template`'s `previous`)."""
    problems: list[Problem] = []
    warnings: list[str] = []
    unreadable: set[tuple[str, str]] = set()
    found: dict[tuple[str, str], list[ObjectFile]] = {}
    config: dict[str, Any] = {}
    definition: Any = None
    definition_file: str | None = None
    decoder = StrictDecoder()  # notes whether any file held a float (promote.build.jsonfmt must check only then)
    base = files.display("")  # every file's display name is this and its path
    before = previous.files.files if previous is not None else {}
    parsed_before = {o.path: o.doc for o in previous.objects} if previous is not None else {}
    shared = False  # whether a document was taken from `previous` (its floats then count)
    for path in sorted(files.files):
        parts = tuple(path.split("/"))
        top = parts[0]
        display = base + path
        if path == PUBLISH_CONFIG:
            parsed = _parse(files, path, problems, decoder)
            if parsed is not None and not isinstance(parsed, dict):
                problems.append(Problem(display, "publish_config.json must hold a JSON object"))
            config = parsed if isinstance(parsed, dict) else {}
        elif path == DEFINITION_FILE:
            definition = _parse(files, path, problems, decoder)
            definition_file = display
        elif top == FACTORY_FOLDER:
            continue  # read below, once the factory is chosen
        elif top in KIND_FOLDERS:
            located = _locate(parts)
            if located is None:
                problems.append(_misplaced(display, parts))
                continue
            kind, name_from_path = located
            doc = parsed_before.get(path) if path in parsed_before and before.get(path) == files.files[path] else None
            if doc is not None:
                shared = True
            else:
                doc = _parse(files, path, problems, decoder)
            if doc is None:
                unreadable.add((kind, name_from_path.lower()))
                continue
            obj = _object(doc, kind, name_from_path, path, display, problems)
            if obj is not None:
                found.setdefault((obj.type, obj.name.lower()), []).append(obj)
        elif top in SKIPPED_FOLDERS or len(parts) == 1:
            continue
        else:
            problems.extend(_unknown_folder(files, path, top))

    objects: list[ObjectFile] = []
    for key, group in found.items():
        chosen = _one_per_name(group, problems, warnings, lenient)
        if chosen is not None:
            objects.append(chosen)
        else:
            unreadable.add(key)
    name, factory_file, factory_doc = _factory(files, factory, problems, decoder)
    root = CollaborationRoot(
        files=files,
        factory_name=name,
        factory_file=factory_file,
        factory=factory_doc,
        publish_config=config,
        definition=definition,
        definition_file=definition_file,
        objects=tuple(objects),
        warnings=tuple(warnings),
        unreadable=frozenset(unreadable),
        floats=decoder.floats or (shared and previous is not None and previous.floats),
    )
    return root, problems


def _locate(parts: tuple[str, ...]) -> tuple[str, str] | None:
    """(object type, name from the path) for a file where ADF saves objects, None anywhere else."""
    if not parts[-1].endswith(".json"):
        return None
    stem = parts[-1][: -len(".json")]
    if len(parts) == 2:
        return KIND_FOLDERS[parts[0]], stem
    if len(parts) == 4 and parts[0] == VNET_FOLDER and parts[2] == ENDPOINT_FOLDER:
        return ENDPOINT_TYPE, f"{parts[1]}/{stem}"
    return None


def _misplaced(display: str, parts: tuple[str, ...]) -> Problem:
    where = f"{parts[0]}/<vnet>/{ENDPOINT_FOLDER}/" if parts[0] == VNET_FOLDER else f"{parts[0]}/"
    return Problem(
        display,
        f"ADF reads objects only directly in {where}; this file would not be published",
        hint="move it there or out of the factory's root folder",
    )


def _parse(files: SourceFiles, path: str, problems: list[Problem], decoder: StrictDecoder = _PLAIN) -> Any:
    """The file's JSON, or None with a problem recorded (naming the line, as a person must find it)."""
    data = files.files[path]
    try:
        # "utf-8-sig" by hand: the codec by that name is Python code, a tenth of the time of parsing a small file
        text = (data[3:] if data[:3] == _BOM else data).decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(
            Problem(
                files.display(path),
                f"cannot decode the file as UTF-8: {exc.reason} at byte {exc.start}",
                line=data.count(b"\n", 0, exc.start) + 1,
                hint="ADF Studio saves UTF-8; save it as UTF-8",
            )
        )
        return None
    try:
        return parse_json(text, decoder=decoder)  # strict: no NaN or Infinity, nesting bounded (promote.untrusted)
    except JsonRefused as exc:
        hint = "fix the JSON there (a hand edit or a merge conflict marker is the usual cause)" if exc.syntax else None
        problems.append(Problem(files.display(path), f"invalid JSON: {exc.reason}", line=exc.line, hint=hint))
    return None


def _object(
    doc: Any, kind: str, name_from_path: str, path: str, display: str, problems: list[Problem]
) -> ObjectFile | None:
    if not isinstance(doc, dict):
        problems.append(Problem(display, "an object's file must hold a JSON object"))
        return None
    name = doc.get("name")
    if not isinstance(name, str) or not name:
        problems.append(Problem(display, "the object has no 'name'", hint="ADF Studio writes the object's name there"))
        return None
    props = doc.get("properties")
    if props is not None and not isinstance(props, dict):
        problems.append(Problem(display, "'properties' must be a JSON object", object=name))
        return None
    if props is None and kind != "managedVirtualNetworks":
        problems.append(Problem(display, "the object has no 'properties'", object=name))
        return None
    full = f"{name_from_path.split('/')[0]}/{name}" if kind == ENDPOINT_TYPE else name
    return ObjectFile(kind, full, path, display, doc)


def _one_per_name(
    group: list[ObjectFile], problems: list[Problem], warnings: list[str], lenient: bool
) -> ObjectFile | None:
    """The one file ADF publishes for an object name: the file named after it (ADF names are case-insensitive)."""
    matching = [o for o in group if o.path.rsplit("/", 1)[-1][: -len(".json")] == o.name.split("/")[-1]]
    if len(group) == 1 and matching:
        return group[0]
    label = f"{group[0].type}/{group[0].name}"
    if len(group) == 1:
        obj = group[0]
        message = (
            f"the file name differs from the object's name '{obj.name.split('/')[-1]}': ADF Studio names each "
            "file after its object"
        )
        if lenient:
            warnings.append(f"{obj.display}: {message}; published under the object's name")
            return obj
        problems.append(Problem(obj.display, message, object=label, hint="rename the file to the object's name"))
        return None
    others = ", ".join(o.display for o in group)
    if len(matching) == 1:
        keep = matching[0]
        stale = [o for o in group if o is not keep]
        message = (
            f"{len(group)} files hold this object ({others}); ADF publishes the one named after it, {keep.display}"
        )
        if lenient:
            warnings.append(f"{label}: {message}; the others are left out")
            return keep
        for obj in stale:
            problems.append(Problem(obj.display, message, object=label, hint="delete the stale copy"))
        return None
    for obj in group:
        problems.append(
            Problem(
                obj.display,
                f"{len(group)} files hold this object ({others}); ADF names are case-insensitive",
                object=label,
                hint="keep one file, named after the object",
            )
        )
    return None


def _unknown_folder(files: SourceFiles, path: str, top: str) -> list[Problem]:
    """A file outside ADF's folders is a problem only when it looks like one of its objects."""
    data = files.files[path]
    if b'"properties"' not in data or b'"name"' not in data:
        return []
    try:
        doc = parse_json(data.decode("utf-8-sig"))
    except ValueError:  # undecodable (UnicodeDecodeError) or refused (JsonRefused): not an object ADF saved
        return []
    if not (isinstance(doc, dict) and isinstance(doc.get("name"), str) and isinstance(doc.get("properties"), dict)):
        return []
    close = difflib.get_close_matches(top, [*KIND_FOLDERS, FACTORY_FOLDER], n=1, cutoff=0.6)
    hint = (
        f"ADF saves this kind in '{close[0]}/'"
        if close
        else f"ADF reads only {', '.join(f'{k}/' for k in KIND_FOLDERS)}"
    )
    return [
        Problem(
            files.display(path),
            f"unknown folder '{top}/': ADF's publish does not read it, so this object would not be published",
            object=doc["name"],
            hint=hint,
        )
    ]


def _factory(
    files: SourceFiles, chosen: str | None, problems: list[Problem], decoder: StrictDecoder = _PLAIN
) -> tuple[str, str | None, dict[str, Any]]:
    """(factory name, its file, its parsed file) for the factory the root is built as."""
    names = factory_names(files)
    if chosen is None and len(names) > 1:
        problems.append(
            Problem(
                files.display(FACTORY_FOLDER),
                f"{len(names)} factories share this root ({', '.join(names)}); say which one to build",
                hint=f"name it: --factory NAME, or a source path ending in {FACTORY_FOLDER}/<name>.json",
            )
        )
        return names[0], None, {}
    if chosen is None and len(names) == 1:
        chosen = names[0]
    if chosen is None:
        # No factory file (2019 roots have none): the factory's name comes from the caller or the root's folder.
        return _fallback_name(files), None, {}
    path = f"{FACTORY_FOLDER}/{chosen}.json"
    if path not in files.files:
        if names:
            problems.append(
                Problem(
                    files.display(FACTORY_FOLDER),
                    f"no factory file '{chosen}.json' here; the root holds {', '.join(names)}",
                    hint="name one of those",
                )
            )
        return chosen, None, {}
    doc = _parse(files, path, problems, decoder)
    if doc is not None and not isinstance(doc, dict):
        problems.append(Problem(files.display(path), "the factory file must hold a JSON object"))
        doc = None
    return chosen, files.display(path), doc or {}


def _fallback_name(files: SourceFiles) -> str:
    stem = PurePosixPath(files.label.rstrip("/").split(":")[-1]).name
    return stem or "factory"
