"""The run log (OCTANE_SYNC_RUNS): what ran, how it ended, and which workspaces to rerun."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection as DbConnection
from sqlalchemy import Select, Table, and_, case, exists, func, insert, or_, select, update

from octane_sync.errors import StoreError
from octane_sync.models import Watermark, format_octane_time

RUNNING, COMPLETED, FAILED = "running", "completed", "failed"
ALL = "*"  # workspace or entity of a failure before any entity started (e.g. sign-in)
MAX_ERROR_CHARS = 8000


def watermark_text(watermark: Watermark | str | None) -> str | None:
    """`2024-05-01T10:00:00Z#1234` for a Watermark; text the caller made is kept as it is."""
    if watermark is None or isinstance(watermark, str):
        return watermark
    return f"{format_octane_time(watermark.last_modified)}#{watermark.id}"


def latest_flow_runs_query(runs: Table, connections: list[str] | None) -> Select:
    """Per (connection, workspace): the pair and its latest flow run, with a failed flag.

    The latest flow run is that of the pair's most recently started row; it failed when
    any row of that flow run for that pair failed.
    """
    latest = select(
        runs.c.connection,
        runs.c.workspace_id,
        func.max(runs.c.started_at).label("latest_start"),
    ).group_by(runs.c.connection, runs.c.workspace_id)
    if connections is not None:
        latest = latest.where(runs.c.connection.in_(connections))
    latest = latest.subquery("latest")
    head = runs.alias("head")
    other = runs.alias("other")
    failed_in_same_flow_run = exists().where(
        other.c.connection == head.c.connection,
        other.c.workspace_id == head.c.workspace_id,
        other.c.flow_run_id == head.c.flow_run_id,
        other.c.status == FAILED,
    )
    return (
        select(
            head.c.connection,
            head.c.workspace_id,
            head.c.started_at,
            # CASE, not a bare condition: Oracle before 23 has no boolean select-list values
            case((or_(head.c.status == FAILED, failed_in_same_flow_run), 1), else_=0).label(
                "failed"
            ),
        )
        .select_from(head)
        .join(
            latest,
            and_(
                head.c.connection == latest.c.connection,
                head.c.workspace_id == latest.c.workspace_id,
                head.c.started_at == latest.c.latest_start,
            ),
        )
    )


class RunLog:
    """Writes and reads OCTANE_SYNC_RUNS through a Store's transactions."""

    def __init__(
        self, table: Table, transaction: Callable[[], AbstractContextManager[DbConnection]]
    ) -> None:
        self.table = table
        self._transaction = transaction

    def start(
        self,
        *,
        connection: str,
        workspace_id: str,
        entity: str,
        flow_run_id: str | None = None,
        watermark_before: Watermark | str | None = None,
    ) -> int:
        """Record that one (connection, workspace, entity) stream started; returns its run id."""
        return self._insert(
            flow_run_id=flow_run_id,
            connection=connection,
            workspace_id=workspace_id,
            entity=entity,
            status=RUNNING,
            started_at=_now(),
            watermark_before=watermark_text(watermark_before),
        )

    def finish(
        self,
        run_id: int,
        *,
        fetched: int = 0,
        written: int = 0,
        rejected: int = 0,
        watermark_after: Watermark | str | None = None,
    ) -> None:
        """Mark a run completed with its counts and final watermark."""
        self._end(
            run_id,
            status=COMPLETED,
            rows_fetched=fetched,
            rows_written=written,
            rows_rejected=rejected,
            watermark_after=watermark_text(watermark_after),
        )

    def fail(
        self,
        run_id: int,
        error: str,
        *,
        fetched: int | None = None,
        written: int | None = None,
        rejected: int | None = None,
        watermark_after: Watermark | str | None = None,
    ) -> None:
        """Mark a run failed; `error` must already be redacted by the caller."""
        self._end(
            run_id,
            status=FAILED,
            error=error[:MAX_ERROR_CHARS],
            rows_fetched=fetched,
            rows_written=written,
            rows_rejected=rejected,
            watermark_after=watermark_text(watermark_after),
        )

    def record_failure(
        self,
        *,
        connection: str,
        error: str,
        workspace_id: str = ALL,
        entity: str = ALL,
        flow_run_id: str | None = None,
    ) -> int:
        """Log a failure that happened before any entity started (sign-in, workspace list)."""
        now = _now()
        return self._insert(
            flow_run_id=flow_run_id,
            connection=connection,
            workspace_id=workspace_id,
            entity=entity,
            status=FAILED,
            started_at=now,
            ended_at=now,
            error=error[:MAX_ERROR_CHARS],
        )

    def failed_workspaces(self, connections: list[str] | None = None) -> list[tuple[str, str]]:
        """The (connection, workspace) pairs whose latest flow run had a failed row.

        A failure logged for workspace `*` (the connection as a whole) counts only while no
        later run of that connection started, since a later run reached its workspaces.
        """
        with self._transaction() as conn:
            rows = conn.execute(latest_flow_runs_query(self.table, connections)).all()
        last_start: dict[str, datetime] = {}
        for row in rows:
            if row.workspace_id != ALL:
                previous = last_start.get(row.connection)
                last_start[row.connection] = max(previous or row.started_at, row.started_at)
        failed = {
            (row.connection, row.workspace_id)
            for row in rows
            if row.failed
            and (
                row.workspace_id != ALL
                or row.connection not in last_start
                or last_start[row.connection] < row.started_at
            )
        }
        return sorted(failed)

    def latest(self, connections: list[str] | None = None) -> list[dict[str, Any]]:
        """The most recent run of every (connection, workspace, entity), for `status`.

        Each item has the run log's columns as keys (run_id, connection, workspace_id,
        entity, status, started_at, ended_at, rows_fetched, ..., error).
        """
        runs = self.table
        newest = select(func.max(runs.c.run_id).label("run_id")).group_by(
            runs.c.connection, runs.c.workspace_id, runs.c.entity
        )
        if connections is not None:
            newest = newest.where(runs.c.connection.in_(connections))
        stmt = (
            select(runs)
            .where(runs.c.run_id.in_(newest.scalar_subquery()))
            .order_by(runs.c.connection, runs.c.workspace_id, runs.c.entity)
        )
        with self._transaction() as conn:
            return [dict(row) for row in conn.execute(stmt).mappings()]

    def _insert(self, **values: Any) -> int:
        with self._transaction() as conn:
            result = conn.execute(insert(self.table).values(**values))
            return int(result.inserted_primary_key[0])

    def _end(self, run_id: int, **values: Any) -> None:
        stmt = (
            update(self.table)
            .where(self.table.c.run_id == run_id)
            .values(ended_at=_now(), **values)
        )
        with self._transaction() as conn:
            if conn.execute(stmt).rowcount != 1:
                raise StoreError(f"no run with id {run_id}")


def _now() -> datetime:
    return datetime.now(UTC)


__all__: list[str] = ["RunLog", "latest_flow_runs_query", "watermark_text"]
