"""The target database facade: schema set-up, batch loads, watermarks, connections, run log.

Everything that touches the target database goes through `Store` (SQLAlchemy 2 Core). The
tables and types live in `schema.py`, the per-dialect upserts in `upsert.py`, and the run
log in `runlog.py`.

    store = Store.from_url("sqlite+pysqlite:///octane-sync.db")
    store.init()
    store.ensure_entity_table("work_items", mapping_columns)
    written = store.load_batch(connection="prod", source=conn.source, workspace_id="1002",
                               entity="work_items", batch=batch, flow_run_id=run_id)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Connection as DbConnection,
)
from sqlalchemy import (
    Engine,
    MetaData,
    Table,
    and_,
    bindparam,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from octane_sync.connection_registry import ConnectionRegistry
from octane_sync.engine import (
    DB_URL_ENV,
    DEFAULT_DB_URL,
    create_store_engine,
    redact_url,
    resolve_db_url,
)
from octane_sync.errors import StoreError
from octane_sync.models import (
    ColumnSpec,
    Connection,
    TransformedBatch,
    Watermark,
)
from octane_sync.runlog import RunLog
from octane_sync.schema import (
    CONNECTIONS,
    PRIMARY_KEY,
    REJECTS,
    SYNC_RUNS,
    WATERMARKS,
    add_column_ddl,
    control_tables,
    entity_table,
    entity_table_name,
    reflected_entity_table,
)
from octane_sync.upsert import execute_upsert, upsert_params
from octane_sync.watermarks import advance_watermark, read_watermark, reset_statement


def _now() -> datetime:
    return datetime.now(UTC)


class Store:
    """One target database (Oracle, PostgreSQL or SQLite) behind one SQLAlchemy Engine.

    The store writes rows, rejects and watermarks that callers decide; it never decides
    them. Every write is its own transaction; `load_batch` puts a batch's rows, rejects
    and watermark into one.

    Example:
        store = Store.from_url(resolve_db_url(None) or DEFAULT_DB_URL)
        created = store.init()
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect_name = engine.dialect.name
        self.metadata = MetaData()
        self.tables = control_tables(self.metadata)
        self.runs = RunLog(self.tables[SYNC_RUNS], self.transaction)
        self.connections = ConnectionRegistry(self.tables[CONNECTIONS], self.transaction)
        self._entity_tables: dict[str, Table] = {}

    @classmethod
    def from_url(cls, url: str | URL, **engine_kwargs: Any) -> Store:
        """A Store on a new engine for `url`; see `engine.create_store_engine`.

        Raises:
            StoreError: a bad or unsupported URL (shown without its password).
        """
        return cls(create_store_engine(url, **engine_kwargs))

    @property
    def url(self) -> str:
        """The database URL without its password (safe to print and log)."""
        return self.engine.url.render_as_string(hide_password=True)

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[DbConnection]:
        """One transaction; database errors come out as StoreError (no bind values in them)."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"database error on {self.url}: {exc}") from exc

    # ---- schema -------------------------------------------------------------------------

    def init(self) -> list[str]:
        """Create the control tables that do not exist yet; safe to run any number of times.

        Returns:
            The names of the tables created by this call (empty when all existed).
        """
        with self.transaction() as conn:
            existing = set(inspect(conn).get_table_names())
            missing = [t for name, t in self.tables.items() if name not in existing]
            self.metadata.create_all(conn, tables=missing, checkfirst=True)
        return [t.name for t in missing]

    def ensure_entity_table(self, entity: str, columns: Sequence[ColumnSpec]) -> list[str]:
        """Create the entity's table, or add the mapped columns it lacks (`ALTER TABLE ADD`).

        Columns are never dropped or retyped: a column the mapping no longer lists stays.

        Returns:
            The names of the columns added by this call (all columns for a new table).

        Raises:
            IdentifierError: an unsafe or too long entity or column name.
        """
        table = entity_table(MetaData(), entity, columns)
        try:
            added = self._create_or_extend(table)
        except StoreError:
            # Workspace threads may create or extend the same table at the same moment;
            # the loser's CREATE/ALTER fails, and looking again finds the work done.
            added = self._create_or_extend(table)
        self._entity_tables.pop(table.name, None)
        return added

    def _create_or_extend(self, table: Table) -> list[str]:
        added: list[str] = []
        with self.transaction() as conn:
            inspector = inspect(conn)
            if not inspector.has_table(table.name):
                table.create(conn)
                return [c.name for c in table.columns]
            present = {c["name"].lower() for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in present:
                    conn.exec_driver_sql(add_column_ddl(table, column.name, conn.dialect))
                    added.append(column.name)
        return added

    def _entity_table(self, conn: DbConnection, entity: str) -> Table:
        """The entity's table as it exists in the database (reflected once, then cached)."""
        name = entity_table_name(entity)
        table = self._entity_tables.get(name)
        if table is not None:
            return table
        table = reflected_entity_table(Table(name, MetaData(), autoload_with=conn), entity)
        self._entity_tables[name] = table
        return table

    # ---- loads --------------------------------------------------------------------------

    def load_batch(
        self,
        *,
        connection: str,
        source: str,
        workspace_id: str,
        entity: str,
        batch: TransformedBatch,
        flow_run_id: str | None,
        refresh: bool = False,
    ) -> int:
        """Upsert a batch's rows, write its rejects and advance the watermark, atomically.

        A stored row is only replaced by a newer version (later `last_modified`, or the same
        second and a higher `version_stamp`); loading the same batch twice changes nothing.
        With `refresh` (full refresh) the same version is rewritten too, filling columns the
        mapping gained; an older version still never wins. The watermark never moves backwards.

        Returns:
            How many rows were inserted or updated (0 for a batch already loaded).

        Raises:
            StoreError: the entity table is missing, a row has a column the table lacks, or
                the database failed; nothing of the batch is then committed.
        """
        loaded_at = _now()
        with self.transaction() as conn:
            table = self._entity_table_or_fail(conn, entity)
            params = upsert_params(table, batch.rows, source, workspace_id, loaded_at, flow_run_id)
            written = execute_upsert(conn, table, params, refresh=refresh)
            self._write_rejects(conn, connection, workspace_id, entity, batch, flow_run_id)
            if batch.watermark is not None:
                advance_watermark(
                    conn,
                    self.tables[WATERMARKS],
                    connection,
                    workspace_id,
                    entity,
                    batch.watermark,
                    flow_run_id,
                )
        return written

    def _entity_table_or_fail(self, conn: DbConnection, entity: str) -> Table:
        name = entity_table_name(entity)
        if name not in self._entity_tables and not inspect(conn).has_table(name):
            raise StoreError(f"table {name} does not exist: run ensure_entity_table first")
        return self._entity_table(conn, entity)

    def _write_rejects(
        self,
        conn: DbConnection,
        connection: str,
        workspace_id: str,
        entity: str,
        batch: TransformedBatch,
        flow_run_id: str | None,
    ) -> None:
        if not batch.rejects:
            return
        now = _now()
        conn.execute(
            insert(self.tables[REJECTS]),
            [
                {
                    "connection": connection,
                    "workspace_id": workspace_id,
                    "entity": entity,
                    "entity_id": r.entity_id,
                    "reason": r.reason,
                    "raw_json": r.raw_json,
                    "flow_run_id": flow_run_id,
                    "created_at": now,
                }
                for r in batch.rejects
            ],
        )

    def mark_deleted(
        self,
        entity: str,
        source: str,
        workspace_id: str,
        present_ids: Iterable[str],
        *,
        max_share: float = 0.2,
    ) -> int:
        """Mark the stored rows whose id is not in `present_ids` as deleted (now).

        Returns:
            How many rows were marked.

        Raises:
            StoreError: more than `max_share` of the live rows would vanish (a truncated id
                listing must not wipe the table); nothing is marked then.
        """
        present = {str(i) for i in present_ids}
        with self.transaction() as conn:
            table = self._entity_table_or_fail(conn, entity)
            scope = and_(table.c.source == source, table.c.workspace_id == workspace_id)
            live = conn.scalars(select(table.c.id).where(scope, table.c.deleted_at.is_(None))).all()
            missing = [i for i in live if i not in present]
            if live and len(missing) / len(live) > max_share:
                raise StoreError(
                    f"refusing to mark {len(missing)} of {len(live)} {entity} rows of workspace "
                    f"{workspace_id} deleted (more than {max_share:.0%})"
                )
            if missing:
                stmt = (
                    update(table)
                    .where(scope, table.c.id == bindparam("missing_id"))
                    .values(deleted_at=_now())
                )
                conn.execute(stmt, [{"missing_id": i} for i in missing])
        return len(missing)

    # ---- watermarks ---------------------------------------------------------------------

    def read_watermark(self, connection: str, workspace_id: str, entity: str) -> Watermark | None:
        """The position after the last committed row of one stream, or None to start over."""
        with self.transaction() as conn:
            return read_watermark(conn, self.tables[WATERMARKS], connection, workspace_id, entity)

    def reset_watermarks(
        self,
        connection: str | None = None,
        workspace_id: str | None = None,
        entity: str | None = None,
    ) -> int:
        """Forget watermarks (all, or those matching the given parts) so the next run re-reads.

        Returns:
            How many watermarks were removed.
        """
        stmt = reset_statement(self.tables[WATERMARKS], connection, workspace_id, entity)
        with self.transaction() as conn:
            return conn.execute(stmt).rowcount

    # ---- connections (delegated to connection_registry.ConnectionRegistry) -----------

    def add_connection(self, record: Connection) -> None:
        """Store a new connection, its secret already encrypted (StoreError if it exists)."""
        self.connections.add(record)

    def list_connections(self, enabled_only: bool = False) -> list[Connection]:
        """All connections by name; the secret stays the encrypted token it is stored as."""
        return self.connections.list(enabled_only)

    def get_connection(self, name: str) -> Connection | None:
        """One connection by name, or None."""
        return self.connections.get(name)

    def set_connection_enabled(self, name: str, enabled: bool) -> None:
        """Enable or disable a connection (StoreError if there is none of that name)."""
        self.connections.update(name, enabled=enabled)

    def replace_secret(self, name: str, client_secret_enc: str) -> None:
        """Store a new encrypted secret for a connection (key rotation, new API key)."""
        self.connections.update(name, client_secret_enc=client_secret_enc)

    def remove_connection(self, name: str) -> None:
        """Delete a connection; its watermarks, rows and run log stay."""
        self.connections.remove(name)

    def rotate_secrets(self, reencrypt: Callable[[str, str], str]) -> int:
        """Re-encrypt every stored secret in one transaction: `reencrypt(name, token)`.

        Returns:
            How many secrets were rewritten.
        """
        return self.connections.rotate_secrets(reencrypt)

    # ---- run log (delegated to runlog.RunLog) --------------------------------------------

    def start_run(
        self,
        *,
        connection: str,
        workspace_id: str,
        entity: str,
        flow_run_id: str | None = None,
        watermark_before: Watermark | str | None = None,
    ) -> int:
        """Log that a stream started; returns the run id for `finish_run` / `fail_run`."""
        return self.runs.start(
            connection=connection,
            workspace_id=workspace_id,
            entity=entity,
            flow_run_id=flow_run_id,
            watermark_before=watermark_before,
        )

    def finish_run(
        self,
        run_id: int,
        *,
        fetched: int = 0,
        written: int = 0,
        rejected: int = 0,
        watermark_after: Watermark | str | None = None,
    ) -> None:
        """Log that a stream completed."""
        self.runs.finish(
            run_id,
            fetched=fetched,
            written=written,
            rejected=rejected,
            watermark_after=watermark_after,
        )

    def fail_run(
        self,
        run_id: int,
        error: str,
        *,
        fetched: int | None = None,
        written: int | None = None,
        rejected: int | None = None,
        watermark_after: Watermark | str | None = None,
    ) -> None:
        """Log that a stream failed; `error` must already be redacted by the caller."""
        self.runs.fail(
            run_id,
            error,
            fetched=fetched,
            written=written,
            rejected=rejected,
            watermark_after=watermark_after,
        )

    def record_failure(
        self,
        *,
        connection: str,
        error: str,
        workspace_id: str = "*",
        entity: str = "*",
        flow_run_id: str | None = None,
    ) -> int:
        """Log a failure before any entity started (e.g. sign-in): workspace/entity `*`."""
        return self.runs.record_failure(
            connection=connection,
            error=error,
            workspace_id=workspace_id,
            entity=entity,
            flow_run_id=flow_run_id,
        )

    def failed_workspaces(self, connections: list[str] | None = None) -> list[tuple[str, str]]:
        """The (connection, workspace) pairs whose latest flow run had a failed row."""
        return self.runs.failed_workspaces(connections)

    def latest_runs(self, connections: list[str] | None = None) -> list[dict[str, Any]]:
        """The latest run of every (connection, workspace, entity)."""
        return self.runs.latest(connections)


__all__ = [
    "DB_URL_ENV",
    "DEFAULT_DB_URL",
    "PRIMARY_KEY",
    "Store",
    "redact_url",
    "resolve_db_url",
]
