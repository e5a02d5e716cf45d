"""What a reviewer reads first, through the real CLI against the emulator: the warnings of reading the commit
are part of the plan (the plan file, the top of the markdown, the job summary and annotations in GitHub Actions),
and `promote plan` says up front when apply would be refused and why; the one-run deletion override
`--allow-deletions N` is shown in the plan and recorded in the journal, on the factory and in the history, with
who used it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.engine_project import Project
from tests.test_engine_safety import last_seq, object_writes, out, write_env, writes_since

LEFT_OUT = "does not declare it; left out"


def actions(project: Project, tmp_path: Path) -> dict[str, str]:
    """The variables a GitHub Actions runner sets, the job summary in a file of the test's."""
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_WORKSPACE": str(project.path),
    }


def test_warnings_are_part_of_the_plan_its_markdown_the_job_summary_and_annotations(project: Project, tmp_path: Path):
    commits = project.mirror()
    ref = commits[3]  # local.yaml gives values for parameters this version does not declare: left out, warned
    in_actions = actions(project, tmp_path)
    plan_file = tmp_path / "plan.json"
    made = project.promote(
        "plan", "--env", "local", "--ref", ref, "--out", str(plan_file), "--format", "markdown", **in_actions
    )
    assert made.returncode == 0, out(made)
    warnings = json.loads(plan_file.read_text())["warnings"]
    assert warnings and all(LEFT_OUT in w for w in warnings), warnings
    # the files it names are the repository's, relative to it: another checkout (the apply job's) makes the same
    assert all(w.startswith("environments/local.yaml: ") for w in warnings), warnings
    markdown = made.stdout
    assert markdown.index("### ⚠️ Warnings") < markdown.index("### Record trigger states")  # at the top
    first = re.search(r"parameters\.(\w+)", warnings[0])
    assert first is not None and first.group(1).replace("_", "\\_") in markdown
    annotations = [line for line in made.stderr.splitlines() if line.startswith("::warning ")]
    assert len(annotations) == len(warnings), made.stderr
    assert all("file=environments/local.yaml" in a and LEFT_OUT in a for a in annotations)
    assert not any(line.startswith("::") for line in markdown.splitlines())  # stdout is the plan, nothing else
    # for scripts: JSON on stdout that parses, the same warnings in it, the annotations beside it on stderr
    as_json = project.promote("plan", "--env", "local", "--ref", ref, "--format", "json", **in_actions)
    assert as_json.returncode == 0, out(as_json)
    assert json.loads(as_json.stdout)["warnings"] == warnings
    assert [line for line in as_json.stderr.splitlines() if line.startswith("::warning ")] == annotations

    deployed = project.promote("deploy", "--env", "local", "--ref", ref, "--yes", **in_actions)
    assert deployed.returncode == 0, out(deployed)
    summary = Path(in_actions["GITHUB_STEP_SUMMARY"]).read_text()
    assert f"### ✅ local runs `{ref[:8]}` now" in summary and "**Warnings**" in summary
    assert summary.count(LEFT_OUT) >= len(warnings), summary
    assert summary.index("**Warnings**") < summary.index("<details>")  # above the folded report


