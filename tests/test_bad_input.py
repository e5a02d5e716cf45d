"""Bad input exits 2 with a message naming the file and what to fix (real `promote` subprocesses)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from promote.plan import FORMAT_VERSION
from tests.conftest import ROOT
from tests.test_cli_diff import MIRROR, promote

GOOD = ROOT / MIRROR


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder (not a git repository) holding a copy of the sample and its environments."""
    shutil.copytree(GOOD, tmp_path / MIRROR, ignore=shutil.ignore_patterns("linkedTemplates"))
    shutil.copytree(ROOT / "environments", tmp_path / "environments")
    return tmp_path


def template(project: Path) -> Path:
    return project / MIRROR / "ARMTemplateForFactory.json"


def diff_against_itself(project: Path, *extra: str):
    folder = str(project / MIRROR)
    return promote("diff", "--from", folder, "--to", folder, *extra, cwd=project)


def test_truncated_json(project):
    raw = template(project).read_text()
    template(project).write_text(raw[: len(raw) // 2])
    result = diff_against_itself(project)
    assert result.returncode == 2
    assert "ARMTemplateForFactory.json" in result.stderr
    assert "invalid JSON" in result.stderr and "line" in result.stderr


def test_template_with_no_resources(project):
    doc = json.loads(template(project).read_text())
    doc["resources"] = []
    template(project).write_text(json.dumps(doc))
    result = diff_against_itself(project)
    assert result.returncode == 2
    assert "ARMTemplateForFactory.json" in result.stderr
    assert "no Data Factory objects" in result.stderr and "refusing an empty factory" in result.stderr


def test_duplicate_object_names(project):
    doc = json.loads(template(project).read_text())
    pipeline = next(r for r in doc["resources"] if r["type"].endswith("/pipelines"))
    twin = json.loads(json.dumps(pipeline))
    twin["name"] = twin["name"].upper()  # names are case-insensitive in ADF
    doc["resources"].append(twin)
    template(project).write_text(json.dumps(doc))
    result = diff_against_itself(project)
    assert result.returncode == 2
    assert "duplicate object" in result.stderr and "defined twice" in result.stderr
    assert "ARMTemplateForFactory.json" in result.stderr


def test_unsupported_function_names_file_object_and_function(project):
    doc = json.loads(template(project).read_text())
    linked = next(r for r in doc["resources"] if r["type"].endswith("/linkedServices"))
    linked["properties"]["description"] = "[listKeys('x', '2019-01-01')]"
    template(project).write_text(json.dumps(doc))
    result = diff_against_itself(project)
    assert result.returncode == 2
    assert "listKeys" in result.stderr and "ARMTemplateForFactory.json" in result.stderr


def test_typo_in_an_environment_key(project):
    env = project / "environments" / "production.yaml"
    env.write_text(env.read_text().replace("\ntriggers:", "\ntrigers:"))
    result = diff_against_itself(project, "--env", "production")
    assert result.returncode == 2
    assert "production.yaml:" in result.stderr
    assert "trigers" in result.stderr and "did you mean 'triggers'" in result.stderr


def test_plaintext_secret_is_refused_and_never_printed(project):
    env = project / "environments" / "local.yaml"
    text = env.read_text()
    start = text.index("  ls_adls_mnist_accountKey:")
    end = text.index("\n  ls_keyvault_properties")
    env.write_text(text[:start] + "  ls_adls_mnist_accountKey: Sup3rS3cretAccountKey==" + text[end:])
    result = diff_against_itself(project, "--env", "local")
    assert result.returncode == 2
    assert "local.yaml:" in result.stderr and "ls_adls_mnist_accountKey" in result.stderr
    assert "Key Vault" in result.stderr or "keyvault" in result.stderr
    assert "Sup3rS3cretAccountKey" not in result.stderr + result.stdout


def test_validate_lists_every_problem_not_only_the_first(project):
    env = project / "environments" / "staging.yaml"
    env.write_text(env.read_text().replace("\ndeletion:", "\ndeletions:").replace("\nsmoke:", "\nsmokes:"))
    result = promote("validate", "--env", "staging", cwd=project)
    assert result.returncode == 2
    assert "deletions" in result.stderr and "smokes" in result.stderr


def test_unknown_ref_or_path(project):
    result = promote("diff", "--from", "no-such-ref", "--to", str(project / MIRROR), cwd=ROOT)
    assert result.returncode == 2
    assert "no-such-ref" in result.stderr


# --------------------------------------------------------------------------------------------------------------
# Hostile input, case by case: each a real `promote` run that must exit 2, name the file (and the object) at
# fault, print no traceback and nothing that GitHub Actions would run as a workflow command.


@dataclass(frozen=True)
class Case:
    id: str
    mutate: Callable[[Path], object]  # changes the project; may return extra command-line arguments
    expect: tuple[str, ...]  # fragments stderr must hold (the file, the object, what is wrong)
    command: tuple[str, ...] = ("validate",)


def edited(change: Callable[[dict], object], name: str = "ARMTemplateForFactory.json") -> Callable[[Path], None]:
    """A mutation of one JSON file of the sample factory."""

    def mutate(project: Path) -> None:
        path = project / MIRROR / name
        doc = json.loads(path.read_text())
        change(doc)
        path.write_text(json.dumps(doc))

    return mutate


def raw(text: str | bytes, name: str = "ARMTemplateForFactory.json") -> Callable[[Path], None]:
    def mutate(project: Path) -> None:
        path = project / MIRROR / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())

    return mutate


def without_environments(mutate: Callable[[Path], None]) -> Callable[[Path], None]:
    """No environment files: the published values are the only ones, and their problems are errors."""

    def both(project: Path) -> None:
        mutate(project)
        shutil.rmtree(project / "environments")

    return both


def resource(doc: dict, kind: str, name: str | None = None) -> dict:
    return next(
        r
        for r in doc["resources"]
        if r["type"].lower().endswith("/" + kind.lower()) and (not name or name in r["name"])
    )


def nested_value(levels: int) -> object:
    value: object = 1
    for _ in range(levels):
        value = [value]
    return value


def deep_text(levels: int) -> str:
    """The sample template with a property nested `levels` deep, as text (json.dumps itself recurses)."""
    doc = json.loads(template_text())
    resource(doc, "pipelines", "train_mnist")["properties"]["annotations"] = "@@DEEP@@"
    return json.dumps(doc).replace('"@@DEEP@@"', "[" * levels + "1" + "]" * levels)


def template_text() -> str:
    return (GOOD / "ARMTemplateForFactory.json").read_text()


def set_property(kind: str, name: str, key: str, value: object) -> Callable[[dict], None]:
    return lambda doc: resource(doc, kind, name)["properties"].__setitem__(key, value)


TEMPLATE = "ARMTemplateForFactory.json"
TEMPLATE_CASES = [
    Case("nan", raw(template_text().replace('"Started"', "NaN", 1)), (TEMPLATE, "NaN is not a JSON number")),
    Case("infinity", raw(template_text().replace('"Started"', "Infinity", 1)), (TEMPLATE, "Infinity")),
    Case("minus-infinity", raw(template_text().replace('"Started"', "-Infinity", 1)), (TEMPLATE, "-Infinity")),
    Case("huge-float", raw(template_text().replace('"Started"', "1e999", 1)), (TEMPLATE, "too large")),
    Case("huge-int", raw(template_text().replace('"Started"', "9" * 5000, 1)), (TEMPLATE, "digits")),
    Case("nested-950", raw(deep_text(950)), (TEMPLATE, "nested more than 128 levels")),
    Case("nested-129", raw(deep_text(125)), (TEMPLATE, "nested more than 128 levels")),
    Case("nested-100000", raw(deep_text(100_000)), (TEMPLATE, "nested more than 128 levels")),
    Case("conflict-markers", raw("<<<<<<< HEAD\n{}\n=======\n{}\n>>>>>>> x\n"), (TEMPLATE, "invalid JSON", "line 1")),
    Case("top-level-array", raw("[]"), (TEMPLATE, "must be a JSON object", "an array")),
    Case("empty-file", raw(""), (TEMPLATE, "invalid JSON")),
    Case("not-utf8", raw(b'{"a": "\xff\xfe"}'), (TEMPLATE, "cannot decode")),
    Case("resources-not-array", edited(lambda d: d.__setitem__("resources", {})), (TEMPLATE, "must be an array")),
    Case("resource-a-number", edited(lambda d: d["resources"].append(7)), (TEMPLATE, "resources[19]", "object")),
    Case(
        "name-not-string",
        edited(lambda d: resource(d, "datasets").__setitem__("name", 5)),
        (TEMPLATE, "'name' must be a string"),
    ),
    Case(
        "copy-loop",
        edited(lambda d: resource(d, "datasets").__setitem__("copy", {"name": "c", "count": 2})),
        (TEMPLATE, "copy loops"),
    ),
    Case(
        "unknown-function",
        edited(set_property("pipelines", "train_mnist", "description", "[listKeys('x', '2019-01-01')]")),
        (TEMPLATE, "train_mnist", "listKeys"),
    ),
    Case(
        "undeclared-parameter",
        edited(set_property("pipelines", "train_mnist", "description", "[parameters('nope')]")),
        (TEMPLATE, "train_mnist", "nope"),
    ),
    Case(
        "expression-syntax",
        edited(set_property("pipelines", "train_mnist", "description", "[concat('a']")),
        (TEMPLATE, "train_mnist"),
    ),
    Case(
        "not-a-factory-object",
        edited(
            lambda d: d["resources"].append({**resource(d, "datasets"), "type": "Microsoft.Storage/storageAccounts"})
        ),
        (TEMPLATE, "Microsoft.Storage/storageAccounts", "not a Data Factory object"),
    ),
    Case(
        "parameters-file-nan",
        raw('{"parameters": {"factoryName": {"value": NaN}}}', "ARMTemplateParametersForFactory.json"),
        ("ARMTemplateParametersForFactory.json", "NaN"),
    ),
    Case(
        "parameters-file-not-an-object",
        without_environments(raw('{"parameters": []}', "ARMTemplateParametersForFactory.json")),
        ("ARMTemplateParametersForFactory.json", "needs a 'parameters' object"),
        ("validate", "--source", MIRROR),
    ),
]


def named(kind: str, name: str, properties: dict | None = None, **extra: object) -> dict:
    """A resource of the sample factory's shape (`name` below the factory, or a full expression)."""
    full = name if name.startswith("[") else f"[concat(parameters('factoryName'), '/{name}')]"
    arm_type = "Microsoft.DataFactory/factories/" + kind
    return {"name": full, "type": arm_type, "apiVersion": "2018-06-01", "properties": properties or {}, **extra}


def dataset(name: str, **properties: object) -> dict:
    return named(
        "datasets",
        name,
        {
            "linkedServiceName": {"referenceName": "ls_adls_mnist", "type": "LinkedServiceReference"},
            "type": "Json",
            "typeProperties": {"location": {"type": "AzureBlobFSLocation", "fileSystem": "x"}},
            **properties,
        },
        dependsOn=["[concat(variables('factoryId'), '/linkedServices/ls_adls_mnist')]"],
    )


def added(*resources: dict) -> Callable[[Path], None]:
    return edited(lambda d: d["resources"].extend(resources))


def depends(a: str, *on: str) -> Callable[[dict], None]:
    def change(doc: dict) -> None:
        resource(doc, "pipelines", a)["dependsOn"] = [f"[concat(variables('factoryId'), '/pipelines/{b}')]" for b in on]

    return change


def many_datasets(count: int) -> Callable[[Path], None]:
    return added(*(dataset(f"extra_{i:05d}") for i in range(count)))


RULE_CASES = [
    Case("name-forbidden-character", added(dataset("bad*name")), (TEMPLATE, "datasets/bad*name", "may not contain")),
    Case("name-too-long", added(dataset("n" * 261)), (TEMPLATE, "must be 1 to 260 characters")),
    Case(
        "integration-runtime-name",
        added(named("integrationRuntimes", "my_ir", {"type": "SelfHosted"})),
        (TEMPLATE, "integrationRuntimes/my_ir", "single hyphens"),
    ),
    Case(
        "too-many-name-segments",
        added(dataset("a/b")),
        (TEMPLATE, "has 2 name segments below the factory", "<factory>/<datasets name>"),
    ),
    Case(
        "too-few-name-segments",
        added(named("managedVirtualNetworks/managedPrivateEndpoints", "default", {})),
        (TEMPLATE, "has 1 name segment below the factory"),
    ),
    Case(
        "another-factorys-object",
        added(dataset("[concat('adf-someone-else', '/x')]")),
        (TEMPLATE, "names the factory 'adf-someone-else'"),
    ),
    Case(
        "properties-not-an-object",
        edited(lambda d: resource(d, "datasets").__setitem__("properties", [])),
        (TEMPLATE, "'properties' must be an object"),
    ),
    Case(
        "reference-to-nothing",
        added(dataset("orphan", linkedServiceName={"referenceName": "ls_nowhere", "type": "LinkedServiceReference"})),
        (TEMPLATE, "datasets/orphan", "references linkedServices/ls_nowhere"),
    ),
    Case(
        "depends-on-cycle",
        edited(lambda d: (depends("ingest_mnist", "score_mnist")(d), depends("score_mnist", "ingest_mnist")(d))),
        (TEMPLATE, "dependsOn forms a cycle", "pipelines/ingest_mnist", "pipelines/score_mnist"),
    ),
    Case("depends-on-itself", edited(depends("ingest_mnist", "ingest_mnist")), (TEMPLATE, "dependsOn forms a cycle")),
    Case(
        "depends-on-nothing",
        edited(depends("ingest_mnist", "no_such_pipeline")),
        (TEMPLATE, "pipelines/ingest_mnist", "no_such_pipeline", "names no object of the factory"),
    ),
    Case(
        "depends-on-another-service",
        edited(lambda d: resource(d, "pipelines", "ingest_mnist").__setitem__("dependsOn", ["Microsoft.Storage/x"])),
        (TEMPLATE, "Microsoft.Storage/x", "names no object of the factory"),
    ),
    Case("over-5000-objects", many_datasets(4982), ("5,001 objects", "over ADF's limit of 5,000")),
    Case(
        "pipeline-over-200-kb",
        edited(set_property("pipelines", "train_mnist", "description", "d" * 210_000)),
        (TEMPLATE, "pipelines/train_mnist", "over ADF's 200 KB limit"),
    ),
    Case(
        "object-over-1-mb",
        added(dataset("huge", description="h" * 1_100_000)),
        (TEMPLATE, "datasets/huge", "no ARM template can hold it"),
    ),
    Case(
        "factory-name",
        without_environments(
            edited(
                lambda d: d["parameters"].__setitem__("factoryName", {"value": "bad_factory!"}),
                "ARMTemplateParametersForFactory.json",
            )
        ),
        ("factory name 'bad_factory!'",),
        ("validate", "--source", MIRROR),
    ),
]


@pytest.mark.parametrize("case", RULE_CASES, ids=lambda c: c.id)
def test_what_adf_or_arm_would_refuse(project: Path, case: Case) -> None:
    run_case(project, case)


def run_case(project: Path, case: Case) -> subprocess.CompletedProcess[str]:
    extra = case.mutate(project)
    result = promote(*case.command, *(extra if isinstance(extra, tuple) else ()), cwd=project)
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    for fragment in case.expect:
        assert fragment in result.stderr, (fragment, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    assert not any(line.lstrip().startswith("::") for line in (result.stdout + result.stderr).splitlines())
    return result


@pytest.mark.parametrize("case", TEMPLATE_CASES, ids=lambda c: c.id)
def test_bad_template(project: Path, case: Case) -> None:
    run_case(project, case)


def linked_project(project: Path) -> Path:
    """The sample's linked templates alone (no single-file template beside them)."""
    shutil.copytree(GOOD / "linkedTemplates", project / MIRROR / "linkedTemplates")
    (project / MIRROR / TEMPLATE).unlink()
    return project / MIRROR / "linkedTemplates"


def linked_edit(change: Callable[[Path], None]) -> Callable[[Path], None]:
    return lambda project: change(linked_project(project))


def _edit_json(path: Path, change: Callable[[dict], object]) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


MASTER = "ArmTemplate_master.json"
LINKED_CASES = [
    Case(
        "master-resource-a-number",
        linked_edit(lambda d: _edit_json(d / MASTER, lambda m: m["resources"].append(5))),
        (MASTER, "resources[1]", "must be an object"),
    ),
    Case(
        "master-resource-a-string",
        linked_edit(lambda d: _edit_json(d / MASTER, lambda m: m["resources"].insert(0, "x"))),
        (MASTER, "resources[0]", "must be an object"),
    ),
    Case(
        "master-properties-an-array",
        linked_edit(lambda d: _edit_json(d / MASTER, lambda m: m["resources"][0].__setitem__("properties", []))),
        (MASTER, "does not link an ArmTemplate_N.json"),
    ),
    Case(
        "part-missing",
        linked_edit(lambda d: (d / "ArmTemplate_0.json").unlink()),
        (MASTER, "ArmTemplate_0.json", "not in the folder"),
    ),
    Case(
        "part-not-linked",
        linked_edit(lambda d: shutil.copy(d / "ArmTemplate_0.json", d / "ArmTemplate_1.json")),
        ("ArmTemplate_1.json", "not linked from the master"),
    ),
    Case(
        "part-nan",
        linked_edit(lambda d: (d / "ArmTemplate_0.json").write_text('{"resources": [NaN]}')),
        ("ArmTemplate_0.json", "NaN"),
    ),
]


@pytest.mark.parametrize("case", LINKED_CASES, ids=lambda c: c.id)
def test_bad_linked_templates(project: Path, case: Case) -> None:
    run_case(project, case)


def env_text(project: Path, name: str = "local") -> Path:
    return project / "environments" / f"{name}.yaml"


def env_edit(change: Callable[[str], str], name: str = "local") -> Callable[[Path], tuple[str, ...]]:
    def mutate(project: Path) -> tuple[str, ...]:
        path = env_text(project, name)
        path.write_text(change(path.read_text()))
        return ("--env", name)

    return mutate


def env_append(text: str) -> Callable[[Path], tuple[str, ...]]:
    return env_edit(lambda old: old + text)


def alias_bomb(depth: int) -> str:
    lines = ["bomb:", "  a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, depth + 1):
        lines.append(f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def param_block(value: str) -> Callable[[Path], tuple[str, ...]]:
    """Replace the value of one string parameter in local.yaml by `value` (YAML text on the same line)."""
    return env_edit(
        lambda old: old.replace("  default_properties_env_value: local", f"  default_properties_env_value: {value}")
    )


LOCAL = "local.yaml"
ENVIRONMENT_CASES = [
    Case(
        "alias-bomb",
        env_edit(
            lambda old: old.replace(
                "parameters:\n",
                "parameters:\n" + "\n".join("  " + line for line in alias_bomb(9).splitlines()) + "\n",
                1,
            )
        ),
        (LOCAL, "YAML aliases"),
    ),
    Case(
        "merge-key-bomb",
        env_edit(
            lambda old: (
                "m0: &m0 {a: 1}\n"
                + "".join(f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}, *m{i - 1}, *m{i - 1}]}}\n" for i in range(1, 16))
                + old.replace("triggers:\n", "triggers:\n  <<: *m15\n")
            )
        ),
        (LOCAL, "YAML aliases"),
    ),
    Case("recursive-alias", param_block("&loop [1, *loop]"), (LOCAL, "recursive YAML alias")),
    Case("yaml-nested-10000", param_block("[" * 10000 + "]" * 10000), (LOCAL, "nested more than")),
    Case("yaml-nested-200", param_block("[" * 200 + "]" * 200), (LOCAL, "nested more than")),
    Case("yaml-syntax", env_append("smoke: [\n"), (LOCAL, "YAML syntax error")),
    Case("empty-environment", env_edit(lambda old: ""), (LOCAL, "the file is empty")),
    Case("unset-variable", param_block("${PROMOTE_TEST_NEVER_SET}"), (LOCAL, "PROMOTE_TEST_NEVER_SET is not set")),
    Case("bad-variable-name", param_block("${1X}"), (LOCAL, "not a valid variable name")),
    Case("duplicate-key", env_append("deletion:\n  enabled: false\n"), (LOCAL, "duplicate key 'deletion'")),
    Case(
        "max-share-out-of-range",
        env_edit(lambda old: old.replace("max_share: 0.5", "max_share: 2")),
        (LOCAL, "out of range"),
    ),
    Case("max-share-nan", env_edit(lambda old: old.replace("max_share: 0.5", "max_share: .nan")), (LOCAL, "max_share")),
    Case("python-tag", param_block("!!python/object:os.system ls"), (LOCAL, "unsupported YAML tag")),
    Case("source-outside", env_append("source: ../../etc\n"), (LOCAL, "inside the repository")),
    Case("parameter-of-the-wrong-type", param_block("[1, 2]"), (LOCAL, "default_properties_env_value", "string")),
    Case(
        "override-of-missing-object",
        env_edit(lambda old: old.replace("object: pipelines/train_mnist", "object: pipelines/no_such_pipeline")),
        (LOCAL, "no_such_pipeline"),
    ),
    Case(
        "not-utf8-environment",
        lambda p: (env_text(p).write_bytes(b"target: \xff\n"), ("--env", "local"))[1],
        (LOCAL, "not UTF-8"),
    ),
    Case("unknown-environment", lambda p: ("--env", "nope"), ("environments", "unknown environment 'nope'")),
    Case("environment-path-traversal", lambda p: ("--env", "../environments/local"), ("unknown environment",)),
]


@pytest.mark.parametrize("case", ENVIRONMENT_CASES, ids=lambda c: c.id)
def test_bad_environment_file(project: Path, case: Case) -> None:
    run_case(project, case)


def write_file(rel: str, content: str | bytes) -> Callable[[Path], None]:
    def mutate(project: Path) -> None:
        path = project / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())

    return mutate


