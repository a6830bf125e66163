"""Tests for octane_sync.redaction: no secret survives in text bound for logs or exceptions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from octane_sync.redaction import MASK, clear_secrets, redact, redact_url, register_secret


@pytest.fixture(autouse=True)
def _clean_registry() -> Iterator[None]:
    clear_secrets()
    yield
    clear_secrets()


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        pytest.param("client_secret=abc123&x=1", "abc123", id="query-string"),
        pytest.param('{"client_id": "c", "client_secret": "abc123"}', "abc123", id="json"),
        pytest.param("{'password': 'abc123'}", "abc123", id="dict-repr"),
        pytest.param('{"user": "u", "password": "ab\\"c123"}', "c123", id="json-escaped-quote"),
        pytest.param("password: abc123", "abc123", id="colon"),
        pytest.param("LWSSO_COOKIE_KEY=abc123; OCTANE_USER=me", "abc123", id="cookie"),
        pytest.param("Cookie: LWSSO_COOKIE_KEY=abc123; x=y", "abc123", id="cookie-header"),
        pytest.param("Set-Cookie: LWSSO_COOKIE_KEY=abc123; Path=/", "abc123", id="set-cookie"),
        pytest.param("{'Cookie': 'JSESSIONID=abc123', 'Accept': 'x'}", "abc123", id="headers"),
        pytest.param("Authorization: Bearer abc123\nnext line", "abc123", id="authorization"),
        pytest.param("{'Authorization': 'Basic abc123'}", "abc123", id="authorization-dict"),
        pytest.param("token=abc123", "abc123", id="token"),
    ],
)
def test_redact_masks_values_of_sensitive_keys(text: str, secret: str) -> None:
    result = redact(text)
    assert secret not in result
    assert MASK in result


def test_redact_keeps_harmless_text() -> None:
    text = "GET /api/x?query=%22name+EQ+%27a%27%22 failed: HTTP 400 platform.bad_query"
    assert redact(text) == text
    assert redact("next line") == "next line"


def test_redact_keeps_the_rest_of_a_header_dict() -> None:
    result = redact("{'Cookie': 'LWSSO_COOKIE_KEY=zz', 'Accept': 'application/json'}")
    assert result == "{'Cookie': '***', 'Accept': 'application/json'}"


def test_registered_secret_is_masked_anywhere() -> None:
    register_secret("Sw0rdf!sh/+=")
    text = "echo Sw0rdf!sh/+= and Sw0rdf%21sh%2F%2B%3D and Sw0rdf%21sh%2F%2B%3D in a URL"
    result = redact(text)
    assert "Sw0rdf" not in result
    assert result.count(MASK) == 3


def test_longer_secret_is_masked_whole() -> None:
    register_secret("abcd")
    register_secret("abcdefgh")
    assert redact("x abcdefgh y") == f"x {MASK} y"


@pytest.mark.parametrize("value", [pytest.param("", id="empty"), pytest.param(None, id="none")])
def test_empty_secret_is_ignored(value: str | None) -> None:
    register_secret(value)
    assert redact("nothing to hide") == "nothing to hide"


def test_redact_accepts_any_object() -> None:
    register_secret("s3cr3t-value")
    assert redact(ValueError("bad s3cr3t-value")) == f"bad {MASK}"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "https://h/x?client_secret=abc&limit=5",
            "https://h/x?client_secret=***&limit=5",
            id="query",
        ),
        pytest.param("https://me:pw@h/x", "https://me:***@h/x", id="userinfo"),
        pytest.param("https://me@h/x", "https://me@h/x", id="user-only"),
        pytest.param(
            "https://h/x?query=%22name+EQ+%27a%27%22&limit=5",
            "https://h/x?query=%22name+EQ+%27a%27%22&limit=5",
            id="harmless-untouched",
        ),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_url_masks_registered_secrets_in_the_path() -> None:
    register_secret("topsecret")
    assert "topsecret" not in redact_url("https://h/topsecret/x")
