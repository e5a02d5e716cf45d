"""environments/<env>.yaml: loading, every class of error with file, line and hint, and the checks against a
template's parameters and a factory's objects. Real YAML files in tmp_path; ParameterSpec and Factory by hand.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from promote.arm.template import ParameterSpec
from promote.environment import (
    DeletionPolicy,
    Environment,
    Index,
    Key,
    KeyVaultRef,
    Match,
    SmokePipeline,
    Target,
    TriggerPolicy,
    ValueSyntaxError,
    apply_overrides,
    check_overrides,
    check_parameters,
    check_smoke,
    find_environment,
    load_environment,
    parse_object_key,
    parse_path,
    values_for_template,
)
from promote.errors import EXIT_INPUT, EnvironmentFileError, Problem
from promote.factory import Factory, FactoryObject, ObjectKey

SUB = "11111111-2222-3333-4444-555555555555"
ENV = {"AZURE_SUBSCRIPTION_ID": SUB}

TARGET = """\
target:
  subscription: ${AZURE_SUBSCRIPTION_ID}
  resource_group: rg-mnist-staging
  factory: adf-mnist-staging
"""


def write(tmp_path: Path, text: str, name: str = "staging") -> Path:
    directory = tmp_path / "environments"
    directory.mkdir(exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None, name: str = "staging") -> Environment:
    return load_environment(write(tmp_path, text, name), env=ENV if env is None else env)


def problems(tmp_path: Path, text: str, env: dict[str, str] | None = None, name: str = "staging") -> list[Problem]:
    path = write(tmp_path, text, name)
    with pytest.raises(EnvironmentFileError) as caught:
        load_environment(path, env=ENV if env is None else env)
    assert caught.value.exit_code == EXIT_INPUT
    for problem in caught.value.problems:
        assert problem.file == str(path)
    return caught.value.problems


def only(found: list[Problem]) -> Problem:
    assert len(found) == 1, [p.render() for p in found]
    return found[0]


# ----------------------------------------------------------------------------------------- valid files

FULL = """\
target:
  subscription: ${AZURE_SUBSCRIPTION_ID}
  resource_group: rg-mnist-staging
  factory: adf-mnist-staging
  location: northeurope
  endpoint: cloud
parameters:
  storage_account: stmnist${SUFFIX}
  retries: 3
  enabled: true
  tags: [a, b]
  settings: {depth: 2}
  sql_password:
    keyvault: {vault: kv-mnist, secret: sql-password}
  api_key: ${API_KEY}
overrides:
  - object: pipelines/train_mnist
    path: properties.activities[name=train_model].typeProperties.command
    value: python train.py --epochs 20
  - object: linkedServices/ls_blob
    path: annotations[0]
    value: staging
triggers:
  stop: pipelines
  start: template
  subscription_timeout: 120
deletion:
  enabled: false
  protected: ["pipelines/legacy_*", "*/keep_*"]
  max_share: 0.2
smoke:
  - pipeline: ingest_mnist
    parameters: {rows: 10, day: "${DAY}"}
    timeout: 900
  - pipeline: train_mnist
