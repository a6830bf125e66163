"""Encryption of stored Octane client secrets (Fernet, with MultiFernet key rotation).

Keys are URL-safe base64 Fernet keys. A keyring is an ordered list, newest first: the
newest encrypts, every key decrypts. Where no Prefect server is used the keyring comes from
the `OCTANE_SYNC_KEY` environment variable (comma-separated); otherwise from a Prefect
`Secret` block (see `blocks/`). This is the only module that turns a token back into text.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from octane_sync.errors import SecretsError

KEY_ENV_VAR = "OCTANE_SYNC_KEY"


def generate_key() -> str:
    """A fresh Fernet key, as text."""
    return Fernet.generate_key().decode("ascii")


def parse_keyring(text: str) -> list[str]:
    """Split a comma-separated keyring (newest first), ignoring blanks and whitespace."""
    return [part.strip() for part in text.split(",") if part.strip()]


def format_keyring(keys: Iterable[str]) -> str:
    return ",".join(keys)


class SecretBox:
    """Encrypts with the newest key, decrypts with any key of the ring.

    >>> box = SecretBox([generate_key()])
    >>> box.decrypt(box.encrypt("s3cret"))
    's3cret'
    """

    def __init__(self, keys: Iterable[str]) -> None:
        self.keys = list(keys)
        if not self.keys:
            raise SecretsError(
                f"No encryption key: set {KEY_ENV_VAR} or create the key block "
                "(`octane-sync key generate`, `octane-sync blocks create`)."
            )
        fernets = []
        for position, key in enumerate(self.keys, start=1):
            try:
                fernets.append(Fernet(key.encode("ascii")))
            except (ValueError, UnicodeEncodeError):
                # The key itself must not appear in the message.
                raise SecretsError(
                    f"Encryption key #{position} of {len(self.keys)} is not a valid Fernet key "
                    "(32 url-safe base64-encoded bytes; make one with `octane-sync key generate`)."
                ) from None
        self._fernet = MultiFernet(fernets)

    @classmethod
    def from_env(cls) -> SecretBox:
        return cls(parse_keyring(os.environ.get(KEY_ENV_VAR, "")))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str, *, what: str = "stored secret") -> str:
        """Decrypt `token`; `what` names the secret in the error (never its value)."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError, ValueError):
            raise SecretsError(
                f"Cannot decrypt the {what}: none of the {len(self.keys)} configured key(s) "
                "opens it (wrong key, or the key it was made with was removed)."
            ) from None

    def rotate(self, token: str, *, what: str = "stored secret") -> str:
        """Re-encrypt `token` under the newest key (readable by the ring before and after)."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError, ValueError):
            raise SecretsError(
                f"Cannot re-encrypt the {what}: no configured key opens it."
            ) from None

    def can_decrypt_with_newest(self, token: str) -> bool:
        """True when the newest key alone opens `token` (safe to retire the older keys)."""
        try:
            Fernet(self.keys[0].encode("ascii")).decrypt(token.encode("ascii"))
        except InvalidToken:
            return False
        return True
