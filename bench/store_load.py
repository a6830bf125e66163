"""Rows/s into SQLite and PostgreSQL: plain executemany INSERT vs the store's upsert path.

    .venv/bin/python -m bench.store_load [--rows 100000] [--repeat 3] [--pg URL]

100,000 realistic work items (HTML descriptions with non-ASCII text, ~1 KB entity JSON,
14 mapped columns), loaded in pages of 1,000 rows as the sync does. Each figure is the
median of `--repeat` runs into a freshly created table:
  insert    `INSERT` executemany per page, one transaction per page (the floor)
  upsert    `Store.load_batch` per page: upsert + watermark in one transaction
  reload    the same pages again: every row refused by the newer-version guard
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import MetaData, create_engine, insert, text

from octane_sync.models import ColumnSpec, ColumnType, TransformedBatch, Watermark
from octane_sync.schema import entity_table
from octane_sync.store import Store

PAGE = 1000
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
COLUMNS = [
    ColumnSpec("name", ColumnType.STRING, 500),
    ColumnSpec("subtype", ColumnType.STRING, 40),
    ColumnSpec("description", ColumnType.TEXT),
    ColumnSpec("phase_id", ColumnType.STRING, 100),
    ColumnSpec("owner_id", ColumnType.STRING, 40),
    ColumnSpec("release_id", ColumnType.STRING, 40),
    ColumnSpec("sprint_id", ColumnType.STRING, 40),
    ColumnSpec("team_id", ColumnType.STRING, 40),
    ColumnSpec("story_points", ColumnType.INT),
    ColumnSpec("estimated_hours", ColumnType.FLOAT),
    ColumnSpec("remaining_hours", ColumnType.FLOAT),
    ColumnSpec("blocked", ColumnType.BOOL),
    ColumnSpec("closed_on", ColumnType.TIMESTAMP),
    ColumnSpec("user_tags", ColumnType.TEXT),
]


def make_rows(count: int, seed: int = 7) -> list[dict]:
    rnd = random.Random(seed)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(1, count + 1):
        subtype = rnd.choice(["story", "defect", "feature", "quality_story"])
        phase = f"phase.{subtype}.{rnd.choice(['new', 'in_progress', 'done'])}"
        desc = f"<p>Straße &amp; café — ✓ item {i}</p>" + "<p>lorem ipsum dolor</p>" * rnd.randint(
            1, 8
        )
        closed = t0 + timedelta(days=rnd.randint(0, 300)) if rnd.random() < 0.3 else None
        modified = t0 + timedelta(seconds=i // 3)  # bulk edits: several rows per second
        entity = {
            "id": str(i),
            "type": "work_item",
            "subtype": subtype,
            "name": f"Work item {i} — naïve résumé",
            "description": desc,
            "phase": {"type": "phase", "id": phase, "name": phase.rsplit(".", 1)[-1]},
            "owner": {"type": "workspace_user", "id": str(rnd.randint(1, 50)), "name": "u"},
            "last_modified": modified.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "version_stamp": 1,
            "user_tags": {"total_count": 2, "data": [{"type": "user_tag", "id": "1001"}] * 2},
        }
        rows.append(
            {
                "id": str(i),
                "last_modified": modified,
                "version_stamp": 1,
                "entity_json": json.dumps(entity, ensure_ascii=False),
                "name": entity["name"],
                "subtype": subtype,
                "description": desc,
                "phase_id": phase,
                "owner_id": entity["owner"]["id"],
                "release_id": str(rnd.randint(1, 5)),
                "sprint_id": str(rnd.randint(1, 40)) if rnd.random() < 0.8 else None,
                "team_id": str(rnd.randint(1, 8)),
                "story_points": rnd.choice([None, 1, 2, 3, 5, 8]),
                "estimated_hours": round(rnd.uniform(0, 40), 1),
                "remaining_hours": round(rnd.uniform(0, 20), 1),
                "blocked": rnd.random() < 0.05,
                "closed_on": closed,
                "user_tags": "urgent,customer",
            }
        )
    return rows


def pages(rows: list[dict]) -> list[list[dict]]:
    return [rows[i : i + PAGE] for i in range(0, len(rows), PAGE)]


def fresh_store(url: str) -> Store:
    store = Store.from_url(url)
    store.init()
    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS octane_work_items"))
    store.ensure_entity_table("work_items", COLUMNS)
    store.reset_watermarks()
    return store


def time_plain_insert(url: str, rows: list[dict]) -> float:
    store = fresh_store(url)
    table = entity_table(MetaData(), "work_items", COLUMNS)
    now = datetime.now(UTC)
    extra = {"source": "bench", "workspace_id": "1002", "loaded_at": now, "flow_run_id": "b"}
    params = [[{**r, **extra, "deleted_at": None} for r in page] for page in pages(rows)]
    started = time.perf_counter()
    for page in params:
        with store.engine.begin() as conn:
            conn.execute(insert(table), page)
    elapsed = time.perf_counter() - started
    store.dispose()
    return elapsed


def load_all(store: Store, rows: list[dict]) -> tuple[float, int]:
    started = time.perf_counter()
    written = 0
    for page in pages(rows):
        last = page[-1]
        written += store.load_batch(
            connection="bench",
            source="bench",
            workspace_id="1002",
            entity="work_items",
            batch=TransformedBatch(page, [], Watermark(last["last_modified"], last["id"])),
            flow_run_id="b",
        )
    return time.perf_counter() - started, written


def time_upsert(url: str, rows: list[dict]) -> tuple[float, float]:
    store = fresh_store(url)
    first, written = load_all(store, rows)
    again, rewritten = load_all(store, rows)
    store.dispose()
    assert (written, rewritten) == (len(rows), 0), (written, rewritten)
    return first, again


def measure(name: str, url: str, rows: list[dict], repeat: int) -> None:
    plain = [time_plain_insert(url, rows) for _ in range(repeat)]
    up = [time_upsert(url, rows) for _ in range(repeat)]
    n = len(rows)
    for label, times in (
        ("insert", plain),
        ("upsert", [u[0] for u in up]),
        ("reload", [u[1] for u in up]),
    ):
        med = statistics.median(times)
        print(f"{name:<11} {label:<7} {n:>8,} rows  median {med:6.2f} s  {n / med:>9,.0f} rows/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg", default=DEFAULT_PG, help="PostgreSQL URL ('' to skip)")
    args = parser.parse_args()
    rows = make_rows(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        measure("sqlite", f"sqlite+pysqlite:///{Path(tmp) / 'bench.db'}", rows, args.repeat)
    if args.pg:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.pg)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        try:
            url = f"{args.pg}?options=-csearch_path%3D{schema}"
            measure("postgresql", url, rows, args.repeat)
        finally:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()


if __name__ == "__main__":
    main()
