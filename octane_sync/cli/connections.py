"""`octane-sync connections add|list|enable|disable|remove`: the OCTANE_CONNECTIONS table."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated
from urllib.parse import urlsplit

import typer
from rich.table import Table
from rich.text import Text

from octane_sync.cli.common import (
    DbOption,
    KeyBlockOption,
    confirm,
    console,
    fail,
    open_store,
    say,
    secret_box,
)

app = typer.Typer(help="Manage the Octane API connections (secrets stored encrypted).")

SECRET_ENV_VAR = "OCTANE_CLIENT_SECRET"  # noqa: S105 - a variable name, not a secret


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="connections")


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def read_secret(env_var: str) -> str:
    """The client secret from `env_var`, else a hidden prompt; never from the command line."""
    value = os.environ.get(env_var)
    if value:
        return value
    if not sys.stdin.isatty():
        fail(f"no client secret: set ${env_var} (secrets are never taken from arguments)")
    return typer.prompt("Client secret", hide_input=True)


def _parse_options(options: str) -> dict:
    try:
        parsed = json.loads(options)
    except json.JSONDecodeError as exc:
        fail(f"--options is not valid JSON: {exc.msg} at character {exc.pos} of {options!r}")
    if not isinstance(parsed, dict):
        fail(f'--options must be a JSON object like {{"page_size": 500}}, not {options!r}')
    return parsed


def _check_base_url(base_url: str) -> str:
    """The server URL without a trailing slash; credentials or a query have no place in it."""
    from octane_sync.redaction import redact_url

    try:
        parts = urlsplit(base_url)
        _ = parts.port  # raises ValueError on a port that is not a number
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or "@" in parts.netloc
        or parts.query
    ):
        # redact_url: a URL with user:password@ must not echo the password back
        fail(f"--base-url must be http(s)://host[:port][/path], not {redact_url(base_url)!r}")
    return base_url.rstrip("/")


def _check_lists(shared_space: str, workspaces: str, entities: str) -> tuple[list, list]:
    from octane_sync.mapping import known_entities

    if not shared_space.isdigit():
        fail(f"--shared-space must be a numeric id, not {shared_space!r}")
    workspace_list = _split(workspaces) or ["*"]
    if workspace_list != ["*"] and not all(ws.isdigit() for ws in workspace_list):
        bad = [ws for ws in workspace_list if not ws.isdigit()]
        fail(f"--workspaces must be numeric ids or *, not {', '.join(map(repr, bad))}")
    entity_list = _split(entities)
    if not entity_list:
        fail(f"--entities names no entity; known: {', '.join(known_entities())}")
    unknown = sorted(set(entity_list) - set(known_entities()))
    if unknown:
        fail(f"unknown entities {', '.join(unknown)}; known: {', '.join(known_entities())}")
    return workspace_list, entity_list


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="A unique name for this API key.")],
    base_url: Annotated[str, typer.Option(help="Octane server, e.g. https://octane.example.com")],
    shared_space: Annotated[str, typer.Option(help="Shared space id.")],
    client_id: Annotated[str, typer.Option(help="API access key client id.")],
    workspaces: Annotated[str, typer.Option(help="Workspace ids, comma-separated, or *.")] = "*",
    entities: Annotated[
        str, typer.Option(help="Entities to sync, comma-separated.")
    ] = "work_items",
    options: Annotated[
        str, typer.Option(help='JSON options, e.g. {"page_size": 500, "lag_seconds": 60}.')
    ] = "{}",
    secret_env: Annotated[
        str, typer.Option(help="Environment variable that holds the client secret.")
    ] = SECRET_ENV_VAR,
    replace: Annotated[bool, typer.Option(help="Replace a connection of the same name.")] = False,
    db: DbOption = None,
    key_block: KeyBlockOption = "octane-sync-key",
) -> None:
    """Add a connection; the secret is read from $OCTANE_CLIENT_SECRET or a hidden prompt.

    Every argument is checked, and the secret read and encrypted, before the database is
    touched, so a refused `add` changes nothing.
    """
    from octane_sync.errors import OctaneSyncError
    from octane_sync.models import Connection

    parsed_options = _parse_options(options)
    workspace_list, entity_list = _check_lists(shared_space, workspaces, entities)
    url = _check_base_url(base_url)
    box = secret_box(key_block)
    connection = Connection(
        name=name,
        base_url=url,
        shared_space_id=shared_space,
        client_id=client_id,
        client_secret_enc=box.encrypt(read_secret(secret_env)),
        workspaces=workspace_list,
        entities=entity_list,
        options=parsed_options,
    )
    store = open_store(db)
    exists = store.get_connection(name) is not None
    if exists and not replace:
        fail(f"a connection named {name!r} exists already (use --replace to overwrite it)")
    try:
        if exists:
            store.remove_connection(name)
        store.add_connection(connection)
    except OctaneSyncError as exc:
        fail(str(exc))
    say(
        f"{'Replaced' if exists else 'Added'} connection {name} ({url}, shared space "
        f"{shared_space}, workspaces {','.join(workspace_list)})."
    )


@app.command("list")
def list_(db: DbOption = None) -> None:
    """List the connections (never their secrets)."""
    store = open_store(db)
    connections = store.list_connections()
    if not connections:
        say(f"No connections in {store.url}; add one with `octane-sync connections add`.")
        return
    table = Table()
    for header in ("name", "enabled", "server", "space", "client id", "workspaces", "entities"):
        table.add_column(header, overflow="fold")  # a narrow terminal wraps a URL, never cuts it
    for conn in connections:
        # Text, not str: a `[` in a name or URL is not Rich markup here.
        table.add_row(
            *map(
                Text,
                (
                    conn.name,
                    "yes" if conn.enabled else "no",
                    conn.base_url,
                    conn.shared_space_id,
                    conn.client_id,
                    ",".join(conn.workspaces),
                    ",".join(conn.entities),
                ),
            )
        )
    console.print(table)


def _set_enabled(name: str, enabled: bool, db: str | None) -> None:
    from octane_sync.errors import OctaneSyncError

    store = open_store(db)
    try:
        store.set_connection_enabled(name, enabled)
    except OctaneSyncError as exc:
        fail(f"{exc} (see `octane-sync connections list`)")
    say(f"Connection {name} {'enabled' if enabled else 'disabled'}.")


@app.command("enable")
def enable(name: str, db: DbOption = None) -> None:
    """Include a connection in scheduled runs again."""
    _set_enabled(name, True, db)


@app.command("disable")
def disable(name: str, db: DbOption = None) -> None:
    """Leave a connection out of runs (its data and watermarks stay)."""
    _set_enabled(name, False, db)


@app.command("remove")
def remove(
    name: str,
    db: DbOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove a connection (the rows it loaded stay in the entity tables)."""
    from octane_sync.errors import OctaneSyncError

    confirm(f"Remove connection {name}?", yes)
    store = open_store(db)
    try:
        store.remove_connection(name)
    except OctaneSyncError as exc:
        fail(f"{exc} (see `octane-sync connections list`)")
    say(f"Connection {name} removed.")
