"""The pure diff: keyed matching, noise removal, paths, secrets, the JSON contract, and a randomized check
of the changed-object set against an independent comparison."""

from __future__ import annotations

import copy
import hashlib
import json
import random
import re
from typing import Any

import pytest

from promote.diff import (
    SECRET,
    Change,
    Diff,
    PathChange,
    diff_factories,
    diff_properties,
    sort_key,
    without_noise,
)
from promote.factory import OBJECT_TYPES, Factory, FactoryObject, ObjectKey

# --- helpers --------------------------------------------------------------------------------------


def obj(type_: str, name: str, properties: dict[str, Any], depends_on: list[str] | None = None) -> FactoryObject:
    key = ObjectKey(type_, name)
    return FactoryObject(key=key, properties=properties, depends_on=list(depends_on or []))


def factory(*objects: FactoryObject, name: str = "adf", source: str = "") -> Factory:
    return Factory(name=name, objects={o.key: o for o in objects}, source=source)


def activity(name: str, type_: str = "Wait", **type_properties: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": type_,
        "dependsOn": [],
        "userProperties": [],
        "typeProperties": type_properties or {"waitTimeInSeconds": 1},
    }


def pipeline(*activities: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"activities": list(activities), "annotations": [], **extra}


def diff_of(before: dict[str, Any], after: dict[str, Any], type_: str = "pipelines") -> Diff:
    return diff_factories(factory(obj(type_, "p", before)), factory(obj(type_, "p", after)))


def only_change(diff: Diff) -> Change:
    assert len(diff.changes) == 1, diff.changes
    return diff.changes[0]


# --- actions and matching -------------------------------------------------------------------------


def test_identical_factories_have_no_changes() -> None:
    a = factory(obj("pipelines", "p", pipeline(activity("w"))), obj("datasets", "d", {"type": "Json"}))
    b = factory(obj("pipelines", "p", pipeline(activity("w"))), obj("datasets", "d", {"type": "Json"}))
    diff = diff_factories(a, b)
    assert diff.changes == []
    assert not diff.has_changes
    assert diff.summary == {"create": 0, "update": 0, "delete": 0, "unchanged": 2}


def test_create_update_delete() -> None:
    a = factory(
        obj("pipelines", "keep", pipeline(activity("w"))),
        obj("pipelines", "edit", pipeline(activity("w", waitTimeInSeconds=1))),
        obj("datasets", "gone", {"type": "Json"}),
    )
    b = factory(
        obj("pipelines", "keep", pipeline(activity("w"))),
        obj("pipelines", "edit", pipeline(activity("w", waitTimeInSeconds=2))),
        obj("datasets", "new", {"type": "Json"}),
    )
    diff = diff_factories(a, b)
    assert [(str(c.key), c.action) for c in diff.changes] == [
        ("datasets/gone", "delete"),
        ("datasets/new", "create"),
        ("pipelines/edit", "update"),
    ]
    gone, new, edit = diff.changes
    assert gone.paths == [] and gone.after is None and gone.before == {"type": "Json"}
    assert new.paths == [] and new.before is None and new.after == {"type": "Json"}
    assert edit.paths == ["activities[name=w].typeProperties.waitTimeInSeconds"]
    assert diff.summary == {"create": 1, "update": 1, "delete": 1, "unchanged": 1}


def test_objects_are_matched_by_key_not_position() -> None:
    objects = [obj("pipelines", f"p{i}", pipeline(activity(f"a{i}"))) for i in range(5)]
    shuffled = [obj(o.key.type, o.key.name, copy.deepcopy(o.properties)) for o in reversed(objects)]
    diff = diff_factories(factory(*objects), factory(*shuffled))
    assert diff.changes == [] and diff.unchanged == 5


def test_renamed_object_is_delete_and_create() -> None:
    diff = diff_factories(
        factory(obj("pipelines", "train", pipeline(activity("w")))),
        factory(obj("pipelines", "train_v2", pipeline(activity("w")))),
    )
    assert [(c.key.name, c.action) for c in diff.changes] == [("train", "delete"), ("train_v2", "create")]


def test_case_only_rename_is_an_update_not_delete_and_create() -> None:
    """ADF names are case-insensitive: deleting `Train` after writing `train` would delete the object."""
    diff = diff_factories(
        factory(obj("pipelines", "Train", pipeline(activity("w")))),
        factory(obj("pipelines", "train", pipeline(activity("w")))),
    )
    change = only_change(diff)
    assert (change.key, change.action, change.paths, change.renamed_from) == (
        ObjectKey("pipelines", "train"),
        "update",
        [],
        "Train",
    )