PLAN_CASES = [
    Case("plan-file-missing", lambda p: None, ("nope.json", "no such plan file"), ("apply", "nope.json")),
    Case("plan-file-not-json", write_file("p.json", "not json"), ("p.json", "not a plan file"), ("apply", "p.json")),
    Case("plan-file-nan", write_file("p.json", '{"format": NaN}'), ("p.json", "NaN"), ("apply", "p.json")),
    Case(
        "plan-file-nested",
        write_file("p.json", '{"format": ' + "[" * 5000 + "]" * 5000 + "}"),
        ("p.json", "nested more than"),
        ("apply", "p.json"),
    ),
    Case("plan-file-array", write_file("p.json", "[]"), ("p.json", "not an object"), ("apply", "p.json")),
    Case(
        "plan-file-old-format", write_file("p.json", '{"format": 0}'), ("p.json", "not supported"), ("apply", "p.json")
    ),
    Case(
        "plan-file-wrong-shape",
        write_file("p.json", json.dumps({"format": FORMAT_VERSION, "steps": 5})),  # the format read, a wrong shape
        ("p.json", "not a plan file"),
        ("apply", "p.json"),
    ),
]


JOURNAL = ".promote/journal/local.json"
STATUS = ("status", "--env", "local")
PLAN_CASES += [
    Case("journal-nan", write_file(JOURNAL, '{"environment": NaN}'), ("local.json", "not a journal", "NaN"), STATUS),
    Case(
        "journal-without-commit",
        write_file(JOURNAL, '{"environment": "local"}'),
        ("local.json", "not a journal: it has no 'commit'", "move it away"),
        STATUS,
    ),
    Case("journal-an-array", write_file(JOURNAL, "[1]"), ("local.json", "not a journal"), STATUS),
]


