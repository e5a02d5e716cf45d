"""One ARM template language expression: tokenize, parse, compile to closures, evaluate.

A JSON string value is an expression when it starts with `[` and ends with `]`; `[[...]` is the escape for a
literal that starts with `[` (one bracket is dropped). A string that starts with `[` but does not end with `]` is a
plain literal, unchanged, exactly as ARM treats it (escaping it would be wrong: ARM keeps both brackets then).

Speed matters because a large factory holds tens of thousands of expressions, almost all of one handful of
shapes (`[parameters('factoryName')]`, `[concat(variables('factoryId'), '/pipelines/x')]`). So an expression is
split at its string literals, and the remaining *shape* (`concat(variables(''), '')`) is compiled once into a
tree of closures that takes the literals as a list: ten thousand distinct names share one compiled form. The two
commonest shapes skip even that (one regular expression), and whole strings are memoised per evaluation (in the
`Scope`), so a repeated `dependsOn` entry costs one dictionary lookup.

Functions are ARM's, resolved case-insensitively when an expression is compiled, so an unsupported function
fails even inside an `if` branch that would not run: nothing is ever passed through unevaluated.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, unquote

__all__ = [
    "SUPPORTED_FUNCTIONS",
    "ExpressionError",
    "Scope",
    "arm_guid",
    "compile_expression",
    "evaluate_string",
    "is_expression",
    "unique_string",
]


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


class _Context(Protocol):
    subscription_id: str
    resource_group: str
    deployment_name: str
    location: str


class Scope:
    """What an expression can see: parameters, variables and the deployment it runs in.

    This base class holds fixed values (what the expression tests need); `promote.arm.template` subclasses it
    to resolve parameters and variables lazily, with cycle detection. Names are case-insensitive, as in ARM.
    """

    def __init__(
        self,
        parameters: dict[str, Any] | None = None,
        variables: dict[str, Any] | None = None,
        context: _Context | None = None,
        deployment: dict[str, Any] | None = None,
        tenant_id: str = "00000000-0000-0000-0000-000000000000",
    ):
        self._parameters = {k.lower(): v for k, v in (parameters or {}).items()}
        self._variables = {k.lower(): v for k, v in (variables or {}).items()}
        self.context = context
        self._deployment = deployment
        self.tenant_id = tenant_id
        # Whole-string results of this evaluation: the same expression text always has the same value here
        # (no function we support depends on where it is written), so repeated strings cost one lookup.
        self.memo: dict[str, Any] = {}

    def parameter(self, name: str) -> Any:
        try:
            return self._parameters[name.lower()]
        except KeyError:
            raise ExpressionError(f"parameter '{name}' is not declared in the template") from None

    def variable(self, name: str) -> Any:
        try:
            return self._variables[name.lower()]
        except KeyError:
            raise ExpressionError(f"variable '{name}' is not declared in the template") from None

    def require_context(self, function: str) -> _Context:
        """The deployment context, or an error naming the function that needed it."""
        if self.context is None:
            raise ExpressionError(f"{function}() needs a deployment context (subscription, resource group)")
        return self.context

    def resource_group(self) -> dict[str, Any]:
        ctx = self.require_context("resourceGroup")
        return {
            "id": f"/subscriptions/{ctx.subscription_id}/resourceGroups/{ctx.resource_group}",
            "name": ctx.resource_group,
            "type": "Microsoft.Resources/resourceGroups",
            "location": ctx.location,
            "tags": {},
            "properties": {"provisioningState": "Succeeded"},
        }

    def subscription(self) -> dict[str, Any]:
        ctx = self.require_context("subscription")
        return {
            "id": f"/subscriptions/{ctx.subscription_id}",
            "subscriptionId": ctx.subscription_id,
            "tenantId": self.tenant_id,
        }

    def deployment(self) -> dict[str, Any]:
        if self._deployment is not None:
            return self._deployment
        ctx = self.require_context("deployment")
        return {"name": ctx.deployment_name, "properties": {"mode": "Incremental", "provisioningState": "Accepted"}}


# --------------------------------------------------------------------------------------------------------------
# Tokenizer and parser


_STRING = r"'[^']*(?:''[^']*)*'"
_STRING_SPLIT = re.compile(f"({_STRING})")
_TOKEN = re.compile(
    rf"\s*(?:(?P<str>{_STRING})|(?P<int>-?[0-9]+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[(),.\[\]]))"
)
_TRAILING_SPACE = re.compile(r"\s*")


@dataclass(frozen=True)
class _Token:
    kind: str  # str, int, name, punct, end
    text: str
    pos: int  # offset in the expression text, counting the opening `[`


def _tokenize(text: str) -> list[_Token]:
    """Tokens of `text` (the whole `[...]` string); positions count from its opening bracket."""
    body_end = len(text) - 1
    tokens: list[_Token] = []
    pos = 1
    while True:
        m = _TOKEN.match(text, pos, body_end)
        if m is None or m.end() == pos:
            pos = _TRAILING_SPACE.match(text, pos, body_end).end()  # type: ignore[union-attr]
            if pos >= body_end:
                tokens.append(_Token("end", "", body_end))
                return tokens
            if text[pos] == "'":
                raise ExpressionError(f"unterminated string literal starting at position {pos}")
            raise ExpressionError(f"unexpected character {text[pos]!r} at position {pos}")
        kind = m.lastgroup or "punct"
        tokens.append(_Token(kind, m.group(kind), m.start(kind)))
        pos = m.end()


# AST nodes: tuples, compiled right after parsing.
#   ("str", slot) ("int", value) ("call", name, args, pos) ("prop", target, name) ("index", target, index)
_Node = tuple


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.slots = 0

    def peek(self, offset: int = 0) -> _Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        if tok.kind != "end":
            self.i += 1
        return tok

    def expect(self, punct: str) -> None:
        tok = self.take()
        if tok.kind != "punct" or tok.text != punct:
            found = "the end of the expression" if tok.kind == "end" else repr(tok.text)
            raise ExpressionError(f"expected {punct!r} at position {tok.pos}, found {found}")

    def parse(self) -> _Node:
        if self.peek().kind == "end":
            raise ExpressionError("empty expression")
        node = self.expression()
        tok = self.peek()
        if tok.kind != "end":
            raise ExpressionError(f"unexpected {tok.text!r} at position {tok.pos} after a complete expression")
        return node

    def expression(self) -> _Node:
        node = self.primary()
        while True:
            tok = self.peek()
            if tok.kind == "punct" and tok.text == ".":
                self.take()
                name = self.take()
                if name.kind != "name":
                    raise ExpressionError(f"expected a property name after '.' at position {name.pos}")
                node = ("prop", node, name.text)
            elif tok.kind == "punct" and tok.text == "[":
                self.take()
                index = self.expression()
                self.expect("]")
                node = ("index", node, index)
            else:
                return node

    def primary(self) -> _Node:
        tok = self.take()
        if tok.kind == "str":
            self.slots += 1
            return ("str", self.slots - 1)
        if tok.kind == "int":
            return ("int", int(tok.text))
        if tok.kind == "name":
            nxt = self.peek()
            if nxt.kind == "punct" and nxt.text == "(":
                self.take()
                args: list[_Node] = []
                if not (self.peek().kind == "punct" and self.peek().text == ")"):
                    args.append(self.expression())
                    while self.peek().kind == "punct" and self.peek().text == ",":
                        self.take()
                        args.append(self.expression())
                self.expect(")")
                return ("call", tok.text, args, tok.pos)
            if tok.text.lower() in ("true", "false", "null"):
                return ("call", tok.text, [], tok.pos)
            if nxt.kind == "punct" and nxt.text == "." and self.peek(1).kind == "name" and self.peek(2).text == "(":
                raise ExpressionError(
                    f"unsupported function '{tok.text}.{self.peek(1).text}' (user-defined functions are not supported)"
                )
            raise ExpressionError(f"expected '(' after {tok.text!r} at position {tok.pos}")
        if tok.kind == "end":
            raise ExpressionError("unexpected end of the expression")
        raise ExpressionError(f"unexpected {tok.text!r} at position {tok.pos}")


# --------------------------------------------------------------------------------------------------------------
# Compiling: AST -> closure(scope, literals) -> value

_Compiled = Callable[[Scope, Sequence[str]], Any]


@dataclass(frozen=True)
class _Function:
    impl: Callable[..., Any]
    min_args: int
    max_args: int | None  # None: any number
    lazy: bool = False  # impl(scope, literals, arg_closures) instead of impl(scope, values)


_FUNCTIONS: dict[str, _Function] = {}


def _fn(name: str, min_args: int, max_args: int | None = -1, *, lazy: bool = False):
    """Register an ARM function under its lower-cased name (max_args -1: exactly min_args)."""

    def register(impl: Callable[..., Any]) -> Callable[..., Any]:
        _FUNCTIONS[name.lower()] = _Function(impl, min_args, min_args if max_args == -1 else max_args, lazy)
        return impl

    return register


# Functions that exist in ARM but that an offline, deterministic evaluator must refuse, with the reason.
_REFUSED: dict[str, str] = {
    "reference": "it reads a deployed resource's state, which promote never queries while evaluating",
    "list": "list* functions read secrets from a deployed resource; give the value as a parameter instead",
    "newguid": "it is not deterministic; every diff would show a change",
    "utcnow": "it is not deterministic; every diff would show a change",
    "copyindex": "copy loops are not supported (ADF never emits them)",
    "pickzones": "it needs Azure's zone data",
    "providers": "it needs Azure's provider registry",
    "environment": "it describes an Azure cloud; write the value in the template or a parameter",
    "managementgroup": "promote deploys to a resource group only",
    "managementgroupresourceid": "promote deploys to a resource group only",
    "tenant": "promote deploys to a resource group only",
    "lambda": "lambda functions are not supported",
    "filter": "lambda functions are not supported",
    "map": "lambda functions are not supported",
    "reduce": "lambda functions are not supported",
    "sort": "lambda functions are not supported",
    "toobject": "lambda functions are not supported",
    "groupby": "lambda functions are not supported",
    "mapvalues": "lambda functions are not supported",
}


def _refusal(name: str) -> str | None:
    lower = name.lower()
    if lower.startswith("list"):
        return _REFUSED["list"]
    return _REFUSED.get(lower)


def _compile(node: _Node) -> _Compiled:
    kind = node[0]
    if kind == "str":
        slot = node[1]
        return lambda scope, lits: lits[slot]
    if kind == "int":
        value = node[1]
        return lambda scope, lits: value
    if kind == "prop":
        target, name = _compile(node[1]), node[2]
        return lambda scope, lits: _property(target(scope, lits), name)
    if kind == "index":
        target, index = _compile(node[1]), _compile(node[2])
        return lambda scope, lits: _index(target(scope, lits), index(scope, lits))
    _, name, args, _pos = node
    lower = name.lower()
    fn = _FUNCTIONS.get(lower)
    if fn is None:
        reason = _refusal(name)
        if reason:
            raise ExpressionError(f"unsupported function '{name}': {reason}")
        raise ExpressionError(
            f"unsupported function '{name}'",
            hint="promote evaluates ARM templates offline and knows the functions ADF and common hand edits use; "
            "see SUPPORTED_FUNCTIONS in promote/arm/expressions.py",
        )
    if len(args) < fn.min_args or (fn.max_args is not None and len(args) > fn.max_args):
        if fn.max_args == fn.min_args:
            wanted = f"{fn.min_args}"
        elif fn.max_args is None:
            wanted = f"at least {fn.min_args}"
        else:
            wanted = f"{fn.min_args} to {fn.max_args}"
        raise ExpressionError(f"function '{name}' takes {wanted} argument(s), got {len(args)}")
    compiled = [_compile(a) for a in args]
    impl = fn.impl
    if fn.lazy:
        return lambda scope, lits: impl(scope, lits, compiled)
    # Fast paths for the shapes ADF emits by the thousand.
    if lower in ("parameters", "variables") and args[0][0] == "str":
        slot = args[0][1]
        if lower == "parameters":
            return lambda scope, lits: scope.parameter(lits[slot])
        return lambda scope, lits: scope.variable(lits[slot])
    if lower == "concat":
        return lambda scope, lits: _concat([a(scope, lits) for a in compiled])
    if len(compiled) == 1:
        only = compiled[0]
        return lambda scope, lits: impl(scope, [only(scope, lits)])
    return lambda scope, lits: impl(scope, [a(scope, lits) for a in compiled])


_SHAPES: dict[str, _Compiled] = {}
_SHAPES_MAX = 20_000


def _shape_of(text: str) -> tuple[str, list[str]]:
    """The expression with its string literals cut out, and the literals (unescaped), in order."""
    parts = _STRING_SPLIT.split(text)
    if len(parts) == 1:
        if "'" in text:
            _unterminated(text)
        return text, []
    quoted = parts[1::2]
    shape = "'".join(parts[0::2])
    if shape.count("'") != len(quoted):  # a quote no literal consumed
        _unterminated(text)
    if "''" in text:
        return shape, [p[1:-1].replace("''", "'") for p in quoted]
    return shape, [p[1:-1] for p in quoted]


def _unterminated(text: str) -> None:
    _tokenize(text)  # raises with the position
    raise ExpressionError("unterminated string literal")


def compile_expression(text: str) -> Callable[[Scope], Any]:
    """Compile one expression (the whole `[...]` string) into a function of a `Scope`.

    Raises `ExpressionError` (with the expression attached) on a syntax error or an unsupported function.
    """
    try:
        shape, literals = _shape_of(text)
        compiled = _SHAPES.get(shape)
        if compiled is None:
            compiled = _compile_shape(shape, text)
    except ExpressionError as exc:
        if exc.expression is None:
            exc.expression = text
        raise
    return lambda scope: compiled(scope, literals)


def _compile_shape(shape: str, text: str) -> _Compiled:
    compiled = _compile(_Parser(text).parse())
    if len(_SHAPES) >= _SHAPES_MAX:
        _SHAPES.clear()
    _SHAPES[shape] = compiled
    return compiled


def is_expression(value: Any) -> bool:
    """True for a string ARM evaluates: `[...]` but not the `[[...]` escape."""
    return type(value) is str and len(value) > 1 and value[0] == "[" and value[-1] == "]" and value[1] != "["


def evaluate_string(text: str, scope: Scope) -> Any:
    """The value of one JSON string of a template: a literal, an escaped literal, or an expression.

    Results are memoised in `scope.memo`; a returned list or dict may be shared, so treat it as read-only.
    """
    if text[-1:] != "]" or text[:1] != "[":
        return text
    if text[1] == "[":
        return text[1:]
    memo = scope.memo
    value = memo.get(text, _MISSING)
    if value is not _MISSING:
        return value
    try:
        simple = _SIMPLE.match(text)
        if simple is not None:
            concat, function, name, suffix = simple.groups()
            value = scope.parameter(name) if function == "parameters" else scope.variable(name)
            if concat is not None:
                value = value + suffix if type(value) is str else _concat([value, suffix])
        else:
            shape, literals = _shape_of(text)
            compiled = _SHAPES.get(shape)
            if compiled is None:
                compiled = _compile_shape(shape, text)
            value = compiled(scope, literals)
    except ExpressionError as exc:
        if exc.expression is None:
            exc.expression = text
        raise
    except RecursionError:
        raise ExpressionError("expression nested too deeply", expression=text) from None
    memo[text] = value
    return value


# The two shapes ADF writes by the thousand, `[parameters('x')]` and `[concat(variables('factoryId'), '/x')]`
# (or parameters), evaluated without the general machinery; the result is the same by construction.
_SIMPLE = re.compile(r"\[(?:(concat)\()?(parameters|variables)\('([^']*)'\)(?(1), ?'([^']*)'\))\]\Z")
_MISSING = object()


# --------------------------------------------------------------------------------------------------------------
# Values: ARM's types are JSON's, with int distinct from bool.


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _want_str(fn: str, value: Any, what: str = "argument") -> str:
    if not isinstance(value, str):
        raise ExpressionError(f"{fn}() expects a string {what}, got {_type_name(value)}")
    return value


def _want_int(fn: str, value: Any, what: str = "argument") -> int:
    if not _is_int(value):
        raise ExpressionError(f"{fn}() expects an int {what}, got {_type_name(value)}")
    return value


def _want_bool(fn: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ExpressionError(f"{fn}() expects a bool argument, got {_type_name(value)}")
    return value


def _to_text(value: Any) -> str:
    """ARM's string(): objects and arrays as compact JSON, bools as .NET prints them, null as empty."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _equals(a: Any, b: Any) -> bool:
    """ARM equality: by value and type (true is not 1), deep for arrays and objects."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equals(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equals(a[k], b[k]) for k in a)
    if _type_name(a) != _type_name(b) and not (isinstance(a, (int, float)) and isinstance(b, (int, float))):
        return False
    return a == b


def _property(target: Any, name: str) -> Any:
    if isinstance(target, dict):
        if name in target:
            return target[name]
        lower = name.lower()
        for key, value in target.items():
            if key.lower() == lower:
                return value
        available = ", ".join(list(target)[:12])
        raise ExpressionError(f"property '{name}' does not exist; available properties are: {available}")
    raise ExpressionError(f"cannot read property '{name}' of a {_type_name(target)} value")


def _index(target: Any, index: Any) -> Any:
    if isinstance(target, list):
        if not _is_int(index):
            raise ExpressionError(f"an array index must be an int, got {_type_name(index)}")
        if not 0 <= index < len(target):
            raise ExpressionError(f"index {index} is out of range for an array of length {len(target)}")
        return target[index]
    if isinstance(target, dict):
        if not isinstance(index, str):
            raise ExpressionError(f"an object is indexed by a string, got {_type_name(index)}")
        return _property(target, index)
    raise ExpressionError(f"cannot index a {_type_name(target)} value")


def _concat(values: list[Any]) -> Any:
    if values and all(isinstance(v, list) for v in values):
        out: list[Any] = []
        for v in values:
            out.extend(v)
        return out
    parts: list[str] = []
    for v in values:
        if isinstance(v, str):
            parts.append(v)
        elif isinstance(v, (list, dict)):
            raise ExpressionError(
                f"concat() cannot mix a {_type_name(v)} with strings (arrays concatenate only with arrays; "
                "use union() for objects)"
            )
        else:
            parts.append(_to_text(v))
    return "".join(parts)


# --------------------------------------------------------------------------------------------------------------
# Functions. Each takes (scope, args) with args evaluated, except lazy ones.


@_fn("parameters", 1)
def _parameters(scope: Scope, args: list[Any]) -> Any:
    return scope.parameter(_want_str("parameters", args[0]))


@_fn("variables", 1)
def _variables(scope: Scope, args: list[Any]) -> Any:
    return scope.variable(_want_str("variables", args[0]))


@_fn("concat", 0, None)
def _concat_fn(scope: Scope, args: list[Any]) -> Any:
    return _concat(args)


@_fn("true", 0)
def _true(scope: Scope, args: list[Any]) -> bool:
    return True


@_fn("false", 0)
def _false(scope: Scope, args: list[Any]) -> bool:
    return False


@_fn("null", 0)
def _null(scope: Scope, args: list[Any]) -> None:
    return None


# -- strings


@_fn("string", 1)
def _string(scope: Scope, args: list[Any]) -> str:
    return _to_text(args[0])


@_fn("toLower", 1)
def _to_lower(scope: Scope, args: list[Any]) -> str:
    return _want_str("toLower", args[0]).lower()


@_fn("toUpper", 1)
def _to_upper(scope: Scope, args: list[Any]) -> str:
    return _want_str("toUpper", args[0]).upper()


@_fn("trim", 1)
def _trim(scope: Scope, args: list[Any]) -> str:
    return _want_str("trim", args[0]).strip()


@_fn("replace", 3)
def _replace(scope: Scope, args: list[Any]) -> str:
    text, old, new = (_want_str("replace", a) for a in args)
    if not old:
        raise ExpressionError("replace() cannot replace an empty string")
    return text.replace(old, new)


@_fn("split", 2)
def _split(scope: Scope, args: list[Any]) -> list[str]:
    text = _want_str("split", args[0])
    delims = args[1]
    if isinstance(delims, str):
        delims = [delims]
    if not isinstance(delims, list) or not all(isinstance(d, str) for d in delims):
        raise ExpressionError("split() expects a string or an array of strings as delimiter")
    delims = [d for d in delims if d]
    if not delims:
        return [text]
    if len(delims) == 1:
        return text.split(delims[0])
    # .NET String.Split tries the separators in the order given at each position.
    return re.split("|".join(re.escape(d) for d in delims), text)


@_fn("join", 2)
def _join(scope: Scope, args: list[Any]) -> str:
    items, delim = args
    if not isinstance(items, list):
        raise ExpressionError(f"join() expects an array, got {_type_name(items)}")
    return _want_str("join", delim, "delimiter").join(_to_text(i) for i in items)


@_fn("startsWith", 2)
def _starts_with(scope: Scope, args: list[Any]) -> bool:
    text, prefix = (_want_str("startsWith", a) for a in args)
    return text.lower().startswith(prefix.lower())  # ARM: case-insensitive


@_fn("endsWith", 2)
def _ends_with(scope: Scope, args: list[Any]) -> bool:
    text, suffix = (_want_str("endsWith", a) for a in args)
    return text.lower().endswith(suffix.lower())  # ARM: case-insensitive


@_fn("indexOf", 2)
def _index_of(scope: Scope, args: list[Any]) -> int:
    container, item = args
    if isinstance(container, list):
        return next((i for i, v in enumerate(container) if _equals(v, item)), -1)
    return _want_str("indexOf", container).lower().find(_want_str("indexOf", item).lower())


@_fn("lastIndexOf", 2)
def _last_index_of(scope: Scope, args: list[Any]) -> int:
    container, item = args
    if isinstance(container, list):
        return next((i for i in range(len(container) - 1, -1, -1) if _equals(container[i], item)), -1)
    return _want_str("lastIndexOf", container).lower().rfind(_want_str("lastIndexOf", item).lower())


@_fn("substring", 1, 3)
def _substring(scope: Scope, args: list[Any]) -> str:
    text = _want_str("substring", args[0])
    start = _want_int("substring", args[1], "start index") if len(args) > 1 else 0
    length = _want_int("substring", args[2], "length") if len(args) > 2 and args[2] is not None else None
    if length is None:
        length = len(text) - start
    if start < 0 or length < 0 or start + length > len(text):
        raise ExpressionError(
            "the index and length parameters must refer to a location within the string: "
            f"index {start}, length {length}, string length {len(text)}"
        )
    return text[start : start + length]


@_fn("padLeft", 2, 3)
def _pad_left(scope: Scope, args: list[Any]) -> str:
    value = args[0]
    text = str(value) if _is_int(value) else _want_str("padLeft", value)
    width = _want_int("padLeft", args[1], "total length")
    pad = _want_str("padLeft", args[2], "padding character") if len(args) > 2 else " "
    if len(pad) != 1:
        raise ExpressionError("padLeft() expects a single padding character")
    return text.rjust(width, pad)


@_fn("format", 1, None)
def _format(scope: Scope, args: list[Any]) -> str:
    return _dotnet_format(_want_str("format", args[0], "format string"), args[1:])


_FORMAT_ITEM = re.compile(r"\{\{|\}\}|\{(\d+)(?:\s*,\s*(-?\d+))?(?::([^}]*))?\}|[{}]")


def _dotnet_format(fmt: str, values: list[Any]) -> str:
    """The subset of .NET composite formatting ARM templates use: {0}, {0,5}, {0:N0}, {0:D3}, {0:X}, {{ }}."""

    def item(m: re.Match[str]) -> str:
        token = m.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        if m.group(1) is None:
            raise ExpressionError(f"format(): unmatched {token!r} in the format string")
        index = int(m.group(1))
        if index >= len(values):
            raise ExpressionError(f"format(): {{{index}}} refers to a missing argument ({len(values)} given)")
        value, spec = values[index], m.group(3)
        if spec:
            text = _format_number(value, spec)
        elif isinstance(value, (list, dict)):
            raise ExpressionError(f"format() cannot insert a {_type_name(value)}; use string() on it first")
        else:
            text = _to_text(value)
        if m.group(2):
            width = int(m.group(2))
            text = text.rjust(width) if width > 0 else text.ljust(-width)
        return text

    return _FORMAT_ITEM.sub(item, fmt)


def _format_number(value: Any, spec: str) -> str:
    kind, digits = spec[:1], spec[1:]
    if not _is_int(value) or kind.upper() not in "NDX" or (digits and not digits.isdigit()):
        raise ExpressionError(f"format(): format specifier {spec!r} is not supported for a {_type_name(value)}")
    precision = int(digits) if digits else None
    if kind.upper() == "N":
        return f"{value:,.{2 if precision is None else precision}f}"
    if kind.upper() == "D":
        return ("-" if value < 0 else "") + str(abs(value)).rjust(precision or 0, "0")
    text = format(value & 0xFFFFFFFFFFFFFFFF if value < 0 else value, "X" if kind == "X" else "x")
    return text.rjust(precision or 0, "0")


@_fn("base64", 1)
def _base64(scope: Scope, args: list[Any]) -> str:
    return base64.b64encode(_want_str("base64", args[0]).encode("utf-8")).decode("ascii")


def _b64decode(fn: str, value: Any) -> str:
    try:
        return base64.b64decode(_want_str(fn, value), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ExpressionError(f"{fn}(): not valid base64 of UTF-8 text ({exc})") from None


@_fn("base64ToString", 1)
def _base64_to_string(scope: Scope, args: list[Any]) -> str:
    return _b64decode("base64ToString", args[0])


@_fn("base64ToJson", 1)
def _base64_to_json(scope: Scope, args: list[Any]) -> Any:
    return _parse_json("base64ToJson", _b64decode("base64ToJson", args[0]))


@_fn("dataUri", 1)
def _data_uri(scope: Scope, args: list[Any]) -> str:
    encoded = base64.b64encode(_want_str("dataUri", args[0]).encode("utf-8")).decode("ascii")
    return f"data:text/plain;charset=utf8;base64,{encoded}"


@_fn("dataUriToString", 1)
def _data_uri_to_string(scope: Scope, args: list[Any]) -> str:
    uri = _want_str("dataUriToString", args[0])
    head, sep, data = uri.partition(",")
    if not head.startswith("data:") or not sep:
        raise ExpressionError("dataUriToString() expects a data URI (data:...;base64,...)")
    if head.endswith(";base64"):
        return _b64decode("dataUriToString", data)
    return unquote(data)


@_fn("uriComponent", 1)
def _uri_component(scope: Scope, args: list[Any]) -> str:
    return quote(_want_str("uriComponent", args[0]), safe="")  # RFC 3986 unreserved kept, as Uri.EscapeDataString


@_fn("uriComponentToString", 1)
def _uri_component_to_string(scope: Scope, args: list[Any]) -> str:
    return unquote(_want_str("uriComponentToString", args[0]))


@_fn("uniqueString", 1, None)
def _unique_string(scope: Scope, args: list[Any]) -> str:
    return unique_string(*(_want_str("uniqueString", a) for a in args))


@_fn("guid", 1, None)
def _guid(scope: Scope, args: list[Any]) -> str:
    return arm_guid(*(_want_str("guid", a) for a in args))


_MASK32 = 0xFFFFFFFF
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


def _rotl32(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _MASK32


def _murmur64(data: bytes) -> int:
    """The 64-bit Murmur variant ARM's uniqueString() uses (two 32-bit lanes, seed 0).

    ARM's own code (Azure.Deployments.Expression, via Microsoft.PowerPlatform.ResourceStack) is not public;
    this follows the algorithm as independent public reimplementations describe it, and the tests pin it to
    values they report from real deployments (for example uniqueString('test') == 'rbgf3xv4ufgzg').
    """
    c1, c2 = 597399067, 2869860233
    length = len(data)
    h1 = h2 = 0
    index = 0
    while index + 7 < length:
        k1 = int.from_bytes(data[index : index + 4], "little")
        k2 = int.from_bytes(data[index + 4 : index + 8], "little")
        k1 = (_rotl32((k1 * c1) & _MASK32, 15) * c2) & _MASK32
        h1 = (_rotl32(h1 ^ k1, 19) + h2) & _MASK32
        h1 = (h1 * 5 + 1444728091) & _MASK32
        k2 = (_rotl32((k2 * c2) & _MASK32, 17) * c1) & _MASK32
        h2 = (_rotl32(h2 ^ k2, 13) + h1) & _MASK32
        h2 = (h2 * 5 + 197830471) & _MASK32
        index += 8
    tail = length - index
    if tail > 0:
        k1 = int.from_bytes(data[index : index + min(tail, 4)], "little")
        h1 ^= (_rotl32((k1 * c1) & _MASK32, 15) * c2) & _MASK32
        if tail > 4:
            k2 = int.from_bytes(data[index + 4 : index + tail], "little")
            h2 ^= (_rotl32((k2 * c2) & _MASK32, 17) * c1) & _MASK32
    h1 ^= length
    h2 ^= length
    h1 = (h1 + h2) & _MASK32
    h2 = (h2 + h1) & _MASK32
    h1, h2 = _fmix32(h1), _fmix32(h2)
    h1 = (h1 + h2) & _MASK32
    h2 = (h2 + h1) & _MASK32
    return (h2 << 32) | h1


def _fmix32(h: int) -> int:
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _MASK32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _MASK32
    return h ^ (h >> 16)


def unique_string(*values: str) -> str:
    """ARM's uniqueString(): the 64-bit hash of the '-'-joined UTF-8 values as 13 base32 characters."""
    h = _murmur64("-".join(values).encode("utf-8")) << 1  # 65 bits: 13 groups of 5, the last padded with a 0
    return "".join(_BASE32[(h >> (60 - 5 * i)) & 31] for i in range(13))


