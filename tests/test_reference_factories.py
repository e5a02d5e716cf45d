"""Real published factories (../shared/reference/templates): every version loads, and between consecutive
versions of one factory the diff reports exactly the objects whose properties differ, checked against an
independent comparison of the raw JSON."""

from __future__ import annotations

import itertools
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from promote.diff import diff_factories, without_noise
from promote.errors import TemplateError
from promote.factory import object_key_from_arm
from promote.loader import evaluate, open_published
from promote.source import read_path
from tests.conftest import REFERENCE, reference_path

# Templates that a GitHub workflow rewrote by hand (quotes stripped from expressions): ARM refuses them too.
BROKEN = {"c954a560", "dab77185"}
# The hand-edited commit (`last(split(...))`): its single file was changed after publishing, its linkedTemplates
# were not, so the two forms legitimately hold different objects.
HAND_EDITED = {"843f86a0"}


def _versions() -> list[tuple[str, list[dict[str, Any]]]]:
    manifest = REFERENCE / "templates" / "manifest.json"
    if not manifest.exists():
        return []
    by_factory: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in json.loads(manifest.read_text()):
        names = {f["path"].rsplit("/", 1)[-1] for f in entry["files"]}
        if not names & {"ARMTemplateForFactory.json", "ArmTemplate_master.json"}:
            continue  # only an arm-template-parameters-definition.json from a branch tip: not a version
        by_factory[f"{entry['repo']}:{entry['prefix']}"].append(entry)
    return [(k, sorted(v, key=lambda e: e["commit_time"])) for k, v in sorted(by_factory.items())]


FACTORIES = _versions()


def folder_of(entry: dict[str, Any]) -> Path:
    owner_repo = entry["repo"].replace("/", "__")
    return reference_path("templates", owner_repo, entry["commit"][:8], entry["prefix"].rstrip("/"))


def load(entry: dict[str, Any]):
    return load_files(read_path(folder_of(entry)))


def load_files(files):
    published = open_published(files)
    values = dict(published.published_values)
    for name, spec in published.parameters.items():  # a few folders publish no value for a required parameter
        if name not in values and not spec.has_default:
            values[name] = {"int": 0, "bool": False, "object": {}, "array": []}.get(spec.type, f"<{name}>")
    return published, evaluate(published, values)


def test_the_corpus_is_there():
    reference_path("templates", "manifest.json")
    assert len(FACTORIES) >= 20


@pytest.mark.parametrize("factory", [name for name, _ in FACTORIES] or ["none"])
def test_every_version_loads(factory):
    entries = dict(FACTORIES).get(factory) or pytest.skip("reference templates absent")
    for entry in entries:
        if entry["commit"][:8] in BROKEN:
            with pytest.raises(TemplateError, match="parameters"):
                load(entry)
            continue
        published, loaded = load(entry)
        raw_count = sum(
            1
            for part in published.parts
            for r in part.template["resources"]
            if object_key_from_arm(r["type"], "x/y") is not None
        )
        assert len(loaded.objects) == raw_count > 0, entry["commit"]
        assert loaded.name


def test_linked_templates_give_the_same_objects_as_the_single_file():
    """Where ADF published both forms, reading the master and every part equals reading the single file.

    Only publish output: the root-level folders of the corpus are hand uploads whose parts went stale."""
    reference_path("templates", "manifest.json")  # skips when the reference material is absent
    compared = 0
    for _, entries in FACTORIES:
        for entry in entries:
            folder = folder_of(entry)
            if entry["commit"][:8] in BROKEN | HAND_EDITED or not (folder / "linkedTemplates").is_dir():
                continue
            if not entry["prefix"]:  # root-level copies were uploaded or rewritten by hand, not published
                continue
            single = read_path(folder)
            linked = {k: v for k, v in single.files.items() if k.startswith("linkedTemplates/")}
            _, a = load_files(single)
            _, b = load_files(type(single)(single.label, linked))
            assert {k: o.properties for k, o in a.objects.items()} == {k: o.properties for k, o in b.objects.items()}
            compared += 1
    assert compared >= 10


_NAME = re.compile(r"^\[concat\(parameters\('factoryName'\), '/(.*)'\)\]$")


def raw_objects(published) -> dict[tuple[str, str], str] | None:
    """Independent of the evaluator: key each raw resource by the literal name in ADF's `concat(...)` and keep
    the canonical JSON of its normalised raw properties. None when a name is not of that plain form."""
    out: dict[tuple[str, str], str] = {}
    for part in published.parts:
        for r in part.template["resources"]:
            match = _NAME.match(r["name"])
            key = object_key_from_arm(r["type"], "f/" + (match.group(1) if match else ""))
            if key is None:
                continue
            if not match:
                return None
            out[(key.type, key.name)] = json.dumps(without_noise(r.get("properties", {}), key.type), sort_keys=True)
    return out


def canonical(factory) -> dict[tuple[str, str], str]:
    return {
        (k.type, k.name): json.dumps(without_noise(o.properties, k.type), sort_keys=True)
        for k, o in factory.objects.items()
    }


def oracle(before: dict[tuple[str, str], str], after: dict[tuple[str, str], str]) -> set[tuple[str, str, str]]:
    changes = {(t, n, "create") for (t, n) in after.keys() - before.keys()}
    changes |= {(t, n, "delete") for (t, n) in before.keys() - after.keys()}
    changes |= {(t, n, "update") for (t, n) in before.keys() & after.keys() if before[(t, n)] != after[(t, n)]}
    return changes


@pytest.mark.parametrize("factory", [name for name, v in FACTORIES if len(v) > 1] or ["none"])
def test_consecutive_versions_diff_exactly_the_changed_objects(factory):
    entries = dict(FACTORIES).get(factory) or pytest.skip("reference templates absent")
    entries = [e for e in entries if e["commit"][:8] not in BROKEN]
    for old, new in itertools.pairwise(entries):
        (p_old, f_old), (p_new, f_new) = load(old), load(new)
        result = diff_factories(f_old, f_new)
        reported = {(c.key.type, c.key.name, c.action) for c in result.changes if c.renamed_from is None}
        # evaluated properties, compared as canonical JSON (an oracle that shares only the evaluator)
        assert reported == oracle(canonical(f_old), canonical(f_new)), (old["commit"], new["commit"])
        # where both versions were evaluated with the same parameter values, the raw JSON tells the same story
        raw_before, raw_after = raw_objects(p_old), raw_objects(p_new)
        if raw_before is not None and raw_after is not None and p_old.published_values == p_new.published_values:
            assert reported == oracle(raw_before, raw_after), (old["commit"], new["commit"])
        assert result.unchanged == len(f_new.objects) - sum(1 for c in result.changes if c.action != "delete")
