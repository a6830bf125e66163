"""The two limits the end-to-end time is held against: fetch only and load only.

fetch only: the same keyset pages (same fields, page size, filter) pulled with a bare
`requests` loop per workspace, decoded with orjson and thrown away; nothing else.
load only: the same transformed rows, fetched and prepared before the clock starts, then
bulk-inserted (plain executemany INSERT, one transaction per page) into the same database.
Both run one thread per workspace, as the end-to-end run does.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import orjson
import requests
from sqlalchemy import MetaData, Table, delete, insert

from bench.e2e import ENTITY
from octane_sync.client import OctaneClient
from octane_sync.mapping import resolve_mapping
from octane_sync.models import Connection
from octane_sync.paging import ChangesPager
from octane_sync.schema import entity_table_name
from octane_sync.simulator.core import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from octane_sync.store import Store
from octane_sync.transform import transform_page
from octane_sync.upsert import upsert_params

LAG = timedelta(seconds=60)


def field_list(connection: Connection, workspace_id: str) -> str:
    """The `fields=` value the client sends for this workspace's mapping."""
    mapping = resolve_mapping(ENTITY, options=connection.options, workspace_id=workspace_id)
    wanted = {"id", "last_modified", "version_stamp", *mapping.source_fields()}
    return ",".join(sorted(wanted))


def _fetch_workspace(connection: Connection, workspace_id: str, page_size: int) -> tuple[int, int]:
    base = connection.base_url
    url = (
        f"{base}/api/shared_spaces/{connection.shared_space_id}/workspaces/{workspace_id}/{ENTITY}"
    )
    fields = field_list(connection, workspace_id)
    pages = rows = 0
    with requests.Session() as http:
        signed_in = http.post(
            f"{base}/authentication/sign_in",
            json={"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET},
            timeout=60,
        )
        signed_in.raise_for_status()
        # The same upper bound the client derives: the server's clock minus the lag.
        pager = ChangesPager(until=parsedate_to_datetime(signed_in.headers["Date"]) - LAG)
        while True:
            params = {"fields": fields, "order_by": pager.order_by, "limit": page_size}
            query = pager.query()
            if query is not None:
                params["query"] = query.param()
            response = http.get(url, params=params, timeout=120)
            response.raise_for_status()
            data = orjson.loads(response.content)["data"]
            pages += 1
            rows += len(data)
            if len(data) < page_size:
                return pages, rows
            pager.advance(data)


def fetch_only(connection: Connection, page_size: int = 1000) -> dict:
    """Pull every page of every workspace concurrently; nothing is kept."""
    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=len(connection.workspaces)) as pool:
        done = list(
            pool.map(lambda ws: _fetch_workspace(connection, ws, page_size), connection.workspaces)
        )
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "pages": sum(p for p, _ in done),
        "rows": sum(r for _, r in done),
        "requests": sum(p for p, _ in done) + len(done),
    }


def _prepared_pages(connection: Connection, store: Store, table: Table) -> dict[str, list]:
    """Every workspace's pages as the insert parameters the store would build from them."""
    client = OctaneClient(
        connection.base_url, connection.shared_space_id, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
    )
    loaded_at = datetime.now(UTC)
    prepared: dict[str, list] = {}
    for ws in connection.workspaces:
        mapping = resolve_mapping(ENTITY, options=connection.options, workspace_id=ws)
        prepared[ws] = [
            upsert_params(
                table, transform_page(page, mapping).rows, connection.source, ws, loaded_at, "b"
            )
            for page in client.iter_changes(ws, ENTITY, fields=mapping.source_fields(), lag=LAG)
        ]
    client.close()
    return prepared


def load_only(db_url: str, connection: Connection, repeats: int) -> dict:
    """Insert the prepared pages `repeats` times into an emptied entity table.

    The entity table must exist (`e2e.prepare_database`); it is emptied before each repeat.
    """
    store = Store.from_url(db_url)
    engine = store.engine
    table = Table(entity_table_name(ENTITY), MetaData(), autoload_with=engine)
    prepared = _prepared_pages(connection, store, table)
    rows = sum(len(page) for pages in prepared.values() for page in pages)
    statement = insert(table)

    def load(ws: str) -> None:
        for page in prepared[ws]:
            with engine.begin() as conn:
                conn.execute(statement, page)

    times, cpus = [], []
    for _ in range(repeats):
        with engine.begin() as conn:
            conn.execute(delete(table))
        started, cpu = time.perf_counter(), time.process_time()
        with ThreadPoolExecutor(max_workers=len(prepared)) as pool:
            list(pool.map(load, prepared))
        times.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    with engine.begin() as conn:
        conn.execute(delete(table))
    store.dispose()
    return {
        "seconds": statistics.median(times),
        "runs": times,
        "cpu_seconds": statistics.median(cpus),
        "rows": rows,
    }
