"""Benchmark: the emulator holding a 5,000-object factory, read and written through the real SDK clients.

Starts the emulator in-process (temporary state directory, default settings: 50 items per page), seeds a
factory of realistic shape through the control API (linked services, datasets referencing them, pipelines of
a few activities referencing datasets, triggers referencing pipelines: every reference checked, as on a PUT),
then measures:

- seed: the 5,000 writes through the store's rules in one control call,
- list (typed): `list_by_factory` of every collection through DataFactoryManagementClient, pages followed,
- list (raw): the same as raw JSON through the client's pipeline (`send_request`, following nextLink), one
  collection after another and one thread per collection (what `promote.azure.reader` does),
- get / put: single-object latency through the SDK (median and 95th percentile of 200 calls),
- deploy: one ARM deployment of 800 pipelines through DeploymentsMgmtClient, polled to the end.

Run: .venv/bin/python bench/emulator_list.py [--objects 5000] [--page-size 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from azure.core.rest import HttpRequest  # noqa: E402
from azure.mgmt.datafactory import DataFactoryManagementClient  # noqa: E402
from azure.mgmt.resource.deployments import DeploymentsMgmtClient  # noqa: E402

from promote.emulator import EmulatorCredential, EmulatorServer, Settings  # noqa: E402

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
RG = "rg-bench"
FACTORY = "adf-bench"
SHARES = {"integrationRuntimes": 0.002, "linkedServices": 0.018, "datasets": 0.32, "dataflows": 0.02, "triggers": 0.08}
COLLECTIONS = {
    "integrationRuntimes": ("integration_runtimes", "integrationRuntimes"),
    "linkedServices": ("linked_services", "linkedservices"),
    "datasets": ("datasets", "datasets"),
    "dataflows": ("data_flows", "dataflows"),
    "pipelines": ("pipelines", "pipelines"),
    "triggers": ("triggers", "triggers"),
}


def objects(total: int) -> list[dict[str, Any]]:
    """A factory's objects in dependency order, `total` in all, pipelines taking what the shares leave."""
    counts = {kind: max(1, int(total * share)) for kind, share in SHARES.items()}
    counts["pipelines"] = total - sum(counts.values())
    out: list[dict[str, Any]] = []
    for i in range(counts["integrationRuntimes"]):
        out.append({"type": "integrationRuntimes", "name": f"ir-{i:03d}", "properties": {"type": "SelfHosted"}})
    for i in range(counts["linkedServices"]):
        out.append(
            {
                "type": "linkedServices",
                "name": f"ls_{i:04d}",
                "properties": {
                    "type": "AzureBlobStorage",
                    "typeProperties": {"connectionString": {"type": "SecureString", "value": "secret"}},
                    "connectVia": {
                        "referenceName": f"ir-{i % counts['integrationRuntimes']:03d}",
                        "type": "IntegrationRuntimeReference",
                    },
                },
            }
        )
    for i in range(counts["datasets"]):
        out.append(
            {
                "type": "datasets",
                "name": f"ds_{i:05d}",
                "properties": {
                    "type": "DelimitedText",
                    "linkedServiceName": {
                        "referenceName": f"ls_{i % counts['linkedServices']:04d}",
                        "type": "LinkedServiceReference",
                    },
                    "typeProperties": {
                        "location": {"type": "AzureBlobStorageLocation", "container": "raw", "folderPath": f"in/{i}"}
                    },
                    "schema": [{"name": f"col{c}", "type": "String"} for c in range(8)],
                },
            }
        )
    for i in range(counts["dataflows"]):
        source = {"dataset": {"referenceName": f"ds_{i:05d}", "type": "DatasetReference"}, "name": "source"}
        out.append(
            {
                "type": "dataflows",
                "name": f"df_{i:04d}",
                "properties": {
                    "type": "MappingDataFlow",
                    "typeProperties": {"sources": [source], "scriptLines": ["source(...) ~> source"]},
                },
            }
        )
    for i in range(counts["pipelines"]):
        copy = {
            "name": "copy",
            "type": "Copy",
            "inputs": [{"referenceName": f"ds_{i % counts['datasets']:05d}", "type": "DatasetReference"}],
            "outputs": [{"referenceName": f"ds_{(i + 1) % counts['datasets']:05d}", "type": "DatasetReference"}],
            "typeProperties": {"source": {"type": "DelimitedTextSource"}, "sink": {"type": "DelimitedTextSink"}},
            "policy": {"timeout": "0.12:00:00", "retry": 2},
        }
        wait = {
            "name": "wait",
            "type": "Wait",
            "dependsOn": [{"activity": "copy", "dependencyConditions": ["Succeeded"]}],
            "typeProperties": {"waitTimeInSeconds": 1},
        }
        out.append(
            {
                "type": "pipelines",
                "name": f"pl_{i:05d}",
                "properties": {
                    "activities": [copy, wait],
                    "parameters": {"day": {"type": "string"}},
                    "annotations": [],
                },
            }
        )
    for i in range(counts["triggers"]):
        out.append(
            {
                "type": "triggers",
                "name": f"tr_{i:04d}",
                "properties": {
                    "type": "ScheduleTrigger",
                    "typeProperties": {
                        "recurrence": {"frequency": "Hour", "interval": 1, "startTime": "2024-01-01T00:00:00Z"}
                    },
                    "pipelines": [
                        {
                            "pipelineReference": {"referenceName": f"pl_{i:05d}", "type": "PipelineReference"},
                            "parameters": {"day": "today"},
                        }
                    ],
                },
            }
        )
    return out


