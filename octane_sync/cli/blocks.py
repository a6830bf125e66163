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
    from blocks import DATABASE_BLOCK, KEY_BLOCK, create_blocks
    from octane_sync.secrets import SecretBox, generate_key, parse_keyring

    keyring = os.environ.get("OCTANE_SYNC_KEY") or generate_key()
    SecretBox(parse_keyring(keyring))  # fail early on a malformed key
    try:
        create_blocks(db_url, keyring, overwrite=overwrite)
    except ValueError as exc:
        fail(f"{exc} (use --overwrite to replace the blocks)")
    console.print(f"Created blocks [bold]{DATABASE_BLOCK}[/] and [bold]{KEY_BLOCK}[/].")
