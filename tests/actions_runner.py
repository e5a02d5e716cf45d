"""A small stand-in for GitHub's runner: executes this project's workflow files in a test, as GitHub would.

What it does as GitHub does: jobs in `needs` order with their `if` (evaluated before the matrix is expanded, so
without `matrix`), `strategy.matrix` (axes, `include`, or a `fromJSON(...)` expression), `environment` (whose
variables become the `vars` context and whose secrets join the `secrets` context), `env`, `outputs` and
`permissions`; `run` steps through bash (`bash --noprofile --norc -eo pipefail` for `shell: bash`, `bash -e` by
default) in the job's workspace, with GitHub's variables and files: GITHUB_SHA, GITHUB_REF, GITHUB_WORKSPACE,
RUNNER_TEMP, GITHUB_STEP_SUMMARY, GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH (a fresh file per step, read back after
it), and ACTIONS_ID_TOKEN_REQUEST_* when the job may ask for an ID token; `${{ ... }}` expressions in every place
the workflows use them; step `if` with the status functions; `::error` workflow commands collected as
annotations.

Reusable workflows (`jobs.<id>.uses`): `./.github/workflows/x.yml` is read from the caller's commit,
`owner/repo/.github/workflows/x.yml@ref` from the repository the test maps that name to (`repositories`); the
called workflow's jobs run with its `inputs` (typed, defaults, required), the caller's `github` context, the
secrets the caller passes (`inherit` or by name), the caller job's permissions as a ceiling (a called job that asks
for more is an error, as on GitHub), and `job.workflow_repository` / `job.workflow_sha` naming the called file's
repository and commit. Their runs are keyed `caller/called`.

Composite actions (`runs.using: composite`): `uses: ./path` from the workspace, `owner/repo@ref` from a mapped
repository; their inputs (defaults, unknown ones refused), `github.action_path`, their own `steps` context, `run`
steps that must name a shell, nested `uses`, and `outputs`. Their steps are recorded in the job as
`<action step> / <inner step>`.

GitHub's environment rules, when the test gives them: `branch_policy(environment, branch)` refuses a job whose
environment does not allow the run's branch (a pull request's head branch), with GitHub's message, before any
step runs; a job naming an environment in `reviewed` waits for `approve(job, run so far)`, which sees what the
reviewers would see at that moment.

Actions are not run; the five that matter are emulated: `actions/checkout` (a clone of the test's repository,
or of a mapped one with `repository:`, at the commit, shallow unless `fetch-depth: 0`, into `path:`; the token
later git commands authenticate with is persisted in the clone's config as checkout does: `token:`, else the
job's GITHUB_TOKEN, unless `persist-credentials: false`), `actions/create-github-app-token` (a token naming the
app, `app_token`), `actions/setup-python` (the test's interpreter on PATH, the test's `tools` wrapped so that
each call is recorded in `WorkflowRun.commands`; `pip` records what it was asked to install instead of
installing it), `actions/upload-artifact` and `actions/download-artifact` (a folder handed from one job to a
later one; by name, or by `pattern` with `merge-multiple`).

Whatever a workflow uses that the stand-in does not know — an action, a context, a property, a function, a
key, a shell — raises `WorkflowError` instead of being skipped: a stand-in that quietly ignores what it does
not understand would let the workflow drift away from what the test shows.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import math
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

WORKFLOW_KEYS = {"name", "run-name", "on", "permissions", "defaults", "env", "jobs", "concurrency"}
CALLER_JOB_KEYS = {"name", "uses", "with", "secrets", "needs", "if", "permissions", "concurrency"}
JOB_KEYS = {
    "name",
    "needs",
    "if",
    "runs-on",
    "timeout-minutes",
    "environment",
    "concurrency",
    "permissions",
    "env",
    "outputs",
    "steps",
    "strategy",
    "defaults",
    "continue-on-error",
}
STEP_KEYS = {
    "name",
    "id",
    "if",
    "uses",
    "with",
    "run",
    "env",
    "shell",
    "working-directory",
    "continue-on-error",
    "timeout-minutes",
}
STATUS_FUNCTIONS = ("success", "failure", "always", "cancelled")
GITHUB_TOKEN = "ghs_runner_test_token"  # the job's own token (secrets.GITHUB_TOKEN, checkout's default)
STEP_TIMEOUT_CAP = 240.0  # seconds: a test never waits for a workflow's own hours-long limits


class WorkflowError(AssertionError):
    """The workflow uses something this stand-in does not know (or uses it wrongly): the test fails."""


def load_workflow(path: Path) -> dict[str, Any]:
    """The workflow file as data. YAML 1.1 reads the key `on` as True; GitHub reads it as `on`."""
    return parse_workflow(path.read_text(), path.name)


def parse_workflow(text: str, name: str) -> dict[str, Any]:
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise WorkflowError(f"{name}: not a workflow")
    if True in data:
        data["on"] = data.pop(True)
    unknown = set(data) - WORKFLOW_KEYS
    if unknown:
        raise WorkflowError(f"{name}: unknown workflow keys {sorted(unknown)}")
    return data


def events(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A workflow's `on:` as {event: its settings or None}."""
    on = spec["on"]
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return dict(on)


# ------------------------------------------------------------------------------------------------ expressions


class Context(dict):
    """A context object: property names are case-insensitive (as in GitHub). `strict`: reading a property it
    does not hold is a WorkflowError (a typo, or something the test did not provide); else it is null, as
    GitHub gives for `vars` that are not set."""

    def __init__(self, name: str, values: Mapping[str, Any] | None = None, *, strict: bool = True) -> None:
        super().__init__({k.lower(): v for k, v in (values or {}).items()})
        self.names = {k.lower(): k for k in (values or {})}  # as written, for toJSON
        self.name = name
        self.strict = strict

    def get_property(self, key: str) -> Any:
        if key.lower() in self:
            return self[key.lower()]
        if self.strict:
            known = ", ".join(sorted(self)) or "nothing"
            raise WorkflowError(f"the workflow reads {self.name}.{key}, which the test does not know ({known})")
        return None


