"""ADF's naming rules, as the Data Factory 2018-06-01 REST specification states them (path parameter patterns).

Kept as data so that `validate` and the emulator check the same rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class NameRule:
    pattern: re.Pattern[str]
    min_length: int
    max_length: int
    description: str

    def problem(self, name: str) -> str | None:
        """Why `name` breaks the rule, or None when it is fine."""
        if not self.min_length <= len(name) <= self.max_length:
            return f"must be {self.min_length} to {self.max_length} characters long (it is {len(name)})"
        if not self.pattern.fullmatch(name):
            return self.description
        return None


_GENERAL = NameRule(
    re.compile(r"[A-Za-z0-9_][^<>*#.%&:\\+?/]*"),
    1,
    260,
    "must start with a letter, digit or '_' and may not contain any of < > * # . % & : \\ + ? /",
)
_HYPHENATED = NameRule(
    re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*"),
    3,
    63,
    "may hold only letters, digits and single hyphens between them",
)
_NETWORK = NameRule(
    re.compile(r"[_A-Za-z0-9]|[_A-Za-z0-9][-_A-Za-z0-9]{0,125}[_A-Za-z0-9]"),
    1,
    127,
    "may hold only letters, digits, '_' and '-', and may not start or end with '-'",
)

FACTORY_RULE = _HYPHENATED
RULES: dict[str, NameRule] = {
    "pipelines": _GENERAL,
    "datasets": _GENERAL,
    "linkedServices": _GENERAL,
    "triggers": _GENERAL,
    "dataflows": _GENERAL,
    "globalParameters": _GENERAL,
    "adfcdcs": _GENERAL,
    "integrationRuntimes": _HYPHENATED,
    "managedVirtualNetworks": _NETWORK,
    "managedVirtualNetworks/managedPrivateEndpoints": _NETWORK,
    "credentials": _NETWORK,
}


def name_problem(object_type: str, name: str) -> str | None:
    """Why an object's name is invalid for its type (each `/`-separated level checked), or None."""
    if object_type == "managedVirtualNetworks/managedPrivateEndpoints":
        network, _, endpoint = name.partition("/")
        return RULES["managedVirtualNetworks"].problem(network) or _NETWORK.problem(endpoint)
    rule = RULES.get(object_type, _GENERAL)
    return rule.problem(name)


def resource_name_problem(object_type: str, full_name: str, factory: str) -> str | None:
    """Why an ARM resource name does not name one object of `factory`, or None.

    A factory's object is `<factory>/<name>`, a nested type one segment more per level
    (`<factory>/<network>/<endpoint>`). Another segment count leaves the object's identity ambiguous, and another
    factory's name would write into that factory: neither is something ADF publishes.
    """
    levels = object_type.count("/") + 1
    parts = full_name.split("/")
    if len(parts) != levels + 1:
        shape = "/".join(["<factory>", *(f"<{kind} name>" for kind in object_type.split("/"))])
        segments = len(parts) - 1
        return (
            f"has {segments} name segment{'' if segments == 1 else 's'} below the factory; "
            f"an object of type {object_type} is named {shape}"
        )
    if factory and parts[0].casefold() != factory.casefold():
        return f"names the factory '{parts[0]}', not this template's factory '{factory}'"
    return None
