"""The files a publish writes into the factory's folder on the publish branch, as bytes.

Each resource is written once, at the indentation it has in every template, and its text reused in
`ARMTemplateForFactory.json` and in the linked part holding it: serialising is most of a build's time.
"""

from __future__ import annotations

from json.encoder import encode_basestring
from typing import Any

from promote.build.eras import Era
from promote.build.jsonfmt import encode, encode_template_value, escaped, fast
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
# A resource written inside a wrapper of its template's depth, so that its text has its indentation at once.
_WRAPPER_HEAD = '{\n\t"resources": [\n' + _RESOURCE_INDENT
_WRAPPER_TAIL = "\n" + _RESOURCE_INDENT + "}\n\t]\n}"


def render(built: BuiltTemplate, era: Era, texts: Texts) -> dict[str, bytes]:
    """Relative path (inside the factory's folder) -> content, for every file a publish writes."""
    floats = built.floats
    bodies = {id(r): (_RESOURCE_INDENT + _body(r, floats)).encode("utf-8") for r in built.resources}
    by_key = {r.key: r for r in built.resources}  # every resource but its dependsOn, once
    blocks = {id(r): _with_depends_on(bodies[id(r)], r.resource) for r in built.resources}
    out: dict[str, bytes] = {
        SINGLE_TEMPLATE: _template_text(built.template(), built.resources, blocks, floats),
        SINGLE_PARAMETERS: encode(built.parameters_file(), "", floats=floats).encode("utf-8"),
    }
    if era.has("global_parameters_file"):
        out[f"{GLOBAL_PARAMETERS_DIR}/{built.factory_name}_GlobalParameters.json"] = encode(
            built.global_parameters, "", floats=floats
        ).encode("utf-8")
    chunks = parts(built)
    originals = [[by_key[r.key] for r in chunk] for chunk in chunks]
    out[f"{LINKED_DIR}/{LINKED_MASTER}"] = encode(master(built, chunks, era, texts), "", floats=floats).encode("utf-8")
    out[f"{LINKED_DIR}/{LINKED_PARAMETERS}"] = encode(
        built.parameters_file({"containerUri": "", "containerSasToken": ""}), "", floats=floats
    ).encode("utf-8")
    for index, chunk in enumerate(chunks):
        for resource, original in zip(chunk, originals[index], strict=True):
            if id(resource) not in blocks:  # a copy whose dependsOn lost what other parts hold
                blocks[id(resource)] = _with_depends_on(bodies[id(original)], resource.resource)
        out[f"{LINKED_DIR}/ArmTemplate_{index}.json"] = _template_text(built.template(chunk), chunk, blocks, floats)
    return out


def _template_text(
    head: dict[str, Any], resources: list[BuiltResource], blocks: dict[int, bytes], floats: bool
) -> bytes:
    """`head` (a template whose resources are written separately) with `resources` spliced in as text."""
    shell = {key: value for key, value in head.items() if key != "resources"}
    text = encode(shell, "", floats=floats).encode("utf-8")
    if not resources:
        return text[:-2] + b',\n\t"resources": []\n}'
    body = b",\n".join([blocks[id(r)] for r in resources])
    return b"".join((text[:-2], b',\n\t"resources": [\n', body, b"\n\t]\n}"))


def _body(built: BuiltResource, floats: bool) -> str:
    """The resource's text without `dependsOn` (its last key) and without the closing brace."""
    inner = _RESOURCE_INDENT + "\t"
    name = built.resource["name"]  # first, an expression of the build: written as it is, never escaped
    rest = {key: value for key, value in built.resource.items() if key not in ("name", "dependsOn")}
    text = fast({"resources": [rest]}, floats=floats) if next(iter(built.resource)) == "name" else None
    if text is not None:
        text = escaped(text, built.expressions)  # only `properties` holds strings of the files
    if text is not None and text.startswith(_WRAPPER_HEAD + "{\n") and text.endswith(_WRAPPER_TAIL):
        return f'{{\n{inner}"name": {encode_basestring(name)},\n' + text[len(_WRAPPER_HEAD) + 2 : -len(_WRAPPER_TAIL)]
    lines = [
        f"{inner}{encode(key, inner)}: "
        + (encode_template_value(value, inner, built.expressions) if key == "properties" else encode(value, inner))
        for key, value in built.resource.items()
        if key != "dependsOn"
    ]
    return "{\n" + ",\n".join(lines)


def _with_depends_on(body: bytes, resource: dict[str, Any]) -> bytes:
    """The resource's whole text, indentation of its first line included, in UTF-8 (written once, spliced into
    every template holding it)."""
    entries = resource.get("dependsOn") or []
    if all(type(entry) is str for entry in entries):  # the build's expressions: `exact`'s text, directly
        inner = _RESOURCE_INDENT + "\t\t"
        listed = ",\n".join([inner + encode_basestring(entry) for entry in entries])
        depends = f"[\n{listed}\n{_RESOURCE_INDENT}\t]" if entries else "[]"
    else:
        depends = encode(entries, _RESOURCE_INDENT + "\t")
    return body + f',\n{_RESOURCE_INDENT}\t"dependsOn": {depends}\n{_RESOURCE_INDENT}}}'.encode()