def test_case_twins_on_one_side_are_not_paired() -> None:
    diff = diff_factories(
        factory(obj("pipelines", "a", {"x": 1}), obj("pipelines", "A", {"x": 1})),
        factory(obj("pipelines", "a", {"x": 1}), obj("pipelines", "a_", {"x": 1})),
    )
    assert [(c.key.name, c.action) for c in diff.changes] == [("A", "delete"), ("a_", "create")]


def test_same_name_in_another_type_is_another_object() -> None:
    diff = diff_factories(
        factory(obj("datasets", "x", {"type": "Json"})), factory(obj("pipelines", "x", {"activities": []}))
    )
    assert [(str(c.key), c.action) for c in diff.changes] == [
        ("datasets/x", "delete"),
        ("pipelines/x", "create"),
    ]


def test_changes_sorted_by_type_order_then_name() -> None:
    types = list(OBJECT_TYPES.values())
    objects = [obj(t, n, {"v": 1}) for t in reversed(types) for n in ("b", "A", "a")]
    diff = diff_factories(factory(), factory(*objects))
    assert [c.key for c in diff.changes] == sorted((o.key for o in objects), key=sort_key)
    assert [c.key.type for c in diff.changes[:3]] == [types[0]] * 3
    assert [c.key.name for c in diff.changes[:3]] == ["A", "a", "b"]
    unknown = ObjectKey("zzz", "x")
    assert sort_key(unknown) > sort_key(ObjectKey(types[-1], "x"))


def test_change_keeps_the_given_properties_without_copying() -> None:
    before, after = pipeline(activity("w", waitTimeInSeconds=1)), pipeline(activity("w", waitTimeInSeconds=2))
    change = only_change(diff_of(before, after))
    assert change.before is before and change.after is after


def test_labels_default_to_source_then_name() -> None:
    diff = diff_factories(factory(name="dev", source="abc123:ARMTemplateForFactory.json"), factory(name="stg"))
    assert (diff.from_label, diff.to_label) == ("abc123:ARMTemplateForFactory.json", "stg")
    diff = diff_factories(factory(), factory(), from_label="A", to_label="B")
    assert (diff.from_label, diff.to_label) == ("A", "B")


# --- noise that is not a change -------------------------------------------------------------------


def test_key_order_in_properties_is_no_change() -> None:
    before = {"type": "Copy", "typeProperties": {"source": {"a": 1, "b": [{"x": 1, "y": 2}]}, "sink": {}}}
    after = {"typeProperties": {"sink": {}, "source": {"b": [{"y": 2, "x": 1}], "a": 1}}, "type": "Copy"}
    assert diff_of(before, after, "datasets").changes == []


