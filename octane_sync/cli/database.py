"""`octane-sync init`: create the control tables in the target database."""

from __future__ import annotations

import typer

from octane_sync.cli.common import DatabaseBlockOption, DbOption, database_url


def register(app: typer.Typer) -> None:
    """Add the `init` command to the main app."""
    app.command("init")(init)


def init(db: DbOption = None, database_block: DatabaseBlockOption = "octane-sync-db") -> None:
    """Create the control tables (connections, watermarks, run log, rejects) if missing.

    Safe to run again: existing tables are left as they are. Entity tables are created by
    the sync itself, from the mapping.
    """
    from octane_sync.errors import StoreError
    from octane_sync.store import Store

    url = database_url(db, database_block)
    try:
        store = Store.from_url(url)
        try:
            created = store.init()
        finally:
            store.dispose()
    except StoreError as exc:
        typer.echo(f"init failed: {exc}", err=True)
        raise typer.Exit(1) from None
    target = store.url
    if created:
        for name in created:
            typer.echo(f"created {name.upper()}")
        typer.echo(f"{len(created)} table(s) created in {target}")
    else:
        typer.echo(f"nothing to create: the control tables exist in {target}")
