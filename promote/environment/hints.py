"""The wording shared by every check of an environment: the nearest valid name ("did you mean"), a short
listing of the valid ones, and what kind of value was found instead of the expected one."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any


def nearest(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate, compared case-insensitively (ADF and ARM names are case-insensitive)."""
    by_lower: dict[str, str] = {}
    for candidate in candidates:
        by_lower.setdefault(candidate.lower(), candidate)
    found = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    if found:
        return by_lower[found[0]]
    prefixed = [c for c in by_lower if word and c.startswith(word.lower())]  # "prod" -> "production"
    return by_lower[prefixed[0]] if len(prefixed) == 1 else None


def listing(names: Iterable[str], limit: int = 10) -> str:
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def did_you_mean(word: str, candidates: Sequence[str], what: str) -> str:
    close = nearest(word, candidates)
    if close is not None:
        return f"did you mean '{close}'?"
    return f"{what}: {listing(candidates)}" if candidates else f"there are no {what}"


def kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
