"""Benchmark: stopping and starting many triggers concurrently versus one by one, through the real SDK client.

A deploy stops every trigger whose payload changes before writing and starts them again afterwards; in a large
factory that is hundreds of calls, each a full round trip to ARM (100-300 ms). `promote.azure.operations`
runs them on a bounded thread pool. This measures the difference against the emulator with an added latency
per request (the control API's `latency_seconds` setting), the same code path with `workers=1` as the
one-by-one baseline.

Each mode does one stop of every trigger then one start of every trigger, and the result is checked by reading
the factory back (every trigger Stopped, then Started).

Run: .venv/bin/python bench/triggers_start_stop.py [--triggers 200] [--latency 0.2] [--workers 16] [--quick]
`--quick` measures the one-by-one mode on a sample of 40 triggers and scales it (same per-call cost).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from promote.azure import operations as ops  # noqa: E402
from promote.azure.connection import LOCAL_SETTINGS, connect  # noqa: E402
from promote.azure.reader import read_live  # noqa: E402
from promote.emulator import EmulatorCredential, EmulatorServer, Settings  # noqa: E402

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
RG = "rg-bench"
FACTORY = "adf-bench-triggers"


def seed(server: EmulatorServer, count: int) -> list[str]:
    names = [f"trigger_{i:04d}" for i in range(count)]
    objects: list[dict[str, Any]] = [
        {
            "type": "pipelines",
            "name": "p",
            "properties": {"activities": [{"name": "w", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 1}}]},
        }
    ]
    objects += [
        {
            "type": "triggers",
            "name": name,
            "properties": {
                "type": "ScheduleTrigger",
                "typeProperties": {"recurrence": {"frequency": "Hour", "interval": 1}},
                "pipelines": [{"pipelineReference": {"referenceName": "p", "type": "PipelineReference"}}],
            },
        }
        for name in names
    ]
    admin(
        "POST",
        server,
        "/seed",
        {"factory": FACTORY, "subscriptionId": SUBSCRIPTION, "resourceGroup": RG, "objects": objects},
    )
    return names


def admin(method: str, server: EmulatorServer, path: str, body: Any) -> Any:
    # verify= per request: requests lets REQUESTS_CA_BUNDLE override a session's own CA file
    response = requests.request(
        method, f"{server.endpoint}/_emulator{path}", json=body, verify=str(server.ca_file), timeout=60
    )
    response.raise_for_status()
    return response.json()


def cycle(conn: Any, names: list[str], workers: int) -> tuple[float, float]:
    """Seconds to stop every trigger, then to start every trigger, with `workers` threads."""
    began = time.perf_counter()
    stopped = ops.stop_triggers(conn, names, workers=workers)
    stop_s = time.perf_counter() - began
    assert stopped.ok, stopped.failed
    began = time.perf_counter()
    started = ops.start_triggers(conn, names, workers=workers)
    start_s = time.perf_counter() - began
    assert started.ok, started.failed
    return stop_s, start_s


def check(conn: Any, names: list[str], state: str) -> None:
    live = read_live(conn)
    wrong = [n for n in names if live.triggers[n].runtime_state != state]
    assert not wrong, f"{len(wrong)} triggers not {state}: {wrong[:5]}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--triggers", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds added to every request")
    parser.add_argument("--workers", type=int, default=LOCAL_SETTINGS.max_workers)
    parser.add_argument("--quick", action="store_true", help="time one-by-one on 40 triggers and scale")
    args = parser.parse_args()

    with EmulatorServer(settings=Settings()) as server:
        names = seed(server, args.triggers)
        settings = LOCAL_SETTINGS
        conn = connect(
            subscription=SUBSCRIPTION,
            resource_group=RG,
            factory=FACTORY,
            credential=EmulatorCredential(),
            endpoint=server.endpoint,
            ca_file=str(server.ca_file),
            settings=settings,
        )
        try:
            admin("PATCH", server, "/settings", {"latency_seconds": args.latency})
            ops.start_triggers(conn, names)  # a deploy stops what runs: start from everything Started

            stop_c, start_c = cycle(conn, names, args.workers)
            check(conn, names, "Started")
            sample = names[:40] if args.quick else names
            stop_s, start_s = cycle(conn, sample, 1)
            check(conn, names, "Started")
            scale = len(names) / len(sample)
            stop_s, start_s = stop_s * scale, start_s * scale
        finally:
            conn.close()

    concurrent, sequential = stop_c + start_c, stop_s + start_s
    print(f"triggers: {args.triggers}, latency per request: {args.latency * 1000:.0f} ms, workers: {args.workers}")
    print(f"{'mode':<22}{'stop all':>10}{'start all':>11}{'total':>9}")
    print(f"{'concurrent':<22}{stop_c:>9.2f}s{start_c:>10.2f}s{concurrent:>8.2f}s")
    label = "one by one" + (" (scaled)" if args.quick else "")
    print(f"{label:<22}{stop_s:>9.2f}s{start_s:>10.2f}s{sequential:>8.2f}s")
    ratio = sequential / concurrent
    print(f"speed-up: {ratio:.1f}x (target >= 8x)")
    return 0 if ratio >= 8 else 1


if __name__ == "__main__":
    sys.exit(main())