_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>\d+(?:\.\d+)?)|(?P<op>==|!=|<=|>=|&&|\|\||[<>!()\[\].,])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise WorkflowError(f"cannot read the expression {text!r} at {text[pos:]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def truthy(value: Any) -> bool:
    """GitHub's truthiness: false, 0, '', null and NaN are false."""
    if isinstance(value, float) and math.isnan(value):
        return False
    return value not in (None, False, 0, "")


def to_text(value: Any) -> str:
    """How a value is written into the workflow where `${{ }}` stood."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(plain(value), indent=2)
    return str(value)


def plain(value: Any) -> Any:
    """A value as JSON data: contexts with their keys as written (toJSON(secrets) keeps the names' case)."""
    if isinstance(value, Context):
        return {value.names.get(k, k): plain(v) for k, v in value.items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _from_json(text: Any) -> Any:
    try:
        return json.loads(to_text(text))
    except ValueError as exc:
        raise WorkflowError(f"fromJSON of {to_text(text)!r}: {exc}") from None


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip() or 0)
        except ValueError:
            return math.nan
    return math.nan


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    if type(a) is type(b) or (isinstance(a, (int, float)) and isinstance(b, (int, float))):
        return a == b
    return _number(a) == _number(b)


class _Parser:
    """Recursive descent over GitHub's expression grammar, evaluating as it goes."""

    def __init__(self, text: str, contexts: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]]):
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0
        self.contexts = contexts
        self.functions = functions

    def parse(self) -> Any:
        value = self.or_()
        if self.pos != len(self.tokens):
            raise WorkflowError(f"unexpected {self.tokens[self.pos][1]!r} in {self.text!r}")
        return value

    def peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise WorkflowError(f"the expression {self.text!r} ends too early")
        token = self.tokens[self.pos]
        if expected is not None and token[1] != expected:
            raise WorkflowError(f"expected {expected!r} in {self.text!r}, found {token[1]!r}")
        self.pos += 1
        return token

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == "||":
            self.take()
            right = self.and_()
            value = value if truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.equality()
        while self.peek() == "&&":
            self.take()
            right = self.equality()
            value = right if truthy(value) else value
        return value

    def equality(self) -> Any:
        value = self.comparison()
        while self.peek() in ("==", "!="):
            op = self.take()[1]
            right = self.comparison()
            value = _equal(value, right) if op == "==" else not _equal(value, right)
        return value

    def comparison(self) -> Any:
        value = self.unary()
        while self.peek() in ("<", "<=", ">", ">="):
            op = self.take()[1]
            a, b = _number(value), _number(self.unary())
            value = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        return value

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not truthy(self.unary())
        return self.postfix()

    def postfix(self) -> Any:
        value = self.primary()
        while self.peek() in (".", "["):
            if self.take()[1] == ".":
                kind, name = self.take()
                if kind != "name":
                    raise WorkflowError(f"expected a property name in {self.text!r}, found {name!r}")
                value = self.property(value, name)
            else:
                key = self.or_()
                self.take("]")
                value = self.property(value, to_text(key))
        return value

    def property(self, value: Any, key: str) -> Any:
        if isinstance(value, Context):
            return value.get_property(key)
        if isinstance(value, dict):
            return {k.lower(): v for k, v in value.items()}.get(key.lower())
        if value is None:
            return None
        raise WorkflowError(f"{self.text!r} reads .{key} of a {type(value).__name__}")

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "num":
            return float(text)
        if text == "(":
            value = self.or_()
            self.take(")")
            return value
        if kind != "name":
            raise WorkflowError(f"unexpected {text!r} in {self.text!r}")
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if self.peek() == "(":
            self.take()
            args = []
            while self.peek() != ")":
                args.append(self.or_())
                if self.peek() == ",":
                    self.take()
            self.take(")")
            function = self.functions.get(text.lower())
            if function is None:
                raise WorkflowError(f"the workflow calls {text}(), which the test does not know")
            return function(*args)
        if text.lower() not in self.contexts:
            raise WorkflowError(f"the workflow reads the context {text!r}, which the test does not provide here")
        return self.contexts[text.lower()]


def _format(template: str, *args: Any) -> str:
    return re.sub(r"\{(\d+)\}", lambda m: to_text(args[int(m.group(1))]), template).replace("{{", "{")


BASE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "contains": lambda a, b: (
        any(_equal(x, b) for x in a) if isinstance(a, list) else to_text(b).lower() in to_text(a).lower()
    ),
    "startswith": lambda a, b: to_text(a).lower().startswith(to_text(b).lower()),
    "endswith": lambda a, b: to_text(a).lower().endswith(to_text(b).lower()),
    "format": _format,
    "tojson": lambda v: json.dumps(plain(v), indent=2),
    "fromjson": _from_json,
    "join": lambda a, sep=",": to_text(sep).join(to_text(x) for x in a) if isinstance(a, list) else to_text(a),
}


def evaluate(text: str, contexts: Mapping[str, Any], status: Mapping[str, bool] | None = None) -> Any:
    """The value of one expression (without `${{ }}`). `status`: the values of success() etc. where allowed."""
    functions = dict(BASE_FUNCTIONS)
    for name, value in (status or {}).items():
        functions[name] = lambda value=value: value
    return _Parser(text, {k.lower(): v for k, v in contexts.items()}, functions).parse()


_TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.S)


def substitute(value: Any, contexts: Mapping[str, Any]) -> Any:
    """`${{ ... }}` replaced in a string (a whole-string expression keeps its type); other values as they are."""
    if not isinstance(value, str):
        return value
    whole = _TEMPLATE.fullmatch(value.strip())
    if whole and value.strip() == value and "}}" not in whole.group(1):
        return evaluate(whole.group(1), contexts)
    return _TEMPLATE.sub(lambda m: to_text(evaluate(m.group(1), contexts)), value)


def condition(value: Any, contexts: Mapping[str, Any], status: Mapping[str, bool]) -> bool:
    """An `if:`: with or without `${{ }}`; `success() &&` is implied when it calls no status function."""
    if value is None:
        return status["success"]
    if isinstance(value, bool):
        return value and status["success"]
    text = str(value).strip()
    whole = _TEMPLATE.fullmatch(text)
    if whole:
        text = whole.group(1)
    result = truthy(evaluate(text, contexts, status))
    if not any(re.search(rf"\b{name}\s*\(", text, re.I) for name in STATUS_FUNCTIONS):
        result = result and status["success"]
    return result


# ------------------------------------------------------------------------------------------------ the runner


@dataclass
class StepRun:
    name: str
    outcome: str  # success | failure | skipped
    script: str = ""  # the `run` text after substitution
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)  # a composite action's outputs


@dataclass
class JobRun:
    """One run of one job (one matrix combination). A job that calls a reusable workflow has no steps: its
    result is that of the called jobs, which are recorded as `caller/called`."""

    job_id: str
    name: str
    result: str  # success | failure | skipped
    matrix: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] | None = None
    concurrency: Any = None
    outputs: dict[str, str] = field(default_factory=dict)
    steps: list[StepRun] = field(default_factory=list)
    summary: str = ""
    workspace: Path | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def log(self) -> str:
        return "\n".join(f"--- {s.name} ({s.outcome})\n{s.stdout}{s.stderr}" for s in self.steps)

    @property
    def annotations(self) -> list[dict[str, Any]]:
        """The `::error` / `::warning` / `::notice` commands the steps printed, decoded."""
        out = []
        for step in self.steps:
            for line in (step.stdout + "\n" + step.stderr).splitlines():
                match = re.match(r"^::(error|warning|notice)(?: ([^:]*))?::(.*)$", line)
                if match:
                    props = dict(p.split("=", 1) for p in (match.group(2) or "").split(",") if "=" in p)
                    out.append(
                        {"level": match.group(1), **{k: _unescape(v) for k, v in props.items()}}
                        | {"message": _unescape(match.group(3)), "step": step.name}
                    )
        return out