requires: dev
source: adf_publish_mirror/adf-ml-project
"""


def test_full_file(tmp_path: Path) -> None:
    write(tmp_path, TARGET, name="dev")
    env = load(tmp_path, FULL, env={**ENV, "SUFFIX": "stg", "API_KEY": "k-123", "DAY": "2024-01-01"})

    assert env.name == "staging"
    assert env.file.endswith("staging.yaml")
    assert env.target == Target(SUB, "rg-mnist-staging", "adf-mnist-staging", "northeurope", "cloud")

    p = env.parameters
    assert list(p) == ["storage_account", "retries", "enabled", "tags", "settings", "sql_password", "api_key"]
    assert p["storage_account"].value == "stmniststg" and p["storage_account"].from_env
    assert p["storage_account"].line == 8
    assert p["retries"].value == 3 and not p["retries"].from_env
    assert p["enabled"].value is True
    assert p["tags"].value == ["a", "b"]
    assert p["settings"].value == {"depth": 2}
    assert p["sql_password"].value is None
    assert p["sql_password"].keyvault == KeyVaultRef(
        f"/subscriptions/{SUB}/resourceGroups/rg-mnist-staging/providers/Microsoft.KeyVault/vaults/kv-mnist",
        "sql-password",
    )
    assert p["api_key"].value == "k-123" and p["api_key"].from_env

    train, annotation = env.overrides
    assert train.object == ObjectKey("pipelines", "train_mnist")
    assert train.path == (
        Key("activities"),
        Match("name", "train_model"),
        Key("typeProperties"),
        Key("command"),
    )
    assert train.value == "python train.py --epochs 20"
    assert train.line == 17
    assert annotation.object == ObjectKey("linkedServices", "ls_blob")
    assert annotation.path == (Key("annotations"), Index(0))

    assert env.triggers == TriggerPolicy(stop="pipelines", start="template", subscription_timeout=120)
    assert env.deletion == DeletionPolicy(enabled=False, protected=("pipelines/legacy_*", "*/keep_*"), max_share=0.2)
    assert env.smoke == (
        SmokePipeline("ingest_mnist", {"rows": 10, "day": "2024-01-01"}, 900, line=32),
        SmokePipeline("train_mnist", {}, 600, line=35),
    )
    assert env.requires == "dev"
    assert env.source == "adf_publish_mirror/adf-ml-project"


def test_defaults(tmp_path: Path) -> None:
    env = load(tmp_path, TARGET)
    assert env.target.location == "westeurope"
    assert env.target.endpoint == "cloud"
    assert env.parameters == {}
    assert env.overrides == ()
    assert env.triggers == TriggerPolicy("changed", "previous", 300)
    assert env.deletion == DeletionPolicy(True, (), 0.5)
    assert env.smoke == ()
    assert env.requires is None
    assert env.source is None


def test_empty_sections_are_defaults(tmp_path: Path) -> None:
    env = load(tmp_path, TARGET + "parameters:\noverrides:\ntriggers: {}\ndeletion:\nsmoke: []\nrequires:\n")
    assert env.parameters == {} and env.overrides == () and env.smoke == ()
    assert env.triggers == TriggerPolicy() and env.deletion == DeletionPolicy() and env.requires is None


def test_local_endpoint_accepts_any_subscription(tmp_path: Path) -> None:
    env = load(
        tmp_path,
        """\
        target:
          subscription: local
          resource_group: rg-local
          factory: adf-local
          endpoint: local
        """,
        env={},
    )
    assert env.target.endpoint == "local" and env.target.subscription == "local"


def test_names_stay_as_written(tmp_path: Path) -> None:
    env = load(tmp_path, TARGET.replace("rg-mnist-staging", "0123"))
    assert env.target.resource_group == "0123"


# ----------------------------------------------------------------------------------- YAML-level errors


def test_empty_file(tmp_path: Path) -> None:
    problem = only(problems(tmp_path, "# nothing here yet\n"))
    assert "empty" in problem.message
    assert "target" in (problem.hint or "")


def test_yaml_syntax_error_has_line_and_no_snippet(tmp_path: Path) -> None:
    text = TARGET + "parameters:\n  password: hunter2: oops\n"
    problem = only(problems(tmp_path, text))
    assert problem.line == 6
    assert problem.message.startswith("YAML syntax error")
    assert "hunter2" not in problem.render()


def test_top_level_must_be_mapping(tmp_path: Path) -> None:
    problem = only(problems(tmp_path, "- target\n"))
    assert problem.message == "expected a mapping, got a list"
    assert problem.line == 1


def test_duplicate_keys_top_level_and_nested(tmp_path: Path) -> None:
    text = TARGET + "triggers:\n  stop: changed\n  stop: pipelines\ntriggers: {}\n"
    found = problems(tmp_path, text)
    assert [(p.line, p.message) for p in found] == [
        (7, "duplicate key 'stop'"),
        (8, "duplicate key 'triggers'"),
    ]
    assert found[0].object == "triggers"  # inside the `triggers` that YAML would have dropped
    assert "first given on line 6" in (found[0].hint or "")
    assert "first given on line 5" in (found[1].hint or "")


def test_duplicate_key_inside_a_parameter_value(tmp_path: Path) -> None:
    text = TARGET + "parameters:\n  settings:\n    depth: 1\n    depth: 2\n"
    problem = only(problems(tmp_path, text))
    assert problem.line == 8 and problem.object == "parameters.settings"


def test_missing_target(tmp_path: Path) -> None:
    problem = only(problems(tmp_path, "parameters: {}\n"))
    assert problem.message == "missing required key 'target'"


def test_merge_keys_are_understood(tmp_path: Path) -> None:
    text = TARGET + "smoke:\n  - &s {pipeline: p1, timeout: 5}\n  - <<: *s\n    pipeline: p2\n"
    env = load(tmp_path, text)
    assert [(s.pipeline, s.timeout) for s in env.smoke] == [("p1", 5), ("p2", 5)]


# --------------------------------------------------------------------------------------- schema errors


def test_unknown_key_with_nearest_name(tmp_path: Path) -> None:
    problem = only(problems(tmp_path, TARGET + "trigers:\n  stop: changed\n"))
    assert problem.line == 5
    assert problem.message == "unknown key 'trigers'"
    assert problem.hint == "did you mean 'triggers'?"
    assert problem.render().endswith("staging.yaml:5: unknown key 'trigers' (did you mean 'triggers'?)")


def test_unknown_nested_key(tmp_path: Path) -> None:
    problem = only(problems(tmp_path, TARGET + "deletion:\n  max_shar: 0.1\n"))
    assert (problem.line, problem.object, problem.hint) == (6, "deletion", "did you mean 'max_share'?")


def test_unknown_key_without_close_match_lists_valid_keys(tmp_path: Path) -> None:
    problem = only(problems(tmp_path, TARGET + "triggers:\n  zzz: 1\n"))
    assert "stop, start, subscription_timeout" in (problem.hint or "")


def test_wrong_types(tmp_path: Path) -> None:
    text = TARGET + textwrap.dedent(
        """\
        triggers: [changed]
        deletion:
          enabled: maybe
          protected: pipelines/x
          max_share: 20
        smoke:
          pipeline: p
        parameters: [a]
        """
    )
    found = problems(tmp_path, text)
    got = {(p.line, p.object): p for p in found}
    assert got[(5, "triggers")].message == "expected a mapping, got a list"
    assert got[(7, "deletion.enabled")].message == "expected true or false, got a string"
    assert got[(8, "deletion.protected")].message == "expected a list, got a string"
    assert "out of range" in got[(9, "deletion.max_share")].message
    assert "0.2 means 20%" in (got[(9, "deletion.max_share")].hint or "")
    assert got[(11, "smoke")].message == "expected a list, got a mapping"
    assert got[(12, "parameters")].message == "expected a mapping, got a list"
    assert len(found) == 6


def test_bad_enum_lists_allowed_values(tmp_path: Path) -> None:
    found = problems(tmp_path, TARGET + "  endpoint: azure\ntriggers:\n  stop: chnged\n  start: never\n")
    by_key = {p.object: p for p in found}
    assert by_key["target.endpoint"].message == "invalid value 'azure'"
    assert "allowed: cloud, local" in (by_key["target.endpoint"].hint or "")
    assert by_key["triggers.stop"].hint == "did you mean 'changed'? allowed: changed, pipelines"
    assert by_key["triggers.stop"].line == 7
    assert "allowed: previous, template" in (by_key["triggers.start"].hint or "")


def test_timeouts_must_be_positive(tmp_path: Path) -> None:
    found = problems(
        tmp_path, TARGET + "triggers:\n  subscription_timeout: 0\nsmoke:\n  - {pipeline: p, timeout: no}\n"
    )
    assert [p.object for p in found] == ["triggers.subscription_timeout", "smoke[0].timeout"]


def test_target_values_are_checked(tmp_path: Path) -> None:
    text = """\
    target:
      subscription: not-a-guid
      resource_group: rg.
      factory: adf--staging
    """
    found = problems(tmp_path, text, env={})
    assert [p.object for p in found] == ["target.subscription", "target.resource_group", "target.factory"]
    assert "GUID" in (found[0].hint or "")


def test_missing_target_keys(tmp_path: Path) -> None:
    problem = only(problems(tmp_path, "target:\n  subscription: " + SUB + "\n  factory: adf-x\n"))
    assert (problem.line, problem.message) == (2, "missing required key 'resource_group'")


# ---------------------------------------------------------------------------------------------- ${VAR}


def test_unset_variable_names_variable_and_key(tmp_path: Path) -> None:
    problem = only(problems(tmp_path, TARGET, env={}))
    assert problem.line == 2
    assert problem.object == "target.subscription"
    assert problem.message == "environment variable AZURE_SUBSCRIPTION_ID is not set"
    assert (problem.hint or "").startswith("set AZURE_SUBSCRIPTION_ID ")


def test_variables_inside_strings_nested_values_and_escape(tmp_path: Path) -> None:
    text = TARGET + textwrap.dedent(
        """\
        parameters:
          url: https://${HOST}:${PORT}/api
          literal: cost is $${NOT_A_VAR} and $HOME stays
          nested: {hosts: ["${HOST}", x]}
        overrides:
          - object: pipelines/p
            path: description
            value: deployed by ${WHO}
        """
    )
    env = load(tmp_path, text, env={**ENV, "HOST": "example.org", "PORT": "8443", "WHO": "ci"})
    assert env.parameters["url"].value == "https://example.org:8443/api"
    assert env.parameters["literal"].value == "cost is ${NOT_A_VAR} and $HOME stays"
    assert not env.parameters["literal"].from_env
    assert env.parameters["nested"].value == {"hosts": ["example.org", "x"]}
    assert env.parameters["nested"].from_env
    assert env.overrides[0].value == "deployed by ci"


def test_bad_variable_syntax(tmp_path: Path) -> None:
    found = problems(tmp_path, TARGET + "parameters:\n  a: ${1BAD}\n  b: ${OPEN\n")
    assert [(p.line, p.object) for p in found] == [(6, "parameters.a"), (7, "parameters.b")]


def test_env_values_are_not_in_repr(tmp_path: Path) -> None:
    env = load(tmp_path, TARGET + "parameters:\n  pw: ${PW}\n", env={**ENV, "PW": "s3cr3t-value"})
    assert "s3cr3t-value" not in repr(env)


# ------------------------------------------------------------------------------------------- Key Vault


def test_keyvault_to_arm_by_name_uses_target(tmp_path: Path) -> None:
    env = load(tmp_path, TARGET + "parameters:\n  pw: {keyvault: {vault: kv-mnist, secret: pw}}\n")
    assert env.parameters["pw"].keyvault.to_arm() == {  # type: ignore[union-attr]
        "reference": {
            "keyVault": {
                "id": f"/subscriptions/{SUB}/resourceGroups/rg-mnist-staging"
                "/providers/Microsoft.KeyVault/vaults/kv-mnist"
            },
            "secretName": "pw",
        }
    }


def test_keyvault_in_another_group_with_version(tmp_path: Path) -> None:
    text = TARGET + textwrap.dedent(
        """\
        parameters:
          pw:
            keyvault:
              vault: kv-shared
              resource_group: rg-secrets
              secret: pw
              version: 0123456789abcdef0123456789abcdef
        """
    )
    ref = load(tmp_path, text).parameters["pw"].keyvault
    assert ref is not None
    assert (
        ref.vault_id == f"/subscriptions/{SUB}/resourceGroups/rg-secrets/providers/Microsoft.KeyVault/vaults/kv-shared"
    )
    assert ref.to_arm()["reference"]["secretVersion"] == "0123456789abcdef0123456789abcdef"
    # the placeholder names the source exactly, version included: another version is another secret
    assert ref.placeholder() == "<keyvault:kv-shared/pw/0123456789abcdef0123456789abcdef>"


def test_keyvault_by_id(tmp_path: Path) -> None:
    vault_id = f"/subscriptions/{SUB}/resourceGroups/rg-x/providers/Microsoft.KeyVault/vaults/kv-x"
    env = load(tmp_path, TARGET + f"parameters:\n  pw: {{keyvault: {{id: '{vault_id}', secret: s}}}}\n")
    assert env.parameters["pw"].keyvault == KeyVaultRef(vault_id, "s")


def test_keyvault_errors(tmp_path: Path) -> None:
    text = TARGET + textwrap.dedent(
        """\
        parameters:
          a: {keyvault: {vault: kv-x, id: /subscriptions/x, secret: s}}
          b: {keyvault: {vault: https://kv-x.vault.azure.net, secret: s}}
          c: {keyvault: {vault: kv-x}}
          d: {keyvault: {vault: kv-x, secret: s, secrt: t}}
          e: {keyvault: {vault: kv-x, secret: s}, extra: 1}
        """
    )
    found = problems(tmp_path, text)
    messages = [(p.line, p.object, p.message) for p in found]
    assert (
        6,
        "parameters.a.keyvault",
        "give exactly one of 'vault' (a name) or 'id' (a vault resource id)",
    ) in messages
    assert (6, "parameters.a.keyvault.id", "is not a Key Vault resource id") in messages
    b = next(p for p in found if p.object == "parameters.b.keyvault.vault")
    assert "not its URL" in (b.hint or "")
    assert (8, "parameters.c.keyvault", "missing required key 'secret'") in messages
    d = next(p for p in found if p.line == 9)
    assert d.message == "unknown key 'secrt'" and d.hint == "did you mean 'secret'?"
    assert any(p.line == 10 and "next to 'keyvault'" in p.message for p in found)


# ------------------------------------------------------------------------------------ overrides syntax


def test_object_key_casing_is_normalised() -> None:
    assert parse_object_key("PIPELINES/Train") == ObjectKey("pipelines", "Train")
    assert parse_object_key("linkedservices/ls") == ObjectKey("linkedServices", "ls")
    assert parse_object_key("managedvirtualnetworks/managedprivateendpoints/default/mpe1") == ObjectKey(
        "managedVirtualNetworks/managedPrivateEndpoints", "default/mpe1"
    )
    assert parse_object_key("managedVirtualNetworks/default") == ObjectKey("managedVirtualNetworks", "default")


def test_bad_object_keys() -> None:
    with pytest.raises(ValueSyntaxError) as caught:
        parse_object_key("pipeline/train")
    assert caught.value.message == "unknown object type 'pipeline'"
    assert caught.value.hint == "did you mean 'pipelines'?"
    for text in ("train", "pipelines/", "pipelines/a/b", "managedVirtualNetworks/managedPrivateEndpoints/x"):
        with pytest.raises(ValueSyntaxError):
            parse_object_key(text)


def test_paths() -> None:
    assert parse_path("properties.activities[name=train model].typeProperties.command") == (
        Key("activities"),
        Match("name", "train model"),
        Key("typeProperties"),
        Key("command"),
    )
    assert parse_path("activities[2].dependsOn[0]") == (
        Key("activities"),
        Index(2),
        Key("dependsOn"),
        Index(0),
    )
    assert parse_path('parameters["a.b"].defaultValue') == (
        Key("parameters"),
        Key("a.b"),
        Key("defaultValue"),
    )
    assert parse_path("activities[ name = 'x]' ]") == (Key("activities"), Match("name", "x]"))
    assert parse_path("description") == (Key("description"),)


@pytest.mark.parametrize(
    "text",
    ["", "activities[name=x", "a..b", "a.", ".a", "a[-1]", "properties", "a.[0]", "a[0]b", "a[]", "a[name=]"],
)
def test_path_syntax_errors(text: str) -> None:
    with pytest.raises(ValueSyntaxError):
        parse_path(text)


def test_override_syntax_errors_in_file(tmp_path: Path) -> None:
    text = TARGET + textwrap.dedent(
        """\
        overrides:
          - object: pipeline/train
            path: activities[name=x
            value: 1
          - object: pipelines/train
            path: description
          - object: pipelines/train
            path: description
            value: a
          - object: pipelines/train
            path: properties.description
            value: b
        """
    )
    found = problems(tmp_path, text)
    assert [(p.line, p.object) for p in found] == [
        (6, "overrides[0].object"),
        (7, "overrides[0].path"),
        (9, "overrides[1]"),
        (14, "overrides[3]"),
    ]
    assert found[0].hint == "did you mean 'pipelines'?"
    assert "column" in found[1].message
    assert found[2].message == "missing required key 'value'"
    assert "overridden twice" in found[3].message and "line 11" in (found[3].hint or "")


def test_protected_globs_that_match_nothing_are_refused(tmp_path: Path) -> None:
    text = TARGET + "deletion:\n  protected: [legacy_*, pipeline/x, '*/ok', 'linkedservices/ok']\n"
    found = problems(tmp_path, text)
    assert [p.object for p in found] == ["deletion.protected[0]", "deletion.protected[1]"]
    assert "'*/legacy_*'" in (found[0].hint or "")
    assert found[1].hint == "did you mean 'pipelines'?"


def test_is_protected() -> None:
    policy = DeletionPolicy(protected=("pipelines/legacy_*", "*/keep_*"))
    assert policy.is_protected(ObjectKey("pipelines", "legacy_ingest"))
    assert policy.is_protected("PIPELINES/Legacy_X")
    assert policy.is_protected(ObjectKey("datasets", "keep_me"))
    assert not policy.is_protected(ObjectKey("datasets", "legacy_ingest"))
    assert not DeletionPolicy().is_protected("pipelines/x")


# ------------------------------------------------------------------------------------ requires, source


def test_requires_unknown_environment(tmp_path: Path) -> None:
    write(tmp_path, TARGET, name="staging")
    problem = only(problems(tmp_path, TARGET + "requires: stagin\n", name="production"))
    assert problem.line == 5 and problem.object == "requires"
    assert problem.hint == "did you mean 'staging'?"


def test_requires_itself_and_bad_source(tmp_path: Path) -> None:
    found = problems(tmp_path, TARGET + "requires: staging\nsource: ../elsewhere\n")
    assert [p.object for p in found] == ["requires", "source"]


# ---------------------------------------------------------------------------------------- many at once


def test_every_problem_is_reported_together(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        target:
          subscription: ${MISSING_SUB}
          resource_group: rg
          factory: adf-x
          locaton: westeurope
        trigers: {}
        deletion:
          max_share: 2
        overrides:
          - {object: pipelines/p, path: "a..b", value: 1}
        """
    )
    found = problems(tmp_path, text, env={})
    assert [p.line for p in found] == [2, 5, 6, 8, 10]
    error = EnvironmentFileError(found)
    rendered = str(error).splitlines()
    assert len(rendered) == 5
    assert rendered[0].endswith(
        "staging.yaml:2: target.subscription: environment variable MISSING_SUB is not set"
        " (set MISSING_SUB in the environment that runs promote, e.g. from a CI secret,"
        " or write the value in the file)"
    )


# ------------------------------------------------------------------------------------ find_environment


def test_find_environment(tmp_path: Path) -> None:
    write(tmp_path, TARGET, name="staging")
    write(tmp_path, TARGET, name="production")
    assert find_environment("staging", tmp_path) == tmp_path / "environments" / "staging.yaml"
    with pytest.raises(EnvironmentFileError) as caught:
        find_environment("prod", tmp_path)
    problem = only(caught.value.problems)
    assert problem.message == "unknown environment 'prod'"
    assert problem.hint == "did you mean 'production'? available: production, staging"
    with pytest.raises(EnvironmentFileError):
        find_environment("../environments/staging", tmp_path)


def test_find_environment_without_directory(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentFileError) as caught:
        find_environment("staging", tmp_path)
    assert "there are no environments" in (caught.value.problems[0].hint or "")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentFileError) as caught:
        load_environment(tmp_path / "nope.yaml", env={})
    assert caught.value.problems[0].message == "no such environment file"


# ------------------------------------------------------------------------------------- template values


def spec(name: str, type_: str = "string", default: object = ..., *, has_default: bool | None = None) -> ParameterSpec:
    has = default is not ... if has_default is None else has_default
    return ParameterSpec(name=name, type=type_, has_default=has, default=None if default is ... else default)


TEMPLATE = {
    "factoryName": spec("factoryName", default="adf-dev"),
    "storage_account": spec("storage_account", default="stdev"),
    "retries": spec("retries", "int", default=1),
    "sql_password": spec("sql_password", "securestring"),
    "api_key": spec("api_key", "securestring", default=""),
    "config": spec("config", "secureobject", default={}),
    "flags": spec("flags", "array", default=[]),
    "enabled": spec("enabled", "bool", default=False),
}


def test_values_for_template(tmp_path: Path) -> None:
    text = TARGET + textwrap.dedent(
        """\
        parameters:
          Storage_Account: stmnist
          retries: ${RETRIES}
          enabled: ${ENABLED}
          flags: [a]
          sql_password: {keyvault: {vault: kv-mnist, secret: sql-pw}}
          api_key: ${API_KEY}
          config: ${CONFIG}
        """
    )
    env = load(
        tmp_path,
        text,
        env={
            **ENV,
            "RETRIES": "5",
            "ENABLED": "True",
            "API_KEY": "k-very-secret",
            "CONFIG": '{"user": "u-1"}',
        },
    )
    result = values_for_template(env, TEMPLATE)
    assert result.values == {
        "storage_account": "stmnist",
        "retries": 5,
        "enabled": True,
        "flags": ["a"],
        "sql_password": "<keyvault:kv-mnist/sql-pw>",
        "api_key": "<secure:api_key from $API_KEY>",  # where the secret comes from, never what it is
        "config": "<secure:config from $CONFIG>",
        "factoryName": "adf-mnist-staging",
    }
    assert result.deployment["sql_password"] == env.parameters["sql_password"].keyvault.to_arm()  # type: ignore[union-attr]
    assert result.deployment["api_key"] == {"value": "k-very-secret"}
    assert result.deployment["config"] == {"value": {"user": "u-1"}}
    assert result.deployment["retries"] == {"value": 5}
    assert result.deployment["factoryName"] == {"value": "adf-mnist-staging"}
    assert result.secrets == {"k-very-secret", "u-1"}
    assert "k-very-secret" not in repr(result)


def test_factory_name_given_explicitly_wins(tmp_path: Path) -> None:
    env = load(
        tmp_path,
        TARGET + "parameters:\n  factoryName: other\n  sql_password: ${PW}\n",
        env={**ENV, "PW": "x"},
    )
    assert values_for_template(env, TEMPLATE).values["factoryName"] == "other"


def test_secure_plaintext_is_refused_without_echo(tmp_path: Path) -> None:
    env = load(tmp_path, TARGET + "parameters:\n  sql_password: hunter2-plaintext\n")
    problem = only(check_parameters(env, TEMPLATE))
    assert problem.line == 6 and problem.object == "parameters.sql_password"
    assert "plaintext" in problem.message
    assert "put it in Key Vault: {keyvault: {" in (problem.hint or "")
    assert "${VAR}" in (problem.hint or "")
    assert "hunter2" not in problem.render()
    with pytest.raises(EnvironmentFileError) as caught:
        values_for_template(env, TEMPLATE)
    assert "hunter2" not in str(caught.value)


def test_required_parameter_missing(tmp_path: Path) -> None:
    env = load(tmp_path, TARGET + "parameters:\n  retries: 2\n")
    problem = only(check_parameters(env, TEMPLATE))
    assert problem.message == "required parameter 'sql_password' has no value"
    assert problem.line == 5  # the `parameters:` line
    assert "Key Vault or ${VAR}" in (problem.hint or "")


def test_undeclared_parameter_with_nearest_name(tmp_path: Path) -> None:
    env = load(
        tmp_path,
        TARGET + "parameters:\n  sql_pasword: ${PW}\n  sql_password: ${PW}\n",
        env={**ENV, "PW": "x"},
    )
    problem = only(check_parameters(env, TEMPLATE))
    assert (problem.line, problem.object) == (6, "parameters.sql_pasword")
    assert problem.message == "the template declares no such parameter"
    assert problem.hint == "did you mean 'sql_password'?"


def test_parameter_type_mismatch(tmp_path: Path) -> None:
    text = (
        TARGET
        + "parameters:\n  storage_account: on\n  retries: '3'\n  flags: x\n"
        + "  sql_password: ${PW}\n  enabled: ${E}\n"
    )
    env = load(tmp_path, text, env={**ENV, "PW": "x", "E": "maybe"})
    found = check_parameters(env, TEMPLATE)
    assert [p.object for p in found] == [
        "parameters.storage_account",
        "parameters.retries",
        "parameters.flags",
        "parameters.enabled",
    ]
    assert "quote the value" in (found[0].hint or "")
    assert found[1].hint == "remove the quotes"


def test_keyvault_for_plain_parameter_is_refused(tmp_path: Path) -> None:
    text = TARGET + "parameters:\n  storage_account: {keyvault: {vault: kv-x, secret: s}}\n  sql_password: ${PW}\n"
    env = load(tmp_path, text, env={**ENV, "PW": "x"})
    problem = only(check_parameters(env, TEMPLATE))
    assert problem.object == "parameters.storage_account"
    assert "deployment history" in (problem.hint or "")


# ----------------------------------------------------------------------------------- factory overrides


def pipeline(name: str, activities: list[dict]) -> FactoryObject:
    return FactoryObject(key=ObjectKey("pipelines", name), properties={"activities": activities, "parameters": {}})


def make_factory() -> Factory:
    train = pipeline(
        "train_mnist",
        [
            {"name": "fetch", "type": "Copy", "typeProperties": {}},
            {"name": "train_model", "type": "Custom", "typeProperties": {"command": "python train.py"}},
        ],
    )
    ingest = pipeline("ingest_mnist", [{"name": "copy", "type": "Copy"}])
    ingest.properties["parameters"] = {"rows": {"type": "int"}}
    linked = FactoryObject(key=ObjectKey("linkedServices", "ls_blob"), properties={"annotations": ["dev"]})
    objects = {o.key: o for o in (train, ingest, linked)}
    return Factory(name="adf-dev", objects=objects)


OVERRIDES = """\
overrides:
  - object: pipelines/train_mnist
    path: properties.activities[name=train_model].typeProperties.command
    value: python train.py --epochs ${EPOCHS}
  - object: pipelines/train_mnist
    path: activities[0].typeProperties.retries
    value: 3
  - object: linkedservices/ls_blob
    path: annotations[0]
    value: [staging]
"""


def test_apply_overrides(tmp_path: Path) -> None:
    env = load(tmp_path, TARGET + OVERRIDES, env={**ENV, "EPOCHS": "20"})
    factory = make_factory()
    assert check_overrides(env, factory) == []
    result = apply_overrides(env, factory)

    train = result.objects[ObjectKey("pipelines", "train_mnist")].properties
    assert train["activities"][1]["typeProperties"]["command"] == "python train.py --epochs 20"
    assert train["activities"][0]["typeProperties"] == {"retries": 3}  # the last segment may add a key
    assert result.objects[ObjectKey("linkedServices", "ls_blob")].properties["annotations"] == [["staging"]]

    # The input is untouched; untouched objects are shared, touched ones copied.
    original = factory.objects[ObjectKey("pipelines", "train_mnist")].properties
    assert original["activities"][1]["typeProperties"]["command"] == "python train.py"
    assert original["activities"][0]["typeProperties"] == {}
    assert factory.objects[ObjectKey("linkedServices", "ls_blob")].properties["annotations"] == ["dev"]
    ingest = ObjectKey("pipelines", "ingest_mnist")
    assert result.objects[ingest] is factory.objects[ingest]
    assert result.name == factory.name and result is not factory


def test_override_on_missing_object(tmp_path: Path) -> None:
    text = (
        TARGET
        + "overrides:\n  - {object: pipelines/train_mnst, path: description, value: x}\n"
        + ("  - {object: datasets/ds, path: description, value: x}\n")
    )
    env = load(tmp_path, text)
    found = check_overrides(env, make_factory())
    assert [(p.line, p.object) for p in found] == [(6, "pipelines/train_mnst"), (7, "datasets/ds")]
    assert found[0].hint == "did you mean 'pipelines/train_mnist'?"
    assert found[1].hint == "the factory has no datasets"


def test_override_path_that_does_not_resolve(tmp_path: Path) -> None:
    text = TARGET + textwrap.dedent(
        """\
        overrides:
          - object: pipelines/train_mnist
            path: activities[name=train_modl].typeProperties.command
            value: x
          - object: pipelines/train_mnist
            path: activities[1].typeProps.command
            value: x
          - object: pipelines/train_mnist
            path: activities[5].name
            value: x
          - object: pipelines/train_mnist
            path: activities.name
            value: x
        """
    )
    env = load(tmp_path, text)
    factory = make_factory()
    found = check_overrides(env, factory)
    assert [p.line for p in found] == [6, 9, 12, 15]
    assert found[0].message == (
        "path properties.activities[name=train_modl].typeProperties.command: "
        "segment '[name=train_modl]' fails at properties.activities: no item with name 'train_modl'"
    )
    assert found[0].hint == "did you mean 'train_model'?"
    assert "no key 'typeProps'" in found[1].message and found[1].hint == "did you mean 'typeProperties'?"
    assert "index 5 is out of range" in found[2].message and found[2].hint == "the list has 2 items"
    assert "it is a list, not a mapping" in found[3].message
    with pytest.raises(EnvironmentFileError) as caught:
        apply_overrides(env, factory)
    assert len(caught.value.problems) == 4
    # Nothing was changed by the failed attempt.
    assert factory.objects[ObjectKey("pipelines", "train_mnist")].properties["activities"][1]["name"] == "train_model"


def test_override_ambiguous_name(tmp_path: Path) -> None:
    env = load(tmp_path, TARGET + "overrides:\n  - {object: pipelines/p, path: 'activities[name=a].x', value: 1}\n")
    factory = Factory("f", {ObjectKey("pipelines", "p"): pipeline("p", [{"name": "a"}, {"name": "a"}])})
    problem = only(check_overrides(env, factory))
    assert "2 items have name 'a'" in problem.message
    assert problem.hint == "select one by index: [0], [1]"


def test_check_smoke(tmp_path: Path) -> None:
    text = TARGET + "smoke:\n  - {pipeline: ingest_mnist, parameters: {rows: 1, rowz: 2}}\n  - pipeline: ingest\n"
    env = load(tmp_path, text)
    found = check_smoke(env, make_factory())
    assert [(p.line, p.message) for p in found] == [
        (6, "pipeline 'ingest_mnist' declares no parameter 'rowz'"),
        (7, "no pipeline 'ingest' in the factory"),
    ]
    assert found[0].hint == "did you mean 'rows'?"


def test_odd_yaml_is_reported_not_crashed_on(tmp_path: Path) -> None:
    text = TARGET + textwrap.dedent(
        """\
        parameters:
          loop: &loop [1, *loop]
          tagged: !custom x
          ? [a, b]
          : 1
        triggers:
          <<: 5
        deletion:
          max_share: .nan
        """
    )
    found = problems(tmp_path, text)
    got = [(p.line, p.message) for p in found]
    assert (6, "recursive YAML alias") in got
    assert (7, "unsupported YAML tag '!custom'") in got
    assert (8, "keys must be strings, got a list") in got
    assert (11, "a merge key '<<' needs a mapping or a list of mappings") in got
    assert any(line == 13 and message.startswith("expected a number between 0 and 1") for line, message in got)
