"""Benchmark: `promote diff` of a 5,000-object factory with three changed objects.

Generates two ARMTemplateForFactory.json files of realistic shape (the sample factory's pipelines, datasets,
linked services and triggers, replicated under new names with their references and ADF's parameterisation),
changes three objects in the second, then measures in this one process:

- baseline: `json.load` of both files (best of N),
- diff: what `promote diff --from A --to B` runs after reading the bytes, `promote.versiondiff.diff_versions`
  (the fast path, which must not fall back here), best of N, as a ratio to the baseline (target <= 1.5),
- peak memory of the diff (tracemalloc, a separate pass), as a ratio to the size of the two JSON files
  (target <= 3),
- the same two figures for the slow path (`slow_diff`: both sides parsed and evaluated whole, then diffed),
  which the fast path falls back to and must equal (checked here too).

Run: .venv/bin/python bench/diff_large.py [--objects 5000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from promote.desired import SideInput  # noqa: E402
from promote.source import read_path  # noqa: E402
from promote.versiondiff import diff_versions, slow_diff  # noqa: E402

SAMPLE = ROOT / "adf_publish_mirror" / "adf-ml-project" / "ARMTemplateForFactory.json"


def _rename(value, mapping):
    """Replace every referenceName and dependsOn target found in `mapping` (old name -> new name)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "referenceName" and isinstance(v, str) and v in mapping:
                out[k] = mapping[v]
            else:
                out[k] = _rename(v, mapping)
        return out
    if isinstance(value, list):
        return [_rename(v, mapping) for v in value]
    if isinstance(value, str) and value.startswith("[concat(variables('factoryId')"):
        for old, new in mapping.items():
            value = value.replace(f"/{old}')]", f"/{new}')]")
        return value
    return value


def generate(objects: int) -> dict:
    """A template with `objects` factory objects, built from copies of the sample factory's own objects."""
    sample = json.loads(SAMPLE.read_text())
    resources = [r for r in sample["resources"] if not r["type"].endswith("globalparameters")]
    base_names = [r["name"].split("'/")[1].split("'")[0] for r in resources]
    out = copy.deepcopy(sample)
    out["resources"] = []
    copies = objects // len(resources) + 1
    for i in range(copies):
        mapping = {name: f"{name}_{i:04d}" for name in base_names}
        for resource, name in zip(resources, base_names, strict=True):
            if len(out["resources"]) == objects:
                break
            clone = _rename(copy.deepcopy(resource), mapping)
            clone["name"] = f"[concat(parameters('factoryName'), '/{mapping[name]}')]"
            out["resources"].append(clone)
    return out


def change_three(template: dict) -> dict:
    changed = copy.deepcopy(template)
    pipelines = [r for r in changed["resources"] if r["type"].endswith("/pipelines")]
    pipelines[10]["properties"]["activities"][0]["name"] += "_renamed"
    pipelines[len(pipelines) // 2]["properties"].setdefault("annotations", []).append("bench")
    triggers = [r for r in changed["resources"] if r["type"].endswith("/triggers")]
    triggers[5]["properties"]["description"] = "changed by the benchmark"
    return changed


def write(folder: Path, template: dict, parameters: dict) -> None:
    folder.mkdir(parents=True)
    (folder / "ARMTemplateForFactory.json").write_text(json.dumps(template, indent="\t"))
    (folder / "ARMTemplateParametersForFactory.json").write_text(json.dumps(parameters, indent="\t"))


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    template = generate(args.objects)
    parameters = json.loads((SAMPLE.parent / "ARMTemplateParametersForFactory.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp) / "a" / "f", Path(tmp) / "b" / "f"
        write(a, template, parameters)
        write(b, change_three(template), parameters)
        files_a, files_b = read_path(a), read_path(b)  # the bytes, as git or the disk hands them over
        json_bytes = sum(len(v) for v in files_a.files.values()) + sum(len(v) for v in files_b.files.values())

        def baseline() -> None:
            for files in (files_a, files_b):
                json.loads(files.files["ARMTemplateForFactory.json"])

        before, after = SideInput("A", files_a, None, None), SideInput("B", files_b, None, None)
        result = {}

        def fast() -> None:
            result["fast"] = diff_versions(before, after)

        def slow() -> None:
            result["slow"] = slow_diff(before, after)

        def peak(fn) -> int:
            result.clear()  # nothing of an earlier run stays alive while this one is measured
            gc.collect()
            tracemalloc.start()
            fn()
            _, top = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            return top

        parse_s = best(baseline, args.repeat)
        fast_s = best(fast, args.repeat)
        slow_s = best(slow, args.repeat)
        slow_peak = peak(slow)
        slow_result = result["slow"]
        fast_peak = peak(fast)  # (the slow path's result, a small Diff, stays alive meanwhile)
        fast_diff = result["fast"]

    changes = fast_diff.diff.changes
    same = fast_diff.diff.to_json() == slow_result.diff.to_json() and [c.details for c in changes] == [
        c.details for c in slow_result.diff.changes
    ]
    print(f"objects per side:        {args.objects}")
    print(f"JSON size (both files):  {json_bytes / 1e6:.1f} MB")
    print(f"json.load (both files):  {parse_s * 1000:.0f} ms")
    print(f"fast path fallback:      {fast_diff.fallback or 'none (fast path taken)'}")
    print(f"diff, fast path:         {fast_s * 1000:.0f} ms = {fast_s / parse_s:.2f} x json.load  (target <= 1.5)")
    fast_memory = f"{fast_peak / 1e6:.1f} MB = {fast_peak / json_bytes:.2f} x the JSON size"
    print(f"peak memory, fast path:  {fast_memory}  (target <= 3)")
    print(f"diff, slow path:         {slow_s * 1000:.0f} ms = {slow_s / parse_s:.2f} x json.load")
    print(f"peak memory, slow path:  {slow_peak / 1e6:.1f} MB = {slow_peak / json_bytes:.2f} x the JSON size")
    print(f"changes found:           {len(changes)} ({', '.join(str(c.key) for c in changes)})")
    print(f"fast == slow:            {same}")
    return 0 if len(changes) == 3 and same and fast_diff.fallback is None else 1


if __name__ == "__main__":
    raise SystemExit(main())
