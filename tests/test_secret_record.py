"""The record of where deployed secrets come from (`promote.secrets`) and the comparison that uses it
(`promote.normalise.with_deployed_secrets`), as pure functions."""

from __future__ import annotations

import re
from typing import Any

from promote.factory import Factory, FactoryObject, ObjectKey
from promote.normalise import comparable_factory, with_deployed_secrets
from promote.secrets import (
    REDEPLOYED,
    SECRET_TAGS,
    TAG_SECRETS,
    UNRECORDED,
    DeployedSecrets,
    describe,
    holds_account_key,
    keyvault_placeholder,
    same_but_account_key,
    secret_map,
    secret_tag_values,
    secret_tags,
    secure_placeholder,
    without_account_keys,
)


def factory(objects: dict[str, dict[str, Any]]) -> Factory:
    built = {}
    for text, properties in objects.items():
        type_, name = text.split("/", 1)
        key = ObjectKey(type_, name)
        built[key] = FactoryObject(key, properties)
    return Factory(name="adf", objects=built, source="test")


KV = keyvault_placeholder("kv", "sql-pw")
VAR = secure_placeholder("blob_connectionString", "BLOB_CONN")


def desired() -> Factory:
    return factory(
        {
            "linkedServices/blob": {"typeProperties": {"connectionString": VAR}},
            "linkedServices/sql": {
                "typeProperties": {
                    "connectionString": "Server=x",
                    "password": {"type": "SecureString", "value": KV},
                }
            },
            "pipelines/p": {"activities": [{"name": "w", "type": "Wait"}]},
        }
    )


def live_as_adf_returns_it() -> Factory:
    """What ADF answers: the key stripped from the connection string, the SecureString masked."""
    return comparable_factory(
        factory(
            {
                "linkedServices/blob": {"typeProperties": {"connectionString": "DefaultEndpointsProtocol=https;"}},
                "linkedServices/sql": {
                    "typeProperties": {
                        "connectionString": "Server=x",
                        "password": {"type": "SecureString", "value": "**********"},
                    }
                },
                "pipelines/p": {"activities": [{"name": "w", "type": "Wait"}]},
            }
        )
    )


def compared(record: dict[str, str], wanted: Factory) -> dict[str, Any]:
    live = with_deployed_secrets(
        live_as_adf_returns_it(), comparable_factory(wanted), DeployedSecrets.from_tags(record)
    )
    return {key.name: obj.properties for key, obj in live.objects.items()}


def test_placeholders_name_their_source_and_describe_it():
    assert KV == "<keyvault:kv/sql-pw>"
    assert keyvault_placeholder("kv", "sql-pw", "0a1b") == "<keyvault:kv/sql-pw/0a1b>"
    assert VAR == "<secure:blob_connectionString from $BLOB_CONN>"
    assert describe(f"Server=x;Password={KV}") == "<secret from Key Vault kv/sql-pw>"
    assert describe(VAR) == "<secret from $BLOB_CONN>"
    assert describe(UNRECORDED) == "<secret from a source no deployment record tells>"
    assert describe(REDEPLOYED) == "<secret from the source deployed before>"


def test_the_secret_map_holds_every_path_with_a_placeholder():
    assert secret_map(desired()) == {
        ("linkedServices", "blob"): {("typeProperties", "connectionString"): VAR},
        ("linkedServices", "sql"): {("typeProperties", "password", "value"): KV},
    }


def test_a_recorded_source_makes_the_live_secret_equal_to_the_desired_one():
    record = secret_tags(secret_tag_values(desired()))
    live = compared({k: v for k, v in record.items() if v}, desired())
    assert live["blob"]["typeProperties"]["connectionString"] == VAR
    assert live["sql"]["typeProperties"]["password"]["value"] == KV
    assert live["sql"]["typeProperties"]["connectionString"] == "Server=x"  # not a secret: left as read


def test_another_source_is_a_change_and_no_record_is_unknown():
    record = {k: v for k, v in secret_tags(secret_tag_values(desired())).items() if v}
    moved = desired()
    sql = moved.objects[ObjectKey("linkedServices", "sql")]
    sql.properties["typeProperties"]["password"]["value"] = keyvault_placeholder("kv", "sql-pw-2")
    live = compared(record, moved)
    assert live["sql"]["typeProperties"]["password"]["value"] == REDEPLOYED
    assert live["blob"]["typeProperties"]["connectionString"] == VAR  # its source did not move
    assert compared({}, desired())["blob"]["typeProperties"]["connectionString"] == UNRECORDED