def _unescape(text: str) -> str:
    for code, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(code, char)
    return text


@dataclass
class WorkflowRun:
    jobs: dict[str, list[JobRun]]
    artifacts: Path
    pip_log: Path
    command_log: Path | None = None

    def job(self, job_id: str) -> JobRun:
        (run,) = self.jobs[job_id]
        return run

    def result(self, job_id: str) -> str:
        return _aggregate([r.result for r in self.jobs[job_id]])

    @property
    def commands(self) -> list[tuple[str, list[str]]]:
        """Every call of a test tool (`promote`), in order: (job key and matrix values, arguments)."""
        if self.command_log is None or not self.command_log.exists():
            return []
        out = []
        for line in self.command_log.read_text().splitlines():
            job, *args = line.split("\t")
            out.append((job, args))
        return out

    def report(self) -> str:
        """Everything that happened, for an assertion message."""
        return "\n".join(
            f"=== {key} {r.matrix or ''}: {r.result}\n{r.log}\n--- summary\n{r.summary}"
            for key, runs in self.jobs.items()
            for r in runs
        )


def _aggregate(results: list[str]) -> str:
    if any(r == "failure" for r in results):
        return "failure"
    if results and all(r == "skipped" for r in results):
        return "skipped"
    return "success"


_LEVELS = {"none": 0, "read": 1, "write": 2}
# What GITHUB_TOKEN may do when a workflow says nothing (the restricted default of new repositories).
DEFAULT_PERMISSIONS = {"contents": "read", "packages": "read", "metadata": "read"}


def _permission(permissions: Any, scope: str) -> int:
    if permissions == "write-all":
        return 2
    if permissions == "read-all":
        return 1
    if isinstance(permissions, dict):
        return _LEVELS[str(permissions.get(scope, "none"))]
    return 0


@dataclass
class _Workflow:
    """One workflow being run: its file, its inputs, and where it comes from (`job.workflow_*`)."""

    name: str  # the file, for messages
    spec: dict[str, Any]
    inputs: Context
    repository: str
    sha: str
    ref: str
    path: str  # inside its repository
    prefix: str  # "" at the top; "caller/" for a called workflow's jobs
    secrets: dict[str, str]  # what its jobs get before their environment's: the repository's, or the caller's
    ceiling: Any = None  # the caller job's permissions (None at the top)
    jobs: dict[str, list[JobRun]] = field(default_factory=dict)


@dataclass
class _JobState:
    """What the steps of one job share while it runs (composite actions' steps included)."""

    job: JobRun
    workflow: _Workflow
    job_id: str
    key: str  # the job's key in the run, with its matrix values (for the command log)
    root: Path
    workspace: Path
    temp: Path
    files: Path
    job_env: dict[str, str]
    defaults: dict[str, Any]
    id_token: bool
    timeout: float
    file_env: dict[str, str] = field(default_factory=dict)
    paths: list[str] = field(default_factory=list)
    counter: int = 0