def test_resource_depends_on_is_never_compared() -> None:
    a = factory(obj("pipelines", "p", pipeline(activity("w")), depends_on=["[concat(variables('f'), '/ds')]"]))
    b = factory(obj("pipelines", "p", pipeline(activity("w")), depends_on=[]))
    assert diff_factories(a, b).changes == []


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({"annotations": [], "type": "Json"}, {"type": "Json"}),
        ({"parameters": {}, "activities": []}, {"activities": []}),
        ({"variables": {}, "activities": []}, {"activities": []}),
        (
            {"activities": [{"name": "a", "type": "Wait", "dependsOn": [], "userProperties": []}]},
            {"activities": [{"name": "a", "type": "Wait"}]},
        ),
        (  # empty parameters on a dataset reference, as Studio writes it
            {"activities": [{"name": "c", "inputs": [{"referenceName": "ds", "type": "DatasetReference"}]}]},
            {
                "activities": [
                    {
                        "name": "c",
                        "inputs": [{"referenceName": "ds", "type": "DatasetReference", "parameters": {}}],
                    }
                ]
            },
        ),
        (  # the same rules inside nested activities
            {"activities": [activity("f", "ForEach", activities=[{"name": "in", "type": "Wait"}])]},
            {"activities": [activity("f", "ForEach", activities=[{"name": "in", "type": "Wait", "dependsOn": []}])]},
        ),
    ],
    ids=[
        "annotations",
        "parameters",
        "variables",
        "activity-lists",
        "reference-parameters",
        "nested-activity",
    ],
)
def test_empty_values_adf_adds_or_drops_are_no_change(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert diff_of(before, after).changes == []
    assert diff_of(after, before).changes == []


@pytest.mark.parametrize(
    ("before", "after", "path"),
    [
        ({"annotations": ["team-a"]}, {}, "annotations"),
        ({"annotations": {}}, {}, "annotations"),  # not the empty form ADF writes: kept, compared
        ({"parameters": {"p": {"type": "string"}}}, {}, "parameters"),
        ({"typeProperties": {"parameters": {}}}, {"typeProperties": {}}, "typeProperties.parameters"),
        ({"typeProperties": {"userProperties": []}}, {"typeProperties": {}}, "typeProperties.userProperties"),
        (
            {"activities": [{"name": "a", "dependsOn": [{"activity": "b", "dependencyConditions": ["Succeeded"]}]}]},
            {"activities": [{"name": "a", "dependsOn": []}]},
            "activities[name=a].dependsOn",  # the empty side has no dependsOn at all
        ),
    ],
)
def test_real_changes_near_the_noise_rules_are_kept(before: dict[str, Any], after: dict[str, Any], path: str) -> None:
    assert only_change(diff_of(before, after)).paths == [path]


def test_read_only_properties_are_not_compared() -> None:
    trigger = {"type": "ScheduleTrigger", "typeProperties": {"recurrence": {"frequency": "Hour"}}}
    a = factory(
        obj("triggers", "t", {**trigger, "runtimeState": "Started"}),
        obj("managedVirtualNetworks/managedPrivateEndpoints", "default/mpe", {"groupId": "blob"}),
        obj("integrationRuntimes", "ir", {"type": "Managed", "state": "Started"}),
    )
    b = factory(
        obj("triggers", "t", {**trigger, "runtimeState": "Stopped"}),
        obj(
            "managedVirtualNetworks/managedPrivateEndpoints",
            "default/mpe",
            {"groupId": "blob", "provisioningState": "Succeeded", "connectionState": {"status": "Approved"}},
        ),
        obj("integrationRuntimes", "ir", {"type": "Managed"}),
    )
    # a trigger's runtimeState is read-only to ARM, but between two versions it is what gets started: compared
    assert [(c.key.name, c.details) for c in diff_factories(a, b).changes] == [
        ("t", [PathChange("runtimeState", "change", '"Started"', '"Stopped"')])
    ]
    # ...but only for the types that declare them read-only
    assert only_change(diff_of({"runtimeState": "x"}, {}, "pipelines")).paths == ["runtimeState"]


def test_normalise_does_not_touch_its_input() -> None:
    properties = pipeline(activity("w"), parameters={})
    snapshot = copy.deepcopy(properties)
    normal = without_noise(properties, "pipelines")
    assert properties == snapshot
    assert normal == {"activities": [{"name": "w", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 1}}]}


# --- paths ----------------------------------------------------------------------------------------


def test_reordered_activities_are_one_change_on_the_list() -> None:
    before = pipeline(activity("a"), activity("b"), activity("c"))
    after = pipeline(activity("c"), activity("a"), activity("b"))
    change = only_change(diff_of(before, after))
    assert change.paths == ["activities"]
    assert change.details == [PathChange("activities", "reorder")]


def test_inserted_activity_does_not_renumber_the_others() -> None:
    before = pipeline(activity("a"), activity("b"))
    after = pipeline(activity("new"), activity("a"), activity("b", waitTimeInSeconds=5))
    assert only_change(diff_of(before, after)).paths == [
        "activities[name=new]",
        "activities[name=b].typeProperties.waitTimeInSeconds",
    ]


def test_removed_activity() -> None:
    change = only_change(diff_of(pipeline(activity("a"), activity("b")), pipeline(activity("a"))))
    assert change.details == [PathChange("activities[name=b]", "remove")]


