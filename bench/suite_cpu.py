"""Where the test suite's CPU goes: a pytest plugin that writes each test's CPU time, and a report of it.

CPU, not the wall clock: on a shared machine the wall clock measures the others' load, while a test's CPU (its
own, the in-process emulator's threads included, plus every `promote` or `git` process it waited for) barely
moves with it. Run the README's test command with the plugin, then the report:

    PYTHONPATH=bench SUITE_CPU_DIR=/tmp/suite-cpu .venv/bin/python -m pytest -q -n 2 -p suite_cpu
    .venv/bin/python bench/suite_cpu.py /tmp/suite-cpu

The plugin writes one JSON line per test to `$SUITE_CPU_DIR/<worker>-<pid>.jsonl` (nodeid, wall, self and
children CPU seconds), and one line per worker for the whole session. Figures: bench/README.md, "The test suite".
"""

from __future__ import annotations

import collections
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

_out: IO[str] | None = None


def _file() -> IO[str]:
    global _out
    if _out is None:
        folder = Path(os.environ.get("SUITE_CPU_DIR", "suite-cpu"))
        folder.mkdir(parents=True, exist_ok=True)
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        _out = (folder / f"{worker}-{os.getpid()}.jsonl").open("a")
    return _out


def _write(row: dict[str, Any]) -> None:
    out = _file()
    out.write(json.dumps(row) + "\n")
    out.flush()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    before, start = os.times(), time.monotonic()
    yield
    after, end = os.times(), time.monotonic()
    _write(
        {
            "id": item.nodeid,
            "wall": end - start,
            "self": (after.user - before.user) + (after.system - before.system),
            "children": (after.children_user - before.children_user) + (after.children_system - before.children_system),
        }
    )


def pytest_sessionfinish(session: pytest.Session) -> None:
    t = os.times()
    _write({"id": "<session>", "self": t.user + t.system, "children": t.children_user + t.children_system})


def report(folder: Path, top: int = 30) -> str:
    rows: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.jsonl")):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    tests = [r for r in rows if r["id"] != "<session>"]
    cpu = sum(r["self"] + r["children"] for r in tests)
    lines = [
        f"{len(tests)} tests: {cpu:.0f} s CPU in tests (in the worker {sum(r['self'] for r in tests):.0f} s, "
        f"in processes it waited for {sum(r['children'] for r in tests):.0f} s)",
        "",
        "by file: CPU s (worker + processes), wall s, tests",
    ]
    by_file: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    for r in tests:
        entry = by_file[r["id"].split("::")[0]]
        entry[0] += r["self"]
        entry[1] += r["children"]
        entry[2] += r["wall"]
        entry[3] += 1
    for name, (own, children, wall, n) in sorted(by_file.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))[:top]:
        lines.append(f"{own + children:7.1f} ({own:5.1f} + {children:5.1f})  wall {wall:6.1f}  {int(n):4d}  {name}")
    lines += ["", "slowest tests by CPU:"]
    for r in sorted(tests, key=lambda r: -(r["self"] + r["children"]))[:top]:
        lines.append(f"{r['self'] + r['children']:6.1f}  wall {r['wall']:5.1f}  {r['id']}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(Path(sys.argv[1] if len(sys.argv) > 1 else "suite-cpu")))
