"""What the commands share: finding the database and the keyring, and failing clearly."""

from __future__ import annotations

import sys
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from octane_sync.errors import OctaneSyncError

console = Console()
err_console = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Target database URL. Default: $OCTANE_SYNC_DB_URL, else the database block.",
        show_default=False,
    ),
]
DatabaseBlockOption = Annotated[
    str, typer.Option("--database-block", help="SqlAlchemyConnector block used when no URL is set.")
]
KeyBlockOption = Annotated[
    str,
    typer.Option(
        "--key-block", help="Secret block with the keyring, unless $OCTANE_SYNC_KEY is set."
    ),
]


def say(message: str, *, err: bool = False) -> None:
    """Print plain text: names, URLs and errors in it are never taken for Rich markup.

    Guidance meant for a person may go to stderr (`err`), so stdout carries only what a
    script may capture.
    """
    (err_console if err else console).print(message, markup=False, highlight=False, soft_wrap=True)


def fail(message: str) -> NoReturn:
    """Print `message` on stderr and exit 1.

    The message is escaped: it often quotes what the user typed, and a `[` in a name or a
    URL would otherwise be taken for Rich markup (dropped text, or a MarkupError traceback).
    """
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code=1)


def confirm(question: str, yes: bool) -> None:
    """Ask `question` unless `--yes` was given; without a terminal to ask on, say to use it."""
    if yes:
        return
    if not sys.stdin.isatty():
        fail(f"{question.rstrip('?')}: no terminal to confirm on; add --yes")
    typer.confirm(question, abort=True)


def database_url(db: str | None, database_block: str = "octane-sync-db"):
    """`--db`, else $OCTANE_SYNC_DB_URL, else the URL in the database block."""
    from blocks import load_database_url
    from octane_sync.redaction import redact
    from octane_sync.store import resolve_db_url

    url = resolve_db_url(db)
    if url is not None:
        return url
    try:
        return load_database_url(database_block)
    except Exception as exc:  # Prefect may raise anything: name the block and the way out
        fail(
            f"cannot load the database block {database_block!r} ({type(exc).__name__}: "
            f"{redact(exc)}); pass --db URL, set $OCTANE_SYNC_DB_URL, or run "
            "`octane-sync blocks create`"
        )


def open_store(db: str | None, database_block: str = "octane-sync-db"):
    """The Store for `database_url(...)`, its control tables created if missing."""
    from octane_sync.store import Store

    try:
        store = Store.from_url(database_url(db, database_block))
        store.init()
    except OctaneSyncError as exc:  # its messages show the URL without the password
        fail(str(exc))
    return store


def secret_box(key_block: str):
    """The keyring: $OCTANE_SYNC_KEY, else the Secret block."""
    from blocks import load_keyring
    from octane_sync.secrets import SecretBox, parse_keyring

    try:
        return SecretBox(parse_keyring(load_keyring(key_block)))
    except OctaneSyncError as exc:
        fail(str(exc))
    except Exception as exc:
        fail(
            f"cannot load the keyring from block {key_block!r} ({type(exc).__name__}); "
            "set OCTANE_SYNC_KEY or run `octane-sync blocks create`"
        )