def test_nested_activity_changes_have_useful_paths() -> None:
    def build(command: str, wait: int, case_wait: int) -> dict[str, Any]:
        return pipeline(
            activity("check", "IfCondition", ifTrueActivities=[activity("train", "Custom", command=command)]),
            activity(
                "each",
                "ForEach",
                items="@pipeline().parameters.list",
                activities=[activity("w", **{"waitTimeInSeconds": wait})],
            ),
            activity(
                "sw",
                "Switch",
                cases=[{"value": "x", "activities": [activity("cw", waitTimeInSeconds=case_wait)]}],
            ),
        )

    change = only_change(diff_of(build("python a.py", 1, 1), build("python b.py", 2, 3)))
    assert change.paths == [
        "activities[name=check].typeProperties.ifTrueActivities[name=train].typeProperties.command",
        "activities[name=each].typeProperties.activities[name=w].typeProperties.waitTimeInSeconds",
        "activities[name=sw].typeProperties.cases[0].activities[name=cw].typeProperties.waitTimeInSeconds",
    ]
    assert change.details[0].before == '"python a.py"' and change.details[0].after == '"python b.py"'


def test_unnamed_and_duplicate_named_lists_go_by_position() -> None:
    before = {"steps": [{"x": 1}, {"x": 2}], "dup": [{"name": "a", "v": 1}, {"name": "a", "v": 2}]}
    after = {"steps": [{"x": 1}, {"x": 3}, {"x": 4}], "dup": [{"name": "a", "v": 1}, {"name": "a", "v": 5}]}
    assert only_change(diff_of(before, after, "datasets")).paths == ["dup[1].v", "steps[1].x", "steps[2]"]


def test_scalar_list_is_one_path_with_its_values() -> None:
    change = only_change(diff_of({"annotations": ["a", "b"]}, {"annotations": ["b", "a", "c"]}, "datasets"))
    assert change.details == [PathChange("annotations", "change", '["a", "b"]', '["b", "a", "c"]')]


def test_added_and_removed_keys_and_type_changes() -> None:
    change = only_change(diff_of({"a": 1, "b": {"c": 1}, "d": "x"}, {"a": 1, "b": [1], "e": True}, "datasets"))
    assert change.details == [
        PathChange("b", "change", '{"c": 1}', "[1]"),  # an object became a list: both shown
        PathChange("d", "remove", before='"x"'),
        PathChange("e", "add", after="true"),
    ]


def test_keys_and_names_that_need_quoting() -> None:
    before = {"headers": {"a.b": "1", "Content-Type": "x"}, "activities": [{"name": "has ] bracket", "v": 1}]}
    after = {"headers": {"a.b": "2", "Content-Type": "y"}, "activities": [{"name": "has ] bracket", "v": 2}]}
    assert only_change(diff_of(before, after)).paths == [
        'activities[name="has ] bracket"].v',
        "headers.Content-Type",
        'headers["a.b"]',
    ]
    assert (
        diff_properties({"a": [{"name": "Copy data1", "v": 1}]}, {"a": [{"name": "Copy data1", "v": 2}]})[0].path
        == "a[name=Copy data1].v"
    )


def test_paths_parse_as_environment_override_paths() -> None:
    """A path printed by the diff can be pasted into an environment override: same syntax, same segments."""
    environment = pytest.importorskip("promote.environment")
    before = {
        "headers": {"a.b": "1", "Content Type": "x"},
        "activities": [{"name": "has ] bracket", "v": 1}, {"name": "Copy data1", "l": [1, {"q": 1}]}],
    }
    after = {
        "headers": {"a.b": "2", "Content Type": "y"},
        "activities": [{"name": "has ] bracket", "v": 2}, {"name": "Copy data1", "l": [1, {"q": 2}]}],
    }
    paths = only_change(diff_of(before, after)).paths
    key, match, index = environment.Key, environment.Match, environment.Index
    assert [environment.parse_path(path) for path in paths] == [
        (key("activities"), match("name", "has ] bracket"), key("v")),
        (key("activities"), match("name", "Copy data1"), key("l"), index(1), key("q")),
        (key("headers"), key("Content Type")),
        (key("headers"), key("a.b")),
    ]


def test_long_values_are_abridged_with_a_digest() -> None:
    change = only_change(diff_of({"sql": "x" * 79}, {"sql": "y" * 200}, "datasets"))
    [detail] = change.details
    assert detail.before == json.dumps("x" * 79)  # up to 120 characters: whole
    assert detail.after is not None and detail.after.startswith('"yyyy') and "…" in detail.after
    digest = hashlib.sha256(json.dumps("y" * 200).encode()).hexdigest()[:12]
    assert detail.after.endswith(f'yyy" (202 characters, sha256 {digest})')
    # the digest tells apart long values that share their start and end
    other = only_change(diff_of({"sql": "x"}, {"sql": "y" * 100 + "z" + "y" * 99}, "datasets")).details[0].after
    assert other is not None and other != detail.after and len(other) == len(detail.after)


