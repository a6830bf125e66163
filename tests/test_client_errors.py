"""OctaneClient error paths against a scripted transport: statuses, bodies and timing the
simulator cannot produce on demand (403, odd limit errors, Retry-After, races of 401s)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import parse_qsl, urlsplit

import orjson
import pytest
import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from octane_sync.client import OctaneClient
from octane_sync.errors import AuthenticationError, OctaneError, OctaneRequestError, TransientError
from octane_sync.models import Watermark
from octane_sync.redaction import clear_secrets
from octane_sync.retry import RetryPolicy

BASE = "https://octane.example.com"
SECRET = "TopSecret-4711"
COOKIE = "cookie-value-0815"


@dataclass
class Reply:
    status: int = 200
    body: object = None
    headers: dict = field(default_factory=dict)
    raw: bytes | None = None


Handler = Callable[[requests.PreparedRequest], "Reply | Exception"]


class ScriptedAdapter(HTTPAdapter):
    """A transport that answers from a Python function and records what was sent."""

    def __init__(self, session: requests.Session, handler: Handler) -> None:
        super().__init__()
        self.session = session
        self.handler = handler
        self.sent: list[requests.PreparedRequest] = []
        self.lock = threading.Lock()

    def send(self, request, **kwargs):  # type: ignore[override]
        with self.lock:
            self.sent.append(request)
        reply = self.handler(request)
        if isinstance(reply, Exception):
            raise reply
        response = requests.Response()
        response.status_code = reply.status
        response.headers = CaseInsensitiveDict(
            {
                "Content-Type": "application/json",
                "Date": format_datetime(datetime.now(UTC), usegmt=True),
                **reply.headers,
            }
        )
        response._content = reply.raw if reply.raw is not None else orjson.dumps(reply.body)
        response.url = request.url or ""
        response.request = request
        return response


def sign_in_reply(session: requests.Session) -> Reply:
    session.cookies.set("LWSSO_COOKIE_KEY", COOKIE, domain="octane.example.com", path="/")
    return Reply(200, {})


def error_body(code: str, **properties: object) -> dict:
    return {
        "error_code": code,
        "correlation_id": "corr-123",
        "description": f"described {code}",
        "properties": properties,
    }


def make_client(
    handler: Callable[[requests.PreparedRequest, requests.Session], Reply | Exception],
    **kwargs: object,
) -> tuple[OctaneClient, ScriptedAdapter]:
    session = requests.Session()
    adapter = ScriptedAdapter(session, lambda request: handler(request, session))
    session.mount("https://", adapter)
    policy = kwargs.pop("retry", RetryPolicy(max_attempts=4, backoff=0.001, max_backoff=0.01))
    client = OctaneClient(BASE, 1001, "my-client", SECRET, session=session, retry=policy, **kwargs)  # type: ignore[arg-type]
    return client, adapter


def rows(start: int, count: int, second: int = 0) -> list[dict]:
    return [
        {"id": str(i), "last_modified": f"2024-05-01T10:00:{second:02d}Z", "version_stamp": 1}
        for i in range(start, start + count)
    ]


def is_sign_in(request: requests.PreparedRequest) -> bool:
    return (request.url or "").endswith("/authentication/sign_in")


@pytest.fixture(autouse=True)
def _clean_registry():
    clear_secrets()
    yield
    clear_secrets()


def test_403_raises_a_typed_error_with_octane_details() -> None:
    def handler(request, session):
        if is_sign_in(request):
            return sign_in_reply(session)
        return Reply(403, error_body("platform.forbidden"))

    client, adapter = make_client(handler)
    with pytest.raises(OctaneRequestError) as caught:
        client.count("1002", "defects")
    error = caught.value
    assert error.status == 403
    assert error.error_code == "platform.forbidden"
    assert error.correlation_id == "corr-123"
    assert error.url is not None
    assert error.url.startswith(f"{BASE}/api/shared_spaces/1001/workspaces/1002/defects?")
    assert "platform.forbidden" in str(error)
    assert "corr-123" in str(error)
    assert SECRET not in str(error)
    assert len(adapter.sent) == 2  # sign-in and one try: a permanent error is not retried


def test_wrong_secret_fails_fast_without_the_secret() -> None:
    def handler(request, session):
        return Reply(401, error_body("authentication_failed"))

    client, adapter = make_client(handler)
    with pytest.raises(AuthenticationError) as caught:
        client.list_workspaces()
    message = str(caught.value)
    assert BASE in message
    assert "my-client" in message
    assert SECRET not in message
    assert "was refused: HTTP 401 authentication_failed" in message
    assert SECRET not in repr(caught.value.__dict__)
    assert len(adapter.sent) == 1


def test_second_401_after_signing_in_again_is_an_authentication_error() -> None:
    def handler(request, session):
        if is_sign_in(request):
            return sign_in_reply(session)
        return Reply(401, error_body("VALIDATION_TOKEN_EXPIRED_IDLE_TIME_OUT"))

    client, adapter = make_client(handler)
    with pytest.raises(AuthenticationError, match="even after signing in again"):
        client.count("1002", "defects")
    assert [is_sign_in(r) for r in adapter.sent] == [True, False, True, False]


def test_retry_after_is_honoured_and_each_retry_logged(caplog: pytest.LogCaptureFixture) -> None:
    replies = iter([Reply(429, {}, {"Retry-After": "0.02"}), Reply(200, {"total_count": 7})])
    waits: list[float] = []

    def handler(request, session):
        return sign_in_reply(session) if is_sign_in(request) else next(replies)

    policy = RetryPolicy(backoff=0.001, max_backoff=1.0, sleep=waits.append)
    client, _ = make_client(handler, retry=policy)
    with caplog.at_level(logging.WARNING, logger="octane_sync.client"):
        assert client.count("1002", "defects") == 7
    assert waits == [0.02]
    assert "HTTP 429" in caplog.text
    assert "retry 1 of 5" in caplog.text


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(
            Reply(
                503,
                raw=b"<html>Service Temporarily Unavailable</html>",
                headers={"Content-Type": "text/html"},
            ),
            id="503-html",
        ),
        pytest.param(
            Reply(200, raw=b"<html>maintenance</html>", headers={"Content-Type": "text/html"}),
            id="200-html",
        ),
        pytest.param(
            Reply(502, raw=b"bad gateway", headers={"Content-Type": "text/plain"}), id="502"
        ),
        pytest.param(Reply(504, {}), id="504"),
        pytest.param(Reply(200, raw=b'{"total_count": 7, "da'), id="truncated-json"),
        pytest.param(requests.ConnectionError("connection reset by peer"), id="reset"),
        pytest.param(requests.ReadTimeout("read timed out"), id="timeout"),
        pytest.param(requests.exceptions.ChunkedEncodingError("incomplete read"), id="chunked"),
    ],
)
def test_transient_failures_are_retried(failure: Reply | Exception) -> None:
    replies = iter([failure, failure, Reply(200, {"total_count": 7})])

    def handler(request, session):
        return sign_in_reply(session) if is_sign_in(request) else next(replies)

    client, adapter = make_client(handler)
    assert client.count("1002", "defects") == 7
    assert len(adapter.sent) == 4
    assert client.request_count == 4


def test_retries_are_bounded_in_attempts() -> None:
    def handler(request, session):
        if is_sign_in(request):
            return sign_in_reply(session)
        return Reply(503, raw=b"<html>down</html>", headers={"Content-Type": "text/html"})

    client, adapter = make_client(handler)
    with pytest.raises(TransientError, match="after 4 attempt") as caught:
        client.count("1002", "defects")
    assert caught.value.status == 503
    assert len(adapter.sent) == 5


def test_retries_are_bounded_in_time() -> None:
    def handler(request, session):
        return sign_in_reply(session) if is_sign_in(request) else Reply(503, {})

    policy = RetryPolicy(max_attempts=100, backoff=10.0, max_total=5.0, sleep=lambda s: None)
    client, adapter = make_client(handler, retry=policy)
    with pytest.raises(TransientError):
        client.count("1002", "defects")
    assert len(adapter.sent) == 2  # the first wait would already pass max_total


def test_tls_errors_are_not_retried() -> None:
    client, adapter = make_client(lambda request, session: requests.exceptions.SSLError("bad"))
    with pytest.raises(OctaneRequestError, match="TLS"):
        client.sign_in()
    assert len(adapter.sent) == 1


@pytest.mark.parametrize(
    ("error", "expected_limits"),
    [
        pytest.param(
            error_body("platform.limit_out_of_range", max_page_size=300),
            [1000, 300, 300],
            id="max-named",
        ),
        pytest.param(error_body("platform.invalid_limit"), [1000, 500, 500], id="halved"),
        pytest.param(
            error_body("some.other_code", limit=1000), [1000, 500, 500], id="limit-property"
        ),
    ],
)
def test_rejected_page_size_adapts(
    error: dict, expected_limits: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    limits: list[int] = []

    def handler(request, session):
        if is_sign_in(request):
            return sign_in_reply(session)
        limit = int(dict(parse_qsl(urlsplit(request.url).query))["limit"])
        limits.append(limit)
        if limit > expected_limits[1]:
            return Reply(400, error)
        return Reply(200, {"total_count": 0, "data": rows(1, 0)})

    client, _ = make_client(handler)
    with caplog.at_level(logging.WARNING, logger="octane_sync.client"):
        assert list(client.iter_changes("1002", "defects")) == []
        assert list(client.iter_changes("1002", "defects")) == []
    assert limits == expected_limits  # the second stream starts at the learned size
    assert "rejected page size 1000" in caplog.text


def test_other_400_is_not_mistaken_for_a_page_size_error() -> None:
    def handler(request, session):
        if is_sign_in(request):
            return sign_in_reply(session)
        return Reply(400, error_body("platform.query_syntax_error"))

    client, adapter = make_client(handler)
    with pytest.raises(OctaneRequestError, match=r"platform\.query_syntax_error"):
        list(client.iter_changes("1002", "defects"))
    assert len(adapter.sent) == 2


def test_server_that_ignores_the_keyset_is_detected() -> None:
    def handler(request, session):
        if is_sign_in(request):
            return sign_in_reply(session)
        return Reply(200, {"total_count": 10, "data": rows(1, 2)})  # always the same page

    client, _ = make_client(handler, page_size=2)
    with pytest.raises(OctaneError, match="did not move forward"):
        list(client.iter_changes("1002", "defects"))


def test_silently_capped_page_does_not_end_the_stream() -> None:
    def handler(request, session):
        if is_sign_in(request):
            return sign_in_reply(session)
        if "id+GT+3" in (request.url or ""):
            return Reply(200, {"total_count": 2, "data": rows(4, 2)})
        return Reply(200, {"total_count": 5, "data": rows(1, 3)})  # asked 10, got 3 of 5

    client, _ = make_client(handler, page_size=10)
    pages = list(client.iter_changes("1002", "defects"))
    assert [len(page) for page in pages] == [3, 2]


def test_concurrent_401s_sign_in_once() -> None:
    state = {"cookie": COOKIE, "sign_ins": 0}
    barrier = threading.Barrier(4)
    lock = threading.Lock()

    def handler(request, session):
        if is_sign_in(request):
            with lock:
                state["sign_ins"] += 1
                state["cookie"] = f"{COOKIE}-{state['sign_ins']}"
            session.cookies.set(
                "LWSSO_COOKIE_KEY", state["cookie"], domain="octane.example.com", path="/"
            )
            return Reply(200, {})
        if f"LWSSO_COOKIE_KEY={state['cookie']}" not in request.headers.get("Cookie", ""):
            return Reply(401, error_body("VALIDATION_TOKEN_EXPIRED_IDLE_TIME_OUT"))
        return Reply(200, {"total_count": 3})

    client, _ = make_client(handler)
    client.restore_session({"cookies": {"LWSSO_COOKIE_KEY": "expired"}, "clock_offset": 0})
    results: list[int] = []

    def worker() -> None:
        barrier.wait()
        results.append(client.count("1002", "defects"))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert results == [3, 3, 3, 3]
    assert state["sign_ins"] == 1


def test_restore_session_makes_no_request_and_export_round_trips() -> None:
    client, adapter = make_client(lambda request, session: Reply(200, {"total_count": 1}))
    client.restore_session({"cookies": {"LWSSO_COOKIE_KEY": COOKIE}, "clock_offset": 12.5})
    assert adapter.sent == []
    assert client.export_session() == {
        "cookies": {"LWSSO_COOKIE_KEY": COOKIE},
        "clock_offset": 12.5,
    }
    assert client.count("1002", "defects") == 1
    assert f"LWSSO_COOKIE_KEY={COOKIE}" in adapter.sent[0].headers["Cookie"]


def test_sign_in_body_and_headers() -> None:
    client, adapter = make_client(lambda request, session: sign_in_reply(session))
    client.sign_in()
    request = adapter.sent[0]
    assert request.method == "POST"
    assert orjson.loads(request.body) == {"client_id": "my-client", "client_secret": SECRET}
    assert "HPECLIENTTYPE" not in request.headers


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        pytest.param({"fields": "name"}, TypeError, id="fields-as-one-string"),
        pytest.param({"fields": ["name; x"]}, ValueError, id="bad-field"),
        pytest.param({"page_size": 0}, ValueError, id="zero-page-size"),
    ],
)
def test_iter_changes_rejects_bad_arguments(kwargs: dict, error: type[Exception]) -> None:
    client, adapter = make_client(lambda request, session: Reply(500, {}))
    with pytest.raises(error):
        list(client.iter_changes("1002", "defects", **kwargs))
    with pytest.raises(ValueError, match="collection"):
        list(client.iter_changes("1002", "../defects"))
    assert adapter.sent == []


def test_first_request_asks_for_the_keyset_order_and_required_fields() -> None:
    def handler(request, session):
        if is_sign_in(request):
            return sign_in_reply(session)
        return Reply(200, {"total_count": 0, "data": []})

    client, adapter = make_client(handler)
    since = Watermark(datetime(2024, 5, 1, 10, tzinfo=UTC), "42")
    list(client.iter_changes("1002", "defects", since=since, fields=["name", "id"]))
    decoded = dict(parse_qsl(urlsplit(adapter.sent[-1].url or "").query))
    assert decoded["fields"] == "id,last_modified,version_stamp,name"
    assert decoded["order_by"] == "last_modified,id"
    assert decoded["query"] == (
        '"last_modified GT ^2024-05-01T10:00:00Z^ || '
        '(last_modified EQ ^2024-05-01T10:00:00Z^ ; id GT 42)"'
    )


def test_a_password_in_the_base_url_never_shows() -> None:
    session = requests.Session()
    adapter = ScriptedAdapter(session, lambda request: Reply(401, error_body("auth_failed")))
    session.mount("https://", adapter)
    client = OctaneClient(
        "https://me:UrlPassw0rd@octane.example.com", 1001, "my-client", SECRET, session=session
    )
    with pytest.raises(AuthenticationError) as caught:
        client.sign_in()
    assert "UrlPassw0rd" not in str(caught.value)
    assert "UrlPassw0rd" not in repr(client)
    assert "octane.example.com" in str(caught.value)
