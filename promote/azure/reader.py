"""Read the live factory: every child object as raw JSON, trigger states, tags, and a fingerprint.

Raw JSON through the client's pipeline (`_http.pages`), not typed models: real payloads fail to deserialize in
typed clients, and the fingerprint must cover what Azure sent, not what a model kept of it. Each collection is
listed in parallel (one thread per collection, pages followed in order inside it), which keeps a 1,000-object
factory to a few round trips' time; private endpoints are listed per managed network once the networks are
known, and event triggers' subscription statuses in parallel too.

The objects' `properties` are made `promote.normalise.comparable` here, so the live side is ready for a
desired × live diff whose desired side went through the same function.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from promote.azure._http import call_error, checked, pages, send
from promote.azure.connection import Connection
from promote.azure.errors import AzureCallError
from promote.errors import InputError
from promote.factory import Factory, FactoryObject, ObjectKey
from promote.live import LiveState, TriggerState, is_event_trigger
from promote.normalise import comparable

# Contract type -> the collection's path segment under the factory (as the REST specification spells it).
COLLECTIONS: dict[str, str] = {
    "integrationRuntimes": "integrationRuntimes",
    "managedVirtualNetworks": "managedVirtualNetworks",
    "credentials": "credentials",
    "linkedServices": "linkedservices",
    "datasets": "datasets",
    "dataflows": "dataflows",
    "pipelines": "pipelines",
    "triggers": "triggers",
    "globalParameters": "globalParameters",
    "adfcdcs": "adfcdcs",
}
MPE_TYPE = "managedVirtualNetworks/managedPrivateEndpoints"
# Collections a factory may not offer (feature not enabled in its region or tier): a 404 / 400 on the list
# means "none", not "factory missing" (the factory itself was read first).
_OPTIONAL = frozenset({"adfcdcs", "credentials", "managedVirtualNetworks", "globalParameters"})


def read_live(conn: Connection) -> LiveState:
    """The live factory of `conn` as a LiveState; `exists=False` (and nothing else) when it does not exist."""
    operation = f"read factory {conn.factory}"
    status, body = send(conn.adf, "GET", conn.factory_url(), operation=operation)
    if status == 404:
        empty = Factory(name=conn.factory, objects={}, source=_label(conn))
        return LiveState(factory=empty, fingerprint=fingerprint([], {}), exists=False)
    if not 200 <= status < 300:
        raise call_error(status, body, operation)
    factory_body = body if isinstance(body, dict) else {}
    raw_tags = factory_body.get("tags") or {}
    if not isinstance(raw_tags, dict):  # the deployment record lives there: unreadable is not "none"
        raise InputError.single(
            f"GET {conn.factory_url().split('?')[0]}",
            f"Azure's answer cannot be read: the factory's tags are a {type(raw_tags).__name__}, not an object",
            hint=f"{operation}: the record of what is deployed lives in the tags; look at them in the portal",
        )
    tags = {str(k): str(v) for k, v in raw_tags.items()}

    raw: list[tuple[ObjectKey, dict[str, Any]]] = []
    with ThreadPoolExecutor(max_workers=max(1, min(conn.settings.max_workers, len(COLLECTIONS)))) as pool:
        listed = pool.map(lambda item: (item[0], _list(conn, item[0], item[1])), COLLECTIONS.items())
        for object_type, items in listed:
            raw.extend((ObjectKey(object_type, str(item.get("name"))), item) for item in items)
        networks = [key.name for key, _ in raw if key.type == "managedVirtualNetworks"]
        for network, items in pool.map(lambda n: (n, _list_endpoints(conn, n)), networks):
            raw.extend((ObjectKey(MPE_TYPE, f"{network}/{item.get('name')}"), item) for item in items)

        states = _trigger_states(conn, [item for key, item in raw if key.type == "triggers"], pool)
    objects: dict[ObjectKey, FactoryObject] = {}
    for key, item in raw:
        properties = comparable(_properties(item), key.type)
        objects[key] = FactoryObject(key=key, properties=properties, file=_label(conn))
    factory = Factory(name=str(factory_body.get("name") or conn.factory), objects=objects, source=_label(conn))
    etag = factory_body.get("etag") or factory_body.get("eTag")
    return LiveState(
        factory=factory,
        triggers=states,
        tags=tags,
        fingerprint=fingerprint(raw, states),
        exists=True,
        etag=str(etag) if etag else None,
    )


def read_triggers(conn: Connection) -> dict[str, TriggerState]:
    """Only the triggers' states: what the executor records before touching anything (one list, not the
    whole factory)."""
    items = _list(conn, "triggers", COLLECTIONS["triggers"])
    with ThreadPoolExecutor(max_workers=max(1, conn.settings.max_workers)) as pool:
        return _trigger_states(conn, items, pool)


def _trigger_states(conn: Connection, items: list[dict[str, Any]], pool: ThreadPoolExecutor) -> dict[str, TriggerState]:
    """Runtime state of each listed trigger, and the subscription status of event triggers (read in parallel)."""
    triggers = {str(item.get("name")): item for item in items}
    event_triggers = [name for name, item in triggers.items() if is_event_trigger(_properties(item).get("type"))]
    statuses = dict(pool.map(lambda n: (n, subscription_status_raw(conn, n)), event_triggers))
    return {
        name: TriggerState(
            name=name,
            runtime_state=str(_properties(item).get("runtimeState") or "Stopped"),
            subscription_status=statuses.get(name),
        )
        for name, item in triggers.items()
    }


def subscription_status_raw(conn: Connection, trigger: str) -> str:
    """The event subscription status of a trigger (`Enabled`, `Provisioning`, `Disabled`, ...)."""
    body = checked(
        conn.adf,
        "POST",
        conn.factory_url("triggers", trigger, "getEventSubscriptionStatus"),
        operation=f"subscription status of trigger {trigger}",
    )
    status = body.get("status") if isinstance(body, dict) else None
    return str(status or "Unknown")


def fingerprint(raw: Iterable[tuple[ObjectKey, dict[str, Any]]], triggers: dict[str, TriggerState]) -> str:
    """sha256 over what was read: each object's type, name and raw `properties` (canonical JSON), and each
    trigger's runtime and subscription state. Etags are left out on purpose: they change on writes that change
    nothing (a re-publish of the same content), which must not invalidate an approved plan."""
    digest = hashlib.sha256()
    entries = sorted(
        (key.type, key.name.casefold(), key.name, json.dumps(_properties(item), sort_keys=True, separators=(",", ":")))
        for key, item in raw
    )
    for entry in entries:
        digest.update(json.dumps(entry, separators=(",", ":")).encode())
        digest.update(b"\n")
    for name in sorted(triggers, key=lambda n: (n.casefold(), n)):
        state = triggers[name]
        digest.update(json.dumps(["trigger", name, state.runtime_state, state.subscription_status]).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _list(conn: Connection, object_type: str, segment: str) -> list[dict[str, Any]]:
    url = conn.factory_url(segment)
    try:
        return list(pages(conn.adf, url, operation=f"list {object_type} of {conn.factory}"))
    except AzureCallError as exc:
        if object_type in _OPTIONAL and exc.status in (400, 404):
            return []
        raise


def _list_endpoints(conn: Connection, network: str) -> list[dict[str, Any]]:
    url = conn.factory_url("managedVirtualNetworks", network, "managedPrivateEndpoints")
    return list(pages(conn.adf, url, operation=f"list private endpoints of {network}"))


def _properties(item: dict[str, Any]) -> dict[str, Any]:
    properties = item.get("properties")
    return properties if isinstance(properties, dict) else {}


def _label(conn: Connection) -> str:
    return f"live:{conn.resource_group}/{conn.factory}"
