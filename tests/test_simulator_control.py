"""The control API, in-process and over `/__sim__/`: edits, clock, UDFs, the request log."""

from __future__ import annotations

import pytest
import requests

from octane_sync.models import id_sort_key, parse_octane_time
from octane_sync.simulator import OctaneSimulator, RemoteSimulator


def _by_id(sim, ws, collection="work_items") -> dict[str, dict]:
    return {e["id"]: e for e in sim.entities(ws, collection)}


def test_update_stamps_now_and_bumps_version(simulator) -> None:
    ws = simulator.workspace_ids[0]
    before = _by_id(simulator, ws)
    simulator.advance_clock(5)
    ids = simulator.update(ws, "work_items", 7)
    after = _by_id(simulator, ws)
    assert len(set(ids)) == 7
    now = simulator.now()
    for entity_id in ids:
        assert (
            abs((parse_octane_time(after[entity_id]["last_modified"]) - now).total_seconds()) <= 1
        )
        assert after[entity_id]["version_stamp"] == before[entity_id]["version_stamp"] + 1
    untouched = set(before) - set(ids)
    assert all(after[i] == before[i] for i in untouched)
    newest = [e["id"] for e in simulator.entities(ws, "work_items")[-7:]]
    assert sorted(newest, key=id_sort_key) == sorted(ids, key=id_sort_key)


def test_bulk_edit_gives_m_entities_one_second_and_updates_views(simulator) -> None:
    ws = simulator.workspace_ids[1]
    ids = simulator.bulk_edit(ws, "defects", 12)
    after = _by_id(simulator, ws)
    assert len({after[i]["last_modified"] for i in ids}) == 1
    assert len({after[i]["priority"]["id"] for i in ids}) == 1
    defects = _by_id(simulator, ws, "defects")
    assert all(defects[i]["last_modified"] == after[i]["last_modified"] for i in ids)


def test_create_and_delete(simulator, sim_http) -> None:
    ws = simulator.workspace_ids[0]
    ids = simulator.create(ws, "stories", 2, fields={"name": "Brand new", "risk_udf": "Low"})
    all_ids = [
        e["id"] for w in simulator.workspace_ids for e in simulator.entities(w, "work_items")
    ]
    assert len(all_ids) == len(set(all_ids)), "ids are unique across workspaces"
    stories = _by_id(simulator, ws, "stories")
    assert [stories[i]["name"] for i in ids] == ["Brand new", "Brand new"]
    assert stories[ids[0]]["risk_udf"] == "Low"
    assert stories[ids[0]]["creation_time"] == stories[ids[0]]["last_modified"]
    assert simulator.delete(ws, "work_items", [ids[0], "424242"]) == 1
    base = f"{simulator.base_url}/api/shared_spaces/1001/workspaces/{ws}"
    assert sim_http.get(f"{base}/stories/{ids[0]}", timeout=10).status_code == 404
    assert sim_http.get(f"{base}/work_items/{ids[0]}", timeout=10).status_code == 404
    assert sim_http.get(f"{base}/stories/{ids[1]}", timeout=10).status_code == 200
    release = simulator.create(ws, "releases")[0]
    assert _by_id(simulator, ws, "releases")[release]["type"] == "release"


def test_add_udf_changes_fields_but_not_last_modified(simulator, sim_http) -> None:
    ws = simulator.workspace_ids[0]
    before = _by_id(simulator, ws)
    simulator.add_udf(ws, "region_udf", values=["EMEA", "APAC"])
    simulator.add_udf(ws, "size_udf", value_fn=lambda e: len(e["name"]))
    after = _by_id(simulator, ws)
    assert {e["region_udf"] for e in after.values()} == {"EMEA", "APAC"}
    assert all(e["size_udf"] == len(e["name"]) for e in after.values())
    assert all(after[i]["last_modified"] == before[i]["last_modified"] for i in before)
    url = f"{simulator.base_url}/api/shared_spaces/1001/workspaces/{ws}/defects"
    rows = sim_http.get(url, params={"fields": "region_udf", "limit": 5}, timeout=10).json()
    assert all(row["region_udf"] in ("EMEA", "APAC") for row in rows["data"])
    with pytest.raises(ValueError, match="_udf"):
        simulator.add_udf(ws, "region")