# --- secrets --------------------------------------------------------------------------------------


def test_placeholders_are_compared_but_never_shown() -> None:
    ls = {"type": "AzureSqlDatabase", "typeProperties": {"connectionUrl": "<keyvault:kv/sql-a>"}}
    same = diff_of(ls, copy.deepcopy(ls), "linkedServices")
    assert same.changes == []
    changed = copy.deepcopy(ls)
    changed["typeProperties"]["connectionUrl"] = "<keyvault:kv/sql-b>"
    change = only_change(diff_of(ls, changed, "linkedServices"))
    # what is shown is where the secret comes from, never a value
    assert change.details == [
        PathChange(
            "typeProperties.connectionUrl",
            "change",
            "<secret from Key Vault kv/sql-a>",
            "<secret from Key Vault kv/sql-b>",
        )
    ]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({"url": "Server=x;Password=<secure:p1>"}, {"url": "Server=y;Password=<secure:p1>"}),
        (
            {"password": {"type": "SecureString", "value": "hunter1"}},
            {"password": {"type": "SecureString", "value": "hunter2"}},
        ),
        (
            {"x": {"type": "SecureString", "value": "hunter1"}},
            {"x": {"type": "SecureString", "value": "hunter2"}},
        ),
        (
            {"p": {"type": "securestring", "defaultValue": "a"}},
            {"p": {"type": "securestring", "defaultValue": "b"}},
        ),
        ({"accountKey": "abc"}, {"accountKey": "def"}),
        ({"connectionString": "a"}, {"connectionString": "b"}),
        ({"headers": {"Authorization": "Bearer a"}}, {"headers": {"Authorization": "Bearer b"}}),
        ({"servicePrincipalCredential": {"v": "a"}}, {"servicePrincipalCredential": {"v": "b"}}),
    ],
)
def test_values_that_could_be_secrets_show_as_secret(before: dict[str, Any], after: dict[str, Any]) -> None:
    change = only_change(diff_of({"typeProperties": before}, {"typeProperties": after}, "linkedServices"))
    assert [(d.before, d.after) for d in change.details] == [(SECRET, SECRET)]


def test_a_placeholder_shows_its_source_and_the_other_side_stays_hidden() -> None:
    change = only_change(diff_of({"typeProperties": {"url": "<secure:p1>"}}, {"typeProperties": {"url": "plain"}}))
    # one side a placeholder: the other may be the secret itself
    assert [(d.before, d.after) for d in change.details] == [("<secret from parameter p1>", SECRET)]


def test_added_secret_is_not_shown() -> None:
    change = only_change(diff_of({}, {"password": "hunter2", "keys": ["<secure:a>"]}, "linkedServices"))
    # a placeholder shows the source it names, never a value
    assert [d.after for d in change.details] == ['["<secret from parameter a>"]', SECRET]


# --- the JSON contract ----------------------------------------------------------------------------


def test_to_json_is_exactly_the_contract() -> None:
    a = factory(
        obj("pipelines", "train_mnist", pipeline(activity("train", "Custom", command="python train.py"))),
        obj("datasets", "old", {"type": "Json"}),
        obj("linkedServices", "blob", {"type": "AzureBlobStorage"}),
    )
    b = factory(
        obj("pipelines", "train_mnist", pipeline(activity("train", "Custom", command="python train.py --gpu"))),
        obj("managedVirtualNetworks/managedPrivateEndpoints", "default/mpe1", {"groupId": "blob"}),
        obj("linkedServices", "blob", {"type": "AzureBlobStorage"}),
    )
    assert diff_factories(a, b, from_label="abc123", to_label="def456").to_json() == {
        "from": "abc123",
        "to": "def456",
        "changes": [
            {
                "type": "managedVirtualNetworks/managedPrivateEndpoints",
                "name": "default/mpe1",
                "action": "create",
                "paths": [],
            },
            {"type": "datasets", "name": "old", "action": "delete", "paths": []},
            {
                "type": "pipelines",
                "name": "train_mnist",
                "action": "update",
                "paths": ["activities[name=train].typeProperties.command"],
                # the values the text views show, for machines too
                "details": [
                    {
                        "path": "activities[name=train].typeProperties.command",
                        "kind": "change",
                        "before": '"python train.py"',
                        "after": '"python train.py --gpu"',
                    }
                ],
            },
        ],
        "summary": {"create": 1, "update": 1, "delete": 1, "unchanged": 1},
    }


