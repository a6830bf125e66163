"""The script-style baseline: what the hand-written script did, on a slice of the data.

Offset paging on `last_modified >= since` with page size 100, then one UPDATE (or INSERT
when nothing was updated) and one commit per row. The same transform and the same table as
the real pipeline, so the difference is the access pattern alone. At full size it would run
for a long time, so it stops after `rows` rows and the comparison is in rows/s.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import requests
from sqlalchemy import MetaData, Table, and_, insert, update

from bench.e2e import ENTITY
from bench.limits import field_list
from octane_sync.mapping import resolve_mapping
from octane_sync.models import Connection
from octane_sync.schema import PRIMARY_KEY, entity_table_name
from octane_sync.simulator.core import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from octane_sync.store import Store
from octane_sync.transform import transform_page
from octane_sync.upsert import upsert_params

PAGE_SIZE = 100


def script_baseline(db_url: str, connection: Connection, rows: int) -> dict:
    """Load the first `rows` work items of the first workspace the script's way."""
    workspace_id = connection.workspaces[0]
    base = connection.base_url
    url = (
        f"{base}/api/shared_spaces/{connection.shared_space_id}/workspaces/{workspace_id}/{ENTITY}"
    )
    mapping = resolve_mapping(ENTITY, options=connection.options, workspace_id=workspace_id)
    fields = field_list(connection, workspace_id)
    store = Store.from_url(db_url)
    engine = store.engine
    table = Table(entity_table_name(ENTITY), MetaData(), autoload_with=engine)
    loaded = requests_sent = 0
    started = time.perf_counter()
    with requests.Session() as http:
        http.post(
            f"{base}/authentication/sign_in",
            json={"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET},
            timeout=60,
        ).raise_for_status()
        requests_sent += 1
        offset = 0
        while loaded < rows:
            response = http.get(
                url,
                params={
                    "fields": fields,
                    "query": '"last_modified GE ^1970-01-01T00:00:00Z^"',
                    "order_by": "last_modified",
                    "limit": PAGE_SIZE,
                    "offset": offset,
                },
                timeout=120,
            )
            requests_sent += 1
            response.raise_for_status()
            data = response.json()["data"]
            if not data:
                break
            offset += len(data)
            batch = transform_page(data, mapping)
            now = datetime.now(UTC)
            for row in batch.rows[: rows - loaded]:
                (params,) = upsert_params(table, [row], connection.source, workspace_id, now, "b")
                where = and_(*(table.c[name] == params[name] for name in PRIMARY_KEY))
                with engine.begin() as conn:  # one transaction, one commit per row
                    result = conn.execute(update(table).where(where).values(params))
                    if result.rowcount == 0:
                        conn.execute(insert(table).values(params))
                loaded += 1
    seconds = time.perf_counter() - started
    store.dispose()
    return {
        "seconds": seconds,
        "rows": loaded,
        "rows_per_s": loaded / seconds if seconds else 0.0,
        "requests": requests_sent,
        "page_size": PAGE_SIZE,
    }
