"""Octane's `query` grammar parsed into a small tree the simulator evaluates and indexes.

    statement  := or_expr                      (optionally inside one pair of double quotes)
    or_expr    := and_expr ( "||" and_expr )*
    and_expr   := unary ( ";" unary )*
    unary      := "!" unary | "(" or_expr ")" | condition
    condition  := FIELD op value | FIELD "IN" list | FIELD "BTW" literal ("..." | ",") literal
    op         := EQ LT GT LE GE = < > <= >=
    value      := literal | "{" ( or_expr | "null" ) "}"      (a reference filter)
    literal    := '...' | ^...^ | number | null | true | false  (backslash escapes any char)

Importable on its own: the client's tests parse what `octane_sync.query` builds to prove
that hostile literals round-trip.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "And",
    "Between",
    "Comparison",
    "InList",
    "Node",
    "Not",
    "Or",
    "QuerySyntaxError",
    "RefFilter",
    "parse",
]

Scalar = str | int | float | bool | None

COMPARISONS = {"EQ": "EQ", "LT": "LT", "GT": "GT", "LE": "LE", "GE": "GE"}
SYMBOLS = {"=": "EQ", "<": "LT", ">": "GT", "<=": "LE", ">=": "GE"}


class QuerySyntaxError(ValueError):
    """The query text does not follow Octane's grammar; the server answers 400."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at position {position}")
        self.position = position


@dataclass(frozen=True)
class Comparison:
    """`field OP literal`; `value` None means `null`."""

    field: str
    op: str
    value: Scalar


@dataclass(frozen=True)
class InList:
    field: str
    values: tuple[Scalar, ...]


@dataclass(frozen=True)
class Between:
    field: str
    low: Scalar
    high: Scalar


@dataclass(frozen=True)
class RefFilter:
    """`field EQ {condition}`: the referenced entity (any of a multi-reference) matches."""

    field: str
    condition: Node


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = Comparison | InList | Between | RefFilter | And | Or | Not

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>-?\d+(?:\.\d+)?(?![A-Za-z_]))
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>\|\||\.\.\.|<=|>=|[=<>(){},;!])
  | (?P<quote>['^])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str  # name, number, string, punct, end
    text: str
    value: Scalar
    position: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise QuerySyntaxError(f"unexpected character {text[position]!r}", position)
        kind = match.lastgroup
        if kind == "ws":
            position = match.end()
        elif kind == "quote":
            value, end = _read_literal(text, position)
            tokens.append(_Token("string", text[position:end], value, position))
            position = end
        else:
            token_text = match.group()
            value: Scalar = None
            if kind == "number":
                value = float(token_text) if "." in token_text else int(token_text)
            tokens.append(_Token(kind or "", token_text, value, position))
            position = match.end()
    tokens.append(_Token("end", "", None, len(text)))
    return tokens


def _read_literal(text: str, start: int) -> tuple[str, int]:
    """Read a `'...'` or `^...^` literal; a backslash makes the next character plain."""
    quote = text[start]
    chars: list[str] = []
    position = start + 1
    while position < len(text):
        char = text[position]
        if char == "\\":
            if position + 1 >= len(text):
                raise QuerySyntaxError("dangling backslash in literal", position)
            chars.append(text[position + 1])
            position += 2
        elif char == quote:
            return "".join(chars), position + 1
        else:
            chars.append(char)
            position += 1
    raise QuerySyntaxError(f"unterminated {quote}...{quote} literal", start)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.index = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def accept(self, text: str) -> bool:
        token = self.current
        if token.kind in ("punct", "name") and token.text == text:
            self.index += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.accept(text):
            self.fail(f"expected {text!r}")

    def fail(self, message: str) -> None:
        token = self.current
        found = "end of query" if token.kind == "end" else repr(token.text)
        raise QuerySyntaxError(f"{message}, found {found}", token.position)

    def statement(self) -> Node:
        node = self.or_expr()
        if self.current.kind != "end":
            self.fail("expected ';', '||' or the end of the query")
        return node

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while self.accept("||"):
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Node:
        items = [self.unary()]
        while self.accept(";"):
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Node:
        if self.accept("!"):
            return Not(self.unary())
        if self.accept("("):
            node = self.or_expr()
            self.expect(")")
            return node
        return self.condition()

    def condition(self) -> Node:
        token = self.current
        if token.kind != "name" or token.text in ("null", "true", "false"):
            self.fail("expected a field name")
        self.advance()
        field = token.text
        op_token = self.advance()
        op = COMPARISONS.get(op_token.text) if op_token.kind == "name" else None
        if op_token.kind == "punct":
            op = SYMBOLS.get(op_token.text)
        if op is not None:
            if self.accept("{"):
                if self.current.kind == "name" and self.current.text == "null":
                    self.advance()
                    self.expect("}")
                    return Comparison(field, op, None)
                node = self.or_expr()
                self.expect("}")
                if op != "EQ":
                    raise QuerySyntaxError("a reference filter needs EQ", op_token.position)
                return RefFilter(field, node)
            return Comparison(field, op, self.literal())
        if op_token.kind == "name" and op_token.text == "IN":
            return InList(field, self.literal_list())
        if op_token.kind == "name" and op_token.text == "BTW":
            low = self.literal()
            if not (self.accept("...") or self.accept(",")):
                self.fail("expected '...' between the BTW bounds")
            return Between(field, low, self.literal())
        self.index -= 1
        self.fail(f"expected an operator after {field!r}")
        raise AssertionError  # unreachable: fail() raises

    def literal_list(self) -> tuple[Scalar, ...]:
        parenthesised = self.accept("(")
        values = [self.literal()]
        while self.accept(","):
            values.append(self.literal())
        if parenthesised:
            self.expect(")")
        return tuple(values)

    def literal(self) -> Scalar:
        token = self.current
        if token.kind in ("string", "number"):
            self.advance()
            return token.value
        if token.kind == "name" and token.text in ("null", "true", "false"):
            self.advance()
            return {"null": None, "true": True, "false": False}[token.text]
        self.fail("expected a literal ('text', ^text^, a number, null, true or false)")
        raise AssertionError  # unreachable: fail() raises


def parse(text: str) -> Node:
    """Parse an Octane query statement, with or without its surrounding double quotes.

    Args:
        text: e.g. `"name EQ 'a\\'b' ; release EQ {id EQ 1001}"`.

    Returns:
        The expression tree (`Comparison`, `InList`, `Between`, `RefFilter`, `And`,
        `Or`, `Not`).

    Raises:
        QuerySyntaxError: the text is empty or not in Octane's grammar.
    """
    body = text.strip()
    if len(body) >= 2 and body[0] == '"' and body[-1] == '"':
        body = body[1:-1]
    if not body.strip():
        raise QuerySyntaxError("empty query", 0)
    return _Parser(body).statement()
