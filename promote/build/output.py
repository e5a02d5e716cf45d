"""The files a publish writes into the factory's folder on the publish branch, as bytes.

Each resource is written once, at the indentation it has in every template, and its text reused in
`ARMTemplateForFactory.json` and in the linked part holding it: serialising is most of a build's time.
"""

from __future__ import annotations

from typing import Any

from promote.build.eras import Era
from promote.build.jsonfmt import encode
from promote.build.linked import master, parts
from promote.build.template import BuiltResource, BuiltTemplate
from promote.build.texts import Texts
from promote.source import (
    GLOBAL_PARAMETERS_DIR,
    LINKED_DIR,
    LINKED_MASTER,
    LINKED_PARAMETERS,
    SINGLE_PARAMETERS,
    SINGLE_TEMPLATE,
)

_RESOURCE_INDENT = "\t\t"


def render(built: BuiltTemplate, era: Era, texts: Texts) -> dict[str, bytes]:
    """Relative path (inside the factory's folder) -> content, for every file a publish writes."""
    blocks = {id(r): encode(r.resource, _RESOURCE_INDENT) for r in built.resources}
    out: dict[str, bytes] = {
        SINGLE_TEMPLATE: _template_text(built.template(), built.resources, blocks),
        SINGLE_PARAMETERS: encode(built.parameters_file(), "").encode("utf-8"),
    }
    if era.has("global_parameters_file"):
        out[f"{GLOBAL_PARAMETERS_DIR}/{built.factory_name}_GlobalParameters.json"] = encode(
            built.global_parameters, ""
        ).encode("utf-8")
    chunks = parts(built)
    out[f"{LINKED_DIR}/{LINKED_MASTER}"] = encode(master(built, chunks, era, texts), "").encode("utf-8")
    out[f"{LINKED_DIR}/{LINKED_PARAMETERS}"] = encode(
        built.parameters_file({"containerUri": "", "containerSasToken": ""}), ""
    ).encode("utf-8")
    for index, chunk in enumerate(chunks):
        for resource in chunk:
            if id(resource) not in blocks:  # a copy whose dependsOn lost what other parts hold
                blocks[id(resource)] = encode(resource.resource, _RESOURCE_INDENT)
        out[f"{LINKED_DIR}/ArmTemplate_{index}.json"] = _template_text(built.template(chunk), chunk, blocks)
    return out


def _template_text(head: dict[str, Any], resources: list[BuiltResource], blocks: dict[int, str]) -> bytes:
    """`head` (a template whose resources are written separately) with `resources` spliced in as text."""
    shell = {key: value for key, value in head.items() if key != "resources"}
    text = encode(shell, "")
    if not resources:
        return (text[:-2] + ',\n\t"resources": []\n}').encode("utf-8")
    body = ",\n".join(_RESOURCE_INDENT + blocks[id(r)] for r in resources)
    return (text[:-2] + ',\n\t"resources": [\n' + body + "\n\t]\n}").encode("utf-8")
