"""Tests for octane_sync.paging: keyset filters, the stop rule and loop detection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from octane_sync.errors import OctaneError
from octane_sync.models import Watermark
from octane_sync.paging import ChangesPager, IdPager, is_last_page

T0 = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
UNTIL = datetime(2024, 5, 2, 0, 0, 0, tzinfo=UTC)


def row(entity_id: str, second: int = 0) -> dict:
    return {"id": entity_id, "last_modified": f"2024-05-01T10:00:{second:02d}Z"}


@pytest.mark.parametrize(
    ("rows", "limit", "total", "last", "offset"),
    [
        pytest.param([], 10, 0, True, 0, id="empty"),
        pytest.param([row("1")] * 10, 10, 100, False, 0, id="full-page"),
        pytest.param([row("1")] * 3, 10, 3, True, 0, id="short-page"),
        pytest.param([row("1")] * 3, 10, None, True, 0, id="short-page-no-total"),
        pytest.param([row("1")] * 3, 10, 50, False, 0, id="server-capped-silently"),
        pytest.param([row("1")] * 3, 10, 50, True, 47, id="offset-paging-at-the-end"),
        pytest.param([row("1")] * 3, 10, 51, False, 47, id="offset-paging-capped"),
    ],
)
def test_is_last_page(rows: list[dict], limit: int, total: object, last: bool, offset: int) -> None:
    assert is_last_page(rows, limit, total, offset) is last


def test_first_page_without_since_has_only_the_upper_bound() -> None:
    assert ChangesPager(until=UNTIL).query().text == "last_modified LE ^2024-05-02T00:00:00Z^"
    assert ChangesPager().query() is None


def test_first_page_continues_after_since_with_the_tie_breaker() -> None:
    pager = ChangesPager(since=Watermark(T0, "42"), until=UNTIL)
    assert pager.query().text == (
        "last_modified LE ^2024-05-02T00:00:00Z^ ; (last_modified GT ^2024-05-01T10:00:00Z^"
        " || (last_modified EQ ^2024-05-01T10:00:00Z^ ; id GT 42))"
    )


def test_first_page_with_overlap_rereads_the_window() -> None:
    pager = ChangesPager(since=Watermark(T0, "42"), until=UNTIL, overlap=timedelta(minutes=5))
    assert pager.query().text == (
        "last_modified LE ^2024-05-02T00:00:00Z^ ; last_modified GE ^2024-05-01T09:55:00Z^"
    )


def test_later_pages_start_after_the_last_row() -> None:
    pager = ChangesPager(since=Watermark(T0, "42"), overlap=timedelta(minutes=5))
    pager.advance([row("7", 0), row("3", 5)])
    assert pager.position == Watermark(T0 + timedelta(seconds=5), "3")
    assert pager.query().text == (
        "last_modified GT ^2024-05-01T10:00:05Z^ || "
        "(last_modified EQ ^2024-05-01T10:00:05Z^ ; id GT 3)"
    )


def test_overlap_page_may_end_before_since() -> None:
    pager = ChangesPager(since=Watermark(T0, "42"), overlap=timedelta(minutes=5))
    pager.advance([row("1", 0)])  # (10:00:00, 1) is before (10:00:00, 42): allowed in overlap
    assert pager.position == Watermark(T0, "1")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param([row("5", 1)], [row("5", 1)], id="same-position"),
        pytest.param([row("5", 1)], [row("4", 1)], id="smaller-id-same-second"),
        pytest.param([row("5", 2)], [row("9", 1)], id="earlier-second"),
        pytest.param([row("10", 1)], [row("9", 1)], id="ids-compare-as-numbers"),
    ],
)
def test_loop_detection(first: list[dict], second: list[dict]) -> None:
    pager = ChangesPager()
    pager.advance(first)
    with pytest.raises(OctaneError, match="did not move forward"):
        pager.advance(second)


def test_loop_detection_against_since_without_overlap() -> None:
    pager = ChangesPager(since=Watermark(T0, "42"))
    with pytest.raises(OctaneError, match="did not move forward"):
        pager.advance([row("42", 0)])


def test_negative_overlap_is_refused() -> None:
    with pytest.raises(ValueError, match="overlap"):
        ChangesPager(overlap=timedelta(seconds=-1))


def test_id_pager() -> None:
    pager = IdPager()
    assert pager.query() is None
    pager.advance([{"id": "9"}, {"id": "10"}])
    assert pager.query().text == "id GT 10"
    with pytest.raises(OctaneError, match="did not move forward"):
        pager.advance([{"id": "9"}])
    logical = IdPager()
    logical.advance([{"id": "phase.defect.new"}])
    assert logical.query().text == "id GT 'phase.defect.new'"
