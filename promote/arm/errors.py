"""`ExpressionError`: the one error of the expression language, and how it says where it happened.

It lives apart from the compiler so that the values and the functions, which the compiler imports, can raise it.
"""

from __future__ import annotations

import json
from typing import Any


class ExpressionError(Exception):
    """An expression that cannot be compiled or evaluated.

    Carries no file or object: `promote.arm.template` knows those and turns this into a `TemplateError`.
    `path` is filled while the error unwinds through the JSON walk (innermost key first).
    """

    def __init__(self, message: str, *, expression: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.expression = expression
        self.hint = hint
        self.path: list[str | int] = []

    def describe(self) -> str:
        """`properties.url: <message> in "[expr]"`: where in the object, what, and the expression as written."""
        text = self.message
        if self.expression is not None:
            text += f" in {json.dumps(self.expression, ensure_ascii=False)}"
        where = format_path(reversed(self.path))
        return f"{where}: {text}" if where else text


def format_path(parts: Any) -> str:
    """`properties.activities[0].name` from its keys and indices, in order."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
