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

Where the rest lives: ARM's functions in `promote.arm.functions` (one module per group, each function registered
under its name, which is how the compiler finds it), ARM's values and the operations the language itself performs
on them (property access, indexing, concat) in `promote.arm.values`, and `ExpressionError` in
`promote.arm.errors`. Every public name stays importable from here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from promote.arm.errors import ExpressionError
from promote.arm.functions import FUNCTIONS, refusal
from promote.arm.functions.strings import arm_guid, unique_string
from promote.arm.values import concat_values, get_item, get_property

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


class _Context(Protocol):
    @property
    def subscription_id(self) -> str: ...
    @property
    def resource_group(self) -> str: ...
    @property
    def deployment_name(self) -> str: ...
    @property
    def location(self) -> str: ...


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

Compiled = Callable[[Scope, Sequence[str]], Any]


def _compile(node: _Node) -> Compiled:
    kind = node[0]
    if kind == "str":
        slot = node[1]
        return lambda scope, lits: lits[slot]
    if kind == "int":
        value = node[1]
        return lambda scope, lits: value
    if kind == "prop":
        target, name = _compile(node[1]), node[2]
        return lambda scope, lits: get_property(target(scope, lits), name)
    if kind == "index":
        target, index = _compile(node[1]), _compile(node[2])
        return lambda scope, lits: get_item(target(scope, lits), index(scope, lits))
    _, name, args, _pos = node
    lower = name.lower()
    fn = FUNCTIONS.get(lower)
    if fn is None:
        reason = refusal(name)
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
        return lambda scope, lits: concat_values([a(scope, lits) for a in compiled])
    if len(compiled) == 1:
        only = compiled[0]
        return lambda scope, lits: impl(scope, [only(scope, lits)])
    return lambda scope, lits: impl(scope, [a(scope, lits) for a in compiled])


_SHAPES: dict[str, Compiled] = {}
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


def _compile_shape(shape: str, text: str) -> Compiled:
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
                value = value + suffix if type(value) is str else concat_values([value, suffix])
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


# The functions registered by `promote.arm.functions` (lower-cased names).
SUPPORTED_FUNCTIONS: frozenset[str] = frozenset(FUNCTIONS)
