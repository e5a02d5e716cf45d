"""Speed of `promote build` and of `promote diff` between collaboration revisions, as ratios in one process.

1. build: the largest reference collaboration folder (most bytes) read from disk, built and written into a
   temporary folder, exactly what `promote build --out DIR` runs after parsing its arguments; against the
   baseline of `json.load` of every file of that folder. Target: <= 2.
2. diff: `promote diff --from A --to B` between two consecutive collaboration revisions of one factory (both
   sides read as `promote diff` reads paths, then `promote.versiondiff.diff_versions`), against the same between
   the two templates ADF published from them. Target: <= 1 ("as fast").

Best of N for each figure (the machine is shared: the minimum is the least disturbed run), the figures compared
timed in turn, round after round, so that a busy moment of the machine hits them alike. `--cpu` times the
process's CPU time (`time.process_time`, the kernel's share for the reads and writes included) instead of the
wall clock: on a machine others load heavily, the wall clock measures them.

3. the same build reusing every object of an identical build made before in the process: the floor of any
   per-object cache kept between runs; 4. in the diff table, building the older revision alone; 5. `promote
   build` and `json.load` of every file as processes, as a user runs them.

Run: .venv/bin/python bench/build_speed.py [--repeat 9] [--cpu]
"""

from __future__ import annotations

import argparse
import functools
import gc
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from promote.build import _uncollected, build, prepare  # noqa: E402
from promote.build.definition import load_definition  # noqa: E402
from promote.build.output import render  # noqa: E402
from promote.build.root import examine_root  # noqa: E402
from promote.build.template import build_template  # noqa: E402
from promote.commands.build import replace_published  # noqa: E402
from promote.desired import SideInput  # noqa: E402
from promote.source import read_path  # noqa: E402
from promote.versiondiff import diff_versions  # noqa: E402

REFERENCE = ROOT.parent / "shared" / "reference"
COLLABORATION = REFERENCE / "collaboration"
TEMPLATES = REFERENCE / "templates"


CLOCK: Callable[[], float] = time.perf_counter


def bests(
    timed: dict[str, Callable[[], object]], repeat: int, clock: Callable[[], float] | None = None
) -> dict[str, float]:
    """The best time of each of `timed`, all run once per round (`CLOCK`; the collector emptied before each)."""
    clock = clock or CLOCK
    times: dict[str, list[float]] = {name: [] for name in timed}
    for _ in range(repeat):
        for name, fn in timed.items():
            gc.collect()
            start = clock()
            fn()
            times[name].append(clock() - start)
    return {name: min(found) for name, found in times.items()}


def root_of(entry: dict) -> Path:
    owner, short = entry["files"][0]["local"].split("/")[:2]
    return COLLABORATION / owner / short / entry["prefix"].rstrip("/")


def bench_build(entries: list[dict], repeat: int) -> None:
    def size(entry: dict) -> int:
        return sum(f["size"] for f in entry["files"])

    entry = max(entries, key=size)
    root = root_of(entry)
    paths = sorted(p for p in root.rglob("*.json") if p.is_file())
    factory = entry["published"][0]["factory_name"]

    def load_all() -> None:
        for path in paths:
            with path.open("rb") as handle:
                json.load(handle)

    with tempfile.TemporaryDirectory() as out:

        def run_build() -> None:
            built = build(read_path(root), factory=factory)
            replace_published(Path(out), built.files)

        run_build()
        files = read_path(root)
        prepared = prepare(files, factory=factory)
        examined, _ = examine_root(files, factory=factory)
        definition, _ = load_definition(examined.definition, examined.definition_file, prepared.era)

        def run_reusing() -> None:
            # every object taken from an identical earlier build in this process: no file parsed, no object
            # built again (`prepare(previous=...)`), then written as `promote build` writes: what a build would
            # cost with a free per-object cache, the floor of any cache kept between runs
            reused = prepare(read_path(root), factory=factory, previous=prepared)
            with _uncollected():
                reused.files = render(reused.template, reused.era, reused.texts)
            replace_published(Path(out), reused.files)

        found = bests(
            {
                "baseline": load_all,
                "build": run_build,
                "reusing": run_reusing,
                # each phase as the build runs it (the collector paused: promote.build._uncollected)
                "read": functools.partial(read_path, root),
                "parse and check": paused(examine_root, files, factory=factory),
                "build the template": paused(build_template, examined, definition, prepared.era, prepared.texts),
                "write the text": paused(render, prepared.template, prepared.era, prepared.texts),
                "write the files": functools.partial(replace_published, Path(out), prepared_files(prepared)),
                "parse": functools.partial(parse_all, files),
            },
            repeat,
        )
    baseline, measured, parse_only = found.pop("baseline"), found.pop("build"), found.pop("parse")
    reusing = found.pop("reusing")
    phases = found
    print(f"build of {entry['repo']} {entry['collab_commit'][:8]}: {len(paths)} files, {size(entry) / 1e3:.0f} kB")
    print(f"  json.load of every file: {baseline * 1e3:.1f} ms (json.loads of the bytes: {parse_only / baseline:.2f}x)")
    print(f"  promote build (read, build, write): {measured * 1e3:.1f} ms = {measured / baseline:.2f}x (target <= 2)")
    print("  phases (each best of its own): " + ", ".join(f"{k} {v / baseline:.2f}x" for k, v in phases.items()))
    print(
        f"  every object reused from an identical build (the floor of a per-object cache): {reusing * 1e3:.1f} ms"
        f" = {reusing / baseline:.2f}x"
    )


