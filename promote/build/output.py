"""The files a publish writes into the factory's folder on the publish branch, as bytes.

Each resource is written once, at the indentation it has in every template, and its text reused in
`ARMTemplateForFactory.json` and in the linked part holding it: serialising is most of a build's time.
"""

from __future__ import annotations

from json.encoder import encode_basestring
from typing import Any

from promote.build.eras import Era
from promote.build.jsonfmt import encode, encode_template_value, escaped, fast, fast_utf8
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
# Between two resources of the wrapper: the only lines at the resources' own depth are their braces.
_BATCH_HEAD = (_WRAPPER_HEAD + "{\n").encode()
_BATCH_TAIL = _WRAPPER_TAIL.encode()
_BETWEEN = ("\n" + _RESOURCE_INDENT + "},\n" + _RESOURCE_INDENT + "{\n").encode()


def render(built: BuiltTemplate, era: Era, texts: Texts) -> dict[str, bytes]:
    """Relative path (inside the factory's folder) -> content, for every file a publish writes."""
    floats = built.floats
    bodies = _bodies(built.resources, floats)
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


def _bodies(resources: list[BuiltResource], floats: bool) -> dict[int, bytes]:
    """id(resource) -> `_body`'s text, indentation of its first line included, in UTF-8. The resources are
    written by one call of the fast writer and escaped at once, then cut apart (a fifth of the time of one call
    each); any doubt, and a resource is written alone by `_body`."""
    batch = [r for r in resources if next(iter(r.resource)) == "name"]
    texts = _batched(batch, floats)
    out = dict(zip(map(id, batch), texts, strict=True)) if texts is not None else {}
    for resource in resources:
        if id(resource) not in out:
            out[id(resource)] = (_RESOURCE_INDENT + _body(resource, floats)).encode("utf-8")
    return out


def _batched(resources: list[BuiltResource], floats: bool) -> list[bytes] | None:
    """`_body`'s texts of `resources` (each with `name` first), None when the batch cannot prove them."""
    rest = [{k: v for k, v in r.resource.items() if k != "name" and k != "dependsOn"} for r in resources]
    data = fast_utf8({"resources": rest}, floats=floats) if resources else None
    if data is not None:
        # The expressions of all the resources counted at once: a string of the files reading like one of them
        # makes the count differ, as it does for one resource.
        data = escaped(data, sum(r.expressions for r in resources))
    if data is None or not data.startswith(_BATCH_HEAD) or not data.endswith(_BATCH_TAIL):
        return None
    pieces = data[len(_BATCH_HEAD) : -len(_BATCH_TAIL)].split(_BETWEEN)
    if len(pieces) != len(resources):
        return None
    first = f'{_RESOURCE_INDENT}{{\n{_RESOURCE_INDENT}\t"name": '
    return [
        f"{first}{encode_basestring(r.resource['name'])},\n".encode() + piece
        for r, piece in zip(resources, pieces, strict=True)
    ]


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
