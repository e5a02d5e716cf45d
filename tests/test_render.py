"""Text, markdown and JSON views of a diff: the lines a reviewer reads, and no secret in any of them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from promote.diff import Diff, diff_factories
from promote.factory import Factory, FactoryObject, ObjectKey
from promote.render import json_view, markdown, text

VIEWS = [text, markdown, json_view]


def factory(objects: dict[str, dict[str, Any]]) -> Factory:
    """`{"pipelines/train": {...properties}}` → Factory."""
    built = {}
    for path, properties in objects.items():
        type_, name = path.rsplit("/", 1) if not path.startswith("managedVirtualNetworks/") else path.split("/", 1)
        key = ObjectKey(type_, name)
        built[key] = FactoryObject(key=key, properties=properties)
    return Factory(name="adf", objects=built)


def train(command: str, *, extra: str = "a") -> dict[str, Any]:
    return {
        "activities": [
            {"name": "prep", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 1}},
            {"name": "train", "type": "Custom", "typeProperties": {"command": command, "folderPath": extra}},
        ]
    }


@pytest.fixture
def diff() -> Diff:
    before = factory(
        {
            "pipelines/train_mnist": train("python train.py"),
            "pipelines/old": {"activities": []},
            "datasets/same": {"type": "Json"},
            "linkedServices/sql": {"type": "AzureSqlDatabase", "typeProperties": {"password": "hunter1"}},
        }
    )
    after = factory(
        {
            "pipelines/train_mnist": train("python train.py --epochs 5", extra="b" * 100),
            "pipelines/new_a": {"activities": []},
            "datasets/same": {"type": "Json"},
            "linkedServices/sql": {"type": "AzureSqlDatabase", "typeProperties": {"password": "hunter2"}},
            "datasets/new_ds": {"type": "Json"},
        }
    )
    return diff_factories(before, after, from_label="abc123", to_label="def456")


def meaningful_lines(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if line.strip()]


def test_text_view(diff: Diff) -> None:
    assert meaningful_lines(text.render_diff(diff)) == [
        "Diff: abc123 -> def456",
        "linkedServices:",
        "~ linkedServices/sql",
        "~ typeProperties.password: <secret> -> <secret>",
        "datasets:",
        "+ datasets/new_ds",
        "pipelines:",
        "+ pipelines/new_a",
        "- pipelines/old",
        "~ pipelines/train_mnist",
        '~ activities[name=train].typeProperties.command: "python train.py" -> "python train.py --epochs 5"',
        '~ activities[name=train].typeProperties.folderPath: "a" -> "' + "b" * 100 + '"',  # up to 120: whole
        "Changes: 2 to create, 2 to update, 1 to delete, 1 unchanged.",
    ]


def test_text_view_indents_paths_under_their_object(diff: Diff) -> None:
    lines = text.render_diff(diff).splitlines()
    assert "  ~ pipelines/train_mnist" in lines
    assert "      ~ typeProperties.password: <secret> -> <secret>" in lines


def test_no_changes() -> None:
    same = factory({"datasets/d": {"type": "Json"}})
    diff = diff_factories(same, same, from_label="a", to_label="b")
    assert meaningful_lines(text.render_diff(diff)) == ["Diff: a -> b", "No changes. 1 object unchanged."]
    md = markdown.render_diff(diff)
    assert "No changes." in meaningful_lines(md)
    assert "<details>" not in md
    assert json.loads(json_view.render_diff(diff)) == {
        "from": "a",
        "to": "b",
        "changes": [],
        "summary": {"create": 0, "update": 0, "delete": 0, "unchanged": 1},
    }


def test_markdown_view(diff: Diff) -> None:
    lines = meaningful_lines(markdown.render_diff(diff))
    assert lines[0] == "## ADF diff: `abc123` → `def456`"
    assert lines[1:4] == [
        "| + create | ~ update | - delete | unchanged |",
        "|---:|---:|---:|---:|",
        "| 2 | 2 | 1 | 1 |",
    ]
    assert "Changes: 2 to create, 2 to update, 1 to delete, 1 unchanged." in lines
    assert "- `+ datasets/new_ds`" in lines
    assert "- `- pipelines/old`" in lines
    start = lines.index("<details><summary>~ pipelines/train_mnist</summary>")
    end = lines.index("</details>", start)
    assert lines[start + 1 : end] == [
        "```text",
        '~ activities[name=train].typeProperties.command: "python train.py" -> "python train.py --epochs 5"',
        '~ activities[name=train].typeProperties.folderPath: "a" -> "' + "b" * 100 + '"',
        "```",
    ]


def test_markdown_creates_and_deletes_form_tight_lists(diff: Diff) -> None:
    output = markdown.render_diff(diff)
    assert "- `+ pipelines/new_a`\n- `- pipelines/old`\n" in output


def test_json_view_is_the_contract(diff: Diff) -> None:
    output = json_view.render_diff(diff)
    assert json.loads(output) == diff.to_json()
    assert output == json.dumps(diff.to_json(), indent=2) + "\n"
    assert [(c["type"], c["name"], c["action"]) for c in json.loads(output)["changes"]] == [
        ("linkedServices", "sql", "update"),
        ("datasets", "new_ds", "create"),
        ("pipelines", "new_a", "create"),
        ("pipelines", "old", "delete"),
        ("pipelines", "train_mnist", "update"),
    ]


def test_reorder_and_rename_are_spelled_out() -> None:
    before = factory({"pipelines/Train": {"activities": [{"name": "a"}, {"name": "b"}]}})
    after = factory({"pipelines/train": {"activities": [{"name": "b"}, {"name": "a"}]}})
    diff = diff_factories(before, after)
    lines = meaningful_lines(text.render_diff(diff))
    assert "~ pipelines/train (was pipelines/Train)" in lines
    assert "~ activities (reordered)" in lines
    assert "<details><summary>~ pipelines/train (was pipelines/Train)</summary>" in markdown.render_diff(diff)


def test_no_view_prints_a_secret() -> None:
    secrets = ["hunter2", "s3cr3t-key", "Bearer abc.def", "AccountKey=xyz"]
    before = factory(
        {
            "linkedServices/kv": {
                "typeProperties": {
                    "url": "<keyvault:kv/url-a>",
                    "servicePrincipalKey": {"type": "SecureString", "value": "old-value"},
                    "connectionString": "DefaultEndpointsProtocol=https;AccountKey=abc",
                }
            },
            "pipelines/web": {"activities": [{"name": "call", "typeProperties": {"headers": {}}}]},
        }
    )
    after = factory(
        {
            "linkedServices/kv": {
                "typeProperties": {
                    "url": "<keyvault:kv/url-b>",
                    "servicePrincipalKey": {"type": "SecureString", "value": secrets[1]},
                    "connectionString": f"DefaultEndpointsProtocol=https;{secrets[3]}",
                    "password": secrets[0],
                }
            },
            "pipelines/web": {
                "activities": [{"name": "call", "typeProperties": {"headers": {"Authorization": secrets[2]}}}]
            },
            "linkedServices/new": {"typeProperties": {"password": secrets[0]}},
        }
    )
    diff = diff_factories(before, after)
    assert {c.key.name for c in diff.changes} == {"kv", "web", "new"}
    for view in VIEWS:
        output = view.render_diff(diff)
        for secret in [*secrets, "<keyvault:", "old-value"]:
            assert secret not in output, (view.__name__, secret)
    # where a secret comes from is no secret (the plan says it too): that is what changed here
    assert "~ typeProperties.url: <secret from Key Vault kv/url-a> -> <secret from Key Vault kv/url-b>" in (
        meaningful_lines(text.render_diff(diff))
    )


def test_markdown_fence_survives_backticks_in_values() -> None:
    before = factory({"pipelines/p": {"script": "a ``` b"}})
    after = factory({"pipelines/p": {"script": "c ``` d"}})
    output = markdown.render_diff(diff_factories(before, after))
    assert "````text\n" in output and "\n````\n" in output


def test_notes_of_what_was_left_out_show_in_every_view() -> None:
    gp = FactoryObject(ObjectKey("globalParameters", "default"), {"env": {"type": "String", "value": "dev"}})
    before = Factory(name="adf", objects={gp.key: gp}, source="A")
    after = Factory(name="adf", objects={}, source="B")
    diff = diff_factories(before, after)
    assert "Note: B holds no global parameters" in text.render_diff(diff)
    assert "> B holds no global parameters" in markdown.render_diff(diff)
    assert json.loads(json_view.render_diff(diff))["notes"] == diff.notes
