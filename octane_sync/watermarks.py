"""OCTANE_WATERMARKS: where each (connection, workspace, entity) stream stopped, forward only."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, Delete, Table, and_, delete, insert, select, update

from octane_sync.models import Watermark, id_sort_key, utc


def read_watermark(
    conn: Connection, table: Table, connection: str, workspace_id: str, entity: str
) -> Watermark | None:
    """The position after the last committed row of one stream, or None to start over."""
    row = conn.execute(
        select(table.c.last_modified, table.c.last_id).where(
            _key(table, connection, workspace_id, entity)
        )
    ).first()
    return None if row is None else Watermark(row.last_modified, row.last_id)


def advance_watermark(
    conn: Connection,
    table: Table,
    connection: str,
    workspace_id: str,
    entity: str,
    watermark: Watermark,
    flow_run_id: str | None,
) -> None:
    """Move a stream's watermark to `watermark`, never backwards, inside the caller's transaction.

    The stored row is locked (`FOR UPDATE`) while compared, so two writers of one stream
    cannot both move it. Ids compare as numbers (`id_sort_key`), not as text.
    """
    key = _key(table, connection, workspace_id, entity)
    current = conn.execute(
        select(table.c.last_modified, table.c.last_id).where(key).with_for_update()
    ).first()
    values = {
        "last_modified": watermark.last_modified,
        "last_id": watermark.id,
        "updated_at": datetime.now(UTC),
        "flow_run_id": flow_run_id,
    }
    if current is None:
        conn.execute(
            insert(table).values(
                connection=connection, workspace_id=workspace_id, entity=entity, **values
            )
        )
    elif watermark.key > (utc(current.last_modified), id_sort_key(current.last_id)):
        conn.execute(update(table).where(key).values(**values))


def reset_statement(
    table: Table,
    connection: str | None = None,
    workspace_id: str | None = None,
    entity: str | None = None,
) -> Delete:
    """DELETE of the watermarks matching the given parts (all of them when none is given)."""
    stmt = delete(table)
    for column, value in (
        (table.c.connection, connection),
        (table.c.workspace_id, workspace_id),
        (table.c.entity, entity),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


def _key(table: Table, connection: str, workspace_id: str, entity: str):
    return and_(
        table.c.connection == connection,
        table.c.workspace_id == workspace_id,
        table.c.entity == entity,
    )
