"""One entity stream without Prefect: simulator over HTTP, SQLite, the run log."""

from __future__ import annotations

import pytest

from octane_sync.client import OctaneClient
from octane_sync.errors import RejectThresholdExceeded, StoreError, TransientError
from octane_sync.mapping import resolve_mapping
from octane_sync.models import Connection
from octane_sync.retry import RetryPolicy
from octane_sync.store import Store
from octane_sync.stream import StreamFailed, reconcile_deletes, sync_entity

ENTITY = "work_items"
FAST = RetryPolicy(max_attempts=2, backoff=0.01, max_backoff=0.02, max_total=2.0)


@pytest.fixture
def setup(make_simulator, sqlite_url):
    sim = make_simulator(workspaces=1, items=250, seed=3)
    connection = Connection(
        name="prod",
        base_url=sim.base_url,
        shared_space_id=str(sim.shared_space_id),
        client_id=sim.client_id,
        client_secret_enc="unused-here",
        workspaces=list(sim.workspace_ids),
        options={"page_size": 100, "lag_seconds": 60},
    )
    store = Store.from_url(sqlite_url)
    store.init()
    mapping = resolve_mapping(ENTITY)
    store.ensure_entity_table(ENTITY, mapping.columns())
    client = OctaneClient(
        sim.base_url, sim.shared_space_id, sim.client_id, sim.client_secret, retry=FAST
    )
    yield sim, connection, store, client, mapping
    client.close()
    store.dispose()


def run(setup, **kwargs):
    sim, connection, store, client, mapping = setup
    return sync_entity(
        client,
        store,
        connection=connection,
        workspace_id=sim.workspace_ids[0],
        entity=ENTITY,
        mapping=mapping,
        flow_run_id="run-1",
        **kwargs,
    )


def test_full_then_incremental_then_full_refresh(setup) -> None:
    sim, _connection, store, _client, _mapping = setup
    ws = sim.workspace_ids[0]
    first = run(setup)
    assert (first.status, first.fetched, first.written, first.pages) == ("completed", 250, 250, 3)
    assert run(setup).fetched == 0

    edited = sim.update(ws, ENTITY, 5)
    sim.advance_clock(120)
    again = run(setup)
    assert (again.fetched, again.written) == (5, 5)
    watermark = store.read_watermark("prod", ws, ENTITY)
    assert watermark is not None and watermark.id in edited

    refreshed = run(setup, full_refresh=True)
    assert (refreshed.fetched, refreshed.written) == (250, 250)  # same versions, rewritten
    logged = [r for r in store.latest_runs(["prod"]) if r["entity"] == ENTITY]
    assert [(r["status"], r["rows_written"]) for r in logged] == [("completed", 250)]


def test_a_failing_page_keeps_what_was_committed_and_logs_the_failure(setup, monkeypatch) -> None:
    sim, _connection, store, _client, _mapping = setup
    real_load = Store.load_batch
    calls = {"n": 0}

    def load_then_fail(self, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise StoreError("disk full")
        return real_load(self, **kwargs)

    monkeypatch.setattr(Store, "load_batch", load_then_fail)
    with pytest.raises(StreamFailed) as caught:
        run(setup)
    assert isinstance(caught.value.__cause__, StoreError)
    assert (caught.value.result.fetched, caught.value.result.written) == (100, 100)
    [logged] = [r for r in store.latest_runs(["prod"]) if r["entity"] == ENTITY]
    assert (logged["status"], logged["rows_written"]) == ("failed", 100)
    assert "disk full" in logged["error"]

    monkeypatch.setattr(Store, "load_batch", real_load)
    resumed = run(setup)  # starts after the first committed page
    assert (resumed.fetched, resumed.written) == (150, 150)
    assert store.read_watermark("prod", sim.workspace_ids[0], ENTITY) is not None


def test_transient_failures_surface_as_the_cause(setup) -> None:
    sim = setup[0]
    sim.inject_fault("unavailable", count=10, path_contains="/work_items")
    with pytest.raises(StreamFailed) as caught:
        run(setup)
    assert isinstance(caught.value.__cause__, TransientError)


def test_too_many_rejects_fail_the_stream(setup) -> None:
    sim, connection, store, client, _mapping = setup
    # A mapping error: names are not integers, so every record is rejected.
    options = {
        "reject_threshold": 0.0,
        "mapping": {ENTITY: {"columns": {"story_points": {"fields": ["name"]}}}},
    }
    broken = Connection(**{**connection.__dict__, "options": options})
    with pytest.raises(StreamFailed) as caught:
        sync_entity(
            client,
            store,
            connection=broken,
            workspace_id=sim.workspace_ids[0],
            entity=ENTITY,
            mapping=resolve_mapping(ENTITY, options=options),
        )
    assert isinstance(caught.value.__cause__, RejectThresholdExceeded)
    assert caught.value.result.rejected == caught.value.result.fetched > 0


def test_reconcile_deletes_marks_only_what_is_gone(setup) -> None:
    sim, connection, store, client, _mapping = setup
    ws = sim.workspace_ids[0]
    run(setup)
    gone = [entity["id"] for entity in sim.entities(ws, ENTITY)[:4]]
    sim.delete(ws, ENTITY, gone)
    assert (
        reconcile_deletes(client, store, connection=connection, workspace_id=ws, entity=ENTITY) == 4
    )