def test_advance_clock_moves_now(simulator) -> None:
    before = simulator.now()
    after = simulator.advance_clock(86400)
    assert 86399 <= (after - before).total_seconds() <= 86401


def test_same_seed_same_data_and_different_seed_different_data() -> None:
    a = OctaneSimulator(workspaces=2, items=50, seed=5)
    b = OctaneSimulator(workspaces=2, items=50, seed=5)
    c = OctaneSimulator(workspaces=2, items=50, seed=6)
    assert a.entities("1003", "work_items") == b.entities("1003", "work_items")
    assert a.entities("1003", "work_items") != c.entities("1003", "work_items")
    assert a.workspace_ids == ["1002", "1003"]


def test_request_log_counts_requests_and_resets(simulator, sim_http) -> None:
    ws = simulator.workspace_ids[0]
    simulator.reset_request_log()
    url = f"{simulator.base_url}/api/shared_spaces/1001/workspaces/{ws}/runs"
    sim_http.get(url, params={"limit": 2, "order_by": "id"}, timeout=10)
    assert simulator.request_log == [
        (
            "GET",
            f"/api/shared_spaces/1001/workspaces/{ws}/runs",
            {"limit": "2", "order_by": "id"},
            200,
        )
    ]
    simulator.reset_request_log()
    assert simulator.request_log == []


def test_remote_control_over_http(simulator, sim_http) -> None:
    ws = simulator.workspace_ids[2]
    with RemoteSimulator(simulator.base_url) as remote:
        info = remote.info()
        assert info["workspace_ids"] == simulator.workspace_ids
        assert "client_secret" not in info
        assert len(remote.update(ws, "stories", 3)) == 3
        assert len(remote.bulk_edit(ws, "work_items", 4)) == 4
        created = remote.create(ws, "defects", 2, fields={"name": "via http"})
        assert {_by_id(simulator, ws)[i]["name"] for i in created} == {"via http"}
        assert remote.delete(ws, "defects", created) == 2
        remote.add_udf(ws, "remote_udf", values=[1])
        assert {e["remote_udf"] for e in simulator.entities(ws, "work_items")} == {1}
        before = simulator.now()
        remote.advance_clock(600)
        assert (simulator.now() - before).total_seconds() >= 599
        remote.reset_request_log()
        remote.inject_fault("rate_limit", count=1, retry_after=2)
        url = f"{simulator.base_url}/api/shared_spaces/1001/workspaces/{ws}/teams"
        assert sim_http.get(url, timeout=10).status_code == 429
        assert [entry[3] for entry in remote.request_log] == [429]
        remote.inject_fault("server_error", count=3)
        remote.clear_faults()
        assert sim_http.get(url, timeout=10).status_code == 200
        with pytest.raises(RuntimeError, match="unknown"):
            remote.update(ws, "no_such_collection", 1)
        with pytest.raises(RuntimeError, match="unknown fault kind"):
            remote.inject_fault("teapot")


def test_control_api_refuses_bad_requests(simulator) -> None:
    base = f"{simulator.base_url}/__sim__"
    assert requests.post(f"{base}/update", json={"n": 1}, timeout=10).status_code == 400
    assert requests.post(f"{base}/update", data=b"[1", timeout=10).status_code == 400
    assert requests.get(f"{base}/nothing", timeout=10).status_code == 404


def test_stop_is_idempotent_and_base_url_needs_a_running_server() -> None:
    sim = OctaneSimulator(workspaces=1, items=5)
    with pytest.raises(RuntimeError, match="not running"):
        _ = sim.base_url
    with sim:
        url = sim.base_url
        assert requests.get(f"{url}/__sim__/info", timeout=10).status_code == 200
    sim.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/__sim__/info", timeout=2)