def bench_processes(entries: list[dict], repeat: int) -> None:
    """(5) As a user runs it: a `promote build` process against a Python process that `json.load`s every file
    of the folder (interpreter start-up in both; imports, the repository lookup and the output in the first).
    Both with bytecode caches (a user's installed promote has them; this machine's PYTHONDONTWRITEBYTECODE
    would make every import compile its module again), written into a temporary folder by a first run."""

    def size(entry: dict) -> int:
        return sum(f["size"] for f in entry["files"])

    entry = max(entries, key=size)
    root = root_of(entry)
    with tempfile.TemporaryDirectory() as scratch:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(Path(scratch) / "pycache")
        env["PYTHONPATH"] = str(ROOT)  # this tree's promote, run outside any repository (as from a folder)
        load = (
            "import json, pathlib\n"
            f"for p in sorted(pathlib.Path({str(root)!r}).rglob('*.json')):\n"
            "    with p.open('rb') as h: json.load(h)"
        )
        commands = {
            "json.load": [sys.executable, "-c", load],
            "promote build": [sys.executable, "-m", "promote.cli", "build", "--source", str(root), "--out", "out"],
        }

        def run(command: list[str]) -> Callable[[], None]:
            return functools.partial(
                subprocess.run, command, env=env, cwd=scratch, check=True, stdout=subprocess.DEVNULL
            )

        for command in commands.values():
            run(command)()  # the bytecode caches
        clock = _children if CLOCK is time.process_time else time.perf_counter
        found = bests({name: run(command) for name, command in commands.items()}, repeat, clock)
    baseline, measured = found["json.load"], found["promote build"]
    print(
        f"  as processes: promote build {measured * 1e3:.0f} ms, a Python process json.load-ing every file "
        f"{baseline * 1e3:.0f} ms: {measured / baseline:.2f}x"
    )


def _children() -> float:
    """CPU time of the finished child processes (user and system)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def paused(fn, *args, **kwargs):
    def run() -> None:
        with _uncollected():
            fn(*args, **kwargs)

    return run


def parse_all(files) -> None:
    for data in files.files.values():
        json.loads(data)


def prepared_files(prepared) -> dict[str, bytes]:
    return render(prepared.template, prepared.era, prepared.texts)


def side(path: Path) -> SideInput:
    files = read_path(path)
    return SideInput(files.label, files, None, None)


def run_diff(pair: tuple[Path, Path]) -> None:
    """What `promote diff --from A --to B` runs once the arguments are parsed (both sides paths)."""
    diff_versions(side(pair[0]), side(pair[1]))


def bench_diff(entries: list[dict], repeat: int) -> None:
    by_repo: dict[str, list[dict]] = {}
    for entry in entries:
        by_repo.setdefault(entry["published"][0]["factory_name"], []).append(entry)
    rows = []
    for factory, versions in by_repo.items():
        versions.sort(key=lambda e: e["collab_commit_time"])
        for old, new in itertools.pairwise(versions):
            if sum(f["size"] for f in new["files"]) < 100_000:
                continue  # the small factories measure process noise
            collab = (root_of(old), root_of(new))
            published = (TEMPLATES / old["published"][0]["templates"], TEMPLATES / new["published"][0]["templates"])

            result_c = diff_versions(side(collab[0]), side(collab[1]))
            result_p = diff_versions(side(published[0]), side(published[1]))
            older = read_path(collab[0])
            times = bests(
                {
                    "c": functools.partial(run_diff, collab),
                    "p": functools.partial(run_diff, published),
                    # the part a per-object cache between runs could take off: building the older revision
                    "older": functools.partial(prepare, older),
                },
                repeat,
            )
            time_c, time_p = times["c"], times["p"]
            rows.append((factory, old, new, time_c, time_p, times["older"], result_c, result_p))
    print("diff between consecutive revisions (largest factories):")
    print("| factory | revisions | objects changed | collaboration (of which building the older) | published | ratio |")
    print("|---|---|---|---|---|---|")
    for factory, old, new, time_c, time_p, time_older, result_c, result_p in rows:
        changed = len(result_c.diff.changes)
        print(
            f"| {factory} | {old['collab_commit'][:8]} → {new['collab_commit'][:8]} | {changed} "
            f"(published: {len(result_p.diff.changes)}) | {time_c * 1e3:.1f} ms ({time_older * 1e3:.1f} ms) "
            f"| {time_p * 1e3:.1f} ms | {time_c / time_p:.2f}x |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--cpu", action="store_true", help="time CPU time rather than the wall clock")
    args = parser.parse_args()
    global CLOCK
    if args.cpu:
        CLOCK = time.process_time  # (and the processes of (5): their own CPU time, `_children`)
    if not COLLABORATION.exists():
        print(f"reference material not found at {COLLABORATION}")
        return 1
    entries = json.loads((COLLABORATION / "manifest.json").read_text())
    bench_build(entries, args.repeat)
    bench_processes(entries, args.repeat)
    print()
    bench_diff(entries, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
