"""The exceptions octane-sync raises, one tree so callers can catch as broadly as they need.

    OctaneSyncError
    ├── OctaneError               talking to Octane (client.py)
    │   ├── AuthenticationError   sign-in refused or impossible; names server and client id only
    │   ├── OctaneRequestError    a non-transient HTTP error (400, 403, 404, ...), with Octane's
    │   │                         error_code and correlation_id and the (redacted) URL
    │   └── TransientError        a temporary failure that outlived the retry policy
    ├── MappingError              a field mapping that does not validate (mapping.py)
    ├── RejectThresholdExceeded   too large a share of a workspace's records could not be used
    ├── StoreError                the target database (store.py)
    │   └── IdentifierError       a table or column name that is unsafe or too long
    └── SecretsError              missing key, wrong key, or a token that does not decrypt

No exception message ever holds a secret: build messages from `redaction.redact()`.
"""

from __future__ import annotations


class OctaneSyncError(Exception):
    """Root of every error octane-sync raises on purpose."""


class OctaneError(OctaneSyncError):
    """A request to Octane failed.

    Attributes carry what an operator needs to ask Octane's admins about it.
    """

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        status: int | None = None,
        error_code: str | None = None,
        correlation_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.error_code = error_code
        self.correlation_id = correlation_id


class AuthenticationError(OctaneError):
    """Octane refused the API key, or signing in again did not help."""


class OctaneRequestError(OctaneError):
    """Octane answered with an error that retrying will not fix."""


class TransientError(OctaneError):
    """A temporary failure (429, 502-504, reset, timeout, truncated body) outlived the retries."""


class MappingError(OctaneSyncError):
    """A mapping names an unknown entity, an invalid column, or a bad type."""


class RejectThresholdExceeded(OctaneSyncError):
    """More records were rejected than the configured share allows."""


class StoreError(OctaneSyncError):
    """The target database could not do what was asked."""


class IdentifierError(StoreError):
    """A table or column name is not a safe, short (<= 30 characters) identifier."""


class SecretsError(OctaneSyncError):
    """An encryption key is missing or wrong, or a stored secret does not decrypt."""