# --- randomized: the set of changed objects equals an independent comparison ----------------------

_WORDS = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta"]


def _random_value(rng: random.Random, depth: int) -> Any:
    roll = rng.random()
    if depth <= 0 or roll < 0.5:
        return rng.choice([rng.choice(_WORDS), rng.randint(0, 9), rng.choice([True, False]), None])
    if roll < 0.75:
        return {rng.choice(_WORDS): _random_value(rng, depth - 1) for _ in range(rng.randint(0, 3))}
    return [_random_value(rng, depth - 1) for _ in range(rng.randint(0, 3))]


def _random_activity(rng: random.Random, name: str, depth: int) -> dict[str, Any]:
    act: dict[str, Any] = {"name": name, "type": rng.choice(["Wait", "Copy", "ForEach"])}
    if rng.random() < 0.5:
        act["dependsOn"] = []
    if rng.random() < 0.5:
        act["userProperties"] = []
    props: dict[str, Any] = {"v": _random_value(rng, 2)}
    if depth > 0 and rng.random() < 0.3:
        props["activities"] = [_random_activity(rng, f"{name}_in{i}", depth - 1) for i in range(rng.randint(1, 3))]
    act["typeProperties"] = props
    return act


def _random_properties(rng: random.Random) -> dict[str, Any]:
    props: dict[str, Any] = {"activities": [_random_activity(rng, f"act{i}", 1) for i in range(rng.randint(0, 4))]}
    for key in ("annotations", "parameters"):
        if rng.random() < 0.5:
            props[key] = [] if key == "annotations" else {}
    props["folder"] = {"name": rng.choice(_WORDS)}
    props["extra"] = _random_value(rng, 3)
    return props


def _leaf_holders(tree: Any) -> list[tuple[Any, Any]]:
    """(container, key-or-index) of every scalar in the tree, except activity names (they are identities)."""
    out: list[tuple[Any, Any]] = []
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else []
    for k, v in items:
        if isinstance(v, (dict, list)):
            out.extend(_leaf_holders(v))
        elif k != "name":
            out.append((tree, k))
    return out


def _mutate(rng: random.Random, props: dict[str, Any]) -> None:
    """One random edit: a real change or pure noise, in place."""
    kind = rng.choice(["leaf", "add-key", "drop-key", "reorder", "drop-activity", "noise-empty", "noise-key-order"])
    if kind == "leaf":
        holders = _leaf_holders(props)
        if holders:
            holder, k = rng.choice(holders)
            v = holder[k]
            # keep the JSON type: Python's `==` equates 1 and true (documented limitation of the fast path)
            holder[k] = (
                (not v)
                if isinstance(v, bool)
                else v + 1
                if isinstance(v, int)
                else "changed"
                if v != "changed"
                else "again"
            )
    elif kind == "add-key":
        props.setdefault("extra2", {})[rng.choice(_WORDS)] = rng.randint(10, 99)
    elif kind == "drop-key":
        props.pop("folder", None)
    elif kind == "reorder" and len(props["activities"]) > 1:
        rng.shuffle(props["activities"])
    elif kind == "drop-activity" and props["activities"]:
        props["activities"].pop(rng.randrange(len(props["activities"])))
    elif kind == "noise-empty":
        for act in props["activities"]:
            if act.get("dependsOn") == []:
                del act["dependsOn"]
            else:
                act.setdefault("dependsOn", [])
        if "annotations" in props:
            del props["annotations"]
        else:
            props["annotations"] = []
    elif kind == "noise-key-order":
        items = list(props.items())
        rng.shuffle(items)
        props.clear()
        props.update(items)


def _canonical(properties: dict[str, Any], type_: str) -> str:
    return json.dumps(without_noise(properties, type_), sort_keys=True)


_PATH_TOKEN = re.compile(r"""\.?([^.\[\]"']+)|\[(\d+)\]|\[name=("[^"]*"|'[^']*'|[^\]]*)\]|\[("(?:[^"\\]|\\.)*")\]""")
_MISSING = object()


