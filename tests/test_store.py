"""The store against real databases: SQLite, PostgreSQL, and Oracle when a URL is given."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from octane_sync.errors import StoreError
from octane_sync.models import (
    ColumnSpec,
    ColumnType,
    Connection,
    Reject,
    TransformedBatch,
    Watermark,
)
from octane_sync.store import Store

T0 = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
SOURCE = "octane.example.com:443/1001"
COLUMNS = [
    ColumnSpec("name", ColumnType.STRING, 200),
    ColumnSpec("description", ColumnType.TEXT),
    ColumnSpec("story_points", ColumnType.INT),
    ColumnSpec("estimated_hours", ColumnType.FLOAT),
    ColumnSpec("blocked", ColumnType.BOOL),
    ColumnSpec("closed_on", ColumnType.TIMESTAMP),
]
HTML = "<p>Straße &amp; café — ✓</p>"


def row(entity_id: str, *, at: datetime = T0, version: int | None = 1, **extra) -> dict:
    values = {
        "id": entity_id,
        "last_modified": at,
        "version_stamp": version,
        "entity_json": f'{{"id": "{entity_id}", "v": {version}}}',
        "name": f"item {entity_id} v{version}",
        "description": HTML,
        "story_points": 3,
        "estimated_hours": 1.5,
        "blocked": False,
        "closed_on": None,
    }
    values.update(extra)
    return values


def load(
    store: Store, rows: list[dict], *, workspace: str = "1002", refresh: bool = False, **batch
) -> int:
    watermark = batch.pop("watermark", None)
    if watermark is None and rows:
        last = max(rows, key=lambda r: (r["last_modified"], int(r["id"])))
        watermark = Watermark(last["last_modified"], last["id"])
    return store.load_batch(
        connection="prod",
        source=SOURCE,
        workspace_id=workspace,
        entity="work_items",
        batch=TransformedBatch(rows, batch.pop("rejects", []), watermark),
        flow_run_id="flow-1",
        refresh=refresh,
    )


def stored(store: Store, workspace: str = "1002") -> dict[str, dict]:
    table = store._entity_tables["octane_work_items"]
    with store.engine.connect() as conn:
        result = conn.execute(select(table).where(table.c.workspace_id == workspace))
        return {r["id"]: dict(r) for r in result.mappings()}


@pytest.fixture
def store(db_url) -> Store:
    s = Store.from_url(db_url)
    s.init()
    s.ensure_entity_table("work_items", COLUMNS)
    yield s
    s.dispose()


def test_init_creates_control_tables_once(db_url):
    store = Store.from_url(db_url)
    try:
        first, second = store.init(), store.init()
    finally:
        store.dispose()
    assert sorted(first) == [
        "octane_connections",
        "octane_rejects",
        "octane_sync_runs",
        "octane_watermarks",
    ]
    assert second == []


def test_entity_table_gains_new_columns_and_never_loses_any(store):
    assert store.ensure_entity_table("work_items", COLUMNS) == []
    added = store.ensure_entity_table("work_items", [ColumnSpec("risk_udf", ColumnType.STRING)])
    assert added == ["risk_udf"]
    load(store, [row("1", risk_udf="High")])
    kept = stored(store)["1"]
    assert kept["risk_udf"] == "High"
    assert kept["name"] == "item 1 v1"  # the columns the second mapping left out stay


def test_a_column_the_mapping_dropped_keeps_its_values(store):
    load(store, [row("1")])
    slim = {k: v for k, v in row("1", version=2).items() if k != "description"}
    assert load(store, [slim]) == 1
    got = stored(store)["1"]
    assert (got["version_stamp"], got["description"]) == (2, HTML)


def test_concurrent_table_creation_is_harmless(db_url):
    stores = [Store.from_url(db_url) for _ in range(4)]
    results: list = []

    def create(s: Store) -> None:
        try:
            results.append(s.ensure_entity_table("defects", COLUMNS))
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=create, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.dispose()
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sum(1 for r in results if r) == 1  # exactly one created it


def test_values_round_trip_with_their_types(store):
    long_html = "<p>" + "Straße ✓ " * 1200 + "</p>"  # > 4,000 bytes: CLOB, not VARCHAR2
    closed = T0 + timedelta(hours=5)
    load(store, [row("7", description=long_html, blocked=True, closed_on=closed)])
    got = stored(store)["7"]
    assert got["description"] == long_html
    assert got["blocked"] is True
    assert got["estimated_hours"] == 1.5
    assert got["story_points"] == 3
    assert got["closed_on"] == closed
    assert got["last_modified"] == T0
    assert got["last_modified"].tzinfo is UTC
    assert got["source"] == SOURCE
    assert got["flow_run_id"] == "flow-1"
    assert got["deleted_at"] is None


def test_loading_the_same_batch_twice_changes_nothing(store):
    rows = [row(str(i)) for i in range(1, 51)]
    assert load(store, rows) == 50
    before = stored(store)
    assert load(store, rows) == 0
    assert stored(store) == before


@pytest.mark.parametrize(
    ("incoming", "wins"),
    [
        pytest.param({"at": T0 - timedelta(seconds=1), "version": 9}, False, id="older-second"),
        pytest.param({"at": T0, "version": 4}, False, id="same-second-lower-version"),
        pytest.param({"at": T0, "version": 5}, False, id="same-version"),
        pytest.param({"at": T0, "version": None}, False, id="no-version"),
        pytest.param({"at": T0, "version": 6}, True, id="same-second-higher-version"),
        pytest.param({"at": T0 + timedelta(seconds=1), "version": 1}, True, id="newer-second"),
    ],
)
def test_only_a_newer_version_replaces_a_stored_row(store, incoming, wins):
    load(store, [row("1", at=T0, version=5)])
    written = load(store, [row("1", **incoming)])
    got = stored(store)["1"]
    assert written == (1 if wins else 0)
    assert (got["version_stamp"], got["last_modified"]) == (
        (incoming["version"], incoming["at"]) if wins else (5, T0)
    )


def test_full_refresh_rewrites_the_same_version_but_never_an_older_one(store):
    load(store, [row("1", version=5), row("2", version=5)])
    # The mapping gained a value for `story_points` since: a refresh must fill it in.
    again = [row("1", version=5, story_points=8), row("2", version=4, story_points=8)]
    assert load(store, again) == 0
    assert load(store, again, refresh=True) == 1
    got = stored(store)
    assert (got["1"]["story_points"], got["1"]["version_stamp"]) == (8, 5)
    assert (got["2"]["story_points"], got["2"]["version_stamp"]) == (3, 5)


def test_duplicates_in_one_batch_keep_the_newest(store):
    written = load(store, [row("1", version=2), row("1", version=3), row("1", version=1)])
    assert written == 1
    assert stored(store)["1"]["version_stamp"] == 3


def test_workspaces_and_sources_never_collide(store):
    load(store, [row("1")], workspace="1002")
    load(store, [row("1", version=2)], workspace="1003")
    assert stored(store, "1002")["1"]["version_stamp"] == 1
    assert stored(store, "1003")["1"]["version_stamp"] == 2


def test_crash_before_the_watermark_keeps_rows_and_watermark_unchanged(store, monkeypatch):
    load(store, [row("1")])
    before_rows = stored(store)
    before_wm = store.read_watermark("prod", "1002", "work_items")

    def crash(*args, **kwargs):
        raise RuntimeError("injected crash between upsert and watermark")

    monkeypatch.setattr("octane_sync.store.advance_watermark", crash)
    newer = [row("1", version=2), row("2", at=T0 + timedelta(seconds=5))]
    with pytest.raises(RuntimeError, match="injected"):
        load(store, newer, rejects=[Reject("3", "bad", "{}")])
    assert stored(store) == before_rows
    assert store.read_watermark("prod", "1002", "work_items") == before_wm
    with store.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(store.tables["octane_rejects"])) == 0


def test_unknown_column_fails_the_whole_batch(store):
    with pytest.raises(StoreError, match="no column"):
        load(store, [row("1"), row("2", not_mapped="x")])
    assert stored(store) == {}
    assert store.read_watermark("prod", "1002", "work_items") is None


def test_rejects_are_written_with_the_batch(store):
    load(store, [row("1")], rejects=[Reject("2", "phase missing", '{"id": "2", "x": "ü"}')])
    rejects = store.tables["octane_rejects"]
    with store.engine.connect() as conn:
        got = conn.execute(select(rejects)).mappings().one()
    assert (got["entity_id"], got["reason"], got["raw_json"]) == (
        "2",
        "phase missing",
        '{"id": "2", "x": "ü"}',
    )
    assert (got["connection"], got["workspace_id"], got["entity"]) == ("prod", "1002", "work_items")


def test_watermark_only_moves_forward_until_reset(store):
    later, earlier = Watermark(T0, "20"), Watermark(T0, "9")
    load(store, [], watermark=later)
    load(store, [], watermark=earlier)  # 9 < 20 as numbers, though "9" > "20" as text
    assert store.read_watermark("prod", "1002", "work_items") == later
    load(store, [], watermark=Watermark(T0, "5"), workspace="1003")
    assert store.reset_watermarks("prod", "1002", "work_items") == 1
    assert store.read_watermark("prod", "1002", "work_items") is None
    assert store.read_watermark("prod", "1003", "work_items") == Watermark(T0, "5")
    load(store, [], watermark=earlier)
    assert store.read_watermark("prod", "1002", "work_items") == earlier
    assert store.reset_watermarks() == 2


def test_load_needs_the_entity_table(store):
    with pytest.raises(StoreError, match="ensure_entity_table"):
        store.load_batch(
            connection="prod",
            source=SOURCE,
            workspace_id="1",
            entity="defects",
            batch=TransformedBatch([row("1")]),
            flow_run_id=None,
        )


def test_a_fresh_store_finds_an_existing_table(store, db_url):
    load(store, [row("1")])
    other = Store.from_url(db_url)
    try:
        assert load(other, [row("1", version=2, closed_on=T0)]) == 1
        assert stored(other)["1"]["closed_on"] == T0
    finally:
        other.dispose()


def test_mark_deleted_marks_missing_rows_and_a_new_version_revives_them(store):
    load(store, [row(str(i)) for i in range(1, 11)])
    assert store.mark_deleted("work_items", SOURCE, "1002", [str(i) for i in range(1, 10)]) == 1
    assert stored(store)["10"]["deleted_at"] is not None
    assert load(store, [row("10")]) == 1  # seen again: it exists after all
    assert stored(store)["10"]["deleted_at"] is None


def test_mark_deleted_refuses_when_too_much_would_vanish(store):
    load(store, [row(str(i)) for i in range(1, 11)])
    with pytest.raises(StoreError, match="refusing"):
        store.mark_deleted("work_items", SOURCE, "1002", ["1", "2"], max_share=0.5)
    assert all(r["deleted_at"] is None for r in stored(store).values())


def _connection(name: str = "prod", **kw) -> Connection:
    values = {
        "name": name,
        "base_url": "https://octane.example.com",
        "shared_space_id": "1001",
        "client_id": "api_key_1",
        "client_secret_enc": "gAAAAAB-token",
        "workspaces": ["1002", "1003"],
        "entities": ["work_items", "defects"],
        "options": {"page_size": 500},
    }
    values.update(kw)
    return Connection(**values)


def test_connections_round_trip_and_lifecycle(store):
    store.add_connection(_connection())
    store.add_connection(_connection("other", workspaces=["*"], enabled=False))
    with pytest.raises(StoreError, match="exists already"):
        store.add_connection(_connection())
    got = store.get_connection("prod")
    assert (got.workspaces, got.entities, got.options) == (
        ["1002", "1003"],
        ["work_items", "defects"],
        {"page_size": 500},
    )
    assert got.client_secret_enc == "gAAAAAB-token"  # stored and returned encrypted, as given
    assert got.created_at.tzinfo is UTC
    assert [c.name for c in store.list_connections()] == ["other", "prod"]
    assert [c.name for c in store.list_connections(enabled_only=True)] == ["prod"]
    store.set_connection_enabled("other", True)
    store.set_connection_enabled("prod", False)
    assert [c.name for c in store.list_connections(enabled_only=True)] == ["other"]
    store.replace_secret("prod", "gAAAAAB-new")
    assert store.get_connection("prod").client_secret_enc == "gAAAAAB-new"
    assert store.rotate_secrets(lambda name, token: token + "-rotated") == 2
    assert store.get_connection("other").client_secret_enc == "gAAAAAB-token-rotated"
    store.remove_connection("other")
    assert store.get_connection("other") is None
    with pytest.raises(StoreError, match="no connection"):
        store.remove_connection("other")
    with pytest.raises(StoreError, match="no connection"):
        store.set_connection_enabled("missing", True)


def test_run_log_records_start_finish_and_failure(store):
    ok = store.start_run(
        flow_run_id="f1", connection="prod", workspace_id="1002", entity="work_items"
    )
    bad = store.start_run(
        flow_run_id="f1",
        connection="prod",
        workspace_id="1002",
        entity="defects",
        watermark_before=Watermark(T0, "7"),
    )
    store.finish_run(ok, fetched=10, written=9, rejected=1, watermark_after=Watermark(T0, "9"))
    store.fail_run(bad, "TransientError: 503 from https://octane.example.com/...", fetched=3)
    runs = {r["entity"]: r for r in store.latest_runs()}
    assert runs["work_items"]["status"] == "completed"
    assert (runs["work_items"]["rows_written"], runs["work_items"]["watermark_after"]) == (
        9,
        "2024-05-01T10:00:00Z#9",
    )
    assert runs["defects"]["status"] == "failed"
    assert runs["defects"]["watermark_before"] == "2024-05-01T10:00:00Z#7"
    assert runs["defects"]["error"].startswith("TransientError")
    assert runs["defects"]["ended_at"] >= runs["defects"]["started_at"]
    with pytest.raises(StoreError, match="no run"):
        store.finish_run(999_999)


def _run(store: Store, flow: str, ws: str, entity: str, failed: bool, conn: str = "prod") -> None:
    run_id = store.start_run(flow_run_id=flow, connection=conn, workspace_id=ws, entity=entity)
    if failed:
        store.fail_run(run_id, "boom")
    else:
        store.finish_run(run_id)


def test_failed_workspaces_reads_each_pairs_latest_flow_run(store):
    _run(store, "f1", "1002", "work_items", failed=True)
    _run(store, "f1", "1003", "work_items", failed=True)
    _run(store, "f1", "1004", "work_items", failed=False)
    _run(store, "f1", "1004", "defects", failed=True, conn="other")
    assert store.failed_workspaces() == [("other", "1004"), ("prod", "1002"), ("prod", "1003")]
    # the rerun fixes 1002; 1003 fails on one entity though a later entity succeeds
    _run(store, "f2", "1002", "work_items", failed=False)
    _run(store, "f2", "1003", "defects", failed=True)
    _run(store, "f2", "1003", "work_items", failed=False)
    assert store.failed_workspaces(["prod"]) == [("prod", "1003")]
    assert store.failed_workspaces(["nobody"]) == []


def test_a_connection_wide_failure_counts_until_a_later_run(store):
    store.record_failure(connection="prod", error="AuthenticationError: refused", flow_run_id="f1")
    assert store.failed_workspaces() == [("prod", "*")]
    _run(store, "f2", "1002", "work_items", failed=False)
    assert store.failed_workspaces() == []


def test_sqlite_threads_load_concurrently_without_locking_errors(sqlite_url):
    store = Store.from_url(sqlite_url)
    store.init()
    store.ensure_entity_table("work_items", COLUMNS)
    errors: list[BaseException] = []

    def worker(workspace: str) -> None:
        try:
            for batch in range(5):
                rows = [row(str(batch * 100 + i)) for i in range(100)]
                load(store, rows, workspace=workspace)
                store.read_watermark("prod", workspace, "work_items")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(str(ws),)) for ws in range(1002, 1008)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert all(len(stored(store, str(ws))) == 500 for ws in range(1002, 1008))
    finally:
        store.dispose()
