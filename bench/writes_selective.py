"""Benchmark: management writes of a one-pipeline change to a 1,000-object factory, selective versus `--full`.

A project repository is made in a temporary folder with two publishes of a 1,000-object factory of realistic
shape (the sample factory's pipelines, datasets, linked services and triggers replicated under new names with
their references and parameterisation, as `bench/diff_large.py` builds it): the second changes one pipeline.
`promote deploy --env local` runs as a subprocess, as a user runs it, against an in-process emulator
(`PROMOTE_EMULATOR_URL`). For each mode, from an empty emulator: deploy the first publish, then measure the
deploy of the second, selective (the default) or with `--full`.

What is counted, from the emulator (`/_emulator/stats` and the request log, before and after the measured
deploy):

- object writes: `objectWrites`, every change to a stored object whether by a request of its own or inside a
  deployment: child objects written or deleted, trigger runtime-state changes (stop / start), factory updates
  (the tags that record the deployment), pipeline runs;
- write requests: management requests that change something (PUT, PATCH, DELETE, POST, but not the POSTs that
  only read, such as `queryTriggers` or `getEventSubscriptionStatus`); a deployment is one request however many
  objects it writes.

The minimum for a one-pipeline change: 1 object write (the pipeline) plus the unavoidable writes of any deploy:
the factory tags recording the commit and plan (what `rollback` and `requires` read on a fresh runner), the run's
entry in the resource group's deployment history (a deployment of no resource: the long record of good commits
`requires` reads), and the lease on the factory taken and given back (one promoter across machines,
docs/locks.md): 4 object writes; in requests, 1 deployment (carrying the pipeline) + 1 history entry + 1 tags
update + 2 lease updates = 5. Trigger stops and starts
are not in the minimum: `environments/local.yaml` stops only triggers whose own definition changes
(`triggers.stop: changed`). The sample's smoke pipeline (`ingest_mnist`) has no namesake in the generated
factory, so no smoke run is made (the plan notes it).

Run: .venv/bin/python bench/writes_selective.py [--objects 1000]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import requests  # noqa: E402
from diff_large import SAMPLE, generate  # noqa: E402

from promote.emulator import EmulatorServer, Settings  # noqa: E402

SOURCE = "adf_publish_mirror/adf-ml-project"
LOCAL_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"  # environments/local.yaml's target
LOCAL_RESOURCE_GROUP = "adf-promote-local"
LOCAL_FACTORY = "adf-ml-project-local"
WRITE_METHODS = ("PUT", "PATCH", "DELETE", "POST")
READ_ONLY_POSTS = ("getEventSubscriptionStatus", "querytriggers", "queryPipelineRuns", "validate", "whatIf")
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True).stdout


TYPE_RANK = ("integrationruntimes", "linkedservices", "datasets", "dataflows", "pipelines", "triggers")


def _name(resource: dict[str, Any]) -> str:
    return resource["name"].split("'/")[1].split("'")[0]


def _references(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = {value["referenceName"]} if isinstance(value.get("referenceName"), str) else set()
        return found.union(*(_references(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_references(v) for v in value)) if value else set()
    return set()


def factory_template(objects: int) -> dict[str, Any]:
    """`diff_large.generate`'s factory cut at `objects` without a dangling reference: whole copies of the sample,
    then from the next copy what nothing missing is needed by (linked services and datasets come first)."""
    per_copy = len(
        [r for r in json.loads(SAMPLE.read_text())["resources"] if not r["type"].endswith("globalparameters")]
    )
    template = generate((objects // per_copy + 1) * per_copy)
    whole = objects // per_copy * per_copy
    rest = sorted(template["resources"][whole:], key=lambda r: TYPE_RANK.index(r["type"].rsplit("/", 1)[-1].lower()))
    template["resources"] = template["resources"][:whole] + rest[: objects - whole]
    names = {_name(r) for r in template["resources"]}
    missing = {ref for r in template["resources"] for ref in _references(r["properties"])} - names
    missing -= {"AutoResolveIntegrationRuntime"}
    if missing:
        raise SystemExit(f"the generated factory references objects it lacks: {sorted(missing)[:5]}")
    for resource in template["resources"]:  # dependsOn only what the template holds
        resource["dependsOn"] = [d for d in resource.get("dependsOn", []) if d.split("/")[-1].rstrip("')]") in names]
    return template


def change_one_pipeline(template: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The template with one pipeline changed (an activity's timeout), and that pipeline's name."""
    changed = copy.deepcopy(template)
    pipelines = [r for r in changed["resources"] if r["type"].endswith("/pipelines")]
    target = pipelines[len(pipelines) // 2]
    activity = target["properties"]["activities"][0]
    activity.setdefault("policy", {})["timeout"] = "0.01:23:00"
    return changed, _name(target)


def make_project(folder: Path, objects: int) -> tuple[list[str], str]:
    """A git repository with the environments and two publishes; the two commits and the changed pipeline."""
    shutil.copytree(ROOT / "environments", folder / "environments")
    source = folder / SOURCE
    source.mkdir(parents=True)
    shutil.copy(SAMPLE.parent / "ARMTemplateParametersForFactory.json", source)
    template = factory_template(objects)
    git(folder, "init", "-q", "-b", "main")
    commits = []
    changed, pipeline = change_one_pipeline(template)
    for i, version in enumerate((template, changed)):
        (source / "ARMTemplateForFactory.json").write_text(json.dumps(version, indent="\t"))
        git(folder, "add", "-A")
        git(folder, "commit", "-q", "-m", f"publish {i + 1}")
        commits.append(git(folder, "rev-parse", "HEAD").strip())
    return commits, pipeline


class Emulator:
    def __init__(self, server: EmulatorServer):
        self.server = server

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(
            method, f"{self.server.endpoint}/_emulator{path}", verify=str(self.server.ca_file), timeout=60, **kwargs
        )
        response.raise_for_status()
        return response.json()

    def snapshot(self) -> tuple[dict[str, int], int]:
        log = self.admin("GET", "/requests")["value"]
        return dict(self.admin("GET", "/stats")["objectWrites"]), (log[-1]["seq"] if log else 0)

    def counted(self, before: tuple[dict[str, int], int]) -> dict[str, Any]:
        """What happened since `before`: object writes by type, write requests by kind, all requests."""
        counts, seq = before
        now, _ = self.snapshot()
        writes = {k: now.get(k, 0) - counts.get(k, 0) for k in now}
        log = [r for r in self.admin("GET", "/requests")["value"] if r["seq"] > seq]
        changing = [
            r
            for r in log
            if r["method"] in WRITE_METHODS
            and not any(r["path"].lower().endswith("/" + p.lower()) for p in READ_ONLY_POSTS)
        ]
        kinds: dict[str, int] = {}
        for r in changing:
            tail = r["path"].split("/providers/")[-1].split("/")
            kind = f"{r['method']} {tail[-1] if r['method'] == 'POST' else tail[-2] if len(tail) > 2 else tail[0]}"
            kinds[kind] = kinds.get(kind, 0) + 1
        return {
            "object_writes": {k: v for k, v in writes.items() if v},
            "object_total": sum(writes.values()),
            "write_requests": dict(sorted(kinds.items())),
            "request_total": len(changing),
            "all_requests": len(log),
            # a deployment's own requests: its PUT, the polls of its operation, the final read of its result
            "deployment_requests": sum(1 for r in log if "/Microsoft.Resources/deployments/" in r["path"]),
            "reads": _reads(log),
        }

    def listing_requests(self) -> int:
        """Requests of one read of the whole live factory (`promote.azure.reader.read_live`): the factory, each
        collection's pages, each event trigger's subscription status."""
        from promote.azure.connection import LOCAL_SETTINGS, connect
        from promote.azure.reader import read_live
        from promote.emulator import EmulatorCredential

        seq = self.snapshot()[1]
        conn = connect(
            subscription=LOCAL_SUBSCRIPTION,
            resource_group=LOCAL_RESOURCE_GROUP,
            factory=LOCAL_FACTORY,
            credential=EmulatorCredential(),
            endpoint=self.server.endpoint,
            ca_file=str(self.server.ca_file),
            settings=LOCAL_SETTINGS,
        )
        try:
            read_live(conn)
        finally:
            conn.close()
        return sum(1 for r in self.admin("GET", "/requests")["value"] if r["seq"] > seq)


def _reads(log: list[dict[str, Any]]) -> dict[str, int]:
    """The requests that only read, by what they read (for the figures in bench/README.md)."""
    kinds: dict[str, int] = {}
    for r in log:
        path = r["path"].split("?")[0]
        if r["method"] == "POST" and path.endswith("/getEventSubscriptionStatus"):
            kind = "POST getEventSubscriptionStatus"
        elif r["method"] != "GET" or "/Microsoft.Resources/deployments/" in path:
            continue
        elif path.endswith("/Microsoft.Resources/deployments"):
            kind = "GET deployments (running ones)"
        else:
            tail = path.split("/providers/Microsoft.DataFactory/factories/", 1)[-1].split("/")
            kind = "GET factory" if len(tail) == 1 else f"GET {tail[1]} (pages)"
        kinds[kind] = kinds.get(kind, 0) + 1
    return dict(sorted(kinds.items()))


def deploy(folder: Path, emulator: EmulatorServer, ref: str, *extra: str) -> float:
    env = {**os.environ, "PROMOTE_EMULATOR_URL": emulator.endpoint, "PROMOTE_EMULATOR_CA": str(emulator.ca_file)}
    began = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "promote", "deploy", "--env", "local", "--ref", ref, "--yes", *extra],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise SystemExit(
            f"deploy {ref[:8]} {' '.join(extra)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return time.perf_counter() - began


def measure(folder: Path, emu: Emulator, commits: list[str], *extra: str) -> dict[str, Any]:
    emu.admin("POST", "/reset")
    first = deploy(folder, emu.server, commits[0])
    listing = emu.listing_requests()
    before = emu.snapshot()
    seconds = deploy(folder, emu.server, commits[1], *extra)
    return {**emu.counted(before), "seconds": seconds, "first_seconds": first, "listing": listing}


LEASE_MINIMUM = 3  # the lease's writes (taken, given back) and its one read-back (docs/locks.md)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1000)
    args = parser.parse_args()

    settings = Settings(run_queue_seconds=0.05, run_seconds=0.1, subscription_seconds=0.05)
    with tempfile.TemporaryDirectory() as tmp, EmulatorServer(Path(tmp) / "emulator", settings=settings) as server:
        folder = Path(tmp) / "project"
        folder.mkdir()
        commits, pipeline = make_project(folder, args.objects)
        emu = Emulator(server)
        selective = measure(folder, emu, commits)
        full = measure(folder, emu, commits, "--full")

    # In requests in all: one listing of the factory, the deployment's own requests, the tags update, the lease
    # (taken on the etag the listing read, read back once, given back).
    minimum = {
        "object_total": 4,
        "request_total": 5,
        "all_requests": selective["listing"] + selective["deployment_requests"] + 1 + LEASE_MINIMUM,
    }
    print(f"factory: {args.objects} objects; the change: pipelines/{pipeline}")
    print(f"first deploy (all {args.objects} objects): {selective['first_seconds']:.1f} s")
    print(f"one listing of the factory (promote.azure.reader.read_live): {selective['listing']} requests")
    for name, figures in (("selective", selective), ("--full", full)):
        print(f"\n{name} deploy of the change ({figures['seconds']:.1f} s, {figures['all_requests']} requests in all)")
        print(f"  object writes:  {figures['object_total']:>5}  {figures['object_writes']}")
        print(f"  write requests: {figures['request_total']:>5}  {figures['write_requests']}")
        print(f"  reads:          {sum(figures['reads'].values()):>5}  {figures['reads']}")
    ratio_objects = full["object_total"] / selective["object_total"]
    ratio_requests = full["request_total"] / selective["request_total"]
    vs_min_objects = selective["object_total"] / minimum["object_total"]
    vs_min_requests = selective["request_total"] / minimum["request_total"]
    print()
    print(f"full / selective, object writes:   {ratio_objects:.0f}x  (target >= 100x)")
    print(f"full / selective, write requests:  {ratio_requests:.0f}x")
    print(
        f"selective / minimum, object writes:  {vs_min_objects:.2f}x  "
        "(target <= 1.1x; 4: the pipeline, the tags, the lease twice)"
    )
    print(
        f"selective / minimum, write requests: {vs_min_requests:.2f}x  "
        "(target <= 1.1x; 5: one deployment, the history entry, the tags, the lease twice)"
    )
    vs_min_all = selective["all_requests"] / minimum["all_requests"]
    print(
        f"selective / minimum, requests in all: {vs_min_all:.2f}x  (target <= 1.1x; {minimum['all_requests']}: one "
        f"listing ({selective['listing']}) + the deployments ({selective['deployment_requests']}) + the tags update "
        f"+ the lease ({LEASE_MINIMUM}))"
    )
    ok = ratio_objects >= 100 and vs_min_objects <= 1.1 and vs_min_requests <= 1.1 and vs_min_all <= 1.1
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
