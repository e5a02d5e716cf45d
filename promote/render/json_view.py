"""JSON for machines: exactly the `--format json` contract (`Diff.to_json`, docs/architecture.md)."""

from __future__ import annotations

import json

from promote.diff import Diff


def render_diff(diff: Diff) -> str:
    return json.dumps(diff.to_json(), indent=2, ensure_ascii=False) + "\n"
