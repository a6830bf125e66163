"""The Prefect flows end to end: simulator over HTTP, SQLite, one session-scoped harness."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from octane_sync.models import Connection
from octane_sync.secrets import SecretBox, generate_key
from octane_sync.store import Store

pytestmark = pytest.mark.prefect

ENTITIES = ["work_items", "releases"]


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def env(prefect_harness, make_simulator, tmp_path, monkeypatch):
    """A simulator with 3 workspaces, a SQLite target, a keyring, one connection."""
    # Strict, as a real Octane may be: a field the workspace lacks is a 400.
    sim = make_simulator(workspaces=3, items=120, seed=11, strict_fields=True)
    key = generate_key()
    db_url = f"sqlite+pysqlite:///{tmp_path / 'octane.sqlite'}"
    monkeypatch.setenv("OCTANE_SYNC_KEY", key)
    monkeypatch.setenv("OCTANE_SYNC_DB_URL", db_url)
    store = Store.from_url(db_url)
    store.init()
    box = SecretBox([key])
    name = f"sim-{tmp_path.name[-12:]}".lower().replace("_", "-")
    store.add_connection(
        Connection(
            name=name,
            base_url=sim.base_url,
            shared_space_id=str(sim.shared_space_id),
            client_id=sim.client_id,
            client_secret_enc=box.encrypt(sim.client_secret),
            workspaces=list(sim.workspace_ids),
            entities=ENTITIES,
            options={"lag_seconds": 60},
        )
    )
    return sim, store, box, name, db_url


def run_parent(**parameters):
    from flows.parent import octane_sync

    return octane_sync(**parameters, return_state=True)


def data_requests(sim) -> list:
    return [entry for entry in sim.request_log if "/workspaces/" in entry[1]]


def stored_rows(db_url: str, table: str) -> dict[tuple[str, str], dict]:
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT * FROM {table}")).mappings().all()
    engine.dispose()
    return {(row["workspace_id"], row["id"]): dict(row) for row in rows}


def test_full_then_no_change_then_edits(env) -> None:
    sim, _store, _box, name, db_url = env

    state = run_parent(connections=[name])
    assert state.is_completed(), state.message
    rows = stored_rows(db_url, "octane_work_items")
    expected = {
        (ws, entity["id"]): entity
        for ws in sim.workspace_ids
        for entity in sim.entities(ws, "work_items")
    }
    assert set(rows) == set(expected)
    for key, entity in expected.items():
        assert rows[key]["name"] == entity["name"]
        assert rows[key]["version_stamp"] == entity["version_stamp"]
        assert json.loads(rows[key]["entity_json"])["id"] == entity["id"]
    # Three workspaces, three spellings of team and risk: one pair of canonical columns.
    for key, entity in expected.items():
        udf = entity.get("team_udf") or entity.get("owning_team_udf") or entity.get("squad_udf")
        if udf is not None:
            assert rows[key]["team"] == (udf["name"] if isinstance(udf, dict) else udf), key
    for ws in sim.workspace_ids:
        risks = {row["risk"] for (w, _), row in rows.items() if w == ws}
        assert risks - {None} == {"HIGH", "MEDIUM", "LOW"}, ws

    # No change: nothing written, one request per (workspace, entity), no sign-in (cached).
    sim.reset_request_log()
    state = run_parent(connections=[name])
    assert state.is_completed(), state.message
    requests_made = data_requests(sim)
    assert len(requests_made) == len(sim.workspace_ids) * len(ENTITIES)
    assert not [e for e in sim.request_log if "sign_in" in e[1]]
    assert stored_rows(db_url, "octane_work_items") == rows

    # Edits: exactly the edited rows are written.
    first, second = sim.workspace_ids[0], sim.workspace_ids[1]
    edited = set(sim.update(first, "work_items", 7)) | set(sim.bulk_edit(second, "work_items", 5))
    sim.advance_clock(120)
    state = run_parent(connections=[name])
    assert state.is_completed(), state.message
    after = stored_rows(db_url, "octane_work_items")
    changed = {key for key in after if after[key]["version_stamp"] != rows[key]["version_stamp"]}
    assert {entity_id for _, entity_id in changed} == edited
    assert "12 row(s) written" in state.message


def test_wrong_secret_fails_alone_then_only_failed_reruns_it(env) -> None:
    sim, store, box, name, db_url = env
    bad = Connection(
        name=f"{name}-bad",
        base_url=sim.base_url,
        shared_space_id=str(sim.shared_space_id),
        client_id=sim.client_id,
        client_secret_enc=box.encrypt("not-the-secret"),
        workspaces=[sim.workspace_ids[2]],
        entities=ENTITIES,
    )
    store.add_connection(bad)

    state = run_parent(connections=[name, bad.name])
    assert state.is_failed()
    assert f"{bad.name}/{sim.workspace_ids[2]}" in state.message
    assert f"{name}/" not in state.message
    assert stored_rows(db_url, "octane_work_items")  # the good connection loaded
    assert (bad.name, sim.workspace_ids[2]) in store.failed_workspaces()

    store.replace_secret(bad.name, box.encrypt(sim.client_secret))
    sim.reset_request_log()
    state = run_parent(connections=[name, bad.name], only_failed=True)
    assert state.is_completed(), state.message
    touched = {entry[1].split("/workspaces/")[1].split("/")[0] for entry in data_requests(sim)}
    assert touched == {sim.workspace_ids[2]}
    assert store.failed_workspaces() == []


def test_retry_of_the_parent_reruns_only_the_failed_workspace(env) -> None:
    from prefect import get_client
    from prefect.flow_engine import run_flow
    from prefect.states import Scheduled

    from flows.parent import octane_sync

    sim, store, box, name, _db_url = env
    good = store.get_connection(name)
    store.replace_secret(name, box.encrypt("wrong"))
    # One connection per workspace so one can fail alone: re-add the first two as "ok".
    store.add_connection(
        Connection(
            name=f"{name}-ok",
            base_url=good.base_url,
            shared_space_id=good.shared_space_id,
            client_id=good.client_id,
            client_secret_enc=box.encrypt(sim.client_secret),
            workspaces=sim.workspace_ids[:2],
            entities=ENTITIES,
        )
    )
    store.set_connection_enabled(name, True)
    state = run_parent(connections=[name, f"{name}-ok"])
    assert state.is_failed()
    flow_run_id = state.state_details.flow_run_id

    store.replace_secret(name, box.encrypt(sim.client_secret))
    sim.reset_request_log()
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(flow_run_id)
        client.set_flow_run_state(flow_run_id, Scheduled(), force=True)
        flow_run = client.read_flow_run(flow_run_id)
    retried = run_flow(
        octane_sync, flow_run=flow_run, parameters=flow_run.parameters, return_type="state"
    )
    assert retried.is_completed(), retried.message
    touched = {entry[1].split("/workspaces/")[1].split("/")[0] for entry in data_requests(sim)}
    assert touched == set(good.workspaces)  # the failed connection's workspaces only


def test_no_secret_in_storage_parameters_logs_or_artifacts(env) -> None:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter

    sim, _store, _box, name, _db_url = env
    state = run_parent(connections=[name])
    assert state.is_completed(), state.message
    secret = sim.client_secret
    cookies = sim.issued_session_tokens()
    assert cookies, "the simulator issued no session"

    home = Path(os.environ["PREFECT_HOME"])
    files = [path for path in home.rglob("*") if path.is_file()]
    assert any("storage" in path.parts for path in files), "no persisted result to inspect"
    for path in files:
        if path.suffix in {".db", ".db-wal", ".db-shm"}:
            continue
        blob = path.read_bytes()
        assert secret.encode() not in blob, path
        for cookie in cookies:
            assert cookie.encode() not in blob, path

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs()
        logs = client.read_logs(LogFilter())
        artifacts = client.read_artifacts()
        parent = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
            )
        )
    assert parent
    # The run's artifacts: a finished progress bar and a table row per stream.
    mine = [a for a in artifacts if a.flow_run_id == state.state_details.flow_run_id]
    progress = [a for a in mine if a.type == "progress"]
    tables = [a for a in mine if a.type == "table" and a.key == "octane-sync-summary"]
    assert [a.data for a in progress] == [100.0]
    assert len(tables) == 1
    table = tables[0].data if isinstance(tables[0].data, list) else json.loads(tables[0].data)
    assert {(row["workspace"], row["entity"], row["state"]) for row in table} == {
        (ws, entity, "completed") for ws in sim.workspace_ids for entity in ENTITIES
    }
    texts = [json.dumps(run.parameters, default=str) for run in runs]
    texts += [log.message for log in logs]
    texts += [json.dumps(artifact.data, default=str) for artifact in artifacts]
    assert texts
    for text in texts:
        assert secret not in text
        for cookie in cookies:
            assert cookie not in text


def test_reconcile_deletes_marks_what_octane_no_longer_has(env) -> None:
    sim, _store, _box, name, db_url = env
    assert run_parent(connections=[name]).is_completed()
    ws = sim.workspace_ids[0]
    gone = [entity["id"] for entity in sim.entities(ws, "work_items")[:3]]
    sim.delete(ws, "work_items", gone)

    state = run_parent(connections=[name], reconcile_deletes=True)
    assert state.is_completed(), state.message
    rows = stored_rows(db_url, "octane_work_items")
    deleted = {key for key, row in rows.items() if row["deleted_at"] is not None}
    assert deleted == {(ws, entity_id) for entity_id in gone}
