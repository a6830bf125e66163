"""`octane-sync mapping show|check`: the effective mapping, and what real data shows it misses."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from octane_sync.cli.common import (
    DbOption,
    KeyBlockOption,
    console,
    fail,
    open_store,
    say,
    secret_box,
)

if TYPE_CHECKING:
    from octane_sync.mapping import EntityMapping, UnmappedReport

app = typer.Typer(help="Show the field mapping, or check it against a workspace's data.")

EntityOption = Annotated[
    list[str] | None,
    typer.Option("--entity", "-e", help="Entity to show or check (repeatable). Default: all."),
]
ConnectionOption = Annotated[
    str | None, typer.Option("--connection", "-c", help="Apply this connection's overrides.")
]
WorkspaceOption = Annotated[
    str | None, typer.Option("--workspace", "-w", help="Apply this workspace's overrides too.")
]
FileOption = Annotated[
    Path | None,
    typer.Option("--file", "-f", help="Override file ({entity: {columns: ...}}), YAML or JSON."),
]


def register(root: typer.Typer) -> None:
    """Add the `mapping` command group to the main app."""
    root.add_typer(app, name="mapping")


def _connection(name: str, db: str | None):
    store = open_store(db)
    connection = store.get_connection(name)
    if connection is None:
        fail(f"no connection named {name!r} (see `octane-sync connections list`)")
    return connection


def _mappings(
    entities: list[str] | None,
    options: dict,
    connection: str | None,
    workspace: str | None,
    file: Path | None,
) -> list[EntityMapping]:
    from octane_sync.errors import MappingError
    from octane_sync.mapping import known_entities, resolve_mapping

    try:
        return [
            resolve_mapping(
                entity,
                options=options,
                workspace_id=workspace,
                mapping_file=file,
                connection=connection,
            )
            for entity in entities or known_entities()
        ]
    except MappingError as exc:
        fail(str(exc))


@app.command("show")
def show(
    entity: EntityOption = None,
    connection: ConnectionOption = None,
    workspace: WorkspaceOption = None,
    file: FileOption = None,
    db: DbOption = None,
) -> None:
    """Print the effective mapping as YAML (the same shape a --file takes)."""
    from octane_sync.mapping import mapping_to_yaml

    if workspace is not None and connection is None:
        fail("--workspace needs --connection (workspace overrides live in its options)")
    options = _connection(connection, db).options if connection else {}
    mappings = _mappings(entity, options, connection, workspace, file)
    typer.echo(mapping_to_yaml(mappings), nl=False)


@app.command("check")
def check(
    connection: Annotated[str, typer.Option("--connection", "-c", help="Connection to read.")],
    workspace: Annotated[str, typer.Option("--workspace", "-w", help="Workspace to read.")],
    entity: EntityOption = None,
    file: FileOption = None,
    extra_field: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            help="Also ask for this field (repeatable): UDFs come back only when asked for.",
        ),
    ] = None,
    page_size: Annotated[int, typer.Option(help="Records to look at per entity.")] = 100,
    db: DbOption = None,
    key_block: KeyBlockOption = "octane-sync-key",
) -> None:
    """Read one page per entity and list unmapped `_udf` fields and values no value map covers.

    Exits 1 when something is not covered, so onboarding a workspace is: run check, edit
    the mapping (connection or workspace options, or a --file), run check again.
    """
    from octane_sync.client import OctaneClient
    from octane_sync.errors import OctaneError
    from octane_sync.mapping import find_unmapped

    conn = _connection(connection, db)
    entities = entity or conn.entities
    mappings = _mappings(entities, conn.options, connection, workspace, file)
    box = secret_box(key_block)
    secret = box.decrypt(conn.client_secret_enc, what=f"client secret of connection {conn.name!r}")
    reports = []
    try:
        with OctaneClient(conn.base_url, conn.shared_space_id, conn.client_id, secret) as client:
            for mapping in mappings:
                fields = [*mapping.source_fields(), *(extra_field or [])]
                pages = client.iter_changes(
                    workspace, mapping.entity, fields=fields, page_size=page_size, read_ahead=False
                )
                try:
                    page = next(pages, [])
                finally:
                    pages.close()
                reports.append(find_unmapped(page, mapping))
    except OctaneError as exc:
        fail(str(exc))
    for report in reports:
        _print_report(report)
    if not all(report.clean for report in reports):
        raise typer.Exit(code=1)


def _print_report(report: UnmappedReport) -> None:
    head = f"[bold]{report.entity}[/]: {report.records} records"
    if report.clean:
        console.print(f"{head}: every _udf field and listed value is mapped", highlight=False)
    else:
        console.print(head, highlight=False)
    for name, count in sorted(report.unmapped_udfs.items()):
        say(f"  unmapped field {name} ({count} records)")
    for column, values in report.unmapped_values.items():
        shown = ", ".join(f"{value!r} x{n}" for value, n in values.most_common(20))
        say(f"  column {column}: values no value map covers: {shown}")
    if report.records and report.empty_columns:
        columns = ", ".join(report.empty_columns)
        say(f"  no value in any record (check the fields): {columns}")
