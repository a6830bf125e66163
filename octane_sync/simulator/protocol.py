"""The request and response values the simulator's routes exchange, and Octane's error body."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

JSON = "application/json"  # Octane sends JSON without a charset; clients decode UTF-8


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: dict[str, list[str]]
    headers: Mapping[str, str]
    cookies: dict[str, str]
    body: bytes = b""

    def param(self, name: str) -> str | None:
        """The last value of a query parameter, or None."""
        values = self.params.get(name)
        return values[-1] if values else None

    def json(self) -> Any:
        """The body as JSON. Raises orjson.JSONDecodeError."""
        return orjson.loads(self.body or b"null")


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_response(status: int, payload: Any, headers: list[tuple[str, str]] | None = None):
    return Response(status, orjson.dumps(payload), JSON, list(headers or []))


def error_response(
    status: int,
    error_code: str,
    description: str,
    properties: dict[str, Any] | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> Response:
    """An Octane error body: error_code, correlation_id, description(s), properties."""
    body = {
        "error_code": error_code,
        "correlation_id": uuid.uuid4().hex,
        "description": description,
        "description_translated": description,
        "properties": properties or {},
        "business_error": False,
    }
    return json_response(status, body, headers)


def parse_cookies(header: str | None) -> dict[str, str]:
    """The `Cookie` request header as a dict (lenient: Octane clients send plain pairs)."""
    cookies: dict[str, str] = {}
    for part in (header or "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name:
            cookies[name] = value.strip().strip('"')
    return cookies
