"""Strip secrets from every string that may reach a log line or an exception message."""

from __future__ import annotations

import re
import threading
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

MASK = "***"

# Keys whose values are secret wherever they appear: query strings, form and JSON bodies,
# dict reprs, cookie headers. Octane's session cookie is the one that matters most.
_SENSITIVE_KEYS = (
    "client_secret",
    "clientsecret",
    "password",
    "passwd",
    "secret",
    "api_key",
    "apikey",
    "access_token",
    "refresh_token",
    "token",
    "lwsso_cookie_key",
)
_KEYS = "|".join(_SENSITIVE_KEYS)

# "key": "value" / 'key': 'value' / key="value" (JSON, reprs, quoted cookie values).
_QUOTED_VALUE = re.compile(
    rf"""(?i)(?<![A-Za-z0-9])(["']?(?:{_KEYS})["']?\s*[:=]\s*)(["'])(?:\\.|(?!\2).)*\2"""
)
# key=value / key: value with no quotes (query strings, cookies, form bodies).
_BARE_VALUE = re.compile(rf"(?i)(?<![A-Za-z0-9])((?:{_KEYS})\s*[:=]\s*)([^\s&;,'\"}}\]]+)")
# Header lines and header dict entries whose whole value is a credential.
_HEADER = re.compile(
    r"""(?im)(?<![A-Za-z0-9-])((?:proxy-)?authorization|set-cookie|cookie)(["']?\s*[:=]\s*)"""
    r"""(?:(["'])(?:\\.|(?!\3).)*\3|[^\r\n]*)"""
)

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret value so `redact` removes it from any text, whatever the context.

    The flows register each decrypted client secret and session cookie here, so a secret
    that shows up somewhere no key-based rule expects (an echoed body, a repr) is still masked.

    Args:
        value: the secret; empty values and None are ignored.
    """
    if not value:
        return
    with _lock:
        _secrets.update({value, quote(value, safe=""), quote_plus(value)})


def clear_secrets() -> None:
    """Forget every registered secret (tests use it to start from a clean slate)."""
    with _lock:
        _secrets.clear()


def redact(text: object) -> str:
    """Return `str(text)` with secrets masked: sensitive keys' values, credential headers,
    session cookies and every registered secret value.

    Args:
        text: anything; it is converted with `str()` first.

    Returns:
        The text with each secret replaced by `***`.
    """
    result = str(text)
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    # Longest first, so a secret that contains another is masked whole.
    for secret in secrets:
        result = result.replace(secret, MASK)
    result = _HEADER.sub(_mask_header, result)
    result = _QUOTED_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}{m.group(2)}", result)
    return _BARE_VALUE.sub(lambda m: f"{m.group(1)}{MASK}", result)


def _mask_header(match: re.Match[str]) -> str:
    quote_char = match.group(3) or ""
    return f"{match.group(1)}{match.group(2)}{quote_char}{MASK}{quote_char}"


def redact_url(url: str) -> str:
    """Return `url` without a password in its authority and with sensitive query values masked.

    Args:
        url: an absolute or relative URL.

    Returns:
        The URL, safe to log; anything that does not parse as a URL is `redact`ed as text.
    """
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, host = netloc.rpartition("@")
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else f"{user}@{host}"
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        query = parts.query
        if any(_is_sensitive_key(key) for key, _ in pairs):
            query = urlencode(
                [(key, MASK if _is_sensitive_key(key) else value) for key, value in pairs],
                safe="*",
            )
        rebuilt = urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        rebuilt = url
    return redact(rebuilt)


def _is_sensitive_key(key: str) -> bool:
    return key.lower() in _SENSITIVE_KEYS
