"""What `promote` tells GitHub Actions when it runs there: a job summary and annotations.

A workflow run is where people look when a promotion fails, so the story must be there without opening logs:
the outcome and the engine's report in the job summary (`$GITHUB_STEP_SUMMARY`), and one annotation per
problem, pointing at the file and naming the object at fault (an environment file's line, the template that
holds the pipeline whose smoke run failed). The workflow's `run` steps stay one `promote ...` line each.

Only results and failures are written here. Output a person asked for (`diff`, `plan`, `drift` in markdown)
goes to stdout, and the workflow puts it in the summary itself (`| tee -a "$GITHUB_STEP_SUMMARY"`).

Nothing happens outside GitHub Actions (`GITHUB_ACTIONS` is not `true`), so local runs print exactly as before.
Writing here never fails a command: a summary that cannot be written is a warning on stderr.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promote.errors import InputError, Problem, PromoteError
from promote.inert import command_stream, inert, inert_lines

if TYPE_CHECKING:
    from promote.apply.runner import RunReport
    from promote.factory import ObjectKey
    from promote.plan import Plan, Step


MAX_ANNOTATIONS = 10  # GitHub shows at most 10 error annotations per step; the summary lists every problem


@dataclass(frozen=True)
class Annotation:
    """One `::error` workflow command: where (file relative to the workspace, line) and what."""

    message: str
    title: str = ""
    file: str | None = None
    line: int | None = None
    level: str = "error"

    def command(self) -> str:
        """The workflow command: properties and data encoded as the runner decodes them, the text made inert
        first (the annotation shows names from templates)."""
        properties = [f"{k}={_escape_property(v)}" for k, v in (("file", self.file), ("line", self.line)) if v]
        if self.title:
            properties.append(f"title={_escape_property(inert(self.title))}")
        head = f"::{self.level} {','.join(properties)}" if properties else f"::{self.level}"
        return f"{head}::{_escape_data(inert_lines(self.message))}"


def active(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process runs as a step of a GitHub Actions job."""
    env = os.environ if environ is None else environ
    return env.get("GITHUB_ACTIONS") == "true"


