"""An object's outline: the few properties that say what it is, for a reviewer reading a create or a delete.

A created object has no old value to compare with, and a path list of a new pipeline would be its whole JSON;
what a reviewer needs is what it is and what it touches:

- pipeline: its activities, by name and type (`copy_sales (Copy), notify (WebActivity)`);
- linked service: its type, where it connects (the non-secret parts only: a URL, a server, an account, a
  database; from a connection string only `Server`, `Data Source`, `AccountName`, ... and never the rest) and
  the integration runtime it connects through;
- trigger: its type, schedule (recurrence, tumbling window, or the blob events it listens to), the runtime state
  the template gives it and the pipelines it runs;
- dataset: its type and linked service; data flow: its type and the datasets it reads and writes;
- integration runtime, credential, private endpoint, global parameters: their type and target.

Every value passes through `promote.shown` (masked, abridged), and names through the views' `inert`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from promote.shown import SECRET, is_secret_object, is_sensitive_key, looks_secret, shown

MOST_NAMES = 12  # activities, pipelines, datasets listed by name; the rest are counted

# typeProperties keys of a linked service that say where it connects (never how it authenticates).
TARGET_KEYS = (
    "url",
    "baseUrl",
    "serviceUri",
    "serviceEndpoint",
    "endpoint",
    "accountEndpoint",
    "accountName",
    "server",
    "host",
    "domain",
    "database",
    "fileSystem",
    "tenant",
    "subscriptionId",
    "resourceGroupName",
    "workspaceResourceId",
    "existingClusterId",
    "functionAppUrl",
    "clusterUri",
    "sqlServerName",
)
# Keys of a connection string that name its target; every other key (passwords, keys, user names) is left out.
_CONNECTION_TARGET = frozenset(
    {
        "server",
        "data source",
        "datasource",
        "address",
        "addr",
        "network address",
        "host",
        "hostname",
        "port",
        "initial catalog",
        "database",
        "accountname",
        "endpointsuffix",
        "blobendpoint",
        "endpoint",
        "accountendpoint",
        "defaultendpointsprotocol",
    }
)
_PAIR = re.compile(r"\s*([^=;]+?)\s*=\s*([^;]*)")


@dataclass(frozen=True)
class Fact:
    """One line of an outline: a label and its display text (already masked; names still to be made inert)."""

    label: str
    text: str


def outline(object_type: str, properties: Any) -> tuple[Fact, ...]:
    """The main properties of an object of `object_type` (contract casing), as facts in a fixed order."""
    if not isinstance(properties, dict):
        return ()
    facts: list[Fact] = []
    kind = properties.get("type")
    if isinstance(kind, str) and object_type != "globalParameters":
        facts.append(Fact("type", kind))
    type_properties = properties.get("typeProperties")
    tp = type_properties if isinstance(type_properties, dict) else {}
    if object_type == "pipelines":
        activities = properties.get("activities")
        if isinstance(activities, list):
            facts.append(Fact("activities", _names(_activity(a) for a in activities) or "none"))
    elif object_type == "linkedServices":
        target = _target(tp)
        if target:
            facts.append(Fact("connects to", target))
        via = _reference_name(properties.get("connectVia"))
        if via:
            facts.append(Fact("through integration runtime", via))
    elif object_type == "datasets":
        linked = _reference_name(properties.get("linkedServiceName"))
        if linked:
            facts.append(Fact("linked service", linked))
    elif object_type == "triggers":
        facts += _trigger(properties, tp)
    elif object_type == "dataflows":
        for side in ("sources", "sinks"):
            items = tp.get(side)
            if isinstance(items, list):
                names = _names(_reference_name(i.get("dataset")) or str(i.get("name", "?")) for i in _dicts(items))
                facts.append(Fact(side, names or "none"))
    elif object_type == "integrationRuntimes":
        network = _reference_name(properties.get("managedVirtualNetwork"))
        if network:
            facts.append(Fact("managed virtual network", network))
        compute = tp.get("computeProperties")
        if isinstance(compute, dict) and isinstance(compute.get("location"), str):
            facts.append(Fact("location", compute["location"]))
    elif object_type == "managedVirtualNetworks/managedPrivateEndpoints":
        for key in ("privateLinkResourceId", "groupId", "fqdns"):
            if key in properties:
                facts.append(Fact(key, _value(key, properties[key])))
    elif object_type == "credentials":
        for key in ("resourceId",):
            if key in tp:
                facts.append(Fact(key, _value(key, tp[key])))
    elif object_type == "globalParameters":
        declared = [f"{name} ({spec.get('type', '?')})" for name, spec in properties.items() if isinstance(spec, dict)]
        facts.append(Fact("parameters", _names(declared) or "none"))
    return tuple(facts)


def _trigger(properties: dict[str, Any], tp: dict[str, Any]) -> list[Fact]:
    facts: list[Fact] = []
    recurrence = tp.get("recurrence")
    if isinstance(recurrence, dict):  # ScheduleTrigger
        facts.append(Fact("recurrence", _recurrence(recurrence)))
    elif "frequency" in tp:  # TumblingWindowTrigger
        facts.append(Fact("window", _recurrence(tp)))
    events = tp.get("events")
    if isinstance(events, list):  # BlobEventsTrigger, CustomEventsTrigger
        facts.append(Fact("events", _value("events", events)))
        for key in ("blobPathBeginsWith", "blobPathEndsWith", "subjectBeginsWith", "subjectEndsWith"):
            if key in tp:
                facts.append(Fact(key, _value(key, tp[key])))
    state = properties.get("runtimeState")
    if isinstance(state, str):
        facts.append(Fact("runtimeState", state))
    pipelines: list[str] = []
    for entry in _dicts(properties.get("pipelines")):
        pipelines.append(_reference_name(entry.get("pipelineReference")) or "?")
    single = properties.get("pipeline")  # a tumbling window trigger runs one pipeline
    if isinstance(single, dict):
        pipelines.append(_reference_name(single.get("pipelineReference")) or "?")
    facts.append(Fact("pipelines", _names(pipelines) or "none"))
    return facts


def _recurrence(spec: dict[str, Any]) -> str:
    """`every 1 Day from 2024-01-01T00:00:00Z (UTC), at {"hours": [6]}`."""
    text = f"every {_plain(spec.get('interval', 1))} {_plain(spec.get('frequency', '?'))}"
    if "startTime" in spec:
        text += f" from {_plain(spec['startTime'])}"
    if "endTime" in spec:
        text += f" until {_plain(spec['endTime'])}"
    if "timeZone" in spec:
        text += f" ({_plain(spec['timeZone'])})"
    schedule = spec.get("schedule")
    if isinstance(schedule, dict) and schedule:
        text += f", at {shown(schedule)}"
    return text


def _target(tp: dict[str, Any]) -> str:
    """Where a linked service connects: its target keys, and the target parts of a connection string."""
    parts: list[str] = []
    for key in TARGET_KEYS:
        if key in tp:
            parts.append(f"{key} {_value(key, tp[key])}")
    connection = tp.get("connectionString")
    if isinstance(connection, str):
        target = connection_target(connection)
        if target:
            parts.append(f"connectionString {target}")
    return ", ".join(parts)


def connection_target(text: str) -> str:
    """The parts of a connection string that name its target (`Server=...; Initial Catalog=...`); the rest, which
    may hold a password or a key, is left out. Empty when the text holds a placeholder (its source is shown by
    the diff) or no target part."""
    if "<secure:" in text or "<keyvault:" in text:
        return ""
    kept = []
    for match in _PAIR.finditer(text):
        name, value = match.group(1), match.group(2).strip()
        if name.strip().lower() in _CONNECTION_TARGET and value and not looks_secret(value):
            kept.append(f"{name.strip()}={value}")
    return "; ".join(kept)


def _value(key: str, value: Any) -> str:
    """A property's value as shown (masked under a key or object that makes it a secret)."""
    return shown(value, is_sensitive_key(key) or is_secret_object(value))


def _plain(value: Any) -> str:
    """A short scalar without JSON quotes, masked like any value."""
    text = shown(value)
    return text[1:-1] if text.startswith('"') and text.endswith('"') and text != SECRET else text


def _activity(activity: Any) -> str:
    if not isinstance(activity, dict):
        return "?"
    return f"{activity.get('name', '?')} ({activity.get('type', '?')})"


def _reference_name(value: Any) -> str:
    name = value.get("referenceName") if isinstance(value, dict) else None
    return name if isinstance(name, str) else ""


def _dicts(items: Any) -> list[dict[str, Any]]:
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _names(names: Iterable[str]) -> str:
    """`a, b, c`, or the first `MOST_NAMES` and how many more."""
    listed = list(names)
    shown_names = ", ".join(listed[:MOST_NAMES])
    more = len(listed) - MOST_NAMES
    return shown_names + (f" and {more} more" if more > 0 else "")