def _resolve(tree: Any, path: str) -> Any:
    """Follow a rendered path; _MISSING when it does not exist on this side."""
    pos = 0
    while pos < len(path):
        match = _PATH_TOKEN.match(path, pos)
        assert match, f"unparseable path {path!r} at {pos}"
        key, index, name, quoted = match.groups()
        pos = match.end()
        if key is not None or quoted is not None:
            k = key if key is not None else json.loads(quoted)
            if not isinstance(tree, dict) or k not in tree:
                return _MISSING
            tree = tree[k]
        elif index is not None:
            if not isinstance(tree, list) or int(index) >= len(tree):
                return _MISSING
            tree = tree[int(index)]
        else:
            wanted = name[1:-1] if name[:1] in "\"'" else name
            found = (
                [x for x in tree if isinstance(x, dict) and x.get("name") == wanted] if isinstance(tree, list) else []
            )
            if not found:
                return _MISSING
            tree = found[0]
    return tree


@pytest.mark.parametrize("seed", range(200))
def test_random_factories_against_an_independent_comparison(seed: int) -> None:
    rng = random.Random(seed)
    names = [f"p{i}" for i in range(rng.randint(1, 8))]
    before_props = {n: _random_properties(rng) for n in names}
    after_props = copy.deepcopy(before_props)
    for n in names:
        for _ in range(rng.choice([0, 0, 1, 2])):
            _mutate(rng, after_props[n])
    created = [f"new{i}" for i in range(rng.randint(0, 2))]
    deleted = rng.sample(names, rng.randint(0, min(2, len(names))))
    after_names = [n for n in names if n not in deleted] + created
    rng.shuffle(after_names)
    for n in created:
        after_props[n] = _random_properties(rng)

    before = factory(*(obj("pipelines", n, before_props[n], depends_on=[str(rng.random())]) for n in names))
    after = factory(*(obj("pipelines", n, after_props[n], depends_on=[str(rng.random())]) for n in after_names))
    diff = diff_factories(before, after)

    expected_updates = {
        n
        for n in names
        if n in after_names and _canonical(before_props[n], "pipelines") != _canonical(after_props[n], "pipelines")
    }
    assert {c.key.name for c in diff.changes if c.action == "update"} == expected_updates
    assert {c.key.name for c in diff.changes if c.action == "create"} == set(created)
    assert {c.key.name for c in diff.changes if c.action == "delete"} == set(deleted)
    assert diff.summary["unchanged"] == len(set(names) & set(after_names)) - len(expected_updates)
    assert [c.key for c in diff.changes] == sorted((c.key for c in diff.changes), key=sort_key)

    for change in diff.changes:
        if change.action != "update":
            continue
        assert change.paths, change
        assert len(set(change.paths)) == len(change.paths)
        old = without_noise(before_props[change.key.name], "pipelines")
        new = without_noise(after_props[change.key.name], "pipelines")
        for detail in change.details:
            at_old, at_new = _resolve(old, detail.path), _resolve(new, detail.path)
            if detail.kind == "add":
                assert at_old is _MISSING and at_new is not _MISSING, detail
            elif detail.kind == "remove":
                assert at_old is not _MISSING and at_new is _MISSING, detail
            elif detail.kind == "reorder":
                assert isinstance(at_old, list) and isinstance(at_new, list), detail
            else:
                assert at_old is not _MISSING and at_new is not _MISSING, detail
                assert json.dumps(at_old, sort_keys=True) != json.dumps(at_new, sort_keys=True), detail


# --- global parameters: one rule for a version without them -------------------------------------------


def test_a_version_without_global_parameters_leaves_them_out_with_a_note() -> None:
    gp = obj("globalParameters", "default", {"env": {"type": "String", "value": "dev"}})
    pipe = obj("pipelines", "p", pipeline(activity("w")))
    with_gp, without_gp = factory(gp, pipe, source="A"), factory(pipe, source="B")
    # the new version lacks them: a deploy of it leaves them as they are, so they are no delete
    diff = diff_factories(with_gp, without_gp)
    assert diff.changes == [] and diff.unchanged == 1
    assert diff.notes and "B holds no global parameters" in diff.notes[0]
    assert diff.to_json()["notes"] == diff.notes
    # the new version brings them: a create, as any object
    assert [(c.key.type, c.action) for c in diff_factories(without_gp, with_gp).changes] == [
        ("globalParameters", "create")
    ]
    # drift compares live (after) with the deployed version (before, the source): the same rule, that side
    drift = diff_factories(without_gp, with_gp, source="before")
    assert drift.changes == [] and drift.notes
    assert "notes" not in diff_factories(with_gp, with_gp).to_json()