def best(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def raw_pages(client: Any, url: str) -> int:
    count = 0
    link: str | None = url
    while link:
        body = client.send_request(HttpRequest("GET", link)).json()
        count += len(body["value"])
        link = body.get("nextLink")
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--objects", type=int, default=5000)
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with EmulatorServer(settings=Settings(page_size=args.page_size)) as server:
        kwargs = {
            "base_url": server.endpoint,
            "connection_verify": str(server.ca_file),
            "retry_total": 0,
            "polling_interval": 0,
        }
        adf = DataFactoryManagementClient(EmulatorCredential(), SUBSCRIPTION, **kwargs)
        deployments = DeploymentsMgmtClient(EmulatorCredential(), SUBSCRIPTION, **kwargs)
        admin = requests.Session()

        items = objects(args.objects)
        started = time.perf_counter()
        response = admin.post(
            f"{server.endpoint}/_emulator/seed",
            json={"subscriptionId": SUBSCRIPTION, "resourceGroup": RG, "factory": FACTORY, "objects": items},
            verify=str(server.ca_file),
            timeout=600,
        )
        response.raise_for_status()
        seed = time.perf_counter() - started
        db_bytes = (server.state_dir / "state.db").stat().st_size + (server.state_dir / "state.db-wal").stat().st_size

        def typed() -> None:
            total = sum(
                sum(1 for _ in getattr(adf, group).list_by_factory(RG, FACTORY)) for group, _ in COLLECTIONS.values()
            )
            assert total == len(items), total

        base = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RG}/providers/Microsoft.DataFactory/factories/{FACTORY}"
        urls = [f"{base}/{segment}?api-version=2018-06-01" for _, segment in COLLECTIONS.values()]

        def raw_sequential() -> None:
            assert sum(raw_pages(adf, url) for url in urls) == len(items)

        def raw_parallel() -> None:
            with ThreadPoolExecutor(max_workers=len(urls)) as pool:
                assert sum(pool.map(lambda u: raw_pages(adf, u), urls)) == len(items)

        admin.delete(f"{server.endpoint}/_emulator/requests", verify=str(server.ca_file))
        typed_s = best(typed, args.repeat)
        requests_per_listing = (
            len(admin.get(f"{server.endpoint}/_emulator/requests", verify=str(server.ca_file)).json()["value"])
            // args.repeat
        )
        raw_s = best(raw_sequential, args.repeat)
        parallel_s = best(raw_parallel, args.repeat)

        gets, puts = [], []
        for i in range(200):
            t0 = time.perf_counter()
            adf.pipelines.get(RG, FACTORY, f"pl_{i:05d}")
            gets.append(time.perf_counter() - t0)
        for i in range(200):
            t0 = time.perf_counter()
            adf.pipelines.create_or_update(
                RG, FACTORY, f"pl_{i:05d}", {"properties": {"activities": [], "description": str(i)}}
            )
            puts.append(time.perf_counter() - t0)

        template = {
            "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
            "contentVersion": "1.0.0.0",
            "parameters": {"factoryName": {"type": "string"}},
            "resources": [
                {
                    "name": f"[concat(parameters('factoryName'), '/dep_{i:03d}')]",
                    "type": "Microsoft.DataFactory/factories/pipelines",
                    "apiVersion": "2018-06-01",
                    "properties": {"activities": [], "description": f"deployed {i}"},
                    "dependsOn": [],
                }
                for i in range(800)
            ],
        }
        started = time.perf_counter()
        result = deployments.deployments.begin_create_or_update(
            RG,
            "bench",
            {
                "properties": {
                    "mode": "Incremental",
                    "template": template,
                    "parameters": {"factoryName": {"value": FACTORY}},
                }
            },
        ).result()
        deploy_s = time.perf_counter() - started
        assert result.properties.provisioning_state == "Succeeded"
        adf.close()
        deployments.close()

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.1f} ms"

    quantile = statistics.quantiles
    print(f"objects: {len(items)} (page size {args.page_size}, {requests_per_listing} list requests per listing)")
    print(f"state file after seeding: {db_bytes / 1048576:.1f} MB")
    print(f"seed through the rules (one control call): {seed:.2f} s ({seed / len(items) * 1e6:.0f} us per object)")
    print(f"list all, typed SDK models, sequential:   {typed_s:.2f} s")
    print(f"list all, raw JSON, sequential:           {raw_s:.2f} s")
    print(f"list all, raw JSON, one thread per type:  {parallel_s:.2f} s")
    print(f"GET one pipeline: median {ms(statistics.median(gets))}, p95 {ms(quantile(gets, n=20)[-1])}")
    print(f"PUT one pipeline: median {ms(statistics.median(puts))}, p95 {ms(quantile(puts, n=20)[-1])}")
    print(f"deploy 800 pipelines (one deployment, polled to the end): {deploy_s:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
