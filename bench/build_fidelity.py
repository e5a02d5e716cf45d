"""Fidelity of `promote build` on every pair of ../shared/reference/collaboration: the template built from a
collaboration folder against the template ADF published from it.

For each pair (a collaboration commit and the publish naming it): build the folder as ADF's publish did on the
publish's date (`as_of`, promote.build.eras) in the language of its Studio (the publish message's), read the built
files back through the loader and the published folder the same way, evaluate both with their own parameters
files and diff them with the project's normalisation (`promote.diff.diff_factories`). Prints one row per pair
(objects equal / objects published, parameter names shared, byte-identical files) and the totals; `--details`
lists every remaining difference.

Run: .venv/bin/python bench/build_fidelity.py [--details] [--only REPO-SUBSTRING]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from promote.build import build  # noqa: E402
from promote.diff import diff_factories  # noqa: E402
from promote.errors import InputError  # noqa: E402
from promote.loader import evaluate, open_published  # noqa: E402
from promote.source import SourceFiles, read_path  # noqa: E402

REFERENCE = ROOT.parent / "shared" / "reference"
COLLABORATION = REFERENCE / "collaboration"
TEMPLATES = REFERENCE / "templates"
COMPARED = ("ARMTemplateForFactory.json", "ARMTemplateParametersForFactory.json")


@dataclass
class PairResult:
    """The comparison of one built template with the one ADF published."""

    repo: str
    commit: str
    published_at: dt.date
    objects: int  # objects ADF published
    equal: int  # of those, equal in the built template (normalised, evaluated)
    parameters: int  # parameters ADF declared
    parameter_names: int  # of those, declared by the built template too
    built_parameters: int
    identical: dict[str, bool] = field(default_factory=dict)  # file -> byte-identical
    differences: list[str] = field(default_factory=list)
    error: str | None = None


def pairs(manifest: Path = COLLABORATION / "manifest.json") -> list[dict]:
    return json.loads(manifest.read_text())


def collaboration_root(entry: dict) -> Path:
    local = entry["files"][0]["local"]
    owner, short = local.split("/")[:2]
    return COLLABORATION / owner / short / entry["prefix"].rstrip("/")


def language(subject: str) -> str:
    """The language of the Studio that published, as its commit message shows (promote.build.texts)."""
    return "ja" if subject.startswith("コラボレーション") else "en"


def compare(entry: dict) -> PairResult:
    published = entry["published"][0]
    when = dt.datetime.fromtimestamp(published["commit_time"], dt.timezone.utc).date()
    published_dir = TEMPLATES / published["templates"]
    pub_files = read_path(published_dir)
    pub_published = open_published(pub_files)
    pub_factory = evaluate(pub_published)
    pub_names = list(pub_published.parameters)
    result = PairResult(
        entry["repo"], entry["collab_commit"][:8], when, len(pub_factory.objects), 0, len(pub_names), 0, 0
    )
    try:
        built = build(
            read_path(collaboration_root(entry)),
            factory=published["factory_name"],
            as_of=when,
            lenient=True,
            language=language(published["subject"]),
        )
    except InputError as exc:
        result.error = str(exc)
        return result
    built_published = open_published(SourceFiles(f"built:{entry['collab_commit'][:8]}", built.files))
    built_factory = evaluate(built_published)
    result.built_parameters = len(built_published.parameters)
    result.parameter_names = len(set(pub_names) & set(built_published.parameters))
    diff = diff_factories(pub_factory, built_factory, from_label="published", to_label="built")
    changed = {change.key for change in diff.changes}
    result.equal = sum(1 for key in pub_factory.objects if key not in changed)
    for change in diff.changes:
        result.differences.append(f"{change.action} {change.key}: {', '.join(change.paths[:6])}")
    for name in sorted(set(pub_names) - set(built_published.parameters)):
        result.differences.append(f"parameter only published: {name}")
    for name in sorted(set(built_published.parameters) - set(pub_names)):
        result.differences.append(f"parameter only built: {name}")
    for name in COMPARED:
        result.identical[name] = built.files.get(name) == (published_dir / name).read_bytes()
    published_files = {p.relative_to(published_dir).as_posix(): p for p in published_dir.rglob("*.json")}
    result.identical["every file"] = set(published_files) == set(built.files) and all(
        built.files[rel] == path.read_bytes() for rel, path in published_files.items()
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--details", action="store_true", help="list every remaining difference")
    parser.add_argument("--only", default=None, help="only pairs whose repository contains this")
    args = parser.parse_args()
    if not COLLABORATION.exists():
        print(f"reference material not found at {COLLABORATION}")
        return 1
    results = [compare(e) for e in pairs() if args.only is None or args.only in e["repo"]]
    print("| pair | published | objects equal | parameter names shared | identical template / parameters |")
    print("|---|---|---|---|---|")
    for r in results:
        same = " / ".join("yes" if r.identical.get(n) else "no" for n in COMPARED)
        print(
            f"| {r.repo} {r.commit} | {r.published_at} | {r.equal}/{r.objects} | "
            f"{r.parameter_names}/{r.parameters} (built {r.built_parameters}) | {same if not r.error else 'error'} |"
        )
    objects = sum(r.objects for r in results)
    equal = sum(r.equal for r in results)
    params = sum(r.parameters for r in results)
    shared = sum(r.parameter_names for r in results)
    exact_pairs = sum(1 for r in results if r.equal == r.objects and not r.error)
    identical = {n: sum(1 for r in results if r.identical.get(n)) for n in (*COMPARED, "every file")}
    print()
    print(f"pairs: {len(results)}, all objects equal in {exact_pairs}")
    print(f"objects equal: {equal}/{objects} ({100 * equal / max(objects, 1):.2f}%)")
    print(f"parameter names shared: {shared}/{params} ({100 * shared / max(params, 1):.2f}%)")
    for name, count in identical.items():
        print(f"byte-identical {name}: {count}/{len(results)}")
    if args.details:
        for r in results:
            if r.error or r.differences:
                print(f"\n## {r.repo} {r.commit}")
                if r.error:
                    print(f"  error: {r.error}")
                for line in r.differences:
                    print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
