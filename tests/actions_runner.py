"""A small stand-in for GitHub's runner: executes this project's workflow files in a test, as GitHub would.

What it does as GitHub does: jobs in `needs` order with their `if`, `strategy.matrix`, `environment` (whose
variables become the `vars` context), `env` and `outputs`; `run` steps through bash (`bash --noprofile --norc
-eo pipefail` for `shell: bash`, `bash -e` by default) in the job's workspace, with GitHub's variables and
files: GITHUB_SHA, GITHUB_REF, GITHUB_WORKSPACE, RUNNER_TEMP, GITHUB_STEP_SUMMARY, GITHUB_OUTPUT, GITHUB_ENV,
GITHUB_PATH (a fresh file per step, read back after it), and ACTIONS_ID_TOKEN_REQUEST_* when the job may ask
for an ID token; `${{ ... }}` expressions in every place the workflows use them; step `if` with the status
functions; `::error` workflow commands collected as annotations.

Actions are not run; the four that matter are emulated: `actions/checkout` (a clone of the test's repository
at the commit, shallow unless `fetch-depth: 0`), `actions/setup-python` (the test's interpreter and `promote`
on PATH; `pip` records what it was asked to install instead of installing it), `actions/upload-artifact` and
`actions/download-artifact` (a folder handed from one job to a later one).

Whatever a workflow uses that the stand-in does not know — an action, a context, a property, a function, a
key, a shell — raises `WorkflowError` instead of being skipped: a stand-in that quietly ignores what it does
not understand would let the workflow drift away from what the test shows.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

WORKFLOW_KEYS = {"name", "run-name", "on", "permissions", "defaults", "env", "jobs", "concurrency"}
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
STEP_TIMEOUT_CAP = 240.0  # seconds: a test never waits for a workflow's own hours-long limits


class WorkflowError(AssertionError):
    """The workflow uses something this stand-in does not know (or uses it wrongly): the test fails."""


def load_workflow(path: Path) -> dict[str, Any]:
    """The workflow file as data. YAML 1.1 reads the key `on` as True; GitHub reads it as `on`."""
    data = yaml.safe_load(path.read_text())
    if True in data:
        data["on"] = data.pop(True)
    unknown = set(data) - WORKFLOW_KEYS
    if unknown:
        raise WorkflowError(f"{path.name}: unknown workflow keys {sorted(unknown)}")
    return data


# ------------------------------------------------------------------------------------------------ expressions


class Context(dict):
    """A context object: property names are case-insensitive (as in GitHub). `strict`: reading a property it
    does not hold is a WorkflowError (a typo, or something the test did not provide); else it is null, as
    GitHub gives for `vars` that are not set."""

    def __init__(self, name: str, values: Mapping[str, Any] | None = None, *, strict: bool = True) -> None:
        super().__init__({k.lower(): v for k, v in (values or {}).items()})
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
        return json.dumps(value, indent=2)
    return str(value)


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
    "tojson": lambda v: json.dumps(v, indent=2),
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
    if whole and value.strip() == value:
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


@dataclass
class JobRun:
    """One run of one job (one matrix combination)."""

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

    def job(self, job_id: str) -> JobRun:
        (run,) = self.jobs[job_id]
        return run

    def result(self, job_id: str) -> str:
        return _aggregate([r.result for r in self.jobs[job_id]])

    def report(self) -> str:
        """Everything that happened, for an assertion message."""
        return "\n".join(
            f"=== {r.job_id} {r.matrix or ''}: {r.result}\n{r.log}\n--- summary\n{r.summary}"
            for runs in self.jobs.values()
            for r in runs
        )


def _aggregate(results: list[str]) -> str:
    if any(r == "failure" for r in results):
        return "failure"
    if results and all(r == "skipped" for r in results):
        return "skipped"
    return "success"


class Runner:
    """Runs one workflow file for one event against `origin`, a git repository standing for GitHub's copy.

    `vars`: repository variables; `environment_vars`: each GitHub environment's own (they win in its jobs).
    `base_env`: the runner machine's environment (PATH, HOME, what a self-hosted runner would add).
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
        base_env: Mapping[str, str] | None = None,
        tools: Mapping[str, str] | None = None,
        repository: str = "example/adf-factory",
    ) -> None:
        self.path = workflow
        self.spec = load_workflow(workflow)
        self.origin = origin
        self.work = work
        self.event_name = event_name
        self.sha = sha
        self.ref = ref
        self.vars = dict(vars or {})
        self.environment_vars = {k: dict(v) for k, v in (environment_vars or {}).items()}
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.tools = dict(tools or {})
        self.repository = repository
        self.inputs = self._inputs(dict(inputs or {}))
        self.artifacts = work / "artifacts"
        self.pip_log = work / "pip.log"
        self.jobs: dict[str, list[JobRun]] = {}
        if event_name not in self._events():
            raise WorkflowError(f"{workflow.name} does not run on {event_name} (it runs on {self._events()})")

    # -- set-up

    def _events(self) -> list[str]:
        on = self.spec["on"]
        return [on] if isinstance(on, str) else list(on)

    def _inputs(self, given: dict[str, Any]) -> Context:
        on = self.spec["on"]
        declared = (on.get("workflow_dispatch") or {}).get("inputs", {}) if isinstance(on, dict) else {}
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
        for job_id in self._order():
            self.jobs[job_id] = self._job(job_id, self.spec["jobs"][job_id])
        return WorkflowRun(self.jobs, self.artifacts, self.pip_log)

    def _order(self) -> list[str]:
        jobs = self.spec["jobs"]
        order: list[str] = []

        def visit(job_id: str, path: tuple[str, ...]) -> None:
            if job_id in order:
                return
            if job_id in path:
                raise WorkflowError(f"needs cycle through {job_id}")
            if job_id not in jobs:
                raise WorkflowError(f"needs names an unknown job {job_id}")
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

    def _github(self, job_id: str, workspace: Path) -> Context:
        return Context(
            "github",
            {
                "sha": self.sha,
                "ref": self.ref,
                "ref_name": self.ref.rsplit("/", 1)[-1],
                "event_name": self.event_name,
                "workspace": str(workspace),
                "repository": self.repository,
                "repository_owner": self.repository.split("/")[0],
                "run_id": "1001",
                "run_number": "1",
                "run_attempt": "1",
                "server_url": "https://github.com",
                "actor": "adf-publisher",
                "job": job_id,
                "workflow": self.spec.get("name", self.path.name),
            },
        )

    def _needs_context(self, spec: Mapping[str, Any]) -> Context:
        out = {}
        for need in self._needs(spec):
            runs = self.jobs[need]
            outputs: dict[str, str] = {}
            for r in runs:
                outputs.update(r.outputs)
            declared = set((self.spec["jobs"][need].get("outputs") or {}).keys())
            out[need] = Context(
                f"needs.{need}",
                {
                    "result": _aggregate([r.result for r in runs]),
                    "outputs": Context(f"needs.{need}.outputs", {k: outputs.get(k, "") for k in declared}),
                },
            )
        return Context("needs", out)

    def _matrices(self, spec: Mapping[str, Any], contexts: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The combinations: list axes (their product) or `include` entries alone; nothing else is emulated."""
        matrix = (spec.get("strategy") or {}).get("matrix")
        if matrix is None:
            return [{}]
        if not isinstance(matrix, dict) or "exclude" in matrix or ("include" in matrix and len(matrix) > 1):
            raise WorkflowError("a matrix of list axes, or of `include` entries alone, is what the test emulates")
        if "include" in matrix:
            return [dict(entry) for entry in matrix["include"]]
        combos: list[dict[str, Any]] = [{}]
        for axis, values in matrix.items():
            combos = [{**c, axis: substitute(v, contexts)} for c in combos for v in values]
        return combos

    def _job(self, job_id: str, spec: Mapping[str, Any]) -> list[JobRun]:
        unknown = set(spec) - JOB_KEYS
        if unknown:
            raise WorkflowError(f"job {job_id}: unknown keys {sorted(unknown)}")
        needs = self._needs_context(spec)
        results = [needs.get_property(n)["result"] for n in self._needs(spec)]
        status = {
            "success": all(r == "success" for r in results),
            "failure": any(r == "failure" for r in results),
            "always": True,
            "cancelled": False,
        }
        base = {
            "github": self._github(job_id, self.work),
            "inputs": self.inputs,
            "vars": Context("vars", self.vars, strict=False),
            "needs": needs,
        }
        runs = []
        for matrix in self._matrices(spec, base):
            contexts = {**base, "matrix": Context("matrix", matrix)}
            if not condition(spec.get("if"), contexts, status):
                name = to_text(substitute(spec.get("name", job_id), contexts))
                runs.append(JobRun(job_id, name, "skipped", matrix=matrix))
                continue
            runs.append(self._run_job(job_id, spec, matrix, contexts))
        return runs

    def _run_job(self, job_id: str, spec: Mapping[str, Any], matrix: dict[str, Any], contexts: dict) -> JobRun:
        suffix = "-" + "-".join(to_text(v) for v in matrix.values()) if matrix else ""
        root = self.work / f"{job_id}{suffix}"
        workspace, temp, files = root / "workspace", root / "temp", root / "files"
        for d in (workspace, temp, files):
            d.mkdir(parents=True)
        contexts = {**contexts, "github": self._github(job_id, workspace)}

        environment = spec.get("environment")
        if isinstance(environment, str):
            environment = {"name": environment}
        if environment is not None:
            environment = {k: substitute(v, contexts) for k, v in environment.items()}
            unknown = set(environment) - {"name", "url", "deployment"}
            if unknown:
                raise WorkflowError(f"job {job_id}: unknown environment keys {sorted(unknown)}")
            merged = {**self.vars, **self.environment_vars.get(str(environment["name"]), {})}
            contexts["vars"] = Context("vars", merged, strict=False)
        contexts["runner"] = Context("runner", {"temp": str(temp), "os": "Linux", "arch": "X64", "name": "test"})

        job = JobRun(
            job_id,
            to_text(substitute(spec.get("name", job_id), contexts)),
            "success",
            matrix=matrix,
            environment=environment,
            concurrency=_substitute_all(spec.get("concurrency"), contexts),
            workspace=workspace,
        )
        workflow_env = {k: to_text(substitute(v, contexts)) for k, v in (self.spec.get("env") or {}).items()}
        contexts["env"] = Context("env", workflow_env)
        job_env = {**workflow_env}
        for k, v in (spec.get("env") or {}).items():
            job_env[k] = to_text(substitute(v, contexts))
        contexts["env"] = Context("env", job_env)
        job.env = job_env
        defaults = {**(self.spec.get("defaults") or {}).get("run", {}), **(spec.get("defaults") or {}).get("run", {})}
        permissions = spec.get("permissions", self.spec.get("permissions")) or {}
        id_token = isinstance(permissions, dict) and permissions.get("id-token") == "write"
        timeout = min(float(spec.get("timeout-minutes", 360)) * 60, STEP_TIMEOUT_CAP)

        steps_context = Context("steps", {})
        contexts["steps"] = steps_context
        file_env: dict[str, str] = {}
        paths: list[str] = []
        failed = False
        for index, step in enumerate(spec.get("steps") or []):
            unknown = set(step) - STEP_KEYS
            if unknown:
                raise WorkflowError(f"job {job_id}, step {index + 1}: unknown keys {sorted(unknown)}")
            if ("uses" in step) == ("run" in step):
                raise WorkflowError(f"job {job_id}, step {index + 1}: give exactly one of uses and run")
            env_now = {**job_env, **file_env}
            contexts["env"] = Context("env", env_now)
            status = {"success": not failed, "failure": failed, "always": True, "cancelled": False}
            name = to_text(substitute(step.get("name") or step.get("uses") or step["run"].split("\n")[0], contexts))
            if not condition(step.get("if"), contexts, status):
                job.steps.append(StepRun(name, "skipped"))
                continue
            step_env = {**env_now}
            for k, v in (step.get("env") or {}).items():
                step_env[k] = to_text(substitute(v, contexts))
            contexts["env"] = Context("env", step_env)
            step_files = {kind: files / f"{index:02d}_{kind}" for kind in ("output", "env", "path", "summary")}
            for path in step_files.values():
                path.touch()
            process_env = {
                **self.base_env,
                "CI": "true",
                "GITHUB_ACTIONS": "true",
                "GITHUB_SHA": self.sha,
                "GITHUB_REF": self.ref,
                "GITHUB_REF_NAME": self.ref.rsplit("/", 1)[-1],
                "GITHUB_EVENT_NAME": self.event_name,
                "GITHUB_WORKSPACE": str(workspace),
                "GITHUB_REPOSITORY": self.repository,
                "GITHUB_RUN_ID": "1001",
                "GITHUB_RUN_ATTEMPT": "1",
                "GITHUB_JOB": job_id,
                "GITHUB_WORKFLOW": str(self.spec.get("name", self.path.name)),
                "GITHUB_SERVER_URL": "https://github.com",
                "RUNNER_TEMP": str(temp),
                "RUNNER_OS": "Linux",
                "RUNNER_ARCH": "X64",
                "GITHUB_OUTPUT": str(step_files["output"]),
                "GITHUB_ENV": str(step_files["env"]),
                "GITHUB_PATH": str(step_files["path"]),
                "GITHUB_STEP_SUMMARY": str(step_files["summary"]),
                **step_env,
            }
            if id_token:  # a dead local address: a `local` environment must never ask for a token
                process_env["ACTIONS_ID_TOKEN_REQUEST_URL"] = "http://127.0.0.1:9/_apis/idtoken?api-version=2.0"
                process_env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "runner-request-token"
            process_env["PATH"] = os.pathsep.join([*reversed(paths), self.base_env.get("PATH", os.defpath)])

            if "uses" in step:
                record = self._uses(job_id, step, contexts, workspace, root, paths)
                record.name = name
            else:
                record = self._run(step, contexts, defaults, workspace, process_env, timeout, name, temp, index)
            ok = record.outcome == "success"
            if not ok and truthy(substitute(step.get("continue-on-error", False), contexts)):
                ok = True
            job.steps.append(record)
            job.summary += step_files["summary"].read_text()
            if step.get("id"):
                steps_context[step["id"].lower()] = Context(
                    f"steps.{step['id']}",
                    {
                        "outcome": record.outcome,
                        "conclusion": "success" if ok else "failure",
                        "outputs": Context(f"steps.{step['id']}.outputs", _read_kv(step_files["output"])),
                    },
                )
            file_env.update(_read_kv(step_files["env"]))
            paths += [line for line in step_files["path"].read_text().splitlines() if line.strip()]
            if not ok:
                failed = True
        job.result = "failure" if failed else "success"
        if not failed:
            contexts["env"] = Context("env", job_env)
            job.outputs = {k: to_text(substitute(v, contexts)) for k, v in (spec.get("outputs") or {}).items()}
        return job

    def _run(
        self,
        step: Mapping[str, Any],
        contexts: Mapping[str, Any],
        defaults: Mapping[str, Any],
        workspace: Path,
        env: dict[str, str],
        timeout: float,
        name: str,
        temp: Path,
        index: int,
    ) -> StepRun:
        script = substitute(step["run"], contexts)
        shell = step.get("shell", defaults.get("shell"))
        file = temp / f"step{index:02d}.sh"
        file.write_text(script)
        if shell == "bash":
            command = ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(file)]
        elif shell is None:
            command = ["bash", "-e", str(file)]
        elif shell == "sh":
            command = ["sh", "-e", str(file)]
        else:
            raise WorkflowError(f"step {name}: shell {shell!r} is not emulated")
        cwd = workspace / step.get("working-directory", defaults.get("working-directory", "."))
        if "timeout-minutes" in step:
            timeout = min(float(step["timeout-minutes"]) * 60, timeout)
        done = subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
        outcome = "success" if done.returncode == 0 else "failure"
        return StepRun(name, outcome, script, done.returncode, done.stdout, done.stderr)

    # -- the emulated actions

    def _uses(
        self, job_id: str, step: Mapping[str, Any], contexts: Mapping[str, Any], workspace: Path, root: Path, paths
    ) -> StepRun:
        action, _, version = str(step["uses"]).partition("@")
        given = {k: substitute(v, contexts) for k, v in (step.get("with") or {}).items()}
        emulated: dict[str, tuple[set[str], Callable[[], str]]] = {
            "actions/checkout": (
                {"fetch-depth", "persist-credentials", "ref"},
                lambda: self._checkout(given, workspace),
            ),
            "actions/setup-python": ({"python-version"}, lambda: self._setup_python(root, paths)),
            "actions/upload-artifact": (
                {"name", "path", "if-no-files-found", "retention-days", "include-hidden-files", "overwrite"},
                lambda: self._upload(given, workspace),
            ),
            "actions/download-artifact": ({"name", "path"}, lambda: self._download(given, workspace)),
        }
        if action not in emulated or not version:
            raise WorkflowError(f"job {job_id} uses {step['uses']}, which the test does not emulate")
        known, do = emulated[action]
        unknown = set(given) - known
        if unknown:
            raise WorkflowError(f"job {job_id}: {action} does not take {sorted(unknown)}")
        try:
            detail = do()
        except _StepFailed as exc:
            return StepRun(action, "failure", stderr=f"{exc}\n")
        return StepRun(action, "success", stdout=f"{detail}\n")

    def _checkout(self, given: Mapping[str, Any], workspace: Path) -> str:
        ref = to_text(given.get("ref")) or self.sha
        sha = _git(self.origin, "rev-parse", "--verify", f"{ref}^{{commit}}")
        depth = int(given.get("fetch-depth", 1))
        if depth == 0:
            subprocess.run(["git", "clone", "-q", str(self.origin), str(workspace)], check=True)
            _git(workspace, "checkout", "-q", "--detach", sha)
        else:  # a shallow fetch of the commit itself, as GitHub's checkout does
            _git(self.origin, "config", "uploadpack.allowAnySHA1InWant", "true")
            _git(workspace, "init", "-q")
            _git(workspace, "remote", "add", "origin", self.origin.as_uri())
            _git(workspace, "fetch", "-q", f"--depth={depth}", "origin", sha)
            _git(workspace, "checkout", "-q", "--detach", "FETCH_HEAD")
        return f"checked out {sha} (fetch-depth {depth})"

    def _setup_python(self, root: Path, paths: list[str]) -> str:
        """The test's interpreter as `python`; `promote` as installed for the test (the package under test);
        `pip` writes down what it was asked to install (installing would replace the package under test)."""
        bin_dir = root / "python" / "bin"
        bin_dir.mkdir(parents=True, exist_ok=True)
        for name in ("python", "python3"):
            (bin_dir / name).symlink_to(sys.executable)
        for name, target in self.tools.items():
            (bin_dir / name).symlink_to(target)
        pip = bin_dir / "pip"
        pip.write_text(f'#!/bin/sh\necho "$PWD $*" >> "{self.pip_log}"\n')
        pip.chmod(0o755)
        paths.append(str(bin_dir))
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
        if not name:
            raise WorkflowError("download-artifact without a name (all artifacts) is not emulated")
        source = self.artifacts / name
        if not source.is_dir():
            raise _StepFailed(f"artifact not found: {name}")
        path = Path(to_text(given.get("path")) or ".")
        target = path if path.is_absolute() else workspace / path
        shutil.copytree(source, target, dirs_exist_ok=True)
        return f"downloaded {name} to {target}"


class _StepFailed(Exception):
    """An emulated action failed the way the real one would (the step fails, the test goes on)."""


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
