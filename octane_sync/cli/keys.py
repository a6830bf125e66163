"""`octane-sync key generate|rotate|retire` and `octane-sync secrets encrypt|decrypt`."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from octane_sync.cli.common import DbOption, KeyBlockOption, console, fail, open_store, secret_box

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


@key_app.command("rotate")
def rotate(db: DbOption = None, key_block: KeyBlockOption = "octane-sync-key") -> None:
    """Put a new key in front of the keyring, then re-encrypt every stored secret with it.

    The new keyring (new key first, old keys after) is saved before any secret changes, so
    every secret stays readable throughout. Retire the old keys later with `key retire`.
    """
    from blocks import save_keyring
    from octane_sync.secrets import SecretBox, format_keyring, generate_key

    old = secret_box(key_block)
    ring = SecretBox([generate_key(), *old.keys])
    store = open_store(db)
    if os.environ.get("OCTANE_SYNC_KEY"):
        console.print(
            "The keyring comes from $OCTANE_SYNC_KEY: set it to this new value, then run "
            "re-encryption of the stored secrets follows.",
        )
        typer.echo(format_keyring(ring.keys))
    else:
        save_keyring(format_keyring(ring.keys), key_block)
        console.print(f"Saved the new keyring ({len(ring.keys)} keys) to block {key_block}.")
    count = store.rotate_secrets(lambda name, token: ring.rotate(token, what=f"secret of {name}"))
    console.print(f"Re-encrypted {count} stored secret(s) under the new key.")


@key_app.command("retire")
def retire(db: DbOption = None, key_block: KeyBlockOption = "octane-sync-key") -> None:
    """Drop every key but the newest, once no stored secret needs them."""
    from blocks import save_keyring

    ring = secret_box(key_block)
    store = open_store(db)
    stale = [
        conn.name
        for conn in store.list_connections()
        if not ring.can_decrypt_with_newest(conn.client_secret_enc)
    ]
    if stale:
        fail(f"these connections still need an older key: {', '.join(stale)}; run `key rotate`")
    if os.environ.get("OCTANE_SYNC_KEY"):
        console.print("Set $OCTANE_SYNC_KEY to just the newest key:")
        typer.echo(ring.keys[0])
    else:
        save_keyring(ring.keys[0], key_block)
        console.print(f"Block {key_block} now holds only the newest key.")


def _read_stdin_or_prompt(prompt: str) -> str:
    if not sys.stdin.isatty():
        return sys.stdin.read().strip()
    return typer.prompt(prompt, hide_input=True)


@secrets_app.command("encrypt")
def encrypt(key_block: KeyBlockOption = "octane-sync-key") -> None:
    """Encrypt a secret read from stdin (or a hidden prompt) and print the token."""
    token = secret_box(key_block).encrypt(_read_stdin_or_prompt("Secret to encrypt"))
    typer.echo(token)


@secrets_app.command("decrypt")
def decrypt(
    token: Annotated[
        str | None, typer.Argument(help="The token; read from stdin if omitted.")
    ] = None,
    key_block: KeyBlockOption = "octane-sync-key",
) -> None:
    """Decrypt a token and print the secret (for checking a stored value by hand)."""
    box = secret_box(key_block)
    text = token or _read_stdin_or_prompt("Token to decrypt")
    try:
        typer.echo(box.decrypt(text, what="token"))
    except Exception as exc:
        fail(str(exc))
