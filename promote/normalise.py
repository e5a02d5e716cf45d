"""The one normalisation that makes desired and live objects comparable: applied to BOTH sides of a
desired × live diff, never to what is deployed.

`promote.diff.without_noise` removes the noise that differs between two *publishes* (empty `annotations`, Studio's
`dependsOn: []`, read-only properties). Against a *live* factory there is more: what ADF does to an object
between the PUT and the GET. Each rule below is one such thing, with the evidence; a rule that could hide a
change a deployment would make does not belong here.

1. Read-only properties (`promote.diff.READ_ONLY`: trigger `runtimeState`, integration runtime `state`,
   managed network `vNetId` / `alias`, private endpoint `provisioningState` / `connectionState` /
   `isReserved`) are dropped: Azure fills them on GET and ignores them on PUT.
2. A secure string's value is opaque. ADF never returns it (`{"type": "SecureString", "value": "**********"}`,
   the REST examples' LinkedServices_Get), so the live value says nothing. A literal (the publisher's dummy)
   becomes `SECURE_TOKEN` on both sides; a placeholder (`<secure:...>`, `<keyvault:...>`) stays, and the live
   value at its path is what the deployment record says was deployed there (`with_deployed_secrets`, below):
   the same goes for a plain property holding a secret (`"connectionString": "[parameters('x')]"` with a
   secureString parameter, ADF's default export, which ADF returns with `AccountKey=` stripped), and for a
   linked service's connection string holding an account key as plain text (a literal, or a `string`
   parameter: `promote.secrets.holds_account_key`), whose text is its own source; there the rest of the text
   must still be what ADF answered (`same_but_account_key`), else it is left as a real difference. The `type`
   stays, so a SecureString turning into an `AzureKeyVaultSecret` (which ADF returns in full: store,
   secretName, secretVersion) is still a change, and a Key Vault reference stays compared field by field.
3. A linked service's `typeProperties.encryptedCredential` is dropped: ADF (re-)encrypts credentials on every
   write (LinkedServices_Get / _Update examples show it appearing and changing), and an encrypted blob
   published from another factory cannot be compared with this factory's anyway.
4. A managed private endpoint's `fqdns` defaults to `[]` (ManagedPrivateEndpoints_Get shows `fqdns: []` for an
   endpoint created without it).
5. A global parameter's `type` is compared in ADF's enum casing (`String`, `Int`, `Float`, `Bool`, `Array`,
   `Object`): Studio publishes `string`, the REST API answers `String` (GlobalParameters_ListByFactory).

Not normalised: list order (activity order is what a reviewer sees), numbers vs strings, anything else.

Trees are shared where nothing changes, so normalising a large factory copies little.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from typing import Any

from promote.diff import READ_ONLY, Change, Diff, PathChange, path_text, sort_key
from promote.factory import Factory, FactoryObject, ObjectKey
from promote.live import LiveState, TriggerState
from promote.secrets import (
    OPAQUE,
    DeployedSecrets,
    SecretPath,
    describe,
    is_placeholder,
    same_but_account_key,
    secret_map,
)

SECURE_TOKEN = OPAQUE  # a placeholder to promote.diff: compared, never shown
_SECURE_TYPES = frozenset({"securestring"})
_GLOBAL_PARAMETER_TYPES = {t.lower(): t for t in ("String", "Int", "Float", "Bool", "Array", "Object")}


def comparable(properties: dict[str, Any], object_type: str) -> dict[str, Any]:
    """`properties` of an object of `object_type` (contract casing) as compared desired × live.

    Returns the input itself when no rule applies (no copy), else a new tree sharing unchanged parts.
    """
    out = _secure(properties)
    read_only = READ_ONLY.get(object_type)
    if read_only and any(key in out for key in read_only):
        out = {k: v for k, v in out.items() if k not in read_only}
    if object_type == "linkedServices":
        type_properties = out.get("typeProperties")
        if isinstance(type_properties, dict) and "encryptedCredential" in type_properties:
            out = {
                **out,
                "typeProperties": {k: v for k, v in type_properties.items() if k != "encryptedCredential"},
            }
    elif object_type == "managedVirtualNetworks/managedPrivateEndpoints":
        if "fqdns" not in out:
            out = {**out, "fqdns": []}
    elif object_type == "globalParameters":
        out = _global_parameter_types(out)
    return out


def comparable_factory(factory: Factory) -> Factory:
    """A Factory whose objects' properties are `comparable`; objects no rule touches are shared as they are.

    For the desired side of a desired × live diff only: never deploy what this returns (secure values are
    tokens, trigger `runtimeState` is gone).
    """
    objects: dict[Any, FactoryObject] = {}
    for key, obj in factory.objects.items():
        properties = comparable(obj.properties, key.type)
        objects[key] = obj if properties is obj.properties else dataclasses.replace(obj, properties=properties)
    return dataclasses.replace(factory, objects=objects)


def _secure(node: Any) -> Any:
    """The tree with every SecureString value replaced by the token; the same object when there is none."""
    if isinstance(node, dict):
        kind = node.get("type")
        if isinstance(kind, str) and kind.lower() in _SECURE_TYPES and "value" in node:
            if node["value"] == SECURE_TOKEN or is_placeholder(node["value"]):
                return node  # a placeholder names its source: `with_deployed_secrets` compares that
            return {**node, "value": SECURE_TOKEN}
        changed: dict[str, Any] | None = None
        for key, value in node.items():
            if isinstance(value, (dict, list)):
                new = _secure(value)
                if new is not value:
                    if changed is None:
                        changed = dict(node)
                    changed[key] = new
        return node if changed is None else changed
    if isinstance(node, list):
        changed_list: list[Any] | None = None
        for index, value in enumerate(node):
            if isinstance(value, (dict, list)):
                new = _secure(value)
                if new is not value:
                    if changed_list is None:
                        changed_list = list(node)
                    changed_list[index] = new
        return node if changed_list is None else changed_list
    return node


def _global_parameter_types(properties: dict[str, Any]) -> dict[str, Any]:
    changed: dict[str, Any] | None = None
    for name, spec in properties.items():
        if isinstance(spec, dict) and isinstance(spec.get("type"), str):
            canonical = _GLOBAL_PARAMETER_TYPES.get(spec["type"].lower())
            if canonical is not None and canonical != spec["type"]:
                if changed is None:
                    changed = dict(properties)
                changed[name] = {**spec, "type": canonical}
    return properties if changed is None else changed


# --- desired × live: the one comparison -------------------------------------------------------------------------


def desired_vs_live(desired: Factory, live: LiveState, *, start: str) -> tuple[Factory, Factory]:
    """(live side, desired side) as every desired × live comparison makes them: `diff --env`, `drift`, and the
    plan of every deploy and rollback. `desired` is the evaluated desired state (not yet `comparable`).

    On top of `comparable` (both sides; the live side already is, `promote.azure.reader` made it so):
    - secrets: the live value at each path where the desired state holds a secret is what the factory's
      record says was deployed there (`with_deployed_secrets`), so a freshly deployed factory shows no change
      and a changed source does;
    - trigger runtime state, compared as the environment's `triggers.start` implies (`with_runtime_states`).
    Global parameters follow `promote.diff.MANAGED_WHEN_PRESENT` in `diff_factories` itself.
    """
    desired_side = comparable_factory(desired)
    live_side = with_deployed_secrets(live.factory, desired_side, DeployedSecrets.from_tags(live.tags))
    return with_runtime_states(live_side, desired_side, desired, live.triggers, start)


def with_deployed_secrets(live: Factory, desired: Factory, record: DeployedSecrets) -> Factory:
    """`live` with the value at each secret path of `desired` replaced by what the record says stands there.

    ADF returns no secret (`**********`, a connection string without its key), so that value says nothing; the
    deployment record does (`promote.secrets`): the desired text itself where it was deployed from that same
    source, else a marker unequal to any source, so the object counts as changed and the next deploy writes it.
    A path the live object does not have, or holds something else than text at, is left alone: that is a real
    difference.
    """
    wanted = secret_map(desired)
    if not wanted:
        return live
    deployed = record.deployed(wanted)
    by_folded = {(key.type, key.name.casefold()): key for key in live.objects}
    objects = dict(live.objects)
    for folded, paths in deployed.items():
        key = by_folded.get(folded)
        if key is None:
            continue
        obj = live.objects[key]
        properties = obj.properties
        for path, value in paths.items():
            text = wanted[folded][path]
            if not is_placeholder(text) and not same_but_account_key(_at(properties, path), text):
                continue  # an account key's text: the rest of it differs from what ADF answers, a real change
            properties = _replaced(properties, path, value)
        if properties is not obj.properties:
            objects[key] = dataclasses.replace(obj, properties=properties)
    return dataclasses.replace(live, objects=objects)


def _at(node: Any, path: SecretPath) -> str:
    """The text at `path` ("" when the path does not lead to text)."""
    for step in path:
        if isinstance(node, dict) and isinstance(step, str):
            node = node.get(step)
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
        else:
            return ""
    return node if isinstance(node, str) else ""


def _replaced(node: Any, path: SecretPath, value: str) -> Any:
    """`node` with the text at `path` replaced by `value` (copies along the path only); `node` itself when the
    path does not lead to text."""
    if not path:
        return value if isinstance(node, str) and node != value else node
    step, rest = path[0], path[1:]
    if isinstance(node, dict) and isinstance(step, str) and step in node:
        new = _replaced(node[step], rest, value)
        return node if new is node[step] else {**node, step: new}
    if isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
        new = _replaced(node[step], rest, value)
        if new is node[step]:
            return node
        copy = list(node)
        copy[step] = new
        return copy
    return node


def with_runtime_states(
    live: Factory, desired: Factory, evaluated: Factory, states: Mapping[str, TriggerState], start: str
) -> tuple[Factory, Factory]:
    """Both sides with the runtime state of each trigger the environment's `triggers.start` makes a deploy
    decide, so that it is compared.

    `start: template`: a deploy starts every trigger the template marks `Started` that does not run, and leaves
    alone a running trigger the template does not mark (unless it changes; `promote.plan.builder`). So for a
    trigger marked `Started` the live state is compared (`runtimeState: "Stopped" -> "Started"` is what the
    deploy will start; in drift, a trigger someone stopped by hand); for any other it is not. `start:
    previous`: a deploy restores whatever ran before it; runtime state is not the template's to decide, and is
    not compared.
    """
    if start != "template":
        return live, desired
    marked = {
        key.name.casefold()
        for key, obj in evaluated.objects.items()
        if key.type == "triggers" and obj.properties.get("runtimeState") == "Started"
    }
    live_names = {key.name.casefold() for key in live.objects if key.type == "triggers"}
    compared = marked & live_names
    if not compared:
        return live, desired
    running = {name.casefold() for name, state in states.items() if state.runtime_state == "Started"}

    def stated(factory: Factory, started: set[str]) -> Factory:
        objects = dict(factory.objects)
        for key, obj in factory.objects.items():
            folded = key.name.casefold()
            if key.type == "triggers" and folded in compared:
                state = "Started" if folded in started else "Stopped"
                objects[key] = dataclasses.replace(obj, properties={**obj.properties, "runtimeState": state})
        return dataclasses.replace(factory, objects=objects)

    return stated(live, running), stated(desired, marked)


def rotated(
    diff: Diff,
    live: Factory,
    desired: Factory,
    *,
    only: Collection[ObjectKey] | None = None,
    because: str = "",
) -> Diff:
    """`diff` plus an update of every live object that holds a secret and is not written anyway: how new secret
    values (rotated in Key Vault, or in the variable) reach the factory without touching the template.

    A secret's value is never compared (ADF does not return it), so a rotation is invisible to the diff: it
    takes this explicit request (`--rotate-secrets`). Each added update lists the secret paths, showing where
    each value comes from, so the plan says which secrets it writes, and why (`Change.why`, shown at its step).

    `only`: just these objects, for the rollback of a failed run that wrote them; `because` says why, in the
    diff's note, when it is not `--rotate-secrets`. Such a run may have written a secret from another source,
    and the factory's record of sources (updated only by a run that ends well) still names the old one:
    compared, the two look equal, and the new value would stay. The same holds after a run that was killed
    after writing (the run that recovers it does not know what it wrote, so every object holding a secret).
    """
    secrets = secret_map(desired)
    if only is not None:
        keep = {(key.type, key.name.casefold()) for key in only}
        secrets = {folded: paths for folded, paths in secrets.items() if folded in keep}
    if not secrets:
        return diff
    live_keys = {(key.type, key.name.casefold()) for key in live.objects}
    changing = {(change.key.type, change.key.name.casefold()) for change in diff.changes}
    added: list[Change] = []
    for key, obj in desired.objects.items():
        folded = (key.type, key.name.casefold())
        if folded not in secrets or folded in changing or folded not in live_keys:
            continue
        paths = sorted(secrets[folded].items(), key=lambda item: path_text(item[0]))
        details = [PathChange(path_text(path), "change", describe(text), describe(text)) for path, text in paths]
        why = because or "--rotate-secrets"
        added.append(Change(key, "update", [d.path for d in details], obj.properties, obj.properties, details, why=why))
    if not added:
        return diff
    changes = sorted([*diff.changes, *added], key=lambda change: sort_key(change.key))
    objects = f"{len(added)} object{'' if len(added) == 1 else 's'} holding secrets"
    note = f"{objects} written again: {because}" if because else f"--rotate-secrets: {objects} written again"
    return dataclasses.replace(diff, changes=changes, unchanged=diff.unchanged - len(added), notes=[*diff.notes, note])