class Runner:
    """Runs one workflow file for one event against `origin`, a git repository standing for GitHub's copy.

    `vars`: repository variables; `environment_vars`: each GitHub environment's own (they win in its jobs);
    `secrets` / `environment_secrets` likewise. `base_env`: the runner machine's environment (PATH, HOME, what a
    self-hosted runner would add). `repositories`: other repositories by `owner/name` (reusable workflows,
    actions and checkouts name them). `event`: the event's payload (`github.event`), e.g. a push's `before`.
    `branch_policy`, `reviewed`, `approve`: GitHub environments' deployment branches and required reviewers.
    """

    def __init__(
        self,
        workflow: Path,
        *,
        origin: Path,
        work: Path,
        event_name: str,
        sha: str,
        ref: str,
        inputs: Mapping[str, Any] | None = None,
        vars: Mapping[str, str] | None = None,
        environment_vars: Mapping[str, Mapping[str, str]] | None = None,
        secrets: Mapping[str, str] | None = None,
        environment_secrets: Mapping[str, Mapping[str, str]] | None = None,
        base_env: Mapping[str, str] | None = None,
        tools: Mapping[str, str] | None = None,
        repository: str = "example/adf-factory",
        repositories: Mapping[str, Path] | None = None,
        event: Mapping[str, Any] | None = None,
        head_ref: str = "",
        branch_policy: Callable[[str, str], bool] | None = None,
        reviewed: Sequence[str] = (),
        approve: Callable[[JobRun, WorkflowRun], bool] | None = None,
    ) -> None:
        self.path = workflow
        self.spec = load_workflow(workflow)
        self.origin = origin
        self.work = work
        self.event_name = event_name
        self.sha = sha
        self.ref = ref
        self.head_ref = head_ref
        self.vars = dict(vars or {})
        self.environment_vars = {k: dict(v) for k, v in (environment_vars or {}).items()}
        self.secrets = dict(secrets or {})
        self.environment_secrets = {k: dict(v) for k, v in (environment_secrets or {}).items()}
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.tools = dict(tools or {})
        self.repository = repository
        self.repositories = {k.lower(): Path(v) for k, v in (repositories or {}).items()}
        self.event = {"before": "0" * 40, "after": sha, "ref": ref} if event_name == "push" else {}
        self.event.update(event or {})
        self.branch_policy = branch_policy
        self.reviewed = set(reviewed)
        self.approve = approve
        self.artifacts = work / "artifacts"
        self.pip_log = work / "pip.log"
        self.command_log = work / "commands.log"
        self.jobs: dict[str, list[JobRun]] = {}
        if event_name not in events(self.spec):
            raise WorkflowError(f"{workflow.name} does not run on {event_name} (it runs on {list(events(self.spec))})")
        path = workflow.resolve()
        try:
            relative = path.relative_to(Path(_git(origin, "rev-parse", "--show-toplevel")).resolve()).as_posix()
        except (ValueError, _StepFailed):
            relative = f".github/workflows/{workflow.name}"
        self.top = _Workflow(
            name=workflow.name,
            spec=self.spec,
            inputs=self._dispatch_inputs(dict(inputs or {})),
            repository=repository,
            sha=sha,
            ref=f"{repository}/{relative}@{ref}",
            path=relative,
            prefix="",
            secrets=self.secrets,
        )

    # -- set-up

    def _dispatch_inputs(self, given: dict[str, Any]) -> Context:
        declared = (events(self.spec).get("workflow_dispatch") or {}).get("inputs", {})
        unknown = set(given) - set(declared)
        if unknown:
            raise WorkflowError(f"inputs {sorted(unknown)} are not declared by the workflow")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            if self.event_name != "workflow_dispatch":
                values[name] = None  # inputs are empty for other events
                continue
            value = given.get(name, spec.get("default", ""))
            if spec.get("type") == "choice" and value not in spec.get("options", []):
                raise WorkflowError(f"input {name}={value!r} is not one of {spec.get('options')}")
            values[name] = value
        return Context("inputs", values)

    # -- the run

    def run(self) -> WorkflowRun:
        self.work.mkdir(parents=True, exist_ok=True)
        self.artifacts.mkdir(exist_ok=True)
        self._run_workflow(self.top)
        return self._snapshot()

    def _snapshot(self) -> WorkflowRun:
        return WorkflowRun(dict(self.jobs), self.artifacts, self.pip_log, self.command_log)

    def _run_workflow(self, workflow: _Workflow) -> None:
        for job_id in self._order(workflow):
            runs = self._job(workflow, job_id, workflow.spec["jobs"][job_id])
            workflow.jobs[job_id] = runs
            self.jobs[workflow.prefix + job_id] = runs

    def _order(self, workflow: _Workflow) -> list[str]:
        jobs = workflow.spec["jobs"]
        order: list[str] = []

        def visit(job_id: str, path: tuple[str, ...]) -> None:
            if job_id in order:
                return
            if job_id in path:
                raise WorkflowError(f"{workflow.name}: needs cycle through {job_id}")
            if job_id not in jobs:
                raise WorkflowError(f"{workflow.name}: needs names an unknown job {job_id}")
            for need in self._needs(jobs[job_id]):
                visit(need, (*path, job_id))
            order.append(job_id)

        for job_id in jobs:
            visit(job_id, ())
        return order

    @staticmethod
    def _needs(spec: Mapping[str, Any]) -> list[str]:
        needs = spec.get("needs", [])
        return [needs] if isinstance(needs, str) else list(needs)

    def _github(self, workflow: _Workflow, job_id: str, workspace: Path) -> Context:
        return Context(
            "github",
            {
                "sha": self.sha,
                "ref": self.ref,
                "ref_name": self.ref.rsplit("/", 1)[-1],
                "head_ref": self.head_ref,
                "base_ref": self.ref.rsplit("/", 1)[-1] if self.event_name == "pull_request" else "",
                "event_name": self.event_name,
                "event": self.event,
                "workspace": str(workspace),
                "repository": self.repository,
                "repository_owner": self.repository.split("/")[0],
                "run_id": "1001",
                "run_number": "1",
                "run_attempt": "1",
                "server_url": "https://github.com",
                "api_url": "https://api.github.com",
                "actor": "adf-publisher",
                "job": job_id,
                "workflow": self.spec.get("name", self.path.name),
                "workflow_ref": self.top.ref,
                "workflow_sha": self.sha,
            },
        )

    def _needs_context(self, workflow: _Workflow, spec: Mapping[str, Any]) -> Context:
        out = {}
        for need in self._needs(spec):
            runs = workflow.jobs[need]
            outputs: dict[str, str] = {}
            for r in runs:
                outputs.update(r.outputs)
            declared = set(outputs) | set((workflow.spec["jobs"][need].get("outputs") or {}).keys())
            out[need] = Context(
                f"needs.{need}",
                {
                    "result": _aggregate([r.result for r in runs]),
                    "outputs": Context(f"needs.{need}.outputs", {k: outputs.get(k, "") for k in declared}),
                },
            )
        return Context("needs", out)

    def _matrices(self, spec: Mapping[str, Any], contexts: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The combinations: list axes (their product) or `include` entries alone, each possibly an expression."""
        matrix = substitute((spec.get("strategy") or {}).get("matrix"), contexts)
        if matrix is None:
            return [{}]
        if not isinstance(matrix, dict) or "exclude" in matrix or ("include" in matrix and len(matrix) > 1):
            raise WorkflowError("a matrix of list axes, or of `include` entries alone, is what the test emulates")
        if "include" in matrix:
            combos = [dict(plain(entry)) for entry in substitute(matrix["include"], contexts)]
        else:
            combos = [{}]
            for axis, values in matrix.items():
                values = substitute(values, contexts)
                if not isinstance(values, list):
                    raise WorkflowError(f"matrix axis {axis} is not a list: {values!r}")
                combos = [{**c, axis: substitute(v, contexts)} for c in combos for v in values]
        if not combos:
            raise WorkflowError("the matrix has no combination: GitHub fails the whole workflow run")
        return combos

    def _status(self, workflow: _Workflow, spec: Mapping[str, Any], needs: Context) -> dict[str, bool]:
        results = [needs.get_property(n)["result"] for n in self._needs(spec)]
        return {
            "success": all(r == "success" for r in results),
            "failure": any(r == "failure" for r in results),
            "always": True,
            "cancelled": False,
        }

    def _job(self, workflow: _Workflow, job_id: str, spec: Mapping[str, Any]) -> list[JobRun]:
        if "uses" in spec:
            return [self._call(workflow, job_id, spec)]
        unknown = set(spec) - JOB_KEYS
        if unknown:
            raise WorkflowError(f"{workflow.name}: job {job_id}: unknown keys {sorted(unknown)}")
        needs = self._needs_context(workflow, spec)
        base = {
            "github": self._github(workflow, job_id, self.work),
            "inputs": workflow.inputs,
            "vars": Context("vars", self.vars, strict=False),
            "needs": needs,
        }
        if not condition(spec.get("if"), base, self._status(workflow, spec, needs)):
            unexpanded = {**base, "matrix": Context("matrix", strict=False)}  # a skipped job's name, as GitHub shows it
            return [JobRun(job_id, to_text(substitute(spec.get("name", job_id), unexpanded)), "skipped")]
        runs = []
        for matrix in self._matrices(spec, base):
            contexts = {**base, "matrix": Context("matrix", matrix)}
            runs.append(self._run_job(workflow, job_id, spec, matrix, contexts))
        return runs

    # -- reusable workflows

    def _call(self, workflow: _Workflow, job_id: str, spec: Mapping[str, Any]) -> JobRun:
        unknown = set(spec) - CALLER_JOB_KEYS
        if unknown:
            raise WorkflowError(f"{workflow.name}: job {job_id} calls a workflow: unknown keys {sorted(unknown)}")
        needs = self._needs_context(workflow, spec)
        contexts = {
            "github": self._github(workflow, job_id, self.work),
            "inputs": workflow.inputs,
            "vars": Context("vars", self.vars, strict=False),
            "needs": needs,
        }
        name = to_text(substitute(spec.get("name", job_id), contexts))
        if not condition(spec.get("if"), contexts, self._status(workflow, spec, needs)):
            return JobRun(job_id, name, "skipped")
        text, repository, sha, ref, path = self._workflow_file(workflow, str(spec["uses"]))
        called = parse_workflow(text, path)
        on = events(called)
        if "workflow_call" not in on:
            raise WorkflowError(f"{path} is called by {job_id} but has no `on: workflow_call`")
        declared = (on["workflow_call"] or {}).get("inputs") or {}
        given = {k: substitute(v, contexts) for k, v in (spec.get("with") or {}).items()}
        unknown = set(given) - set(declared)
        if unknown:
            raise WorkflowError(f"{job_id} gives {path} inputs it does not declare: {sorted(unknown)}")
        inputs: dict[str, Any] = {}
        for input_name, input_spec in declared.items():
            kind = (input_spec or {}).get("type")
            if kind not in ("string", "boolean", "number"):
                raise WorkflowError(f"{path}: input {input_name} needs a type: string, boolean or number")
            if input_name not in given:
                if (input_spec or {}).get("required"):
                    raise WorkflowError(f"{job_id} does not give {path} its required input {input_name}")
                value = input_spec.get("default", {"string": "", "boolean": False, "number": 0}[kind])
            else:
                value = given[input_name]
            if kind == "boolean" and not isinstance(value, bool):
                if to_text(value) not in ("true", "false"):
                    raise WorkflowError(f"{path}: input {input_name} is a boolean, got {value!r}")
                value = to_text(value) == "true"
            elif kind == "number":
                value = _number(value)
            elif kind == "string" and not isinstance(value, str):
                if isinstance(value, (dict, list)):
                    raise WorkflowError(f"{path}: input {input_name} is a string, got {value!r}")
                value = to_text(value)
            inputs[input_name] = value
        passed = spec.get("secrets")
        if passed == "inherit":
            secrets = dict(workflow.secrets)
        else:
            secrets = {k: to_text(substitute(v, contexts)) for k, v in (passed or {}).items()}
        ceiling = spec.get("permissions", workflow.spec.get("permissions", DEFAULT_PERMISSIONS))
        if workflow.ceiling is not None:
            ceiling = workflow.ceiling  # a nested call keeps the outer ceiling (no nesting is used here)
        child = _Workflow(
            name=path,
            spec=called,
            inputs=Context("inputs", inputs),
            repository=repository,
            sha=sha,
            ref=ref,
            path=path,
            prefix=f"{workflow.prefix}{job_id}/",
            secrets=secrets,
            ceiling=ceiling,
        )
        self._run_workflow(child)
        results = [r.result for runs in child.jobs.values() for r in runs]
        result = "failure" if "failure" in results else "success"
        jobs_context = Context(
            "jobs",
            {
                k: {"result": _aggregate([r.result for r in runs]), "outputs": _merged_outputs(runs)}
                for k, runs in child.jobs.items()
            },
        )
        outputs = {
            k: to_text(substitute((v or {}).get("value"), {"jobs": jobs_context}))
            for k, v in ((on["workflow_call"] or {}).get("outputs") or {}).items()
        }
        return JobRun(job_id, name, result, outputs=outputs)

    def _workflow_file(self, workflow: _Workflow, uses: str) -> tuple[str, str, str, str, str]:
        """(text, repository, commit, `owner/repo/path@ref`, path) of a called workflow."""
        if uses.startswith("./"):
            if workflow.prefix:
                raise WorkflowError(f"{workflow.name} calls {uses}: nested local calls are not emulated")
            path = uses[2:]
            text = _git(self.origin, "show", f"{self.sha}:{path}") + "\n"
            return text, self.repository, self.sha, f"{self.repository}/{path}@{self.ref}", path
        target, _, version = uses.partition("@")
        parts = target.split("/")
        if len(parts) < 3 or not version:
            raise WorkflowError(f"cannot read the reusable workflow reference {uses!r}")
        repository, path = "/".join(parts[:2]), "/".join(parts[2:])
        origin = self._repository(repository)
        sha = _git(origin, "rev-parse", "--verify", f"{version}^{{commit}}")
        text = _git(origin, "show", f"{sha}:{path}") + "\n"
        return text, repository, sha, uses, path

    def _repository(self, name: str) -> Path:
        if name.lower() == self.repository.lower():
            return self.origin
        if name.lower() not in self.repositories:
            raise WorkflowError(f"the workflow uses the repository {name}, which the test does not provide")
        return self.repositories[name.lower()]

    # -- one job

    def _run_job(
        self, workflow: _Workflow, job_id: str, spec: Mapping[str, Any], matrix: dict[str, Any], contexts: dict
    ) -> JobRun:
        suffix = "-" + "-".join(to_text(v) or "_" for v in matrix.values()) if matrix else ""
        root = self.work / f"{workflow.prefix.replace('/', '.')}{job_id}{suffix}"
        workspace, temp, files = root / "workspace", root / "temp", root / "files"
        for d in (workspace, temp, files):
            d.mkdir(parents=True)
        contexts = {**contexts, "github": self._github(workflow, job_id, workspace)}

        environment = spec.get("environment")
        if isinstance(environment, str):
            environment = {"name": environment}
        secrets = {**workflow.secrets}
        if environment is not None:
            environment = {k: substitute(v, contexts) for k, v in environment.items()}
            unknown = set(environment) - {"name", "url", "deployment"}
            if unknown:
                raise WorkflowError(f"job {job_id}: unknown environment keys {sorted(unknown)}")
            name = str(environment["name"])
            merged = {**self.vars, **self.environment_vars.get(name, {})}
            contexts["vars"] = Context("vars", merged, strict=False)
            secrets.update(self.environment_secrets.get(name, {}))
        secrets["GITHUB_TOKEN"] = GITHUB_TOKEN
        contexts["secrets"] = Context("secrets", secrets, strict=False)
        contexts["runner"] = Context("runner", {"temp": str(temp), "os": "Linux", "arch": "X64", "name": "test"})
        job_context = Context(
            "job",
            {
                "workflow_repository": workflow.repository,
                "workflow_sha": workflow.sha,
                "workflow_ref": workflow.ref,
                "workflow_file_path": workflow.path,
                "status": "success",
            },
        )
        contexts["job"] = job_context

        job = JobRun(
            job_id,
            to_text(substitute(spec.get("name", job_id), contexts)),
            "success",
            matrix=matrix,
            environment=environment,
            concurrency=_substitute_all(spec.get("concurrency"), contexts),
            workspace=workspace,
        )
        workflow_env = {k: to_text(substitute(v, contexts)) for k, v in (workflow.spec.get("env") or {}).items()}
        contexts["env"] = Context("env", workflow_env, strict=False)
        job_env = {**workflow_env}
        for k, v in (spec.get("env") or {}).items():
            job_env[k] = to_text(substitute(v, contexts))
        contexts["env"] = Context("env", job_env, strict=False)
        job.env = job_env
        defaults = {
            **(workflow.spec.get("defaults") or {}).get("run", {}),
            **(spec.get("defaults") or {}).get("run", {}),
        }
        permissions = spec.get("permissions", workflow.spec.get("permissions"))
        if workflow.ceiling is not None:
            for scope in ("id-token", "contents", "pull-requests", "issues", "actions"):
                if _permission(permissions, scope) > _permission(workflow.ceiling, scope):
                    raise WorkflowError(
                        f"{workflow.name}: job {job_id} asks for {scope}: {permissions.get(scope)}, more than its "
                        f"caller allows ({workflow.ceiling}); GitHub refuses the workflow"
                    )
            if permissions is None:
                permissions = workflow.ceiling
        id_token = _permission(permissions, "id-token") == 2
        timeout = min(float(spec.get("timeout-minutes", 360)) * 60, STEP_TIMEOUT_CAP)
        key = workflow.prefix + job_id + ("(" + ",".join(to_text(v) for v in matrix.values()) + ")" if matrix else "")
        state = _JobState(
            job, workflow, job_id, key, root, workspace, temp, files, job_env, defaults, id_token, timeout
        )

        refusal = self._environment_refusal(environment)
        if refusal is not None:
            job.steps.append(StepRun("environment protection rules", "failure", stderr=refusal + "\n"))
            job.result = "failure"
            return job
        if environment is not None and str(environment["name"]) in self.reviewed:
            if self.approve is None:
                raise WorkflowError(f"job {job_id} waits for the reviewers of {environment['name']}: give approve=")
            if not self.approve(job, self._snapshot()):
                job.steps.append(StepRun("review", "failure", stderr="the deployment was rejected\n"))
                job.result = "failure"
                return job

        failed, steps_context = self._steps(state, spec.get("steps") or [], contexts, outer_failed=False)
        job.result = "failure" if failed else "success"
        if not failed:
            contexts = {**contexts, "env": Context("env", job_env, strict=False), "steps": steps_context}
            job.outputs = {k: to_text(substitute(v, contexts)) for k, v in (spec.get("outputs") or {}).items()}
        return job

    def _environment_refusal(self, environment: Mapping[str, Any] | None) -> str | None:
        """GitHub's refusal of a job whose environment does not allow the run's branch (deployment or not)."""
        if environment is None or self.branch_policy is None:
            return None
        branch = self.head_ref if self.event_name == "pull_request" else self.ref.removeprefix("refs/heads/")
        name = str(environment["name"])
        if self.branch_policy(name, branch):
            return None
        return f'Branch "{branch}" is not allowed to deploy to {name} due to environment protection rules.'

    def _steps(
        self,
        state: _JobState,
        steps: list[Mapping[str, Any]],
        contexts: Mapping[str, Any],
        *,
        outer_failed: bool,
        composite: str | None = None,
        action_env: Mapping[str, str] | None = None,
    ) -> tuple[bool, Context]:
        """Run a list of steps (a job's, or a composite action's); (whether one failed, their `steps` context)."""
        steps_context = Context("steps", {})
        contexts = {**contexts, "steps": steps_context}
        failed = False
        for index, step in enumerate(steps):
            where = f"job {state.job_id}" + (f", action {composite}" if composite else "") + f", step {index + 1}"
            unknown = set(step) - STEP_KEYS
            if unknown:
                raise WorkflowError(f"{where}: unknown keys {sorted(unknown)}")
            if ("uses" in step) == ("run" in step):
                raise WorkflowError(f"{where}: give exactly one of uses and run")
            if composite and "run" in step and "shell" not in step:
                raise WorkflowError(f"{where}: a composite action's run step must name its shell")
            now_failed = outer_failed or failed
            contexts["job"]["status"] = "failure" if now_failed else "success"
            env_now = {**state.job_env, **state.file_env, **(action_env or {})}
            contexts["env"] = Context("env", env_now, strict=False)
            status = {"success": not now_failed, "failure": now_failed, "always": True, "cancelled": False}
            label = step.get("name") or step.get("uses") or step["run"].split("\n")[0]
            name = to_text(substitute(label, contexts))
            if composite:
                name = f"{composite} / {name}"
            if not condition(step.get("if"), contexts, status):
                state.job.steps.append(StepRun(name, "skipped"))
                if step.get("id"):
                    steps_context[step["id"].lower()] = Context(
                        f"steps.{step['id']}",
                        {"outcome": "skipped", "conclusion": "skipped", "outputs": Context("outputs", strict=False)},
                    )
                continue
            step_env = {**env_now}
            for k, v in (step.get("env") or {}).items():
                step_env[k] = to_text(substitute(v, contexts))
            contexts["env"] = Context("env", step_env, strict=False)
            state.counter += 1
            kinds = ("output", "env", "path", "summary")
            step_files = {kind: state.files / f"{state.counter:03d}_{kind}" for kind in kinds}
            for path in step_files.values():
                path.touch()
            process_env = self._process_env(state, step_files, step_env, contexts)

            if "uses" in step:
                record = self._uses(state, step, contexts, step_env, name, now_failed)
                record.name = name
            else:
                record = self._run(state, step, contexts, process_env, name)
            ok = record.outcome == "success"
            if not ok and truthy(substitute(step.get("continue-on-error", False), contexts)):
                ok = True
            state.job.steps.append(record)
            state.job.summary += step_files["summary"].read_text()
            if step.get("id"):
                outputs = {**record.outputs, **_read_kv(step_files["output"])}
                steps_context[step["id"].lower()] = Context(
                    f"steps.{step['id']}",
                    {
                        "outcome": record.outcome,
                        "conclusion": "success" if ok else "failure",
                        "outputs": Context(f"steps.{step['id']}.outputs", outputs, strict=False),
                    },
                )
            state.file_env.update(_read_kv(step_files["env"]))
            state.paths += [line for line in step_files["path"].read_text().splitlines() if line.strip()]
            if not ok:
                failed = True
        return failed, steps_context

    def _process_env(
        self, state: _JobState, step_files: Mapping[str, Path], step_env: Mapping[str, str], contexts: Mapping
    ) -> dict[str, str]:
        env = {
            **self.base_env,
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_SHA": self.sha,
            "GITHUB_REF": self.ref,
            "GITHUB_REF_NAME": self.ref.rsplit("/", 1)[-1],
            "GITHUB_HEAD_REF": self.head_ref,
            "GITHUB_EVENT_NAME": self.event_name,
            "GITHUB_WORKSPACE": str(state.workspace),
            "GITHUB_REPOSITORY": self.repository,
            "GITHUB_RUN_ID": "1001",
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_JOB": state.job_id,
            "GITHUB_WORKFLOW": str(self.spec.get("name", self.path.name)),
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_API_URL": "https://api.github.com",
            "RUNNER_TEMP": str(state.temp),
            "RUNNER_OS": "Linux",
            "RUNNER_ARCH": "X64",
            "GITHUB_OUTPUT": str(step_files["output"]),
            "GITHUB_ENV": str(step_files["env"]),
            "GITHUB_PATH": str(step_files["path"]),
            "GITHUB_STEP_SUMMARY": str(step_files["summary"]),
            "RUNNER_TEST_JOB": state.key,
            **step_env,
        }
        action_path = contexts["github"].get("action_path")
        if action_path:
            env["GITHUB_ACTION_PATH"] = str(action_path)
        if state.id_token:  # a dead local address: a `local` environment must never ask for a token
            env["ACTIONS_ID_TOKEN_REQUEST_URL"] = "http://127.0.0.1:9/_apis/idtoken?api-version=2.0"
            env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "runner-request-token"
        env["PATH"] = os.pathsep.join([*reversed(state.paths), self.base_env.get("PATH", os.defpath)])
        return env

    def _run(
        self, state: _JobState, step: Mapping[str, Any], contexts: Mapping[str, Any], env: dict[str, str], name: str
    ) -> StepRun:
        script = substitute(step["run"], contexts)
        shell = step.get("shell", state.defaults.get("shell"))
        file = state.temp / f"step{state.counter:03d}.sh"
        file.write_text(script)
        if shell == "bash":
            command = ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(file)]
        elif shell is None:
            command = ["bash", "-e", str(file)]
        elif shell == "sh":
            command = ["sh", "-e", str(file)]
        else:
            raise WorkflowError(f"step {name}: shell {shell!r} is not emulated")
        directory = substitute(step.get("working-directory", state.defaults.get("working-directory", ".")), contexts)
        cwd = state.workspace / to_text(directory)
        timeout = state.timeout
        if "timeout-minutes" in step:
            timeout = min(float(step["timeout-minutes"]) * 60, timeout)
        done = subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
        outcome = "success" if done.returncode == 0 else "failure"
        return StepRun(name, outcome, script, done.returncode, done.stdout, done.stderr)

    # -- actions: the emulated ones, and composite actions

    def _uses(
        self,
        state: _JobState,
        step: Mapping[str, Any],
        contexts: Mapping[str, Any],
        step_env: Mapping[str, str],
        name: str,
        failed: bool,
    ) -> StepRun:
        uses = str(step["uses"])
        action, _, version = uses.partition("@")
        given = {k: substitute(v, contexts) for k, v in (step.get("with") or {}).items()}
        if action.startswith("./"):
            return self._composite(state, state.workspace / action[2:], given, contexts, step, name, failed)
        emulated: dict[str, tuple[set[str], Callable[[], str | tuple[str, dict[str, str]]]]] = {
            "actions/checkout": (
                {"fetch-depth", "persist-credentials", "ref", "repository", "path", "token"},
                lambda: self._checkout(given, state.workspace),
            ),
            "actions/create-github-app-token": (
                {"client-id", "app-id", "private-key", "owner", "repositories"},
                lambda: self._app_token(given),
            ),
            "actions/setup-python": ({"python-version"}, lambda: self._setup_python(state)),
            "actions/upload-artifact": (
                {"name", "path", "if-no-files-found", "retention-days", "include-hidden-files", "overwrite"},
                lambda: self._upload(given, state.workspace),
            ),
            "actions/download-artifact": (
                {"name", "path", "pattern", "merge-multiple"},
                lambda: self._download(given, state.workspace),
            ),
        }
        if action in emulated and version:
            known, do = emulated[action]
            unknown = set(given) - known
            if unknown:
                raise WorkflowError(f"job {state.job_id}: {action} does not take {sorted(unknown)}")
            try:
                done = do()
            except _StepFailed as exc:
                return StepRun(action, "failure", stderr=f"{exc}\n")
            detail, outputs = done if isinstance(done, tuple) else (done, {})
            return StepRun(action, "success", stdout=f"{detail}\n", outputs=outputs)
        parts = action.split("/")
        if version and len(parts) >= 2 and "/".join(parts[:2]).lower() in self.repositories:
            origin = self.repositories["/".join(parts[:2]).lower()]
            folder = state.root / "_actions" / parts[0] / parts[1] / version.replace("/", "_")
            if not folder.exists():
                sha = _git(origin, "rev-parse", "--verify", f"{version}^{{commit}}")
                subprocess.run(["git", "clone", "-q", "--no-checkout", str(origin), str(folder)], check=True)
                _git(folder, "checkout", "-q", "--detach", sha)
            return self._composite(state, folder.joinpath(*parts[2:]), given, contexts, step, name, failed)
        raise WorkflowError(f"job {state.job_id} uses {uses}, which the test does not emulate")

    def _composite(
        self,
        state: _JobState,
        folder: Path,
        given: Mapping[str, Any],
        contexts: Mapping[str, Any],
        step: Mapping[str, Any],
        name: str,
        failed: bool,
    ) -> StepRun:
        file = next((folder / n for n in ("action.yml", "action.yaml") if (folder / n).is_file()), None)
        if file is None:
            return StepRun(name, "failure", stderr=f"Can't find 'action.yml' under '{folder}'\n")
        meta = yaml.safe_load(file.read_text())
        runs = meta.get("runs") or {}
        if runs.get("using") != "composite":
            raise WorkflowError(f"{file}: only composite actions are emulated")
        declared = meta.get("inputs") or {}
        unknown = set(given) - set(declared)
        if unknown:
            raise WorkflowError(f"job {state.job_id}: the action {folder.name} does not take {sorted(unknown)}")
        github = Context("github", {**contexts["github"], "action_path": str(folder)})
        outer = {"github": github, "runner": contexts["runner"], "job": contexts["job"], "env": contexts["env"]}
        values = {
            k: to_text(given[k] if k in given else substitute((spec or {}).get("default", ""), outer))
            for k, spec in declared.items()
        }
        inner = {**outer, "inputs": Context("inputs", values)}
        action_env = {k: to_text(substitute(v, contexts)) for k, v in (step.get("env") or {}).items()}
        inner_failed, steps_context = self._steps(
            state, runs.get("steps") or [], inner, outer_failed=failed, composite=name, action_env=action_env
        )
        inner = {**inner, "steps": steps_context}
        declared_outputs = (meta.get("outputs") or {}).items()
        outputs = {k: to_text(substitute((v or {}).get("value"), inner)) for k, v in declared_outputs}
        return StepRun(name, "failure" if inner_failed else "success", outputs=outputs)

    def _checkout(self, given: Mapping[str, Any], workspace: Path) -> str:
        if "token" in given and not to_text(given["token"]):  # given, even empty, it replaces the default
            raise _StepFailed("Input required and not supplied: token")
        repository = to_text(given.get("repository")) or self.repository
        origin = self._repository(repository)
        ref = to_text(given.get("ref")) or (self.sha if origin == self.origin else "HEAD")
        sha = _git(origin, "rev-parse", "--verify", f"{ref}^{{commit}}")
        target = workspace / to_text(given.get("path") or ".")
        if target != workspace and target.exists():
            raise _StepFailed(f"{target} exists already")
        depth = int(given.get("fetch-depth", 1))
        if depth == 0:
            subprocess.run(["git", "clone", "-q", str(origin), str(target)], check=True)
            _git(target, "checkout", "-q", "--detach", sha)
        else:  # a shallow fetch of the commit itself, as GitHub's checkout does
            target.mkdir(parents=True, exist_ok=True)
            _git(origin, "config", "uploadpack.allowAnySHA1InWant", "true")
            _git(target, "init", "-q")
            _git(target, "remote", "add", "origin", origin.as_uri())
            _git(target, "fetch", "-q", f"--depth={depth}", "origin", sha)
            _git(target, "checkout", "-q", "--detach", "FETCH_HEAD")
        if to_text(given.get("persist-credentials", "true")).lower() != "false":
            # as actions/checkout does: later git commands of the job (a push) authenticate with this token,
            # the job's GITHUB_TOKEN unless `token:` names another
            token = to_text(given.get("token")) or GITHUB_TOKEN
            _git(target, "config", "--local", CHECKOUT_AUTH_KEY, checkout_auth_header(token))
        return f"checked out {repository} {sha} (fetch-depth {depth}) into {target}"

    def _app_token(self, given: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
        """A GitHub App's installation token: which app it is stands in for the token (`app_token`)."""
        app = to_text(given.get("client-id")) or to_text(given.get("app-id"))
        if not app or not to_text(given.get("private-key")):
            raise _StepFailed("Input required and not supplied: " + ("client-id" if not app else "private-key"))
        return f"created an installation token of app {app}", {"token": app_token(app)}

    def _setup_python(self, state: _JobState) -> str:
        """The test's interpreter as `python`; the test's tools (the package under test) through a wrapper that
        records each call; `pip` writes down what it was asked to install (installing would replace the package
        under test)."""
        bin_dir = state.root / "python" / "bin"
        if not bin_dir.exists():
            bin_dir.mkdir(parents=True)
            for name in ("python", "python3"):
                (bin_dir / name).symlink_to(sys.executable)
            for name, target in self.tools.items():
                wrapper = bin_dir / name
                record = "{ printf '%s' \"$RUNNER_TEST_JOB\"; printf '\\t%s' \"$@\"; printf '\\n'; }"
                wrapper.write_text(f"#!/bin/bash\n{record} >> '{self.command_log}'\nexec '{target}' \"$@\"\n")
                wrapper.chmod(0o755)
            pip = bin_dir / "pip"
            pip.write_text(f'#!/bin/sh\necho "$PWD $*" >> "{self.pip_log}"\n')
            pip.chmod(0o755)
        if str(bin_dir) not in state.paths:
            state.paths.append(str(bin_dir))
        return f"python {sys.version.split()[0]} on PATH"

    def _upload(self, given: Mapping[str, Any], workspace: Path) -> str:
        name = to_text(given.get("name")) or "artifact"
        target = self.artifacts / name
        if target.exists():
            if to_text(given.get("overwrite")).lower() != "true":
                raise _StepFailed(f"an artifact named {name} was already uploaded in this run")
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        source = Path(to_text(given["path"]).strip())
        source = source if source.is_absolute() else workspace / source
        if not source.exists() or (source.is_dir() and not any(source.iterdir())):
            if given.get("if-no-files-found", "warn") == "error":
                raise _StepFailed(f"no files were found with the provided path: {source}")
            return f"no files at {source}: nothing uploaded"
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            target.mkdir()
            shutil.copy2(source, target / source.name)
        return f"uploaded {name}"

    def _download(self, given: Mapping[str, Any], workspace: Path) -> str:
        name = to_text(given.get("name"))
        pattern = to_text(given.get("pattern"))
        path = Path(to_text(given.get("path")) or ".")
        target = path if path.is_absolute() else workspace / path
        if name:
            source = self.artifacts / name
            if not source.is_dir():
                raise _StepFailed(f"artifact not found: {name}")
            shutil.copytree(source, target, dirs_exist_ok=True)
            return f"downloaded {name} to {target}"
        if not pattern:
            raise WorkflowError("download-artifact without a name or a pattern (all artifacts) is not emulated")
        found = sorted(p for p in self.artifacts.iterdir() if fnmatch.fnmatchcase(p.name, pattern))
        merge = to_text(given.get("merge-multiple")).lower() == "true"
        for source in found:
            shutil.copytree(source, target if merge else target / source.name, dirs_exist_ok=True)
        target.mkdir(parents=True, exist_ok=True)
        return f"downloaded {len(found)} artifact(s) matching {pattern} to {target}"


CHECKOUT_AUTH_KEY = "http.https://github.com/.extraheader"


def checkout_auth_header(token: str) -> str:
    """What actions/checkout persists in the clone's git config for `token` (unless persist-credentials: false)."""
    return "AUTHORIZATION: basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()


def app_token(app: str) -> str:
    """The installation token the stand-in's actions/create-github-app-token gives app `app` (its client id)."""
    return f"ghs_app_{app}_installation_token"


class _StepFailed(Exception):
    """An emulated action failed the way the real one would (the step fails, the test goes on)."""


def _merged_outputs(runs: list[JobRun]) -> dict[str, str]:
    out: dict[str, str] = {}
    for r in runs:
        out.update(r.outputs)
    return out


def _substitute_all(value: Any, contexts: Mapping[str, Any]) -> Any:
    if isinstance(value, dict):
        return {k: _substitute_all(v, contexts) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute_all(v, contexts) for v in value]
    return substitute(value, contexts)


def _read_kv(path: Path) -> dict[str, str]:
    """GITHUB_OUTPUT / GITHUB_ENV: `name=value` lines and `name<<DELIMITER` ... `DELIMITER` blocks."""
    out: dict[str, str] = {}
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            block = []
            i += 1
            while i < len(lines) and lines[i] != delimiter:
                block.append(lines[i])
                i += 1
            if i == len(lines):
                raise WorkflowError(f"{path.name}: {name} has no closing {delimiter}")
            out[name] = "\n".join(block)
        elif "=" in line:
            name, value = line.split("=", 1)
            out[name] = value
        elif line.strip():
            raise WorkflowError(f"{path.name}: cannot read {line!r}")
        i += 1
    return out


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise _StepFailed(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()
