"""A collaboration root for tests: the folder ADF Studio would have saved for a factory it published.

Made from a published folder (the sample's, in adf_publish_mirror/) by evaluating it with its own values and
writing each object as Studio writes it: `<folder>/<name>.json` with `name` and `properties`, tab-indented, a
secure string left out and an encrypted credential in its place (Studio never saves a secret), the factory's
global parameters in `factory/<name>.json`, `publish_config.json` asking for them as the sample's publish did.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from promote.build.root import ENDPOINT_FOLDER, KIND_FOLDERS, VNET_FOLDER
from promote.loader import evaluate, open_published
from promote.source import read_path

_FOLDERS = {kind: folder for folder, kind in KIND_FOLDERS.items()}


def unpublish(published: Path, root: Path) -> dict[str, Path]:
    """Write the collaboration root of the factory published in `published` into `root`; returns the files."""
    factory = evaluate(open_published(read_path(published)))
    written: dict[str, Path] = {}
    for key, obj in factory.objects.items():
        if key.type == "globalParameters":
            continue
        properties = _without_secrets(obj.properties)
        if key.type == "managedVirtualNetworks/managedPrivateEndpoints":
            vnet, name = key.name.split("/")
            rel = f"{VNET_FOLDER}/{vnet}/{ENDPOINT_FOLDER}/{name}.json"
        else:
            name = key.name
            rel = f"{_FOLDERS[key.type]}/{name}.json"
        written[rel] = _write(root / rel, {"name": name, "properties": properties})
    global_parameters = {
        name: spec
        for key, obj in factory.objects.items()
        if key.type == "globalParameters"
        for name, spec in obj.properties.items()
    }
    written[f"factory/{factory.name}.json"] = _write(
        root / "factory" / f"{factory.name}.json",
        {"name": factory.name, "location": "westeurope", "properties": {"globalParameters": global_parameters}},
    )
    written["publish_config.json"] = _write(
        root / "publish_config.json", {"publishBranch": "adf_publish", "includeGlobalParamsTemplate": True}
    )
    return written


def _without_secrets(properties: dict[str, Any]) -> dict[str, Any]:
    type_properties = properties.get("typeProperties")
    if not isinstance(type_properties, dict):
        return properties
    secrets = [k for k, v in type_properties.items() if isinstance(v, dict) and v.get("type") == "SecureString"]
    if not secrets:
        return properties
    kept = {k: v for k, v in type_properties.items() if k not in secrets}
    kept["encryptedCredential"] = "ew0KICAiVmVyc2lvbiI6ICIyMDE3LTExLTMwIg0KfQ=="
    return {**properties, "typeProperties": kept}


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent="\t", ensure_ascii=False), encoding="utf-8")
    return path
