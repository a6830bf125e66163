"""Faults injected by name: the next K matching requests fail the way proxies and Octane do.

Kinds (aliases in brackets):
    rate_limit   [429]  429 with `Retry-After` (opts: retry_after=1)
    unavailable  [503]  503 with an HTML "Service Temporarily Unavailable" page
    server_error [500]  500 with an Octane JSON error body
    drop                the connection closes before any byte of the response
    slow                the normal response after a delay (opts: delay=1.0 seconds)
    truncate            the JSON body cut in half (opts: keep_length=False; True announces the
                        full Content-Length and closes the connection early)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

KINDS = ("rate_limit", "unavailable", "server_error", "drop", "slow", "truncate")
ALIASES = {"429": "rate_limit", "503": "unavailable", "500": "server_error"}
_OPTIONS = {
    "rate_limit": {"retry_after"},
    "slow": {"delay"},
    "truncate": {"keep_length"},
}

UNAVAILABLE_HTML = (
    b'<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
    b"<title>503 Service Temporarily Unavailable</title>\n</head><body>\n"
    b"<h1>Service Temporarily Unavailable</h1>\n<p>The server is temporarily unable to service"
    b" your request due to maintenance downtime or capacity problems. Please try again"
    b" later.</p>\n</body></html>\n"
)


@dataclass
class Fault:
    kind: str
    remaining: int
    path_contains: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def matches(self, path: str) -> bool:
        return self.path_contains is None or self.path_contains in path


def normalise_kind(kind: str) -> str:
    """The canonical name of a fault kind.

    Raises:
        ValueError: an unknown kind.
    """
    name = ALIASES.get(str(kind), str(kind))
    if name not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(KINDS)}")
    return name


class FaultQueue:
    """Pending faults, first injected first served; each request takes at most one."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def inject(
        self, kind: str, count: int = 1, path_contains: str | None = None, **options: Any
    ) -> Fault:
        """Queue a fault for the next `count` requests whose path contains `path_contains`.

        Raises:
            ValueError: unknown kind or option, or count below 1.
        """
        name = normalise_kind(kind)
        unknown = set(options) - _OPTIONS.get(name, set())
        if unknown:
            raise ValueError(f"fault {name!r} takes no option(s) {sorted(unknown)}")
        if int(count) < 1:
            raise ValueError("count must be at least 1")
        fault = Fault(name, int(count), path_contains, dict(options))
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, path: str) -> Fault | None:
        """The fault this request suffers, if any (consuming one of its count)."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)