def test_plan_says_up_front_what_the_deletion_guard_refuses_and_a_one_run_override_is_recorded(
    project: Project, tmp_path: Path
):
    tight = {"max_share: 0.5": "max_share: 0.01", "  protected: []": "  protected: [pipelines/evaluate_*]"}
    write_env(project, "tight", replace=tight)
    commits = project.mirror()
    old, new = commits[4], commits[5]  # `new` drops a pipeline (protected here) and two datasets
    assert (done := project.promote("deploy", "--env", "tight", "--ref", old, "--yes")).returncode == 0, out(done)

    seq, before = last_seq(project), object_writes(project)
    plan_file = tmp_path / "plan.json"
    refused = project.promote("plan", "--env", "tight", "--ref", new, "--out", str(plan_file))
    assert refused.returncode == 2 and not plan_file.exists(), out(refused)
    shown = refused.stdout
    assert shown.index("Apply will be refused:") < shown.index("Record trigger states:"), shown
    found = re.search(r"deletion\.max_share: refusing to delete (\d+) of the (\d+) live objects", shown)
    assert found is not None, shown
    count = int(found.group(1))
    # the protected pipeline the source no longer holds is named up front too
    kept = shown.index("Not deleted although the source no longer holds them:")
    assert kept < shown.index("Record trigger states:") and "pipelines/evaluate_mnist" in shown[kept:], shown
    assert f"--allow-deletions {count}" in refused.stderr
    fewer = project.promote("deploy", "--env", "tight", "--ref", new, "--yes", "--allow-deletions", str(count - 1))
    assert fewer.returncode == 2 and f"--allow-deletions {count - 1} allows fewer" in fewer.stderr, out(fewer)
    assert writes_since(project, seq) == [] and object_writes(project) == before

    # allowed for this run: the plan shows it, apply carries it out, and the run records it with who ran it
    made = project.promote(
        "plan", "--env", "tight", "--ref", new, "--out", str(plan_file), "--allow-deletions", str(count)
    )
    assert made.returncode == 0, out(made)
    assert "Guards gone around for this run" in made.stdout
    assert f"deletion.max_share overridden (--allow-deletions {count})" in made.stdout
    assert json.loads(plan_file.read_text())["allow_deletions"] == count
    applied = project.promote("apply", str(plan_file))
    assert applied.returncode == 0, out(applied)
    status = json.loads(project.promote("status", "--env", "tight", "--format", "json").stdout)
    assert status["commit"] == new and f"--allow-deletions {count}" in status["override"] and status["deployed_by"]
    journals = [json.loads(p.read_text()) for p in (project.path / ".promote" / "runs" / "tight").glob("*.json")]
    (journal,) = [j for j in journals if j["commit"] == new]
    assert [o for o in journal["overrides"] if f"--allow-deletions {count}" in o], journal["overrides"]
    rows = json.loads(project.promote("history", "--env", "tight", "--format", "json").stdout)
    (entry,) = [r for r in rows if r["record"] and r["commit"] == new]
    assert f"--allow-deletions {count}" in entry["override"] and entry["run"] == status["deployed_by"]


def test_validate_and_plan_apply_the_same_rules_and_warnings_error_makes_them_errors_in_both(project: Project):
    commits = project.mirror()
    ref = commits[3]  # local.yaml's values for parameters this version does not declare: warnings
    strict = write_env(project, "strict")
    strict.write_text(strict.read_text() + "\nwarnings: error\n")

    lenient = project.promote("validate", "--env", "local", "--ref", ref)
    assert lenient.returncode == 0 and LEFT_OUT in lenient.stderr, out(lenient)
    planned = project.promote("plan", "--env", "local", "--ref", ref)
    assert planned.returncode == 0 and LEFT_OUT in planned.stdout, out(planned)

    seq, before = last_seq(project), object_writes(project)
    refused = project.promote("validate", "--env", "strict", "--ref", ref)
    assert refused.returncode == 2, out(refused)
    problems = [line for line in refused.stderr.splitlines() if "✗" in line]
    assert problems and all("strict.yaml" in p and "warnings: error" in p for p in problems), refused.stderr
    assert len([p for p in problems if LEFT_OUT in p]) == len([w for w in lenient.stderr.splitlines() if LEFT_OUT in w])
    for command in (("plan", "--env", "strict", "--ref", ref), ("deploy", "--env", "strict", "--ref", ref, "--yes")):
        same = project.promote(*command)
        assert same.returncode == 2 and LEFT_OUT in same.stderr and "warnings: error" in same.stderr, out(same)
    assert writes_since(project, seq) == [] and object_writes(project) == before


def test_validate_reports_an_unset_variable_of_the_environment_file_as_such(project: Project):
    ref = project.mirror()[-1]
    path = write_env(project, "unset")
    text = path.read_text()
    unset = "\nparameters:\n  some_parameter: x-${PROMOTE_TEST_NEVER_SET}\n"
    path.write_text(text.replace("\nparameters:\n", unset, 1))
    result = project.promote("validate", "--env", "unset", "--ref", ref)
    assert result.returncode == 2, out(result)
    assert "unset.yaml" in result.stderr and "PROMOTE_TEST_NEVER_SET" in result.stderr, out(result)
    assert "neither an existing path nor a git revision" not in result.stderr
