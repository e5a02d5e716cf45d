"""The files a publish writes into the factory's folder on the publish branch, as bytes.

Each resource is written once, at the indentation it has in every template, and its text reused in
`ARMTemplateForFactory.json` and in the linked part holding it: serialising is most of a build's time.
"""

from __future__ import annotations

from typing import Any

from promote.build.eras import Era
from promote.build.jsonfmt import encode, encode_template_value
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
    bodies = {id(r): _body(r.resource) for r in built.resources}
    by_key = {r.key: r for r in built.resources}  # every resource but its dependsOn, once
    blocks = {id(r): _with_depends_on(bodies[id(r)], r.resource) for r in built.resources}
    out: dict[str, bytes] = {
        SINGLE_TEMPLATE: _template_text(built.template(), built.resources, blocks),
        SINGLE_PARAMETERS: encode(built.parameters_file(), "").encode("utf-8"),
    }
    if era.has("global_parameters_file"):
        out[f"{GLOBAL_PARAMETERS_DIR}/{built.factory_name}_GlobalParameters.json"] = encode(
            built.global_parameters, ""
        ).encode("utf-8")
    chunks = parts(built)
    originals = [[by_key[r.key] for r in chunk] for chunk in chunks]
    out[f"{LINKED_DIR}/{LINKED_MASTER}"] = encode(master(built, chunks, era, texts), "").encode("utf-8")
    out[f"{LINKED_DIR}/{LINKED_PARAMETERS}"] = encode(
        built.parameters_file({"containerUri": "", "containerSasToken": ""}), ""
    ).encode("utf-8")
    for index, chunk in enumerate(chunks):
        for resource, original in zip(chunk, originals[index], strict=True):
            if id(resource) not in blocks:  # a copy whose dependsOn lost what other parts hold
                blocks[id(resource)] = _with_depends_on(bodies[id(original)], resource.resource)
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


def _body(resource: dict[str, Any]) -> str:
    """The resource's text without `dependsOn` (its last key) and without the closing brace."""
    inner = _RESOURCE_INDENT + "\t"
    lines = [
        f"{inner}{encode(key, inner)}: "
        + (encode_template_value(value, inner) if key == "properties" else encode(value, inner))
        for key, value in resource.items()
        if key != "dependsOn"
    ]
    return "{\n" + ",\n".join(lines)


def _with_depends_on(body: str, resource: dict[str, Any]) -> str:
    depends = encode(resource.get("dependsOn") or [], _RESOURCE_INDENT + "\t")
    return f'{body},\n{_RESOURCE_INDENT}\t"dependsOn": {depends}\n{_RESOURCE_INDENT}}}'
