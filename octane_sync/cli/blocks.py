"""`octane-sync blocks create`: the database block and the key block, by their default names."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from octane_sync.cli.common import console, fail

app = typer.Typer(help="Create the Prefect blocks octane-sync reads its configuration from.")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="blocks")


@app.command("create")
def create(
    db_url: Annotated[
        str,
        typer.Option(
            help="Target database URL, e.g. oracle+oracledb://user:pw@host:1521/?service_name=X. "
            "Default: $OCTANE_SYNC_DB_URL.",
            envvar="OCTANE_SYNC_DB_URL",
            show_envvar=False,
        ),
    ],
    overwrite: Annotated[bool, typer.Option(help="Replace blocks that already exist.")] = False,
) -> None:
    """Create `octane-sync-db` (SqlAlchemyConnector) and `octane-sync-key` (Secret).

    The keyring is $OCTANE_SYNC_KEY when set, else a newly generated key.
    """
    from pydantic import ValidationError
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from blocks import DATABASE_BLOCK, KEY_BLOCK, create_blocks
    from octane_sync.engine import SUPPORTED_DIALECTS, redact_url
    from octane_sync.errors import SecretsError
    from octane_sync.secrets import SecretBox, generate_key, parse_keyring

    keyring = os.environ.get("OCTANE_SYNC_KEY") or generate_key()
    try:
        SecretBox(parse_keyring(keyring))  # fail early on a malformed key
    except SecretsError as exc:
        fail(f"$OCTANE_SYNC_KEY: {exc}")
    try:
        url = make_url(db_url)
    except (ArgumentError, ValueError):
        fail(f"--db-url is not a database URL: {redact_url(db_url)}")
    if url.get_backend_name() not in SUPPORTED_DIALECTS:
        fail(f"--db-url {redact_url(url)}: use {', '.join(SUPPORTED_DIALECTS)}")
    password = url.password
    try:
        create_blocks(db_url, keyring, overwrite=overwrite)
    except ValidationError as exc:  # a ValueError too, but not "exists already"
        fail(f"cannot save the blocks: {_without(password, exc)}")
    except ValueError as exc:  # Prefect's answer to a name that is taken
        fail(f"{exc} (use --overwrite to replace the blocks)")
    except Exception as exc:  # Prefect may raise anything; keep the password out of it
        fail(f"cannot save the blocks ({type(exc).__name__}): {_without(password, exc)}")
    console.print(f"Created blocks [bold]{DATABASE_BLOCK}[/] and [bold]{KEY_BLOCK}[/].")


def _without(password: str | None, exc: Exception) -> str:
    """The error's text with the database password (and any other known secret) masked."""
    from octane_sync.redaction import MASK, redact

    text = redact(exc)
    return text.replace(password, MASK) if password else text
