from datetime import UTC, datetime, timedelta, timezone

import pytest

from octane_sync.models import (
    Watermark,
    format_octane_time,
    parse_octane_time,
    source_key,
)


def test_octane_time_round_trips_as_utc() -> None:
    parsed = parse_octane_time("2024-05-01T10:00:00Z")
    assert parsed == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert format_octane_time(parsed) == "2024-05-01T10:00:00Z"


def test_format_converts_other_zones_to_utc() -> None:
    paris = datetime(2024, 5, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    assert format_octane_time(paris) == "2024-05-01T10:00:00Z"


def test_watermark_ids_compare_as_numbers() -> None:
    t = datetime(2024, 5, 1, tzinfo=UTC)
    assert Watermark(t, "9").key < Watermark(t, "10").key
    after = Watermark.of({"id": "10", "last_modified": "2024-05-01T00:00:00Z"})
    assert after.key == (t, (0, 10, ""))
    assert Watermark(t, "99").key < Watermark(t, "phase.defect.new").key


def test_naive_watermark_is_taken_as_utc() -> None:
    assert Watermark(datetime(2024, 5, 1), "1").last_modified.tzinfo is UTC


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("https://Octane.Example.com/", "octane.example.com:443/1001", id="https"),
        pytest.param("http://127.0.0.1:8089", "127.0.0.1:8089/1001", id="port"),
        pytest.param("https://h.example.com/octane/", "h.example.com:443/octane/1001", id="path"),
    ],
)
def test_source_key_identifies_server_and_space(url: str, expected: str) -> None:
    assert source_key(url, 1001) == expected
