"""`octane-sync connections add|list|enable|disable|remove`: the OCTANE_CONNECTIONS table."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated

import typer
from rich.table import Table

from octane_sync.cli.common import DbOption, KeyBlockOption, console, fail, open_store, secret_box

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
    """Add a connection; the secret is read from $OCTANE_CLIENT_SECRET or a hidden prompt."""
    from octane_sync.mapping import known_entities
    from octane_sync.models import Connection

    try:
        parsed_options = json.loads(options)
    except json.JSONDecodeError as exc:
        fail(f"--options is not valid JSON: {exc.msg} at character {exc.pos}")
    if not isinstance(parsed_options, dict):
        fail("--options must be a JSON object")
    entity_list = _split(entities)
    unknown = sorted(set(entity_list) - set(known_entities()))
    if unknown:
        fail(f"unknown entities {unknown}; known: {', '.join(known_entities())}")
    workspace_list = _split(workspaces) or ["*"]
    if workspace_list != ["*"] and not all(ws.isdigit() for ws in workspace_list):
        fail(f"--workspaces must be numeric ids or *, not {workspaces!r}")
    if not base_url.startswith(("http://", "https://")):
        fail(f"--base-url must start with http:// or https://, not {base_url!r}")
    box = secret_box(key_block)
    store = open_store(db)
    connection = Connection(
        name=name,
        base_url=base_url.rstrip("/"),
        shared_space_id=shared_space,
        client_id=client_id,
        client_secret_enc=box.encrypt(read_secret(secret_env)),
        workspaces=workspace_list,
        entities=entity_list,
        options=parsed_options,
    )
    if replace:
        store.remove_connection(name)
    store.add_connection(connection)
    console.print(f"Added connection [bold]{name}[/] ({base_url}, shared space {shared_space}).")


@app.command("list")
def list_(db: DbOption = None) -> None:
    """List the connections (never their secrets)."""
    store = open_store(db)
    table = Table("name", "enabled", "server", "space", "client id", "workspaces", "entities")
    for conn in store.list_connections():
        table.add_row(
            conn.name,
            "yes" if conn.enabled else "no",
            conn.base_url,
            conn.shared_space_id,
            conn.client_id,
            ",".join(conn.workspaces),
            ",".join(conn.entities),
        )
    console.print(table)


def _set_enabled(name: str, enabled: bool, db: str | None) -> None:
    store = open_store(db)
    try:
        store.set_connection_enabled(name, enabled)
    except Exception as exc:
        fail(str(exc))
    console.print(f"Connection {name} {'enabled' if enabled else 'disabled'}.")


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
    if not yes:
        typer.confirm(f"Remove connection {name}?", abort=True)
    store = open_store(db)
    try:
        store.remove_connection(name)
    except Exception as exc:
        fail(str(exc))
    console.print(f"Connection {name} removed.")
