"""The sweep's table for bench/README.md: versions, deployed, refused and why, per factory history.

Run the sweep with a report folder, then this on it:

    PROMOTE_SWEEP_REPORT=/tmp/sweep .venv/bin/python -m pytest -q -n 2 -m sweep tests/test_sweep.py
    .venv/bin/python bench/sweep_table.py /tmp/sweep
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path


def _why(reason: str) -> str:
    """A refusal's message without the commit and path in front: what is wrong, in the tool's words."""
    text = re.sub(r"^\S+?\.(json|yaml)(:\d+)?:\s*", "", reason)
    return text[:110] + ("..." if len(text) > 110 else "")


def main(folder: str) -> None:
    rows = []
    totals: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for path in sorted(Path(folder).glob("*.json")):
        doc = json.loads(path.read_text())
        outcomes = doc["outcomes"]
        deploys = [o for o in outcomes if o["step"] == "deploy"]
        deployed = sum(1 for o in deploys if o["result"] == "deployed")
        refused = [o for o in deploys if o["result"] == "refused"]
        rollback = "yes" if any(o["step"] == "rollback" for o in outcomes) else "-"
        for o in refused:
            reasons[_why(o["reason"])] += 1
        rows.append(f"| `{doc['history']}` | {len(deploys)} | {deployed} | {len(refused)} | {rollback} |")
        totals.update(versions=len(deploys), deployed=deployed, refused=len(refused), rollbacks=rollback == "yes")
    print("| factory history | versions | deployed, then diff and drift clean | refused (exit 2) | rollback, clean |")
    print("|---|---:|---:|---:|---|")
    print("\n".join(rows))
    print(
        f"| **all** | **{totals['versions']}** | **{totals['deployed']}** | **{totals['refused']}** | "
        f"**{totals['rollbacks']}** |"
    )
    if reasons:
        print("\nRefused, and why (the first problem of each refusal):\n")
        print("| count | message |")
        print("|---:|---|")
        for reason, count in reasons.most_common():
            print(f"| {count} | {reason.replace('|', '&#124;')} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/sweep")
