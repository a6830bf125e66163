"""Octane's query grammar: operators, precedence, literals and escapes, and the errors."""

from __future__ import annotations

import pytest

from octane_sync.simulator.query_parser import (
    And,
    Between,
    Comparison,
    InList,
    Not,
    Or,
    QuerySyntaxError,
    RefFilter,
    parse,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("id EQ 1001", Comparison("id", "EQ", 1001), id="eq-number"),
        pytest.param("story_points LT 3", Comparison("story_points", "LT", 3), id="lt"),
        pytest.param("story_points GT 3", Comparison("story_points", "GT", 3), id="gt"),
        pytest.param("story_points LE 3", Comparison("story_points", "LE", 3), id="le"),
        pytest.param("story_points GE 3", Comparison("story_points", "GE", 3), id="ge"),
        pytest.param("story_points = 3", Comparison("story_points", "EQ", 3), id="sym-eq"),
        pytest.param("story_points < 3", Comparison("story_points", "LT", 3), id="sym-lt"),
        pytest.param("story_points > 3", Comparison("story_points", "GT", 3), id="sym-gt"),
        pytest.param("story_points <= 3", Comparison("story_points", "LE", 3), id="sym-le"),
        pytest.param("story_points >= 3", Comparison("story_points", "GE", 3), id="sym-ge"),
        pytest.param("hours GT -1.5", Comparison("hours", "GT", -1.5), id="negative-float"),
        pytest.param("name EQ 'a b'", Comparison("name", "EQ", "a b"), id="quoted"),
        pytest.param(
            "last_modified GE ^2024-05-01T10:00:00Z^",
            Comparison("last_modified", "GE", "2024-05-01T10:00:00Z"),
            id="caret-date",
        ),
        pytest.param("owner EQ null", Comparison("owner", "EQ", None), id="null"),
        pytest.param("owner EQ {null}", Comparison("owner", "EQ", None), id="null-ref"),
        pytest.param("blocked EQ true", Comparison("blocked", "EQ", True), id="true"),
        pytest.param(
            "release EQ {id EQ 1001}",
            RefFilter("release", Comparison("id", "EQ", 1001)),
            id="ref-filter",
        ),
        pytest.param("id IN 1,2,3", InList("id", (1, 2, 3)), id="in"),
        pytest.param("id IN ('a', 'b')", InList("id", ("a", "b")), id="in-parenthesised"),
        pytest.param("n BTW 1...5", Between("n", 1, 5), id="btw-dots"),
        pytest.param("n BTW ^a^,^b^", Between("n", "a", "b"), id="btw-comma"),
        pytest.param('"id EQ 5"', Comparison("id", "EQ", 5), id="double-quoted"),
    ],
)
def test_conditions(text, expected) -> None:
    assert parse(text) == expected


def test_precedence_parentheses_then_not_then_and_then_or() -> None:
    a, b, c = (Comparison(n, "EQ", 1) for n in "abc")
    assert parse("a EQ 1 || b EQ 1 ; c EQ 1") == Or((a, And((b, c))))
    assert parse("(a EQ 1 || b EQ 1) ; c EQ 1") == And((Or((a, b)), c))
    assert parse("!a EQ 1 ; b EQ 1") == And((Not(a), b))
    assert parse("!(a EQ 1 ; b EQ 1)") == Not(And((a, b)))


def test_keyset_query_parses_to_the_expected_tree() -> None:
    text = (
        "(last_modified GT ^2024-05-01T10:00:00Z^ || (last_modified EQ ^2024-05-01T10:00:00Z^"
        " ; id GT 1005)) ; last_modified LE ^2024-06-01T00:00:00Z^"
    )
    t = "2024-05-01T10:00:00Z"
    assert parse(text) == And(
        (
            Or(
                (
                    Comparison("last_modified", "GT", t),
                    And((Comparison("last_modified", "EQ", t), Comparison("id", "GT", 1005))),
                )
            ),
            Comparison("last_modified", "LE", "2024-06-01T00:00:00Z"),
        )
    )


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        pytest.param(r"'it\'s'", "it's", id="quote"),
        pytest.param(r"'back\\slash'", "back\\slash", id="backslash"),
        pytest.param(r"'say \"hi\"'", 'say "hi"', id="double-quote"),
        pytest.param(r"'\(x\)'", "(x)", id="parentheses"),
        pytest.param(r"'a ; b || c'", "a ; b || c", id="operators-inside"),
        pytest.param(r"^x \^ y^", "x ^ y", id="caret-escaped"),
        pytest.param("'Straße & café — ✓'", "Straße & café — ✓", id="non-ascii"),
        pytest.param("''", "", id="empty"),
    ],
)
def test_literal_escapes(literal, value) -> None:
    assert parse(f"name EQ {literal}") == Comparison("name", "EQ", value)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param('""', id="empty-quoted"),
        pytest.param("name EQ 'open", id="unterminated"),
        pytest.param("name EQ 'x\\", id="dangling-backslash"),
        pytest.param("name EQ", id="no-value"),
        pytest.param("name", id="no-operator"),
        pytest.param("name LIKE 'x'", id="unknown-operator"),
        pytest.param("name eq 'x'", id="lowercase-operator"),
        pytest.param("(name EQ 'x'", id="unclosed-paren"),
        pytest.param("name EQ 'x')", id="extra-paren"),
        pytest.param("name EQ 'x' ;", id="trailing-and"),
        pytest.param("name EQ 'x' 'y'", id="two-values"),
        pytest.param("release EQ {id EQ 1", id="unclosed-brace"),
        pytest.param("release LT {id EQ 1}", id="ref-needs-eq"),
        pytest.param("n BTW 1", id="btw-one-bound"),
        pytest.param("id IN", id="in-nothing"),
        pytest.param("name EQ 'x' # y", id="stray-character"),
        pytest.param("null EQ 1", id="keyword-as-field"),
    ],
)
def test_malformed_queries_raise_query_syntax_error(text) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse(text)
    assert caught.value.position >= 0
    assert isinstance(caught.value, ValueError)