@pytest.mark.parametrize("case", PLAN_CASES, ids=lambda c: c.id)
def test_bad_plan_file(project: Path, case: Case) -> None:
    run_case(project, case)


COMMAND_LINE_CASES = [
    Case("port-too-large", lambda p: None, ("--port", "99999 is not a port"), ("emulator", "--port", "99999")),
    Case("port-negative", lambda p: None, ("--port", "is not a port"), ("emulator", "--port=-1")),
    Case(
        "port-not-a-number", lambda p: None, ("--port", "'http' is not a port number"), ("emulator", "--port", "http")
    ),
    Case(
        "state-dir-is-a-file",
        write_file("state", "x"),
        ("--state-dir", "state is not a folder"),
        ("emulator", "--state-dir", "state"),
    ),
    Case(
        "state-dir-below-a-file",
        write_file("state", "x"),
        ("--state-dir", "cannot write into the folder state/inner"),
        ("emulator", "--state-dir", "state/inner"),
    ),
    Case(
        "plan-out-missing-folder",
        lambda p: None,
        ("--out", "the folder no/such does not exist"),
        ("plan", "--env", "local", "--out", "no/such/plan.json"),
    ),
    Case(
        "plan-out-onto-a-folder",
        write_file("plans/keep", ""),
        ("--out", "plans is a folder"),
        ("plan", "--env", "local", "--out", "plans"),
    ),
    Case(
        "outside-a-git-repository",
        lambda p: None,
        ("not inside a git repository", "'HEAD'"),
        ("deploy", "--env", "local", "--yes"),
    ),
    Case("unknown-ref", lambda p: None, ("no-such-ref",), ("diff", "--from", "no-such-ref", "--to", "HEAD")),
    Case("bad-format", lambda p: None, ("--format", "invalid choice"), ("diff", "--format", "yaml")),
    Case("unknown-command", lambda p: None, ("invalid choice",), ("destroy",)),
]


