"""An in-process target factory behind `promote.apply.factory_api.FactoryApi`, for unit tests of the runner and
the executor: objects, trigger states and tags in memory, ADF's started-trigger rule, every call logged, and a
failure injected into the Nth call of a kind. (The subprocess tests against the emulator show the same code
with the real SDK clients.)"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promote.azure.errors import AzureCallError, WaitTimeout
from promote.azure.operations import RunResult
from promote.factory import OBJECT_TYPES, Factory, FactoryObject, ObjectKey
from promote.live import EVENT_TRIGGER_TYPES, LiveState, TriggerState
from promote.runs import RunInfo, top_most

_NAME = re.compile(r"^\[concat\(parameters\('factoryName'\), '/(.*)'\)\]$")


@dataclass
class FakeFactory:
    objects: dict[ObjectKey, dict[str, Any]] = field(default_factory=dict)  # key -> properties
    states: dict[str, str] = field(default_factory=dict)  # trigger -> runtime state
    tags: dict[str, str] = field(default_factory=dict)
    exists: bool = True
    failures: dict[str, list[int]] = field(default_factory=dict)  # call kind -> the call numbers that fail
    smoke_fails: bool = False
    calls: list[tuple[str, str]] = field(default_factory=list)  # (kind, what), in order
    runs: dict[str, RunInfo] = field(default_factory=dict)  # runs in progress, by id
    runs_end: bool = True  # runs in progress end while a run waits for them (else the wait times out)
    ended: dict[str, str] = field(default_factory=dict)  # run id -> how it ended

    def start_run(self, pipeline: str, run_id: str, parent: str | None = None) -> RunInfo:
        """A run in progress (started by a trigger, or by `parent`'s Execute Pipeline activity)."""
        kind, by = ("PipelineActivity", f"call_{pipeline}") if parent else ("ScheduleTrigger", "nightly")
        run = RunInfo(run_id, pipeline, "InProgress", "2024-05-01T02:00:00Z", None, by, kind, parent)
        self.runs[run_id] = run
        return run

    @classmethod
    def holding(cls, factory: Factory, states: Mapping[str, str] | None = None) -> FakeFactory:
        fake = cls(objects={k: dict(o.properties) for k, o in factory.objects.items()})
        for key, obj in factory.objects.items():
            if key.type == "triggers":
                fake.states[key.name] = (states or {}).get(key.name, str(obj.properties.get("runtimeState", "Stopped")))
        return fake

    def fail(self, kind: str, nth: int = 1) -> None:
        """The `nth` call of `kind` (counted from now) raises an Azure error."""
        done = sum(1 for k, _ in self.calls if k == kind)
        self.failures.setdefault(kind, []).append(done + nth)

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self.calls if k == kind)

    def _call(self, kind: str, what: str = "") -> None:
        self.calls.append((kind, what))
        if self.count(kind) in self.failures.get(kind, []):
            raise AzureCallError("InternalServerError", f"injected into {kind} {what}", status=500, operation=kind)

    # --------------------------------------------------------------------------------------------- reading

    def triggers_now(self) -> dict[str, TriggerState]:
        out = {}
        for name, state in self.states.items():
            kind = self.objects.get(ObjectKey("triggers", name), {}).get("type")
            sub = ("Enabled" if state == "Started" else "Disabled") if kind in EVENT_TRIGGER_TYPES else None
            out[name] = TriggerState(name, state, sub)
        return out

    def read_live(self) -> LiveState:
        self._call("read_live")
        if not self.exists:
            return LiveState(Factory("f", {}, "live"), exists=False, fingerprint="none")
        objects = {k: FactoryObject(k, dict(p)) for k, p in self.objects.items()}
        triggers = self.triggers_now()
        digest = hashlib.sha256(
            json.dumps(
                [sorted((str(k), p) for k, p in self.objects.items()), sorted(self.states.items())],
                sort_keys=True,
                default=str,
            ).encode()
        ).hexdigest()
        return LiveState(Factory("f", objects, "live"), triggers, dict(self.tags), digest)

    def read_triggers(self) -> dict[str, TriggerState]:
        self._call("read_triggers")
        return self.triggers_now()

    # ------------------------------------------------------------------------------------ factory, record

    def ensure_factory(self) -> bool:
        self._call("ensure_factory")
        created, self.exists = not self.exists, True
        return created

    def set_factory_tags(self, tags: Mapping[str, str | None]) -> Mapping[str, str]:
        self._call("set_factory_tags", ",".join(sorted(k for k, v in tags.items() if v is not None)))
        for key, value in tags.items():
            if value is None:
                self.tags.pop(key, None)
            else:
                self.tags[key] = value
        return dict(self.tags)

    # ---------------------------------------------------------------------------------------- writes

    def settle_deployments(self, prefix: str, *, progress: Callable[[str], None] | None = None) -> list[str]:
        self._call("settle_deployments", prefix)
        return []

    def deploy_template(
        self,
        name: str,
        template: Mapping[str, Any],
        parameters: Mapping[str, Any],
        tags: Mapping[str, str],
        *,
        progress: Callable[[str], None] | None = None,
    ) -> object:
        self._call("deploy_template", name)
        for resource in template.get("resources", []):
            match = _NAME.match(resource["name"])
            assert match, resource["name"]
            kind = OBJECT_TYPES[resource["type"].split("/factories/", 1)[1].lower()]
            key = ObjectKey(kind, match.group(1).replace("''", "'"))
            if kind == "triggers" and self.states.get(key.name) == "Started":
                raise AzureCallError("TriggerEnabledCannotUpdate", f"{key.name} is started", status=400)
            self.objects[key] = dict(resource["properties"])
            if kind == "triggers":
                self.states.setdefault(key.name, "Stopped")
        return name

    def delete_object(self, key: ObjectKey) -> bool:
        self._call("delete_object", str(key))
        if key.type == "triggers" and self.states.get(key.name) == "Started":
            raise AzureCallError("TriggerEnabledCannotUpdate", f"{key.name} is started", status=400)
        self.states.pop(key.name, None) if key.type == "triggers" else None
        return self.objects.pop(key, None) is not None

    # ---------------------------------------------------------------------------------------- triggers

    def stop_trigger(self, name: str) -> None:
        self._call("stop_trigger", name)
        self.states[name] = "Stopped"

    def start_trigger(self, name: str, *, time_limit: float) -> None:
        self._call("start_trigger", name)
        self.states[name] = "Started"

    def subscribe_trigger(self, name: str, *, time_limit: float) -> str:
        self._call("subscribe_trigger", name)
        return "Enabled"

    def unsubscribe_trigger(self, name: str, *, time_limit: float) -> str:
        self._call("unsubscribe_trigger", name)
        return "Disabled"

    # ---------------------------------------------------------------------------------------- runs

    def runs_in_progress(self, pipelines: Sequence[str]) -> list[RunInfo]:
        self._call("runs_in_progress", ",".join(pipelines))
        names = {p.casefold() for p in pipelines}
        return [run for run in self.runs.values() if run.pipeline.casefold() in names]

    def wait_for_runs(
        self,
        pipelines: Sequence[str],
        *,
        time_limit: float,
        cancel: bool,
        progress: Callable[[str], None] | None = None,
    ) -> list[RunInfo]:
        self._call("wait_for_runs", ",".join(pipelines))
        waited = self.runs_in_progress(pipelines)
        if cancel:
            for run in top_most(waited):
                self._call("cancel_run", run.run_id)
                self._end(run.run_id, "Cancelled")
        elif self.runs_end:
            for run in waited:
                self._end(run.run_id, "Succeeded")
        else:
            raise WaitTimeout("the runs in progress to end", time_limit, f"{len(waited)} in progress")
        return waited

    def _end(self, run_id: str, status: str) -> None:
        """End a run and, as a recursive cancel does, every run it started."""
        self.runs.pop(run_id, None)
        self.ended[run_id] = status
        for child in [r for r in self.runs.values() if r.parent_run_id == run_id]:
            self._end(child.run_id, status)

    def run_pipeline(self, name: str, parameters: Mapping[str, Any], *, timeout: float) -> RunResult:
        self._call("run_pipeline", name)
        status = "Failed" if self.smoke_fails else "Succeeded"
        return RunResult(run_id="run-1", pipeline=name, status=status, message="", seconds=0.1)
