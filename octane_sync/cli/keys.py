"""`octane-sync key generate|rotate|retire` and `octane-sync secrets encrypt|decrypt`."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from octane_sync.cli.common import (
    DbOption,
    KeyBlockOption,
    fail,
    open_store,
    say,
    secret_box,
)

if TYPE_CHECKING:
    from octane_sync.secrets import SecretBox
    from octane_sync.store import Store

key_app = typer.Typer(help="Make and rotate the Fernet keys that encrypt stored client secrets.")
secrets_app = typer.Typer(help="Encrypt or decrypt one secret with the configured keyring.")


def register(root: typer.Typer) -> None:
    root.add_typer(key_app, name="key")
    root.add_typer(secrets_app, name="secrets")


@key_app.command("generate")
def generate() -> None:
    """Print a new key (store it in the key block or $OCTANE_SYNC_KEY)."""
    from octane_sync.secrets import generate_key

    typer.echo(generate_key())


def _from_env() -> bool:
    from octane_sync.secrets import KEY_ENV_VAR

    return bool(os.environ.get(KEY_ENV_VAR))


def _reencrypt(ring: SecretBox, store: Store) -> int:
    """Re-encrypt, under the ring's newest key, each stored secret that key cannot open yet.

    Tokens the newest key opens already are left alone, so a second call changes nothing.
    """
    from octane_sync.errors import OctaneSyncError

    def reencrypt(name: str, token: str) -> str:
        if ring.can_decrypt_with_newest(token):
            return token
        return ring.rotate(token, what=f"client secret of connection {name!r}")

    try:
        return store.rotate_secrets(reencrypt)
    except OctaneSyncError as exc:
        fail(f"{exc} No stored secret was changed.")


@key_app.command("rotate")
def rotate(
    reencrypt_only: Annotated[
        bool,
        typer.Option(
            "--reencrypt-only",
            help="Add no key: re-encrypt the stored secrets under the keyring's newest key.",
        ),
    ] = False,
    db: DbOption = None,
    key_block: KeyBlockOption = "octane-sync-key",
) -> None:
    """Put a new key in front of the keyring, then re-encrypt every stored secret with it.

    A secret is re-encrypted only under a key already stored where octane-sync reads keys.

    Key block: the new keyring (new key first) is saved, then the secrets re-encrypted.

    $OCTANE_SYNC_KEY: step 1 prints the new keyring on stdout and changes nothing;
    set the variable to it wherever octane-sync runs, then `key rotate --reencrypt-only`.

    Retire the old keys afterwards with `key retire`.
    """
    from blocks import save_keyring
    from octane_sync.secrets import SecretBox, format_keyring, generate_key

    current = secret_box(key_block)
    if reencrypt_only:
        count = _reencrypt(current, open_store(db))
        say(f"Re-encrypted {count} stored secret(s) under the newest key of the keyring.", err=True)
        say("Run `octane-sync key retire` once every process has this keyring.", err=True)
        return
    ring = SecretBox([generate_key(), *current.keys])
    if _from_env():
        typer.echo(format_keyring(ring.keys))  # stdout holds the keyring alone, for capture
        say(
            f"Step 1 of 2: the new keyring ({len(ring.keys)} keys, new key first) is above; "
            "nothing was changed yet. Set $OCTANE_SYNC_KEY to it wherever octane-sync runs, "
            "then run `octane-sync key rotate --reencrypt-only`.",
            err=True,
        )
        return
    store = open_store(db)
    try:
        save_keyring(format_keyring(ring.keys), key_block)
    except Exception as exc:  # Prefect may raise anything; the keyring is not in the message
        fail(f"cannot save the new keyring to block {key_block!r} ({type(exc).__name__})")
    say(
        f"Saved the new keyring ({len(ring.keys)} keys, new key first) to block {key_block}.",
        err=True,
    )
    count = _reencrypt(ring, store)
    say(f"Re-encrypted {count} stored secret(s) under the new key.", err=True)
    say("Run `octane-sync key retire` to drop the old key(s) from the block.", err=True)


@key_app.command("retire")
def retire(db: DbOption = None, key_block: KeyBlockOption = "octane-sync-key") -> None:
    """Drop every key but the newest, once no stored secret needs them."""
    from blocks import save_keyring

    ring = secret_box(key_block)
    if len(ring.keys) == 1:
        say("The keyring has one key: there is nothing to retire.", err=True)
        return
    store = open_store(db)
    stale = [
        conn.name
        for conn in store.list_connections()
        if not ring.can_decrypt_with_newest(conn.client_secret_enc)
    ]
    if stale:
        fail(
            f"the newest key does not open the secret of {', '.join(stale)}: re-encrypt first "
            "with `octane-sync key rotate --reencrypt-only`; no key was retired"
        )
    if _from_env():
        typer.echo(ring.keys[0])  # stdout holds the new keyring alone, for capture
        say(
            f"Set $OCTANE_SYNC_KEY to the key above (the newest); the {len(ring.keys) - 1} "
            "older key(s) are no longer needed.",
            err=True,
        )
    else:
        try:
            save_keyring(ring.keys[0], key_block)
        except Exception as exc:
            fail(f"cannot save the keyring to block {key_block!r} ({type(exc).__name__})")
        say(f"Block {key_block} now holds only the newest key.", err=True)


def _read_stdin_or_prompt(prompt: str) -> str:
    if not sys.stdin.isatty():
        return sys.stdin.read().strip()
    return typer.prompt(prompt, hide_input=True)


@secrets_app.command("encrypt")
def encrypt(key_block: KeyBlockOption = "octane-sync-key") -> None:
    """Encrypt a secret read from stdin (or a hidden prompt) and print the token."""
    box = secret_box(key_block)
    secret = _read_stdin_or_prompt("Secret to encrypt")
    if not secret:
        fail("nothing to encrypt: the secret read from stdin is empty")
    typer.echo(box.encrypt(secret))


@secrets_app.command("decrypt")
def decrypt(
    token: Annotated[
        str | None, typer.Argument(help="The token; read from stdin if omitted.")
    ] = None,
    key_block: KeyBlockOption = "octane-sync-key",
) -> None:
    """Decrypt a token and print the secret (for checking a stored value by hand)."""
    from octane_sync.errors import SecretsError

    box = secret_box(key_block)
    text = token or _read_stdin_or_prompt("Token to decrypt")
    if not text:
        fail("no token to decrypt: give it as the argument or on stdin")
    try:
        secret = box.decrypt(text, what="token")
    except SecretsError as exc:
        fail(str(exc))
    typer.echo(secret)