def test_the_record_is_digests_within_tag_limits_and_clears_what_a_larger_one_left():
    many = factory({f"linkedServices/ls{i}": {"password": secure_placeholder(f"p{i}", f"V{i}")} for i in range(120)})
    values = secret_tag_values(many)
    assert len(values) == 3 and all(len(v) <= 256 for v in values)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", v) for v in values)  # digests: no name, no value
    tags = secret_tags(values)
    assert len(tags) == SECRET_TAGS and tags[TAG_SECRETS] == values[0] and tags[f"{TAG_SECRETS}-4"] is None
    record = DeployedSecrets.from_tags({k: v for k, v in tags.items() if v})
    assert len(record.entries) == 120
    # a factory beyond what the tags hold keeps one digest of all its secrets: any move counts for all
    huge = factory({f"linkedServices/ls{i}": {"password": secure_placeholder(f"p{i}")} for i in range(500)})
    (whole,) = secret_tag_values(huge)
    assert whole.startswith("all:")
    deployed = DeployedSecrets.from_tags({TAG_SECRETS: whole}).deployed(secret_map(huge))
    assert deployed[("linkedServices", "ls0")] == {("password",): secure_placeholder("p0")}


def test_no_secrets_no_record():
    assert secret_tag_values(factory({"pipelines/p": {"activities": []}})) == ()
    assert set(secret_tags(()).values()) == {None}


def test_an_account_key_written_as_plain_text_is_a_secret_path_and_the_rest_is_compared():
    text = "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=Q2FuYXJ5==;EndpointSuffix=core.windows.net"
    assert holds_account_key(text) and holds_account_key("accountkey=x") and not holds_account_key("MyAccountKey=x")
    assert not holds_account_key(f"{VAR};AccountKey=x")  # a placeholder names the source already
    wanted = factory({"linkedServices/blob": {"typeProperties": {"connectionString": text}}})
    assert secret_map(wanted) == {("linkedServices", "blob"): {("typeProperties", "connectionString"): text}}
    record = {k: v for k, v in secret_tags(secret_tag_values(wanted)).items() if v}

    def live(answered: str) -> str:
        adf = factory({"linkedServices/blob": {"typeProperties": {"connectionString": answered}}})
        compared = with_deployed_secrets(adf, wanted, DeployedSecrets.from_tags(record))
        return compared.objects[ObjectKey("linkedServices", "blob")].properties["typeProperties"]["connectionString"]

    # what ADF answers (the key part and its `;` gone) is the deployed text; separators aside
    assert live("DefaultEndpointsProtocol=https;AccountName=a;EndpointSuffix=core.windows.net") == text
    assert same_but_account_key(
        "DefaultEndpointsProtocol=https;AccountName=a;", "AccountKey=k;DefaultEndpointsProtocol=https;AccountName=a"
    )
    # another account name is a real difference, left as ADF answered it
    assert live("DefaultEndpointsProtocol=https;AccountName=b;EndpointSuffix=core.windows.net").endswith(
        "AccountName=b;EndpointSuffix=core.windows.net"
    )


def test_a_saved_plan_holds_a_digest_for_an_account_key_and_the_digest_stays():
    text = "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=Q2FuYXJ5==;EndpointSuffix=core.windows.net"
    template = {"resources": [{"properties": {"typeProperties": {"connectionString": text}}}], "n": 1}
    masked = without_account_keys(template)
    shown = masked["resources"][0]["properties"]["typeProperties"]["connectionString"]
    assert re.fullmatch(
        r"DefaultEndpointsProtocol=https;AccountName=a;AccountKey=<sha256 [0-9a-f]{12}>;Endpoint\S+", shown
    )
    assert without_account_keys(masked) == masked  # read back and hashed again: the same
    assert without_account_keys(text.replace("Q2FuYXJ5", "b3RoZXI")) != shown  # another key, another digest
    expression = "[concat('AccountName=a;AccountKey=', parameters('key'))]"  # ARM's, naming a secure parameter
    assert without_account_keys(expression) is expression
    untouched = {"connectionString": "Server=x;Database=y"}
    assert without_account_keys(untouched) is untouched