def _escape_data(text: str) -> str:
    """A message for a workflow command: `%`, CR and LF are encoded, as the runner decodes them."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: object) -> str:
    """A property value: also `:` and `,`, which would end the value."""
    return _escape_data(str(value)).replace(":", "%3A").replace(",", "%2C")


def workspace_path(file: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """`file` relative to the checkout (`GITHUB_WORKSPACE`), or None when GitHub could not point at it.

    Files arrive as absolute paths (environment files, plan files), as paths relative to the repository, or as
    `REF:path` for templates read from git (`HEAD:adf-mnist-dev/ARMTemplateForFactory.json`). The repository may
    be checked out below the workspace (checkout's `path:`).
    """
    if not file or file.startswith("<"):
        return None
    env = os.environ if environ is None else environ
    workspace = Path(env.get("GITHUB_WORKSPACE") or Path.cwd()).resolve()
    path = Path(file.split(":", 1)[1] if ":" in file and not Path(file).is_absolute() else file)
    if not path.is_absolute():
        path = _repository() / path
    try:
        return path.resolve().relative_to(workspace).as_posix()
    except ValueError:
        return None


def _repository() -> Path:
    """The repository `promote` works in (paths in problems are relative to it)."""
    from promote.errors import GitError
    from promote.source import repo_root

    try:
        return repo_root()
    except GitError:
        return Path.cwd()


def emit(annotations: Sequence[Annotation], *, stream: Any = None) -> None:
    """Print the workflow commands (on stderr, which the runner reads too; stdout is the command's output), at most
    MAX_ANNOTATIONS."""
    out = stream or command_stream()  # underneath the CLI's InertStream, which would break these commands
    for annotation in annotations[:MAX_ANNOTATIONS]:
        print(annotation.command(), file=out, flush=True)
    if len(annotations) > MAX_ANNOTATIONS:
        more = Annotation(f"{_count(len(annotations) - MAX_ANNOTATIONS, 'more problem')}: see the job summary")
        print(more.command(), file=out, flush=True)


def append_summary(markdown: str, environ: Mapping[str, str] | None = None) -> None:
    """Append to this step's job summary file, if the runner gave one."""
    env = os.environ if environ is None else environ
    path = env.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as summary:
            summary.write(inert_lines(markdown.rstrip("\n")) + "\n\n")
    except OSError as exc:
        print(f"warning: could not write the job summary {path}: {exc}", file=sys.stderr)


def _fenced(text: str) -> str:
    """A code block that no backtick run inside `text` can close."""
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return f"{fence}text\n{text.rstrip()}\n{fence}"


def _problem_annotation(problem: Problem, title: str) -> Annotation:
    file = workspace_path(problem.file)
    what = f"{problem.object}: " if problem.object else ""
    where = "" if file or not problem.file or problem.file.startswith("<") else f" ({problem.file})"
    hint = f" ({problem.hint})" if problem.hint else ""
    return Annotation(f"{what}{problem.message}{hint}{where}", title=title, file=file, line=problem.line)


def report_problems(command: str, problems: Sequence[Problem], *, exit_code: int = 2) -> None:
    """Refused input (every problem found): one annotation each, all of them listed in the summary."""
    if not active() or not problems:
        return
    title = f"promote {command}"
    emit([_problem_annotation(p, title) for p in problems])
    lines = [f"### ❌ `promote {command}` refused (exit {exit_code}): {_count(len(problems), 'problem')}", ""]
    lines += [f"- {_md(p.render())}" for p in problems]
    lines += ["", "Nothing in Azure was touched."]
    append_summary("\n".join(lines))


def report_error(command: str, exc: PromoteError) -> None:
    """A command ended with an expected error (the CLI's error boundary calls this)."""
    if not active():
        return
    if isinstance(exc, InputError):
        report_problems(command, exc.problems, exit_code=exc.exit_code)
        return
    emit([Annotation(str(exc), title=f"promote {command} failed")])
    append_summary(f"### ❌ `promote {command}` failed (exit {exc.exit_code})\n\n{_fenced(str(exc))}")


def report_interrupted(command: str) -> None:
    if active():
        emit([Annotation("interrupted: run promote deploy or rollback to recover", title=f"promote {command}")])
        append_summary(f"### ❌ `promote {command}` was interrupted (exit 130)")


# ------------------------------------------------------------------------------------------------ plans


def plan_annotations(plan: Plan) -> list[Annotation]:
    """A plan's warnings, the guards it goes around and the runs in progress it would cut into, one annotation
    each (on the environment file): a reviewer sees them on the run's page, not only in the log."""
    from promote.render.plan_text import runs_in_flight_line

    env_file = _environment_file(plan.environment)
    title = f"{plan.environment}: plan of {plan.commit[:8]}"
    out = [Annotation(w, title=title, file=env_file, level="warning") for w in plan.warnings]
    out += [Annotation(o.text(), title=title, file=env_file, level="warning") for o in plan.overrides]
    in_flight = runs_in_flight_line(plan)
    if in_flight:
        out.append(Annotation(in_flight, title=title, file=env_file, level="warning"))
    return out


def report_plan(plan: Plan) -> None:
    """A plan was shown: its warnings and overrides as annotations (the plan's markdown, which the workflow puts
    in the summary, lists them at its top)."""
    if active():
        emit(plan_annotations(plan))


def _environment_file(environment: str) -> str | None:
    from promote.environment.layout import ENVIRONMENTS, selected_factory

    return workspace_path(str(Path(ENVIRONMENTS, selected_factory(), f"{environment}.yaml")))


def _plan_notices(plan: Plan) -> str:
    """The warnings and overrides of a run's plan, for the job summary."""
    lines = [f"- ⚠️ {_md(w)}" for w in plan.warnings] + [f"- ⚠️ {_md(o.text())}" for o in plan.overrides]
    return ("\n".join(["**Warnings**", "", *lines]) + "\n\n") if lines else ""


# ------------------------------------------------------------------------------------------------ run reports


def report_run(report: RunReport, locate: Callable[[Plan], Mapping[ObjectKey, str]] | None = None) -> None:
    """A deploy, apply or rollback ended: its outcome and the engine's report in the summary, and on failure one
    annotation per object at fault, on the template file that holds it (else the environment file).

    `report` is a `promote.apply.runner.RunReport`. `locate(plan)` gives each object's template file; by default
    the desired state of the plan's commit is read again (only on failure: it costs a template evaluation).
    """
    if not active() or report.plan is None:
        return
    plan = report.plan
    ok = report.exit_code == 0
    notices = _plan_notices(plan)
    if ok:
        head = f"### ✅ {plan.environment} runs `{plan.commit[:8]}` now (plan `{plan.hash[:12]}`)"
        append_summary(
            f"{head}\n\n{notices}<details><summary>Report</summary>\n\n{_fenced(report.render())}\n\n</details>"
        )
        return
    back = f", rolled back to `{report.rollback_target[:8]}`" if report.rollback_target else ""
    what = "failed" + back if report.exit_code == 4 else "failed and the rollback did not complete: a person must look"
    head = f"### ❌ {plan.environment}: `{plan.commit[:8]}` {what} (exit {report.exit_code})"
    append_summary(f"{head}\n\n{notices}{_fenced(report.render())}")
    emit(run_annotations(report, (locate or _template_files)(plan)))


def run_annotations(report: RunReport, files: Mapping[ObjectKey, str]) -> list[Annotation]:
    """The objects a failed run blames, each on its file: the failed step's object(s), then what rollback left."""
    from promote.factory import ObjectKey

    plan = report.plan
    if plan is None:  # a run refused before it had a plan has nothing to blame
        return []
    env_file = _environment_file(plan.environment)
    title = f"{plan.environment}: deploy of {plan.commit[:8]} " + ("rolled back" if report.exit_code == 4 else "failed")
    out: list[Annotation] = []
    outcome = report.outcome
    if outcome is not None and outcome.error is not None:
        step = plan.steps[outcome.failed_step] if outcome.failed_step is not None else None
        blamed = _blamed(step, outcome.error)
        for key, message in blamed or [(None, str(outcome.error))]:
            file = workspace_path(files.get(key)) if isinstance(key, ObjectKey) else None
            text = f"{key}: {message}" if key is not None else message
            out.append(Annotation(text, title=title, file=file or env_file))
    rollback = report.rollback_outcome
    if rollback is not None and rollback.error is not None:
        out.append(Annotation(f"rollback did not complete: {rollback.error}", title=title, file=env_file))
    out += [Annotation(f"left: {p}", title=title, file=env_file) for p in report.problems]
    return out


def _blamed(step: Step | None, error: BaseException) -> list[tuple[ObjectKey | None, str]]:
    """(object key or None, message) for each object the failed step or its error names."""
    from promote.factory import ObjectKey
    from promote.plan.steps import DeleteObject, Deploy, RunPipeline, StartTrigger, StopTrigger

    details = getattr(error, "details", None) or []
    keyed = [(d.key, f"{d.code}: {d.message.rstrip()}") for d in details if getattr(d, "key", None) is not None]
    if keyed:
        return keyed
    target = _key_of_arm_id(getattr(error, "target", None))  # ADF's errors name the object's ARM id
    if target is not None:
        return [(target, str(error))]
    if isinstance(step, RunPipeline):
        return [(ObjectKey("pipelines", step.pipeline), str(error))]
    if isinstance(step, (StopTrigger, StartTrigger)):
        return [(ObjectKey("triggers", step.name), str(error))]
    if isinstance(step, DeleteObject):
        return [(step.key, str(error))]
    if isinstance(step, Deploy):
        if len(step.writes) == 1:
            return [(step.writes[0].key, str(error))]
        names = ", ".join(str(w.key) for w in step.writes[:6]) + (" ..." if len(step.writes) > 6 else "")
        return [(None, f"deployment {step.name} ({names}): {error}")]
    return []


def _key_of_arm_id(arm_id: object) -> ObjectKey | None:
    """`.../factories/<factory>/<type>/<name>` → the object's key; None for anything else."""
    from promote.factory import OBJECT_TYPES, ObjectKey

    if not isinstance(arm_id, str):
        return None
    match = re.search(r"/factories/[^/]+/(.+)$", arm_id, re.IGNORECASE)
    parts = match.group(1).split("/") if match else []
    if len(parts) == 2 and parts[0].lower() in OBJECT_TYPES:
        return ObjectKey(OBJECT_TYPES[parts[0].lower()], parts[1])
    if len(parts) == 4 and f"{parts[0]}/{parts[2]}".lower() in OBJECT_TYPES:
        return ObjectKey(OBJECT_TYPES[f"{parts[0]}/{parts[2]}".lower()], f"{parts[1]}/{parts[3]}")
    return None


def _template_files(plan: Plan) -> Mapping[ObjectKey, str]:
    """Each object of the plan's commit → the template file holding it (`REF:path`), as the desired state says."""
    try:
        from promote.desired import load_env, load_side

        env = load_env(plan.environment)
        side = load_side(plan.commit, env=env)
        return {key: obj.file for key, obj in side.factory.objects.items()}
    except Exception as exc:  # an annotation without a file is still an annotation
        print(f"warning: could not find the template files of {plan.commit[:8]}: {exc}", file=sys.stderr)
        return {}


def _count(n: int, noun: str) -> str:
    from promote.render import counted

    return counted(n, noun)


def _md(text: str) -> str:
    """Plain text made inert for a markdown list item."""
    return "".join("\\" + c if c in "\\`*_[]<>|#" else c for c in text).replace("\n", " ")
