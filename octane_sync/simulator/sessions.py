"""Simulated sign-in sessions: cookies, idle and global expiry, rotation with a grace period.

Times come from the simulator's clock, so a test expires a session by moving the clock
instead of sleeping.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

IDLE_EXPIRED = "VALIDATION_TOKEN_EXPIRED_IDLE_TIME_OUT"
GLOBAL_EXPIRED = "VALIDATION_TOKEN_EXPIRED_GLOBAL_TIME_OUT"
SESSION_MISSING = "VALIDATION_TOKEN_MISSING"
SESSION_INVALID = "VALIDATION_TOKEN_INVALID"


class Clock:
    """Simulated server time: real UTC time plus an offset that `advance` moves."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> float:
        self.offset += seconds
        return self.now()


@dataclass
class Session:
    user: str
    created: float
    last_used: float
    token: str
    responses: int = 0
    expired: str | None = None
    # tokens replaced by rotation -> until when they are still accepted
    retired: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    """The outcome of checking a request's cookie: a session, or the 401 error code."""

    session: Session | None
    error_code: str | None = None
    new_token: str | None = None


class SessionStore:
    """Issues and checks `LWSSO_COOKIE_KEY` tokens.

    Args:
        clock: the simulator's clock.
        idle_timeout: seconds without a request after which a session expires (None: never).
        global_timeout: seconds after sign-in after which a session expires (None: never).
        rotate_every: issue a fresh token every this many responses of a session (None: never).
        rotation_grace: seconds a rotated-out token is still accepted.
    """

    def __init__(
        self,
        clock: Clock,
        idle_timeout: float | None = None,
        global_timeout: float | None = None,
        rotate_every: int | None = None,
        rotation_grace: float = 30.0,
    ) -> None:
        self.clock = clock
        self.idle_timeout = idle_timeout
        self.global_timeout = global_timeout
        self.rotate_every = rotate_every
        self.rotation_grace = rotation_grace
        self._by_token: dict[str, Session] = {}
        self._lock = threading.Lock()
        self.issued: list[str] = []

    def sign_in(self, user: str) -> str:
        now = self.clock.now()
        token = self._new_token()
        with self._lock:
            self._by_token[token] = Session(user, now, now, token)
        return token

    def sign_out(self, token: str | None) -> None:
        with self._lock:
            session = self._by_token.get(token or "")
            if session is not None:
                for old in [session.token, *session.retired]:
                    self._by_token.pop(old, None)

    def check(self, token: str | None) -> Check:
        """Validate a request's session token, count the response, rotate when due."""
        if not token:
            return Check(None, SESSION_MISSING)
        now = self.clock.now()
        with self._lock:
            session = self._by_token.get(token)
            if session is None:
                return Check(None, SESSION_INVALID)
            if session.expired is None:
                if self.global_timeout is not None and now - session.created > self.global_timeout:
                    session.expired = GLOBAL_EXPIRED
                elif self.idle_timeout is not None and now - session.last_used > self.idle_timeout:
                    session.expired = IDLE_EXPIRED
            if session.expired is not None:
                return Check(None, session.expired)
            if token != session.token and session.retired.get(token, 0.0) < now:
                return Check(None, SESSION_INVALID)
            session.last_used = now
            session.responses += 1
            new_token = None
            if self.rotate_every and session.responses % self.rotate_every == 0:
                new_token = self._new_token()
                session.retired[session.token] = now + self.rotation_grace
                session.token = new_token
                self._by_token[new_token] = session
            return Check(session, None, new_token)

    def _new_token(self) -> str:
        token = secrets.token_urlsafe(24)
        self.issued.append(token)
        return token
