"""CPU of one `promote deploy`, `plan` and `status` process against an emulator elsewhere, as the test suite runs
them: best and median of N, optionally against a baseline source tree in the same run, alternately.

About three quarters of the suite's CPU is such processes; what each one imports and builds before its first
request is paid hundreds of times.

    .venv/bin/python bench/promote_cpu.py [--repeat 8] [--baseline DIR]

`--baseline DIR`: the sources of another commit (`mkdir /tmp/base && git archive <commit> promote | tar -x -C
/tmp/base`); its `promote` package comes first on the PYTHONPATH of the baseline's processes (the same interpreter
and installed SDKs). The project is a
clone of this repository in a temporary folder (the sample's publish history), deployed alternately to the last
two versions of the sample so that each deploy writes, stops and starts triggers, and runs its smoke test.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROMOTE = str(Path(sys.executable).with_name("promote"))
MIRROR = "adf_publish_mirror/adf-ml-project"
COMMANDS = ("deploy", "plan", "status")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=8)
    parser.add_argument("--baseline", type=Path, help="a source tree to compare with (its promote/ package)")
    args = parser.parse_args()
    # Both trees as bytecode: with PYTHONDONTWRITEBYTECODE set, a tree without it is compiled again in every process.
    for tree in (ROOT, args.baseline):
        if tree is not None:
            compileall.compile_dir(tree / "promote", quiet=1)

    with tempfile.TemporaryDirectory(prefix="promote-cpu-") as tmp:
        project = Path(tmp) / "project"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(project)], check=True)
        log = ["git", "-C", str(project), "log", "--format=%H", "-2", "--", MIRROR]
        refs = subprocess.run(log, check=True, capture_output=True, text=True).stdout.split()
        emulator = subprocess.Popen(
            [PROMOTE, "emulator", "--state-dir", str(Path(tmp) / "state")],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        try:
            env = dict(os.environ)
            assert emulator.stdout is not None
            for line in emulator.stdout:
                if line.startswith("export "):
                    key, value = line.removeprefix("export ").strip().split("=", 1)
                    env[key] = value
                    if key == "PROMOTE_EMULATOR_CA":
                        break
            variants = {"this tree": env}
            if args.baseline is not None:
                variants = {"baseline": {**env, "PYTHONPATH": str(args.baseline.resolve())}, **variants}
            figures = measure(project, variants, refs, args.repeat)
        finally:
            emulator.terminate()
            emulator.wait(timeout=60)

    print(f"CPU (user + system) of one promote process, best / median of {args.repeat}:")
    for command in COMMANDS:
        cells = []
        for variant in variants:
            times = figures[(variant, command)]
            cells.append(f"{variant} {min(times):.3f} / {statistics.median(times):.3f} s")
        ratio = ""
        if args.baseline is not None:
            ratio = f"  ({min(figures[('this tree', command)]) / min(figures[('baseline', command)]):.2f}x)"
        print(f"  {command:7s} " + " | ".join(cells) + ratio)


def measure(
    project: Path, variants: dict[str, dict[str, str]], refs: list[str], repeat: int
) -> dict[tuple[str, str], list[float]]:
    def cpu(variant: str, *args: str) -> float:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = subprocess.run(
            [PROMOTE, *args], cwd=project, env=variants[variant], capture_output=True, text=True, check=False
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if result.returncode not in (0, 3):
            sys.exit(f"{variant}: promote {' '.join(args)} exited {result.returncode}:\n{result.stderr[-2000:]}")
        return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    cpu(next(iter(variants)), "deploy", "--env", "local", "--ref", refs[1], "--yes")
    figures: dict[tuple[str, str], list[float]] = {(v, c): [] for v in variants for c in COMMANDS}
    turn = 0
    for round_ in range(repeat):
        order = list(variants) if round_ % 2 == 0 else list(reversed(variants))
        for variant in order:
            turn += 1
            figures[(variant, "deploy")].append(
                cpu(variant, "deploy", "--env", "local", "--ref", refs[turn % 2], "--yes")
            )
            figures[(variant, "plan")].append(cpu(variant, "plan", "--env", "local", "--ref", refs[(turn + 1) % 2]))
            figures[(variant, "status")].append(cpu(variant, "status", "--env", "local"))
    return figures


if __name__ == "__main__":
    main()
