"""The writer of the build's files: the fast one (rapidjson) must give exactly the bytes of the exact one (the
definition of ADF's layout), or step aside. Pinned on every reference folder and on values built to break it."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest

from promote.build import build, jsonfmt
from promote.build.definition import Ref, count_refs
from promote.build.jsonfmt import (
    encode,
    encode_template_value,
    escaped,
    exact,
    exact_template_value,
    fast,
    fast_utf8,
)
from promote.build.root import examine_root
from promote.source import SourceFiles, read_path
from tests.conftest import reference_path

TRICKY = [
    "",
    "plain",
    "[starts with a bracket",
    "[[already escaped",
    "[parameters('x')]",
    "[[parameters('x')]",
    'a "quoted" \\ back\\slash',
    'tab\there, newline\nthere, "[ inside',
    '", "[not a start',
    'x": "[',
    "\x01\x0b\x1f control",
    "\u2028\u2029 \x7f é 日本語 😀",
    "2022-01-01T00:00:00.000Z",
    "1.5",
    "C:\\users\\u0041",
]
NUMBERS = [0, 1, -7, 2**63, 10**30, True, False, None, 1.0, 1.5, -0.0, 1e-7, 1e21, 123456789.0]


def random_value(rng: random.Random, depth: int = 0, refs: bool = False):
    roll = rng.random()
    if depth > 4 or roll < 0.35:
        pool = TRICKY + NUMBERS
        if refs:
            pool = [*pool, Ref("[parameters('p1')]"), Ref("[parameters('p2')]")]
        return rng.choice(pool)
    if roll < 0.7:
        keys = rng.sample(TRICKY, rng.randint(0, 4))
        return {key: random_value(rng, depth + 1, refs) for key in keys}
    return [random_value(rng, depth + 1, refs) for _ in range(rng.randint(0, 4))]


def test_the_fast_writer_gives_exacts_bytes_or_steps_aside():
    rng = random.Random(11)
    fast_used = 0
    for _ in range(3000):
        value = random_value(rng)
        for indent in ("", "\t\t\t"):
            assert encode(value, indent) == exact(value, indent)
        fast_used += fast(value) is not None
    assert fast_used > 300  # the fast writer is used at all (values without floats nor control characters)


def test_escaping_keeps_the_builds_expressions_and_escapes_the_files_text():
    rng = random.Random(12)
    for _ in range(3000):
        value = {"properties": random_value(rng, refs=True)}
        refs = count_refs(value)
        assert encode_template_value(value, "\t\t", refs) == exact_template_value(value, "\t\t")


def test_the_utf8_writer_and_escaping_give_the_texts_bytes():
    rng = random.Random(13)
    escaped_some = 0
    for _ in range(3000):
        value = {"properties": random_value(rng, refs=True)}
        text, data = fast(value), fast_utf8(value)
        assert data == (text.encode() if text is not None else None)
        if text is None:
            continue
        refs = count_refs(value)
        for told in (refs, refs + 1, max(refs - 1, 0)):
            by_text = escaped(text, told)
            assert escaped(data, told) == (by_text.encode() if by_text is not None else None)
        escaped_some += escaped(text, refs) not in (None, text)
    assert escaped_some > 100


def test_text_of_the_files_never_becomes_an_expression():
    value = {"a": Ref("[parameters('p')]"), "b": "[parameters('p')]", "c": ["[x", Ref("[parameters('q')]")]}
    text = encode_template_value(value, "", count_refs(value))
    assert '"a": "[parameters(\'p\')]"' in text
    assert '"b": "[[parameters(\'p\')]"' in text
    assert '"[[x"' in text and "\"[parameters('q')]\"" in text
    # told fewer than there are (a Ref it was not told of), the fast writer leaves the text to the exact one
    assert escaped(fast(value), 1) is None
    assert escaped(fast(value), 0) is None


def test_floats_are_written_as_javascript_writes_them():
    value = {"retry": 1.0, "ratio": 0.5, "tiny": 1e-7, "big": 1e21, "nested": [{"x": 2.50}]}
    assert fast(value) is None
    assert encode(value, "") == exact(value, "")
    assert '"retry": 1,' in encode(value, "") and '"tiny": 1e-7' in encode(value, "")


def test_the_root_says_whether_a_file_held_a_float():
    files = {"pipeline/p.json": b'{"name": "p", "properties": {"activities": [], "x": 10}}'}
    root, _ = examine_root(SourceFiles("r", files))
    assert root.floats is False
    files["pipeline/q.json"] = b'{"name": "q", "properties": {"activities": [], "concurrency": 2.0}}'
    root, _ = examine_root(SourceFiles("r", files))
    assert root.floats is True
    built = build(SourceFiles("r", files), factory="f")
    assert b'"concurrency": 2' in built.files["ARMTemplateForFactory.json"]
    assert b"2.0" not in built.files["ARMTemplateForFactory.json"]


def _entries():
    manifest = reference_path("collaboration", "manifest.json")
    return json.loads(manifest.read_text())


def test_every_reference_folder_builds_to_the_exact_writers_bytes(monkeypatch):
    """Every file of every reference pair (built as of its publish and as of today), fast against exact."""
    from bench.build_fidelity import collaboration_root, language

    def both(entry, as_of):
        published = entry["published"][0]
        files = read_path(collaboration_root(entry))
        kwargs = {"factory": published["factory_name"], "as_of": as_of, "lenient": True}
        return build(files, language=language(published["subject"]), **kwargs).files

    entries = _entries()
    built = {}
    for entry in entries:
        when = dt.datetime.fromtimestamp(entry["published"][0]["commit_time"], dt.timezone.utc).date()
        built[entry["collab_commit"]] = (both(entry, when), both(entry, None))
    with monkeypatch.context() as patch:
        patch.setattr(jsonfmt, "fast", lambda value, floats=True: None)
        patch.setattr("promote.build.output.fast", lambda value, floats=True: None)
        patch.setattr("promote.build.output.fast_utf8", lambda value, floats=True: None)
        for entry in entries:
            when = dt.datetime.fromtimestamp(entry["published"][0]["commit_time"], dt.timezone.utc).date()
            fast_then, fast_now = built[entry["collab_commit"]]
            assert both(entry, when) == fast_then, entry["collab_commit"]
            assert both(entry, None) == fast_now, entry["collab_commit"]


def test_resources_written_together_are_written_as_one_by_one(monkeypatch):
    """`promote.build.output` writes all resources in one call and cuts the text apart; a string of a file that
    reads like an expression the build wrote makes it write them one by one, to the same bytes as `exact`."""
    from tests.test_build_root import root, saved

    secret = {"type": "AzureBlobStorage", "typeProperties": {"connectionString": "DefaultEndpointsProtocol=https"}}
    tricky = {"activities": [], "description": "[parameters('ls_blob_connectionString')]", "annotations": ["[x"]}
    for extra in ({}, {"pipeline/tricky.json": saved("tricky", tricky)}):
        files = SourceFiles("adf", root(**{"linkedService/ls_blob.json": saved("ls_blob", secret), **extra}))
        together = build(files).files
        with monkeypatch.context() as patch:
            patch.setattr("promote.build.output.fast_utf8", lambda value, floats=True: None)
            one_by_one = build(files).files
            patch.setattr("promote.build.output.fast", lambda value, floats=True: None)
            assert together == one_by_one == build(files).files
        template = together["ARMTemplateForFactory.json"].decode()
        assert "\"[parameters('ls_blob_connectionString')]\"" in template
        assert ("\"[[parameters('ls_blob_connectionString')]\"" in template) == bool(extra)


@pytest.mark.parametrize("value", [{"x": (1, 2)}, {"x": {1, 2}}, {"x": float("nan")}, {"x": b"bytes"}])
def test_what_rapidjson_would_write_differently_goes_to_the_exact_writer(value):
    assert fast(value) is None
