"""Tests for octane_sync.retry: the status -> action table, Retry-After and the backoff bounds."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from octane_sync.errors import OctaneError
from octane_sync.retry import (
    Action,
    RetryPolicy,
    classify,
    error_details,
    page_size_after,
    parse_retry_after,
)


@pytest.mark.parametrize(
    ("status", "content_type", "action"),
    [
        pytest.param(200, "application/json", Action.OK, id="200-json"),
        pytest.param(201, None, Action.OK, id="201-no-type"),
        pytest.param(200, "text/html; charset=utf-8", Action.RETRY, id="200-html-proxy-page"),
        pytest.param(401, "application/json", Action.SIGN_IN, id="401"),
        pytest.param(400, "application/json", Action.FAIL, id="400"),
        pytest.param(403, "application/json", Action.FAIL, id="403"),
        pytest.param(404, "application/json", Action.FAIL, id="404"),
        pytest.param(404, "text/html", Action.FAIL, id="404-html-is-not-transient"),
        pytest.param(408, "application/json", Action.RETRY, id="408"),
        pytest.param(429, None, Action.RETRY, id="429"),
        pytest.param(500, "application/json", Action.RETRY, id="500"),
        pytest.param(501, "application/json", Action.FAIL, id="501"),
        pytest.param(502, "text/html", Action.RETRY, id="502-html"),
        pytest.param(503, "text/html", Action.RETRY, id="503-html"),
        pytest.param(504, None, Action.RETRY, id="504"),
        pytest.param(505, "text/html", Action.RETRY, id="5xx-html"),
    ],
)
def test_classify(status: int, content_type: str | None, action: Action) -> None:
    assert classify(status, content_type) is action


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(None, None, id="absent"),
        pytest.param("", None, id="empty"),
        pytest.param("3", 3.0, id="seconds"),
        pytest.param(" 1.5 ", 1.5, id="fraction"),
        pytest.param("-4", 0.0, id="negative"),
        pytest.param("soon", None, id="garbage"),
    ],
)
def test_parse_retry_after_seconds(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_parse_retry_after_http_date() -> None:
    now = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC).timestamp()
    header = format_datetime(datetime(2024, 5, 1, 10, 0, 7, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(header, now=now) == pytest.approx(7.0)
    past = format_datetime(datetime(2024, 5, 1, 9, 0, 0, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(past, now=now) == 0.0


def test_backoff_doubles_without_jitter_and_is_capped() -> None:
    policy = RetryPolicy(max_attempts=10, backoff=0.5, max_backoff=3.0, jitter=False)
    waits = [policy.delay(attempt, elapsed=0.0) for attempt in range(1, 7)]
    assert waits == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


def test_jitter_waits_between_half_and_all_of_the_backoff() -> None:
    policy = RetryPolicy(backoff=1.0, max_backoff=100.0, jitter=True)
    waits = [policy.delay(3, elapsed=0.0) for _ in range(200)]
    assert all(2.0 <= wait <= 4.0 for wait in waits if wait is not None)
    assert len(set(waits)) > 1


def test_attempts_are_bounded() -> None:
    policy = RetryPolicy(max_attempts=3, backoff=0.1, jitter=False)
    assert policy.delay(2, elapsed=0.0) == pytest.approx(0.2)
    assert policy.delay(3, elapsed=0.0) is None


def test_total_time_is_bounded() -> None:
    policy = RetryPolicy(max_attempts=100, backoff=1.0, max_total=10.0, jitter=False)
    assert policy.delay(1, elapsed=8.5) == 1.0
    assert policy.delay(1, elapsed=9.5) is None


def test_retry_after_is_honoured_up_to_max_backoff() -> None:
    policy = RetryPolicy(backoff=0.1, max_backoff=5.0, jitter=False)
    assert policy.delay(1, elapsed=0.0, retry_after=2.0) == 2.0
    assert policy.delay(1, elapsed=0.0, retry_after=60.0) == 5.0
    assert policy.delay(1, elapsed=0.0, retry_after=0.0) == pytest.approx(0.1)


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"max_attempts": 0}, id="no-attempts"),
        pytest.param({"backoff": -1.0}, id="negative-backoff"),
        pytest.param({"max_total": -1.0}, id="negative-total"),
    ],
)
def test_policy_rejects_nonsense(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="must"):
        RetryPolicy(**kwargs)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(
            b'{"error_code": "platform.x", "correlation_id": "c1", "description": "d",'
            b' "properties": {"limit": 5}}',
            ("platform.x", "c1", "d", {"limit": 5}),
            id="octane-body",
        ),
        pytest.param(
            b'{"error_code": "e", "description": "d", "description_translated": "t"}',
            ("e", None, "t", {}),
            id="translated-wins",
        ),
        pytest.param(b"<html>503</html>", (None, None, None, {}), id="html"),
        pytest.param(b"[1, 2]", (None, None, None, {}), id="not-an-object"),
        pytest.param(b"", (None, None, None, {}), id="empty"),
    ],
)
def test_error_details(content: bytes, expected: tuple) -> None:
    assert error_details(content) == expected


def limit_error(status: int, code: str | None, **properties: object) -> OctaneError:
    error = OctaneError("x", status=status, error_code=code)
    error.properties = properties  # type: ignore[attr-defined]
    return error


@pytest.mark.parametrize(
    ("error", "limit", "expected"),
    [
        pytest.param(
            limit_error(400, "platform.limit_out_of_range", max_page_size=500), 1000, 500, id="max"
        ),
        pytest.param(limit_error(400, "platform.invalid_limit", max="200"), 1000, 200, id="text"),
        pytest.param(limit_error(400, "platform.invalid_limit"), 1000, 500, id="halve"),
        pytest.param(limit_error(400, "other", limit=1000), 1000, 500, id="property-key"),
        pytest.param(
            limit_error(400, "platform.invalid_limit", max_page_size=2000), 1000, 500, id="max-big"
        ),
        pytest.param(limit_error(400, "platform.invalid_limit"), 1, None, id="cannot-shrink"),
        pytest.param(limit_error(400, "platform.query_syntax_error"), 1000, None, id="other-400"),
        pytest.param(limit_error(403, "platform.invalid_limit"), 1000, None, id="not-400"),
    ],
)
def test_page_size_after(error: OctaneError, limit: int, expected: int | None) -> None:
    assert page_size_after(error, limit) == expected
