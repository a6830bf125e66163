"""The real pipeline, timed: every workspace synced concurrently through `stream.sync_entity`.

One thread per workspace, as the flow runs them, one shared `OctaneClient` (one sign-in
per connection) with read-ahead on. The same function serves the full load (empty
database), the incremental runs (watermarks in place) and the memory pair.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from octane_sync.client import OctaneClient
from octane_sync.mapping import resolve_mapping
from octane_sync.models import Connection
from octane_sync.simulator.core import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from octane_sync.store import Store
from octane_sync.stream import sync_entity

CONNECTION = "bench"
ENTITY = "work_items"
SHARED_SPACE = "1001"


def bench_connection(base_url: str, workspace_ids: list[str], secret_enc: str) -> Connection:
    """The OCTANE_CONNECTIONS row the library runs and the Prefect flow share."""
    return Connection(
        name=CONNECTION,
        base_url=base_url,
        shared_space_id=SHARED_SPACE,
        client_id=DEFAULT_CLIENT_ID,
        client_secret_enc=secret_enc,
        workspaces=list(workspace_ids),
        entities=[ENTITY],
    )


def bench_client(connection: Connection) -> OctaneClient:
    return OctaneClient(
        connection.base_url,
        connection.shared_space_id,
        connection.client_id,
        DEFAULT_CLIENT_SECRET,
        page_size=int(connection.options.get("page_size", 1000)),
    )


def prepare_database(db_url: str, connection: Connection) -> None:
    """Control tables, the connection row and the entity table, as `prepare-tables` does."""
    store = Store.from_url(db_url)
    try:
        store.init()
        if store.get_connection(connection.name) is None:
            store.add_connection(connection)
        columns = {}
        for workspace_id in connection.workspaces:
            mapping = resolve_mapping(ENTITY, options=connection.options, workspace_id=workspace_id)
            for column in mapping.columns():
                columns.setdefault(column.name, column)
        store.ensure_entity_table(ENTITY, list(columns.values()))
    finally:
        store.dispose()


def sync_all(
    db_url: str, connection: Connection, flow_run_id: str = "bench", threads: int | None = None
) -> dict:
    """Sync every workspace of `connection` at once; runs in a child (see `rss.in_child`).

    Returns:
        seconds (wall time of the syncs), cpu_seconds (this process), fetched/written/
        rejected rows, pages, the client's request count, and per-workspace seconds.

    `threads` caps the workspaces synced at once (default: all, one thread each).
    """
    store = Store.from_url(db_url)
    client = bench_client(connection)
    mappings = {
        ws: resolve_mapping(ENTITY, options=connection.options, workspace_id=ws)
        for ws in connection.workspaces
    }
    errors: list[str] = []
    lock = threading.Lock()

    def one(workspace_id: str) -> dict:
        try:
            return sync_entity(
                client,
                store,
                connection=connection,
                workspace_id=workspace_id,
                entity=ENTITY,
                mapping=mappings[workspace_id],
                flow_run_id=flow_run_id,
            ).as_dict()
        except Exception as exc:
            with lock:
                errors.append(f"{workspace_id}: {type(exc).__name__}: {exc}")
            raise

    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=threads or len(connection.workspaces)) as pool:
        results = list(pool.map(one, connection.workspaces))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    client.close()
    store.dispose()
    if errors:
        raise RuntimeError("; ".join(errors))
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        **totals(results),
        "client_requests": client.request_count,
    }


def totals(results: list[dict]) -> dict:
    """Rows and pages summed over the workspaces' stream results, and each one's time."""
    keys = ("fetched", "written", "rejected", "pages")
    return {
        **{key: sum(r[key] for r in results) for key in keys},
        "workspace_seconds": {r["workspace_id"]: round(r["seconds"], 3) for r in results},
    }


def with_options(connection: Connection, **options: object) -> Connection:
    return replace(connection, options={**connection.options, **options})


def sync_one_workspace(db_url: str, connection: Connection, workspace_id: str, run_id: str) -> dict:
    """One workspace in this process, with its own client and store (a worker process)."""
    store = Store.from_url(db_url)
    client = bench_client(connection)
    mapping = resolve_mapping(ENTITY, options=connection.options, workspace_id=workspace_id)
    try:
        result = sync_entity(
            client,
            store,
            connection=connection,
            workspace_id=workspace_id,
            entity=ENTITY,
            mapping=mapping,
            flow_run_id=run_id,
        ).as_dict()
    finally:
        client.close()
        store.dispose()
    result["client_requests"] = client.request_count
    return result


def sync_all_processes(db_url: str, connection: Connection, flow_run_id: str = "bench") -> dict:
    """The same syncs with one process per workspace (at most one per core), as
    `dispatch=deployment` runs them: a process worker starts each workspace flow run as a
    process of its own. Transform and upsert are CPU-bound Python, and threads in one
    process share one core's worth of it."""
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    workers = min(len(connection.workspaces), os.cpu_count() or 1)
    started = time.perf_counter()
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [
            pool.submit(sync_one_workspace, db_url, connection, ws, flow_run_id)
            for ws in connection.workspaces
        ]
        results = [future.result() for future in futures]
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "processes": workers,
        **totals(results),
        "client_requests": sum(r["client_requests"] for r in results),
    }
