"""Tests for octane_sync.query: literals, escaping, grouping and the keyset condition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from octane_sync.models import Watermark
from octane_sync.query import (
    Query,
    and_,
    date_literal,
    field,
    field_name,
    id_literal,
    keyset_after,
    literal,
    not_,
    or_,
    string_literal,
)
from octane_sync.simulator.query_parser import (
    And,
    Between,
    Comparison,
    InList,
    Not,
    Or,
    RefFilter,
    parse,
)

HOSTILE = [
    pytest.param("it's", id="single-quote"),
    pytest.param("a^b", id="caret"),
    pytest.param('say "hi"', id="double-quote"),
    pytest.param("back\\slash", id="backslash"),
    pytest.param("x) || (id GT 0", id="parentheses-or-injection"),
    pytest.param("a'; id GT 0 ; name EQ 'b", id="semicolon-and-injection"),
    pytest.param("^2024-01-01T00:00:00Z^", id="date-literal-text"),
    pytest.param("\\'", id="backslash-then-quote"),
    pytest.param("trailing\\", id="trailing-backslash"),
    pytest.param("Straße & café — ✓", id="non-ascii"),
    pytest.param("", id="empty"),
]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("plain", "'plain'", id="plain"),
        pytest.param("it's", "'it\\'s'", id="quote"),
        pytest.param('a"b', "'a\\\"b'", id="double-quote"),
        pytest.param("a\\b", "'a\\\\b'", id="backslash"),
        pytest.param("f(x)", "'f\\(x\\)'", id="parentheses"),
        pytest.param("a;b||c^d", "'a;b||c^d'", id="operators-stay-inside-the-literal"),
    ],
)
def test_string_literal_escapes(value: str, expected: str) -> None:
    assert string_literal(value) == expected


@pytest.mark.parametrize("value", HOSTILE)
def test_string_literal_never_ends_early(value: str) -> None:
    text = string_literal(value)
    body = text[1:-1]
    # Every quote, double quote and parenthesis inside is escaped by an odd run of backslashes.
    for index, char in enumerate(body):
        if char in "'\"()":
            run = len(body[:index]) - len(body[:index].rstrip("\\"))
            assert run % 2 == 1, (value, text)
    trailing = len(body) - len(body.rstrip("\\"))
    assert trailing % 2 == 0, (value, text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, "null", id="none"),
        pytest.param(True, "true", id="true"),
        pytest.param(False, "false", id="false"),
        pytest.param(42, "42", id="int"),
        pytest.param(-1.5, "-1.5", id="float"),
        pytest.param(
            datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC), "^2024-05-01T10:00:00Z^", id="utc"
        ),
        pytest.param(
            datetime(2024, 5, 1, 12, 0, 0, 900000, tzinfo=timezone(timedelta(hours=2))),
            "^2024-05-01T10:00:00Z^",
            id="offset-and-fraction",
        ),
        pytest.param(datetime(2024, 5, 1, 10, 0, 0), "^2024-05-01T10:00:00Z^", id="naive-is-utc"),
        pytest.param("x", "'x'", id="string"),
    ],
)
def test_literal(value: object, expected: str) -> None:
    assert literal(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "error"),
    [
        pytest.param(float("nan"), ValueError, id="nan"),
        pytest.param(float("inf"), ValueError, id="inf"),
        pytest.param(b"bytes", TypeError, id="bytes"),
        pytest.param(["list"], TypeError, id="list"),
    ],
)
def test_literal_rejects(value: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        literal(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("1001", "1001", id="numeric-bare"),
        pytest.param(1001, "1001", id="int-bare"),
        pytest.param("phase.defect.new", "'phase.defect.new'", id="logical-quoted"),
        pytest.param("12a", "'12a'", id="mixed-quoted"),
        pytest.param("١٢", "'١٢'", id="non-ascii-digits-quoted"),
        pytest.param("1 || id GT 0", "'1 || id GT 0'", id="injection-quoted"),
    ],
)
def test_id_literal(value: str | int, expected: str) -> None:
    assert id_literal(value) == expected


def test_date_literal_formats_utc_whole_seconds() -> None:
    assert date_literal(datetime(2024, 1, 2, 3, 4, 5, 999999, tzinfo=UTC)) == (
        "^2024-01-02T03:04:05Z^"
    )


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("name; id GT 0", id="semicolon"),
        pytest.param("a b", id="space"),
        pytest.param("1abc", id="leading-digit"),
        pytest.param("", id="empty"),
        pytest.param("owner{full_name}", id="sub-field"),
        pytest.param("name)", id="parenthesis"),
    ],
)
def test_field_name_rejects_anything_but_identifiers(name: str) -> None:
    with pytest.raises(ValueError, match="not an Octane field name"):
        field(name)
    with pytest.raises(ValueError, match="not an Octane field name"):
        field_name(name)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(field("name").eq("a"), "name EQ 'a'", id="eq"),
        pytest.param(field("story_points").lt(3), "story_points LT 3", id="lt"),
        pytest.param(field("story_points").le(3), "story_points LE 3", id="le"),
        pytest.param(field("story_points").gt(3), "story_points GT 3", id="gt"),
        pytest.param(field("story_points").ge(3), "story_points GE 3", id="ge"),
        pytest.param(field("owner").is_null(), "owner EQ null", id="null"),
        pytest.param(field("id").in_(["1", "2"]), "id IN '1','2'", id="in"),
        pytest.param(field("story_points").btw(1, 5), "story_points BTW 1...5", id="btw"),
        pytest.param(
            field("release").ref(field("id").id_eq("1001")),
            "release EQ {id EQ 1001}",
            id="reference",
        ),
        pytest.param(field("id").id_gt("phase.x"), "id GT 'phase.x'", id="id-gt-logical"),
    ],
)
def test_comparisons(query: Query, expected: str) -> None:
    assert query.text == expected


def test_and_of_ors_is_parenthesised() -> None:
    a, b, c = field("a").eq(1), field("b").eq(2), field("c").eq(3)
    assert ((a | b) & c).text == "(a EQ 1 || b EQ 2) ; c EQ 3"
    assert (a | (b & c)).text == "a EQ 1 || (b EQ 2 ; c EQ 3)"
    assert (a & b & c).text == "a EQ 1 ; b EQ 2 ; c EQ 3"
    assert (~(a | b)).text == "!(a EQ 1 || b EQ 2)"
    assert (~a).text == "!a EQ 1"
    assert not_(a).text == "!a EQ 1"
    assert and_(a).text == a.text
    assert or_(a, b).kind == "or"


def test_combining_needs_queries() -> None:
    with pytest.raises(ValueError, match="at least one"):
        and_()
    with pytest.raises(TypeError, match="expected a Query"):
        and_(field("a").eq(1), "b EQ 2")  # type: ignore[arg-type]


def test_param_wraps_the_statement_in_double_quotes() -> None:
    assert field("name").eq('x"y').param() == '"name EQ \'x\\"y\'"'


def test_keyset_after_uses_the_id_tie_breaker() -> None:
    position = Watermark(datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC), "17")
    assert keyset_after(position).text == (
        "last_modified GT ^2024-05-01T10:00:00Z^ || "
        "(last_modified EQ ^2024-05-01T10:00:00Z^ ; id GT 17)"
    )
    upper = field("last_modified").le(datetime(2024, 5, 2, tzinfo=UTC))
    assert (upper & keyset_after(position)).text == (
        "last_modified LE ^2024-05-02T00:00:00Z^ ; (last_modified GT ^2024-05-01T10:00:00Z^ || "
        "(last_modified EQ ^2024-05-01T10:00:00Z^ ; id GT 17))"
    )


# Round trips through the simulator's parser: what query.py builds means what it says.


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_literal_round_trips_through_the_parser(value: str) -> None:
    built = field("name").eq(value) & field("id").id_gt("5")
    assert parse(built.param()) == And((Comparison("name", "EQ", value), Comparison("id", "GT", 5)))


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_literal_in_every_construct(value: str) -> None:
    assert parse(field("name").in_([value, "b"]).param()) == InList("name", (value, "b"))
    assert parse(field("name").btw(value, "z").param()) == Between("name", value, "z")
    assert parse(field("release").ref(field("name").eq(value)).param()) == RefFilter(
        "release", Comparison("name", "EQ", value)
    )
    assert parse((~field("name").eq(value)).param()) == Not(Comparison("name", "EQ", value))
    assert parse(field("id").id_gt(value).param()) == Comparison("id", "GT", value)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(0, id="zero"),
        pytest.param(-7, id="negative-int"),
        pytest.param(2.5, id="float"),
        pytest.param(1e-05, id="tiny-float"),
        pytest.param(1e22, id="huge-float"),
        pytest.param(True, id="true"),
        pytest.param(None, id="null"),
    ],
)
def test_scalars_round_trip_through_the_parser(value: object) -> None:
    node = parse(field("story_points").eq(value).param())  # type: ignore[arg-type]
    assert node == Comparison("story_points", "EQ", value)


def test_keyset_condition_parses_with_the_intended_grouping() -> None:
    position = Watermark(datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC), "17")
    upper = field("last_modified").le(datetime(2024, 5, 2, tzinfo=UTC))
    t = "2024-05-01T10:00:00Z"
    assert parse((upper & keyset_after(position)).param()) == And(
        (
            Comparison("last_modified", "LE", "2024-05-02T00:00:00Z"),
            Or(
                (
                    Comparison("last_modified", "GT", t),
                    And((Comparison("last_modified", "EQ", t), Comparison("id", "GT", 17))),
                )
            ),
        )
    )


def test_or_inside_and_keeps_its_grouping_in_the_parser() -> None:
    a, b, c = field("a").eq(1), field("b").eq(2), field("c").eq(3)
    assert parse(((a | b) & c).param()) == And(
        (Or((Comparison("a", "EQ", 1), Comparison("b", "EQ", 2))), Comparison("c", "EQ", 3))
    )
    assert parse((~(a | b)).param()) == Not(
        Or((Comparison("a", "EQ", 1), Comparison("b", "EQ", 2)))
    )
