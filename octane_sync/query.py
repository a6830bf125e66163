"""Build Octane `query` strings from values, quoting and escaping so no value can change a query.

Every query the client sends is made here; nothing else assembles one by string formatting.
Example:

    q = field("name").eq("it's (done)") & field("last_modified").ge(datetime(2024, 5, 1))
    q.param()   # "name EQ 'it\\'s \\(done\\)' ; last_modified GE ^2024-05-01T00:00:00Z^"
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from octane_sync.models import Watermark, format_octane_time

_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMERIC_ID = re.compile(r"[0-9]+")
# Inside a literal a backslash escapes these (octane-api.md); `"` matters because the
# whole statement travels inside double quotes.
_ESCAPED = re.compile(r"""([\\'"()])""")

Scalar = str | int | float | bool | datetime | None
_Kind = Literal["atom", "and", "or", "not"]


@dataclass(frozen=True)
class Query:
    """A query expression; combine with `&` (AND, `;`), `|` (OR, `||`) and `~` (NOT, `!`).

    Compound operands are parenthesised when combined, so Octane's precedence
    (`!` before `;` before `||`) never regroups what the Python expression says.
    """

    text: str
    kind: _Kind = "atom"

    def __str__(self) -> str:
        return self.text

    def __and__(self, other: Query) -> Query:
        return and_(self, other)

    def __or__(self, other: Query) -> Query:
        return or_(self, other)

    def __invert__(self) -> Query:
        return not_(self)

    def param(self) -> str:
        """The value of the `query=` URL parameter: the statement in double quotes."""
        return f'"{self.text}"'


def and_(*queries: Query) -> Query:
    """All of `queries` (Octane's `;`)."""
    return _combine("and", " ; ", queries)


def or_(*queries: Query) -> Query:
    """Any of `queries` (Octane's `||`)."""
    return _combine("or", " || ", queries)


def not_(query: Query) -> Query:
    """The negation of `query` (Octane's `!`)."""
    return Query(f"!{_operand(query, 'not')}", "not")


def _combine(kind: _Kind, separator: str, queries: tuple[Query, ...]) -> Query:
    if not queries:
        raise ValueError(f"{kind}_() needs at least one query")
    if len(queries) == 1:
        return queries[0]
    return Query(separator.join(_operand(query, kind) for query in queries), kind)


def _operand(query: Query, parent: _Kind) -> str:
    if not isinstance(query, Query):
        raise TypeError(f"expected a Query, got {type(query).__name__}")
    if query.kind in ("atom", parent):
        return query.text
    return f"({query.text})"


def field_name(name: str) -> str:
    """Check that `name` is a plain Octane field name and return it.

    Raises:
        ValueError: the name holds anything but letters, digits and underscores.
    """
    if not isinstance(name, str) or not _FIELD_NAME.fullmatch(name):
        raise ValueError(f"not an Octane field name: {name!r}")
    return name


def string_literal(value: str) -> str:
    """`value` as a single-quoted literal with `\\ ' " ( )` backslash-escaped."""
    return "'" + _ESCAPED.sub(r"\\\1", value) + "'"


def date_literal(value: datetime) -> str:
    """`value` as Octane's date literal `^YYYY-MM-DDTHH:MM:SSZ^` (UTC; naive means UTC)."""
    return f"^{format_octane_time(value)}^"


def id_literal(value: str | int) -> str:
    """An entity id: bare when numeric (so it compares as a number), else a string literal."""
    text = str(value)
    return text if _NUMERIC_ID.fullmatch(text) else string_literal(text)


def literal(value: Scalar) -> str:
    """Any scalar as an Octane literal: null, true/false, a number, a date or a string.

    Raises:
        ValueError: a float that is not finite.
        TypeError: a value of another type.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {value!r}")
        # Plain decimal notation: Octane's grammar has no exponent (1e-05 -> 0.00001).
        return format(Decimal(repr(value)), "f")
    if isinstance(value, datetime):
        return date_literal(value)
    if isinstance(value, str):
        return string_literal(value)
    raise TypeError(f"cannot put a {type(value).__name__} into an Octane query")


@dataclass(frozen=True)
class Field:
    """One field of a condition; its methods make the comparisons Octane knows."""

    name: str

    def __post_init__(self) -> None:
        field_name(self.name)

    def _compare(self, operator: str, value: Scalar) -> Query:
        return Query(f"{self.name} {operator} {literal(value)}")

    def eq(self, value: Scalar) -> Query:
        return self._compare("EQ", value)

    def lt(self, value: Scalar) -> Query:
        return self._compare("LT", value)

    def le(self, value: Scalar) -> Query:
        return self._compare("LE", value)

    def gt(self, value: Scalar) -> Query:
        return self._compare("GT", value)

    def ge(self, value: Scalar) -> Query:
        return self._compare("GE", value)

    def is_null(self) -> Query:
        return Query(f"{self.name} EQ null")

    def in_(self, values: list[Scalar] | tuple[Scalar, ...]) -> Query:
        if not values:
            raise ValueError(f"{self.name} IN needs at least one value")
        return Query(f"{self.name} IN {','.join(literal(value) for value in values)}")

    def btw(self, low: Scalar, high: Scalar) -> Query:
        return Query(f"{self.name} BTW {literal(low)}...{literal(high)}")

    def ref(self, condition: Query) -> Query:
        """A reference filter, e.g. `release EQ {id EQ 1001}`."""
        return Query(f"{self.name} EQ {{{condition.text}}}")

    def id_eq(self, entity_id: str | int) -> Query:
        return Query(f"{self.name} EQ {id_literal(entity_id)}")

    def id_gt(self, entity_id: str | int) -> Query:
        return Query(f"{self.name} GT {id_literal(entity_id)}")


def field(name: str) -> Field:
    """Start a condition on `name`, e.g. `field("name").eq("x")`."""
    return Field(name)


def keyset_after(position: Watermark) -> Query:
    """Rows strictly after `position` in `(last_modified, id)` order.

    `last_modified` has one-second resolution, so rows of the position's second with a
    larger id must be read too: `(last_modified GT ^t^ || (last_modified EQ ^t^ ; id GT i))`.
    """
    lm = field("last_modified")
    return lm.gt(position.last_modified) | (
        lm.eq(position.last_modified) & field("id").id_gt(position.id)
    )
