"""One entity stream of one workspace: watermark -> keyset pages -> rows -> one commit per page.

This is the seam where the three parts meet, and it decides nothing they own: the client
knows paging, the transform knows fields, the store knows writing and state. Plain Python,
so the CLI, the flows and the benchmarks all run the same code.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass
from datetime import timedelta

from octane_sync.client import OctaneClient
from octane_sync.errors import OctaneSyncError
from octane_sync.mapping import EntityMapping, check_reject_share
from octane_sync.models import Connection, Watermark
from octane_sync.redaction import redact
from octane_sync.store import Store
from octane_sync.transform import transform_page

log = logging.getLogger("octane_sync.stream")

DEFAULT_PAGE_SIZE = 1000
DEFAULT_LAG_SECONDS = 60
DEFAULT_OVERLAP_SECONDS = 0
DEFAULT_REJECT_THRESHOLD = 0.05


@dataclass(frozen=True)
class StreamOptions:
    """Per-connection tuning, read from OCTANE_CONNECTIONS.options."""

    page_size: int = DEFAULT_PAGE_SIZE
    lag: timedelta = timedelta(seconds=DEFAULT_LAG_SECONDS)
    overlap: timedelta = timedelta(seconds=DEFAULT_OVERLAP_SECONDS)
    reject_threshold: float = DEFAULT_REJECT_THRESHOLD
    read_ahead: bool = True

    @classmethod
    def from_options(cls, options: dict) -> StreamOptions:
        return cls(
            page_size=int(options.get("page_size", DEFAULT_PAGE_SIZE)),
            lag=timedelta(seconds=float(options.get("lag_seconds", DEFAULT_LAG_SECONDS))),
            overlap=timedelta(
                seconds=float(options.get("overlap_seconds", DEFAULT_OVERLAP_SECONDS))
            ),
            reject_threshold=float(options.get("reject_threshold", DEFAULT_REJECT_THRESHOLD)),
            read_ahead=bool(options.get("read_ahead", True)),
        )


class StreamFailed(OctaneSyncError):
    """A stream failed after its run-log row was written; `result` says how far it got.

    The original error is the `__cause__` (a TransientError there is worth a retry).
    """

    def __init__(self, result: StreamResult) -> None:
        super().__init__(
            f"{result.connection} workspace {result.workspace_id} {result.entity}: {result.error}"
        )
        self.result = result


@dataclass
class StreamResult:
    """What one entity stream did: the run log row and the artifact table are made of it."""

    connection: str
    workspace_id: str
    entity: str
    status: str = "running"
    fetched: int = 0
    written: int = 0
    rejected: int = 0
    pages: int = 0
    seconds: float = 0.0
    watermark_before: str | None = None
    watermark_after: str | None = None
    error: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def describe(watermark: Watermark | None) -> str | None:
    if watermark is None:
        return None
    return f"{watermark.last_modified:%Y-%m-%dT%H:%M:%SZ}#{watermark.id}"


def sync_entity(
    client: OctaneClient,
    store: Store,
    *,
    connection: Connection,
    workspace_id: str,
    entity: str,
    mapping: EntityMapping,
    flow_run_id: str | None = None,
    full_refresh: bool = False,
    available_fields: Collection[str] | None = None,
    on_page: Callable[[StreamResult], None] | None = None,
) -> StreamResult:
    """Bring one (workspace, entity) up to date; each page commits rows and watermark together.

    A crash or a raised error costs at most the page in flight: the next call resumes from
    the last committed watermark. With `full_refresh` the watermark is reset first and every
    row is read and written again (an older version still never overwrites a newer one).
    `available_fields` (the workspace's fields, from Octane's metadata) keeps candidate
    fields this workspace does not have out of the request.

    Raises:
        StreamFailed: the stream stopped (logged as failed in the run log); its cause is
            an OctaneError (Octane could not be read after the client's own retries), a
            RejectThresholdExceeded (too many unusable records), or a StoreError (the
            database refused a batch; nothing of that batch is kept).
    """
    options = StreamOptions.from_options(connection.options)
    result = StreamResult(connection.name, workspace_id, entity)
    started = time.perf_counter()
    if full_refresh:
        store.reset_watermarks(connection.name, workspace_id, entity)
    since = store.read_watermark(connection.name, workspace_id, entity)
    result.watermark_before = result.watermark_after = describe(since)
    run_id = store.start_run(
        flow_run_id=flow_run_id,
        connection=connection.name,
        workspace_id=workspace_id,
        entity=entity,
        watermark_before=result.watermark_before,
    )
    log.info(
        "%s workspace %s %s: reading changes since %s (up to %s s before Octane's clock)",
        connection.name,
        workspace_id,
        entity,
        result.watermark_before or "the beginning",
        int(options.lag.total_seconds()),
    )
    try:
        pages = client.iter_changes(
            workspace_id,
            entity,
            since=since,
            lag=options.lag,
            fields=mapping.source_fields(available_fields),
            page_size=options.page_size,
            overlap=options.overlap,
            read_ahead=options.read_ahead,
        )
        for page in pages:
            batch = transform_page(page, mapping)
            result.written += store.load_batch(
                connection=connection.name,
                source=connection.source,
                workspace_id=workspace_id,
                entity=entity,
                batch=batch,
                flow_run_id=flow_run_id,
                refresh=full_refresh,
            )
            result.pages += 1
            result.fetched += len(page)
            result.rejected += len(batch.rejects)
            result.watermark_after = describe(batch.watermark) or result.watermark_after
            result.seconds = time.perf_counter() - started
            if on_page is not None:
                on_page(result)
        check_reject_share(
            result.rejected,
            result.fetched,
            options.reject_threshold,
            where=f"{connection.name} workspace {workspace_id} {entity}",
        )
    except Exception as exc:
        result.error = redact(f"{type(exc).__name__}: {exc}")
        _close_run(store, run_id, result, started, on_page)
        raise StreamFailed(result) from exc
    _close_run(store, run_id, result, started, on_page)
    log.info(
        "%s workspace %s %s: %d fetched, %d written, %d rejected in %.1f s",
        connection.name,
        workspace_id,
        entity,
        result.fetched,
        result.written,
        result.rejected,
        result.seconds,
    )
    return result


def _close_run(
    store: Store,
    run_id: int,
    result: StreamResult,
    started: float,
    on_page: Callable[[StreamResult], None] | None,
) -> None:
    """Final state, time and counts: to the progress view and the run log."""
    result.status = "failed" if result.error else "completed"
    result.seconds = time.perf_counter() - started
    if on_page is not None:
        on_page(result)
    counts = {
        "fetched": result.fetched,
        "written": result.written,
        "rejected": result.rejected,
        "watermark_after": result.watermark_after,
    }
    if result.error:
        store.fail_run(run_id, error=result.error, **counts)
    else:
        store.finish_run(run_id, **counts)


def reconcile_deletes(
    client: OctaneClient,
    store: Store,
    *,
    connection: Connection,
    workspace_id: str,
    entity: str,
) -> int:
    """Mark stored rows that Octane no longer lists as deleted; returns how many.

    Octane deletes are hard deletes: only a full id listing shows them. The store refuses
    when more than `options["max_delete_share"]` (default 0.2) of the rows would vanish,
    so a truncated listing can never wipe a table.
    """
    share = float(connection.options.get("max_delete_share", 0.2))
    present = client.iter_ids(workspace_id, entity)
    marked = store.mark_deleted(entity, connection.source, workspace_id, present, max_share=share)
    log.info(
        "%s workspace %s %s: %d row(s) no longer in Octane, marked deleted",
        connection.name,
        workspace_id,
        entity,
        marked,
    )
    return marked
