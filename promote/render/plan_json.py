"""A plan as JSON for machines and logs: the plan file's data (`promote.plan.planfile.to_data`), with each
deployment's generated template given by its size and sha256 instead of its content.

The values a reviewer reads are all there (each write's `details` old -> new, outlines, referrers, impact): they
went through `promote.shown`. A template is what ARM receives: the objects' full properties as the source and
the environment give them, plain values included, so it is never printed; `promote plan --out FILE` saves it,
and `promote apply` reads it from there.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from promote.plan.planfile import to_data
from promote.plan.steps import Plan


def render_plan(plan: Plan) -> str:
    data = to_data(plan)
    for step in data.get("steps", []):
        if step.get("kind") == "Deploy":
            step["template"] = _digest(step.get("template"))
    return json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def _digest(template: Any) -> dict[str, Any]:
    text = json.dumps(template, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    encoded = text.encode("utf-8", "surrogatepass")
    return {"bytes": len(encoded), "sha256": hashlib.sha256(encoded).hexdigest(), "shown": False}