@pytest.mark.parametrize("case", COMMAND_LINE_CASES, ids=lambda c: c.id)
def test_bad_command_line(project: Path, case: Case) -> None:
    run_case(project, case)
    if case.command[0] in ("plan", "emulator"):  # refused before the local emulator or its factory was set up
        assert not (project / ".promote").exists()


def test_git_missing_from_path(project: Path) -> None:
    result = promote("deploy", "--env", "local", "--yes", cwd=project, env={"PATH": str(project / "no-bin")})
    assert result.returncode == 2, result.stderr
    assert "git is not installed or not on PATH" in result.stderr
    assert "Traceback" not in result.stderr


def collaboration_root(change: Callable[[Path], None]) -> Callable[[Path], tuple[str, ...]]:
    """The sample factory as ADF Studio saves it (a collaboration root under adf/), changed by `change`."""

    def mutate(project: Path) -> tuple[str, ...]:
        from tests.collaboration import unpublish

        unpublish(GOOD, project / "adf")
        change(project / "adf")
        return ("--source", "adf")

    return mutate


def object_file(kind: str, name: str, text: str) -> Callable[[Path], None]:
    return lambda root: (root / kind / f"{name}.json").write_text(text)


COLLABORATION_CASES = [
    Case(
        "object-file-nan",
        collaboration_root(object_file("pipeline", "ingest_mnist", '{"name": "ingest_mnist", "properties": NaN}')),
        ("adf/pipeline/ingest_mnist.json", "invalid JSON: NaN is not a JSON number"),
        ("build", "--out", "out"),
    ),
    Case(
        "object-file-nested",
        collaboration_root(
            object_file("dataset", "deep", '{"name": "deep", "properties": ' + "[" * 500 + "]" * 500 + "}")
        ),
        ("adf/dataset/deep.json", "nested more than 128 levels"),
        ("build", "--out", "out"),
    ),
]


@pytest.mark.parametrize("case", COLLABORATION_CASES, ids=lambda c: c.id)
def test_bad_collaboration_root(project: Path, case: Case) -> None:
    run_case(project, case)
    assert not (project / "out").exists()