_ARM_GUID_NAMESPACE = uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830")


def arm_guid(*values: str) -> str:
    """ARM's guid(): a name-based (version 5, SHA-1) UUID of the '-'-joined values in ARM's namespace."""
    return str(uuid.uuid5(_ARM_GUID_NAMESPACE, "-".join(values)))


# -- conversion and logic


@_fn("int", 1)
def _int(scope: Scope, args: list[Any]) -> int:
    value = args[0]
    if _is_int(value):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?[0-9]+\s*", value):
        return int(value)
    raise ExpressionError(f"int() cannot convert {_to_text(value)!r} ({_type_name(value)}) to an int")


@_fn("bool", 1)
def _bool(scope: Scope, args: list[Any]) -> bool:
    value = args[0]
    if isinstance(value, bool):
        return value
    if _is_int(value):
        return value != 0
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ExpressionError(f"bool() cannot convert {_to_text(value)!r} ({_type_name(value)}) to a bool")


def _parse_json(fn: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExpressionError(
            f"{fn}(): not valid JSON ({exc.msg} at column {exc.colno})",
            hint="promote's json() reads strict JSON: double-quoted strings and property names",
        ) from None


@_fn("json", 1)
def _json(scope: Scope, args: list[Any]) -> Any:
    return _parse_json("json", _want_str("json", args[0]))


@_fn("array", 1)
def _array(scope: Scope, args: list[Any]) -> list[Any]:
    value = args[0]
    return value if isinstance(value, list) else [value]


@_fn("createArray", 0, None)
def _create_array(scope: Scope, args: list[Any]) -> list[Any]:
    return list(args)


@_fn("createObject", 0, None)
def _create_object(scope: Scope, args: list[Any]) -> dict[str, Any]:
    if len(args) % 2:
        raise ExpressionError("createObject() takes pairs of key and value; got an odd number of arguments")
    return {_want_str("createObject", args[i], "key"): args[i + 1] for i in range(0, len(args), 2)}


@_fn("if", 3, lazy=True)
def _if(scope: Scope, lits: Sequence[str], arg_fns: list[_Compiled]) -> Any:
    """Only the branch the condition selects is evaluated, as in ARM."""
    cond = arg_fns[0](scope, lits)
    if not isinstance(cond, bool):
        raise ExpressionError(f"if() expects a bool condition, got {_type_name(cond)}")
    return arg_fns[1 if cond else 2](scope, lits)


@_fn("equals", 2)
def _equals_fn(scope: Scope, args: list[Any]) -> bool:
    return _equals(args[0], args[1])


@_fn("not", 1)
def _not(scope: Scope, args: list[Any]) -> bool:
    return not _want_bool("not", args[0])


@_fn("and", 2, None)
def _and(scope: Scope, args: list[Any]) -> bool:
    return all([_want_bool("and", a) for a in args])


@_fn("or", 2, None)
def _or(scope: Scope, args: list[Any]) -> bool:
    return any([_want_bool("or", a) for a in args])


@_fn("coalesce", 1, None)
def _coalesce(scope: Scope, args: list[Any]) -> Any:
    return next((a for a in args if a is not None), None)


def _compare(fn: str, a: Any, b: Any) -> int:
    if (_is_int(a) and _is_int(b)) or (isinstance(a, str) and isinstance(b, str)):
        return (a > b) - (a < b)
    raise ExpressionError(f"{fn}() compares two ints or two strings, got {_type_name(a)} and {_type_name(b)}")


@_fn("less", 2)
def _less(scope: Scope, args: list[Any]) -> bool:
    return _compare("less", *args) < 0


@_fn("lessOrEquals", 2)
def _less_or_equals(scope: Scope, args: list[Any]) -> bool:
    return _compare("lessOrEquals", *args) <= 0


@_fn("greater", 2)
def _greater(scope: Scope, args: list[Any]) -> bool:
    return _compare("greater", *args) > 0


@_fn("greaterOrEquals", 2)
def _greater_or_equals(scope: Scope, args: list[Any]) -> bool:
    return _compare("greaterOrEquals", *args) >= 0


# -- arrays, objects, strings alike


@_fn("empty", 1)
def _empty(scope: Scope, args: list[Any]) -> bool:
    value = args[0]
    if value is None:
        return True
    if isinstance(value, (str, list, dict)):
        return len(value) == 0
    raise ExpressionError(f"empty() expects an array, object or string, got {_type_name(value)}")


@_fn("length", 1)
def _length(scope: Scope, args: list[Any]) -> int:
    value = args[0]
    if isinstance(value, (str, list, dict)):
        return len(value)
    raise ExpressionError(f"length() expects an array, object or string, got {_type_name(value)}")


@_fn("first", 1)
def _first(scope: Scope, args: list[Any]) -> Any:
    value = args[0]
    if isinstance(value, str):
        return value[:1]
    if isinstance(value, list):
        return value[0] if value else None
    raise ExpressionError(f"first() expects an array or string, got {_type_name(value)}")


@_fn("last", 1)
def _last(scope: Scope, args: list[Any]) -> Any:
    value = args[0]
    if isinstance(value, str):
        return value[-1:]
    if isinstance(value, list):
        return value[-1] if value else None
    raise ExpressionError(f"last() expects an array or string, got {_type_name(value)}")


@_fn("contains", 2)
def _contains(scope: Scope, args: list[Any]) -> bool:
    container, item = args
    if isinstance(container, str):
        needle = str(item) if _is_int(item) else _want_str("contains", item, "item")
        return needle in container  # case-sensitive, as in ARM
    if isinstance(container, list):
        return any(_equals(v, item) for v in container)
    if isinstance(container, dict):
        key = _want_str("contains", item, "key").lower()
        return any(k.lower() == key for k in container)  # keys: case-insensitive, as in ARM
    raise ExpressionError(f"contains() expects an array, object or string, got {_type_name(container)}")


def _count(fn: str, value: Any) -> int:
    return max(0, _want_int(fn, value, "count"))


@_fn("take", 2)
def _take(scope: Scope, args: list[Any]) -> Any:
    value, n = args[0], _count("take", args[1])
    if isinstance(value, (str, list)):
        return value[:n]
    raise ExpressionError(f"take() expects an array or string, got {_type_name(value)}")


@_fn("skip", 2)
def _skip(scope: Scope, args: list[Any]) -> Any:
    value, n = args[0], _count("skip", args[1])
    if isinstance(value, (str, list)):
        return value[n:]
    raise ExpressionError(f"skip() expects an array or string, got {_type_name(value)}")


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """union() of objects: later values win, nested objects merge, arrays are replaced (ARM's deep merge)."""
    out = dict(a)
    for key, value in b.items():
        old = out.get(key)
        out[key] = _merge(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return out


def _same_kind(fn: str, args: list[Any]) -> type:
    if all(isinstance(a, dict) for a in args):
        return dict
    if all(isinstance(a, list) for a in args):
        return list
    kinds = ", ".join(_type_name(a) for a in args)
    raise ExpressionError(f"{fn}() expects only arrays or only objects, got {kinds}")


@_fn("union", 1, None)
def _union(scope: Scope, args: list[Any]) -> Any:
    if _same_kind("union", args) is dict:
        out: dict[str, Any] = {}
        for a in args:
            out = _merge(out, a)
        return out
    items: list[Any] = []
    for a in args:
        for v in a:
            if not any(_equals(v, seen) for seen in items):
                items.append(v)
    return items


@_fn("intersection", 2, None)
def _intersection(scope: Scope, args: list[Any]) -> Any:
    first, rest = args[0], args[1:]
    if _same_kind("intersection", args) is dict:
        return {k: v for k, v in first.items() if all(k in o and _equals(o[k], v) for o in rest)}
    out: list[Any] = []
    for v in first:
        if all(any(_equals(v, w) for w in o) for o in rest) and not any(_equals(v, s) for s in out):
            out.append(v)
    return out


@_fn("range", 2)
def _range(scope: Scope, args: list[Any]) -> list[int]:
    start, count = _want_int("range", args[0], "start"), _want_int("range", args[1], "count")
    if count < 0:
        raise ExpressionError("range() count must not be negative")
    return list(range(start, start + count))


def _ints(fn: str, args: list[Any]) -> list[int]:
    values = args[0] if len(args) == 1 and isinstance(args[0], list) else args
    if not values:
        raise ExpressionError(f"{fn}() needs at least one value")
    return [_want_int(fn, v) for v in values]


@_fn("min", 1, None)
def _min(scope: Scope, args: list[Any]) -> int:
    return min(_ints("min", args))


@_fn("max", 1, None)
def _max(scope: Scope, args: list[Any]) -> int:
    return max(_ints("max", args))


# -- arithmetic: 64-bit ints in ARM; division truncates toward zero, as in .NET


def _two_ints(fn: str, args: list[Any]) -> tuple[int, int]:
    return _want_int(fn, args[0]), _want_int(fn, args[1])


@_fn("add", 2)
def _add(scope: Scope, args: list[Any]) -> int:
    a, b = _two_ints("add", args)
    return a + b


@_fn("sub", 2)
def _sub(scope: Scope, args: list[Any]) -> int:
    a, b = _two_ints("sub", args)
    return a - b


@_fn("mul", 2)
def _mul(scope: Scope, args: list[Any]) -> int:
    a, b = _two_ints("mul", args)
    return a * b


def _truncdiv(fn: str, a: int, b: int) -> int:
    if b == 0:
        raise ExpressionError(f"{fn}(): division by zero")
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


@_fn("div", 2)
def _div(scope: Scope, args: list[Any]) -> int:
    return _truncdiv("div", *_two_ints("div", args))


@_fn("mod", 2)
def _mod(scope: Scope, args: list[Any]) -> int:
    a, b = _two_ints("mod", args)
    return a - b * _truncdiv("mod", a, b)


# -- deployment


@_fn("resourceGroup", 0)
def _resource_group(scope: Scope, args: list[Any]) -> dict[str, Any]:
    return scope.resource_group()


@_fn("subscription", 0)
def _subscription(scope: Scope, args: list[Any]) -> dict[str, Any]:
    return scope.subscription()


@_fn("deployment", 0)
def _deployment(scope: Scope, args: list[Any]) -> dict[str, Any]:
    return scope.deployment()


def _type_and_names(fn: str, args: list[Any]) -> tuple[list[str], str, list[str]]:
    """Split resourceId-style arguments into (leading scope args, resource type, names), checking the count."""
    texts = [_want_str(fn, a) for a in args]
    at = next((i for i, a in enumerate(texts) if "/" in a), None)
    if at is None:
        raise ExpressionError(
            f"{fn}() needs a resource type with its provider namespace (like 'Microsoft.DataFactory/factories')"
        )
    rtype, names = texts[at], texts[at + 1 :]
    segments = [s for s in rtype.split("/") if s]
    wanted = len(segments) - 1
    given = sum(len(n.split("/")) for n in names)  # 'factory/pipeline' counts as two names, as ARM accepts
    if wanted < 1 or given != wanted:
        raise ExpressionError(f"{fn}(): resource type '{rtype}' needs {wanted} name(s), got {given}")
    flat = [part for n in names for part in n.split("/")]
    return texts[:at], "/".join(segments), flat


def _provider_path(rtype: str, names: list[str]) -> str:
    segments = rtype.split("/")
    path = f"providers/{segments[0]}"
    for kind, name in zip(segments[1:], names, strict=True):
        path += f"/{kind}/{name}"
    return path


@_fn("resourceId", 2, None)
def _resource_id(scope: Scope, args: list[Any]) -> str:
    leading, rtype, names = _type_and_names("resourceId", args)
    if len(leading) > 2:
        raise ExpressionError("resourceId() takes at most a subscription id and a resource group before the type")
    ctx = scope.require_context("resourceId") if len(leading) < 2 else None
    sub = leading[0] if len(leading) == 2 else ctx.subscription_id  # type: ignore[union-attr]
    rg = leading[-1] if leading else ctx.resource_group  # type: ignore[union-attr]
    return f"/subscriptions/{sub}/resourceGroups/{rg}/{_provider_path(rtype, names)}"


@_fn("subscriptionResourceId", 2, None)
def _subscription_resource_id(scope: Scope, args: list[Any]) -> str:
    leading, rtype, names = _type_and_names("subscriptionResourceId", args)
    if len(leading) > 1:
        raise ExpressionError("subscriptionResourceId() takes at most a subscription id before the type")
    sub = leading[0] if leading else scope.require_context("subscriptionResourceId").subscription_id
    return f"/subscriptions/{sub}/{_provider_path(rtype, names)}"


@_fn("tenantResourceId", 2, None)
def _tenant_resource_id(scope: Scope, args: list[Any]) -> str:
    leading, rtype, names = _type_and_names("tenantResourceId", args)
    if leading:
        raise ExpressionError("tenantResourceId() takes the resource type first")
    return f"/{_provider_path(rtype, names)}"


@_fn("extensionResourceId", 3, None)
def _extension_resource_id(scope: Scope, args: list[Any]) -> str:
    base = _want_str("extensionResourceId", args[0]).rstrip("/")
    leading, rtype, names = _type_and_names("extensionResourceId", args[1:])
    if leading:
        raise ExpressionError("extensionResourceId() takes a resource id, then the extension's type")
    return f"{base}/{_provider_path(rtype, names)}"


SUPPORTED_FUNCTIONS: frozenset[str] = frozenset(_FUNCTIONS)
