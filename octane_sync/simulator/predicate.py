"""A parsed query turned into a row predicate, and into key ranges a sorted index can bisect.

The key range is what keeps keyset paging cheap: `(last_modified GT ^t^ || (last_modified
EQ ^t^ ; id GT i)) ; last_modified LE ^u^` becomes one slice of the (last_modified, id)
index, and when the range says everything the query says (`exact`) no row is evaluated.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from octane_sync.models import id_sort_key
from octane_sync.simulator.query_parser import (
    And,
    Between,
    Comparison,
    InList,
    Node,
    Not,
    Or,
    QuerySyntaxError,
    RefFilter,
    Scalar,
)

DATE_FIELDS = frozenset(
    {"creation_time", "last_modified", "closed_on", "start_date", "end_date", "started"}
)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "EQ": operator.eq,
    "LT": operator.lt,
    "GT": operator.gt,
    "LE": operator.le,
    "GE": operator.ge,
}
# Id keys are (kind, number, text); these sort below and above every real id.
MIN_ID: tuple = (-1, 0, "")
MAX_ID: tuple = (2, 0, "")
_FAR = 1 << 62


class Gettable(Protocol):
    def get(self, name: str, default: Any = None, /) -> Any: ...


Predicate = Callable[[Gettable], bool]


def to_epoch(value: Scalar) -> float:
    """Seconds since the epoch of an Octane date literal (`2024-05-01T10:00:00Z`, `2024-05-01`).

    Raises:
        QuerySyntaxError: `value` is not a date.
    """
    if not isinstance(value, str):
        raise QuerySyntaxError(f"{value!r} is not a date", 0)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise QuerySyntaxError(f"{value!r} is not a date", 0) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def id_key(value: Scalar) -> tuple:
    text = str(value)
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    return id_sort_key(text)


# ---------------------------------------------------------------- predicates


def compile_predicate(node: Node) -> Predicate:
    """A function telling whether an entity (anything with `.get(name)`) matches `node`.

    Raises:
        QuerySyntaxError: a date field compared with something that is not a date.
    """
    return _COMPILERS[type(node)](node)


def _all(node: And) -> Predicate:
    parts = [compile_predicate(item) for item in node.items]
    return lambda row: all(part(row) for part in parts)


def _any(node: Or) -> Predicate:
    parts = [compile_predicate(item) for item in node.items]
    return lambda row: any(part(row) for part in parts)


def _not(node: Not) -> Predicate:
    inner = compile_predicate(node.item)
    return lambda row: not inner(row)


def _in_list(node: InList) -> Predicate:
    parts = [compile_predicate(Comparison(node.field, "EQ", v)) for v in node.values]
    return lambda row: any(part(row) for part in parts)


def _between(node: Between) -> Predicate:
    low = compile_predicate(Comparison(node.field, "GE", node.low))
    high = compile_predicate(Comparison(node.field, "LE", node.high))
    return lambda row: low(row) and high(row)


def _ref_filter(node: RefFilter) -> Predicate:
    inner = compile_predicate(node.condition)
    name = node.field

    def matches(row: Gettable) -> bool:
        value = row.get(name)
        if not isinstance(value, dict):
            return False
        if "data" in value:
            return any(inner(ref) for ref in value["data"])
        return inner(value)

    return matches


def _comparison(node: Comparison) -> Predicate:
    name, op, literal = node.field, _OPS[node.op], node.value
    if literal is None:
        if node.op != "EQ":
            raise QuerySyntaxError(f"null can only be compared with EQ ({name})", 0)
        return lambda row: _is_empty(row.get(name))
    if name == "id":
        key = id_key(literal)
        return lambda row: (v := row.get("id")) is not None and op(id_sort_key(str(v)), key)
    if name in DATE_FIELDS:
        moment = to_epoch(literal)
        return lambda row: isinstance(v := row.get(name), str) and op(to_epoch(v), moment)
    return lambda row: _compare(row.get(name), op, literal)


_COMPILERS: dict[type, Callable[[Any], Predicate]] = {
    And: _all,
    Or: _any,
    Not: _not,
    InList: _in_list,
    Between: _between,
    RefFilter: _ref_filter,
    Comparison: _comparison,
}


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, dict) and "data" in value and not value["data"])


def _compare(value: Any, op: Callable[[Any, Any], bool], literal: Scalar) -> bool:
    if value is None:
        return False
    if isinstance(value, dict):
        if "data" in value:
            return any(_compare(ref, op, literal) for ref in value["data"])
        ref_id = value.get("id")
        return ref_id is not None and op(id_sort_key(str(ref_id)), id_key(literal))
    if isinstance(value, bool):
        flag = _as_bool(literal)
        return flag is not None and op(value, flag)
    if isinstance(value, int | float):
        number = _as_number(literal)
        return number is not None and op(value, number)
    if isinstance(literal, bool):
        literal = "true" if literal else "false"
    return op(str(value), str(literal))


def _as_bool(literal: Scalar) -> bool | None:
    if isinstance(literal, bool):
        return literal
    return {"true": True, "false": False}.get(str(literal).lower())


def _as_number(literal: Scalar) -> float | None:
    if isinstance(literal, bool):
        return None
    if isinstance(literal, int | float):
        return literal
    try:
        return float(str(literal))
    except ValueError:
        return None


# ---------------------------------------------------------------- key ranges


@dataclass(frozen=True)
class KeyRange:
    """A slice of a sorted index: `lo` is (key, 1 if exclusive), `hi` is (key, 1 if inclusive).

    `exact` says the rows in the slice are exactly the rows matching the query.
    """

    lo: tuple
    hi: tuple
    exact: bool


LM_ALL = KeyRange(((-_FAR, *MIN_ID), 0), ((_FAR, *MAX_ID), 1), exact=True)
ID_ALL = KeyRange((MIN_ID, 0), (MAX_ID, 1), exact=True)


def key_range(node: Node | None, index: str) -> KeyRange:
    """The slice of the `"lm"` (last_modified, id) or `"id"` index that holds every match.

    Args:
        node: the parsed query, or None for no query (everything, exactly).
        index: `"lm"` or `"id"`.

    Returns:
        A range that always contains every matching row; `exact` when it holds no other.
    """
    full = LM_ALL if index == "lm" else ID_ALL
    if node is None:
        return full
    found = _range(node, index)
    return found if found is not None else KeyRange(full.lo, full.hi, exact=False)


def _range(node: Node, index: str) -> KeyRange | None:
    if isinstance(node, And):
        return _and_range(node, index)
    if isinstance(node, Or):
        return _or_range(node, index)
    if isinstance(node, Between):
        return _between_range(node, index)
    if isinstance(node, Comparison):
        return _leaf_range(node, index)
    return None


def _between_range(node: Between, index: str) -> KeyRange | None:
    low = _leaf_range(Comparison(node.field, "GE", node.low), index)
    high = _leaf_range(Comparison(node.field, "LE", node.high), index)
    if low is None or high is None:
        return None
    return KeyRange(low.lo, high.hi, exact=True)


def _leaf_range(node: Comparison, index: str) -> KeyRange | None:
    if node.value is None:
        return None
    if index == "id":
        return _id_range(node, ID_ALL, ())
    if node.field != "last_modified":
        return None
    try:
        moment = to_epoch(node.value)
    except QuerySyntaxError:
        return None
    # Sentinel ids make every bound exact: `GT t` is "after (t, MAX_ID)", which is also where
    # `(last_modified EQ t ; id GT i)` ends, so the keyset OR is seen as one contiguous range.
    lows = {
        "GT": (math.floor(moment), *MAX_ID),
        "GE": (math.ceil(moment), *MIN_ID),
        "EQ": (math.ceil(moment), *MIN_ID),
    }
    highs = {
        "LT": (math.ceil(moment), *MIN_ID),
        "LE": (math.floor(moment), *MAX_ID),
        "EQ": (math.floor(moment), *MAX_ID),
    }
    lo = (lows[node.op], 0) if node.op in lows else LM_ALL.lo
    hi = (highs[node.op], 1) if node.op in highs else LM_ALL.hi
    return KeyRange(lo, hi, exact=True)


def _id_range(node: Comparison, base: KeyRange, prefix: tuple) -> KeyRange | None:
    """Narrow `base` by an `id` comparison; `prefix` is the fixed last_modified, if any."""
    if node.field != "id" or node.value is None:
        return None
    key = (*prefix, *id_key(node.value))
    lo = {"GT": (key, 1), "GE": (key, 0), "EQ": (key, 0)}.get(node.op, base.lo)
    hi = {"LT": (key, 0), "LE": (key, 1), "EQ": (key, 1)}.get(node.op, base.hi)
    return KeyRange(max(lo, base.lo), min(hi, base.hi), exact=True)


def _and_range(node: And, index: str) -> KeyRange | None:
    ranges = [_range(item, index) for item in node.items]
    constrained = [r for r in ranges if r is not None]
    if not constrained:
        return None
    merged = KeyRange(
        max(r.lo for r in constrained),
        min(r.hi for r in constrained),
        exact=all(r.exact for r in constrained),
    )
    rest = [item for item, r in zip(node.items, ranges, strict=True) if r is None]
    second = merged.lo[0][0]
    if index == "lm" and rest and second == merged.hi[0][0]:
        # One second only: `id` comparisons now narrow the (last_modified, id) slice too.
        for item in list(rest):
            if isinstance(item, Comparison):
                narrowed = _id_range(item, merged, (second,))
                if narrowed is not None:
                    merged = KeyRange(narrowed.lo, narrowed.hi, merged.exact)
                    rest.remove(item)
    return KeyRange(merged.lo, merged.hi, merged.exact and not rest)


def _or_range(node: Or, index: str) -> KeyRange | None:
    ranges = [r for r in (_range(item, index) for item in node.items) if r is not None]
    if len(ranges) != len(node.items):
        return None
    ranges.sort(key=lambda r: r.lo)
    exact = all(r.exact for r in ranges)
    reach = ranges[0].hi
    for current in ranges[1:]:
        if _gap_between(reach, current.lo):
            exact = False
        reach = max(reach, current.hi)
    return KeyRange(ranges[0].lo, reach, exact)


def _gap_between(upper: tuple, lower: tuple) -> bool:
    """True when a real key may lie above `upper` and below `lower` (the union has a hole)."""
    (upper_key, inclusive), (lower_key, exclusive) = upper, lower
    if lower_key < upper_key:
        return False
    if lower_key == upper_key:
        sentinel = upper_key[-3] in (MIN_ID[0], MAX_ID[0])
        return not sentinel and not inclusive and bool(exclusive)
    # (t, MAX_ID) and (t + 1, MIN_ID) have no real key between them.
    return not (
        len(upper_key) == 4
        and upper_key[1:] == MAX_ID
        and lower_key[1:] == MIN_ID
        and lower_key[0] == upper_key[0] + 1
    )
