"""What to do with each Octane response (the status -> action table) and how long to wait."""

from __future__ import annotations

import enum
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import orjson

from octane_sync.errors import OctaneError
from octane_sync.models import utc


class Action(enum.Enum):
    """What the client does with a response."""

    OK = "ok"  # use the body
    RETRY = "retry"  # transient: wait and send again
    SIGN_IN = "sign_in"  # session expired: sign in again once, then send again
    FAIL = "fail"  # permanent: raise OctaneRequestError


# Statuses that are not plain success or plain failure. Everything else: 2xx -> OK,
# other -> FAIL. 500 is here because Octane (and the proxies in front of it) answer 500
# to overload as well as to bugs; the policy bounds what a real bug costs.
STATUS_ACTIONS: dict[int, Action] = {
    401: Action.SIGN_IN,
    408: Action.RETRY,
    429: Action.RETRY,
    500: Action.RETRY,
    502: Action.RETRY,
    503: Action.RETRY,
    504: Action.RETRY,
}


def classify(status: int, content_type: str | None) -> Action:
    """Decide what a response means from its status, by the table above.

    An HTML page on a 2xx or 5xx is a proxy's "temporarily unavailable" page, never
    Octane's JSON, so it is retried whatever the status.
    """
    is_html = "html" in (content_type or "").lower()
    if is_html and (200 <= status < 300 or status >= 500):
        return Action.RETRY
    if status in STATUS_ACTIONS:
        return STATUS_ACTIONS[status]
    return Action.OK if 200 <= status < 300 else Action.FAIL


# Octane's answers to a `limit` outside 1..max page size. Servers differ, so a 400 whose
# properties name the limit or the page size counts too (keys, never message text).
LIMIT_ERROR_CODES = frozenset(
    {
        "platform.limit_out_of_range",
        "platform.invalid_limit",
        "platform.query_limit_exceeded",
        "platform.page_size_exceeded",
    }
)
_MAX_LIMIT_KEYS = ("max_page_size", "max_limit", "max", "maximum")


def error_details(content: bytes) -> tuple[str | None, str | None, str | None, dict]:
    """Octane's `error_code`, `correlation_id`, description and `properties` from an error
    body, each None (or {}) when the body is not Octane's JSON."""
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None, None, None, {}
    if not isinstance(body, dict):
        return None, None, None, {}
    properties = body.get("properties")
    return (
        _text_or_none(body.get("error_code")),
        _text_or_none(body.get("correlation_id")),
        _text_or_none(body.get("description_translated") or body.get("description")),
        properties if isinstance(properties, dict) else {},
    )


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def page_size_after(error: OctaneError, limit: int) -> int | None:
    """The page size to try after `error` answered a request with `limit`, or None when
    the error is not about the page size (then it is raised as it is).

    Uses the maximum the error names when there is one, else half of `limit`.
    """
    if error.status != 400 or limit <= 1:
        return None
    properties = getattr(error, "properties", None) or {}
    about_limit = error.error_code in LIMIT_ERROR_CODES or any(
        "limit" in str(key).lower() or "page_size" in str(key).lower() for key in properties
    )
    if not about_limit:
        return None
    for key in _MAX_LIMIT_KEYS:
        value = properties.get(key)
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value < limit:
            return value
    return max(1, limit // 2)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = utc(parsedate_to_datetime(value)).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, bounded in attempts and in total time.

    Args:
        max_attempts: sends of one request, the first included.
        backoff: the first wait in seconds; each later wait doubles it.
        max_backoff: no single wait is longer, `Retry-After` included.
        max_total: no retry starts once this many seconds have passed since the first send.
        jitter: wait a random share (50-100 %) of each backoff, so clients that failed
            together do not come back together.
        sleep: how to wait (tests pass a recorder).
    """

    max_attempts: int = 6
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_total: float = 300.0
    jitter: bool = True
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.backoff < 0 or self.max_backoff < 0 or self.max_total < 0:
            raise ValueError("backoff, max_backoff and max_total must not be negative")

    def delay(self, attempt: int, elapsed: float, retry_after: float | None = None) -> float | None:
        """How long to wait before the next send, or None when the policy is spent.

        Args:
            attempt: sends made so far (1 after the first).
            elapsed: seconds since the first send.
            retry_after: what the server's `Retry-After` asked for, if anything.

        Returns:
            Seconds to wait, or None if no attempt or time is left.
        """
        if attempt >= self.max_attempts:
            return None
        wait = min(self.max_backoff, self.backoff * (2 ** (attempt - 1)))
        if self.jitter:
            wait *= random.uniform(0.5, 1.0)
        if retry_after is not None:
            wait = min(self.max_backoff, max(wait, retry_after))
        if elapsed + wait > self.max_total:
            return None
        return wait
