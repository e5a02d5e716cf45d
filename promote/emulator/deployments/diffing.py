"""What-if: what a prepared deployment would change, compared with the live objects as the emulator returns
them (so `runtimeState` and other read-only values show up as noise, as they do for ADF in Azure).

`Create`, `Modify` (with a `delta` by property path) or `NoChange` for each template resource; `Ignore` for the
objects and factories the template lacks, or `Delete` for factories in Complete mode (ARM deletes top-level
resources only).
"""

from __future__ import annotations

import json
from typing import Any

from promote.emulator.deployments.model import Prepared
from promote.emulator.store import FACTORY_TYPE, KIND_BY_TYPE, Store, as_adf_keeps

_FACTORY_READ_ONLY = ("provisioningState", "createTime", "version")  # what-if leaves them out


def changes(store: Store, prepared: Prepared) -> list[dict[str, Any]]:
    """The what-if result's `changes`, in template order, then what the template lacks."""
    scope = prepared.scope
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for r in prepared.resources:
        seen.add(r.id.lower())
        head: dict[str, Any] = {"id": r.id, "name": r.name, "type": r.type, "apiVersion": r.api_version}
        if r.kind is None:
            live = store.factory_body(scope, r.factory)
            before: dict[str, Any] | None = None
            if live is not None:
                kept = {k: v for k, v in live["properties"].items() if k not in _FACTORY_READ_ONLY}
                before = {**head, "location": live.get("location"), "tags": live.get("tags") or {}, "properties": kept}
            after: dict[str, Any] = {**head, **{k: r.other[k] for k in ("location", "tags") if k in r.other}}
            after["properties"] = r.properties if isinstance(r.properties, dict) else {}
        else:
            assert r.child is not None
            props = store.object_properties(scope, r.factory, r.kind, r.child)
            before = {**head, "properties": props} if props is not None else None
            after = {**head, "properties": _as_kept(r.kind.type, r.properties, props, r.factory)}
        change: dict[str, Any] = {"resourceId": r.id, "changeType": "Create", "after": after}
        if before is not None:
            change["before"] = before
            delta = property_delta(
                {k: v for k, v in before.items() if k not in head},
                {k: v for k, v in after.items() if k not in head},
                "",
            )
            change["changeType"] = "Modify" if delta else "NoChange"
            if delta:
                change["delta"] = delta
        out.append(change)
    for factory in {r.factory for r in prepared.resources}:
        for type_, name in store.object_names(scope, factory):
            object_id = Store.object_id(scope, scope.resource_group, factory, KIND_BY_TYPE[type_], name)
            if object_id.lower() not in seen:
                out.append({"resourceId": object_id, "changeType": "Ignore"})
    for text in store.list_factories(scope.subscription, scope.resource_group):
        live = json.loads(text)
        if (
            live["id"].lower() not in seen
            and f"{scope.prefix}/providers/{FACTORY_TYPE}/{live['name']}".lower() not in seen
        ):
            out.append({"resourceId": live["id"], "changeType": "Delete" if prepared.mode == "Complete" else "Ignore"})
    return out


def _as_kept(kind_type: str, properties: Any, live: dict[str, Any] | None, factory: str) -> Any:
    """What the write would leave (`as_adf_keeps`), with the live `encryptedCredential` where both have one: the
    new one cannot be known before the write, and a credential written again is no change to show."""
    if not isinstance(properties, dict):
        return properties
    kept = as_adf_keeps(kind_type, properties, factory)
    tp, live_tp = kept.get("typeProperties"), (live or {}).get("typeProperties")
    if isinstance(tp, dict) and isinstance(live_tp, dict) and "encryptedCredential" in tp.keys() & live_tp.keys():
        kept["typeProperties"] = {**tp, "encryptedCredential": live_tp["encryptedCredential"]}
    return kept


def property_delta(before: Any, after: Any, path: str) -> list[dict[str, Any]]:
    """Property changes between two values, by dotted path (lists compared whole)."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[dict[str, Any]] = []
        for key in sorted(set(before) | set(after)):
            sub = f"{path}.{key}" if path else key
            if key not in before:
                out.append({"path": sub, "propertyChangeType": "Create", "after": after[key]})
            elif key not in after:
                out.append({"path": sub, "propertyChangeType": "Delete", "before": before[key]})
            else:
                out.extend(property_delta(before[key], after[key], sub))
        return out
    if before == after:
        return []
    kind = "Array" if isinstance(before, list) and isinstance(after, list) else "Modify"
    return [{"path": path, "propertyChangeType": kind, "before": before, "after": after}]
