"""Field metadata over real HTTP: per-workspace fields and UDFs, its query, and strict `fields=`."""

from __future__ import annotations

import socket

import pytest
import requests
import typer
from typer.testing import CliRunner

from octane_sync.cli import simulator as simulator_cli
from octane_sync.models import entity_type
from octane_sync.simulator import OctaneSimulator
from octane_sync.simulator.workspace import Workspace
from tests.plugins.simulator import COLLECTIONS, sign_in

# The UDFs each workspace position seeds (data.udf_values), cycling every 3.
UDFS = [
    {"team_udf", "risk_udf", "customer_impact_udf"},
    {"owning_team_udf", "risk_udf", "customer_impact_udf"},
    {"squad_udf", "risk_level_udf"},
    {"team_udf", "risk_udf", "customer_impact_udf"},
]
ALL_UDFS = set().union(*UDFS)


def space_url(sim: OctaneSimulator, workspace: str, path: str) -> str:
    return f"{sim.base_url}/api/shared_spaces/{sim.shared_space_id}/workspaces/{workspace}/{path}"


def metadata(
    sim: OctaneSimulator, http: requests.Session, workspace: str, query: str | None = None
) -> requests.Response:
    params = {"query": query} if query is not None else {}
    return http.get(space_url(sim, workspace, "metadata/fields"), params=params, timeout=10)


def names_of(response: requests.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {row["name"] for row in response.json()["data"]}


def type_query(name: str) -> str:
    return f"\"entity_name EQ '{name}'\""


@pytest.fixture
def sim4(make_simulator) -> OctaneSimulator:
    """Four workspaces, so the UDF naming cycles back to the first workspace's."""
    return make_simulator(workspaces=4, items=200, seed=11)


@pytest.fixture
def http4(sim4) -> requests.Session:
    with requests.Session() as session:
        sign_in(sim4, session)
        yield session


# -- the catalog agrees with the data ------------------------------------------------------------


@pytest.mark.parametrize("position", range(4))
@pytest.mark.parametrize("collection", COLLECTIONS)
def test_metadata_lists_exactly_the_fields_the_entities_have(
    sim4, http4, collection: str, position: int
) -> None:
    ws = sim4.workspace_ids[position]
    in_data = set().union(*(row.keys() for row in sim4.entities(ws, collection)))
    listed = names_of(metadata(sim4, http4, ws, type_query(entity_type(collection))))
    assert listed == in_data


@pytest.mark.parametrize("position", range(4))
def test_each_workspace_lists_its_own_udfs_and_no_other(sim4, http4, position: int) -> None:
    ws = sim4.workspace_ids[position]
    for type_name in ("work_item", "story", "defect"):
        listed = names_of(metadata(sim4, http4, ws, type_query(type_name)))
        assert listed & ALL_UDFS == UDFS[position], type_name


def test_severity_belongs_to_defects_and_the_aggregate_only(simulator, sim_http) -> None:
    ws = simulator.workspace_ids[0]
    assert "severity" in names_of(metadata(simulator, sim_http, ws, type_query("defect")))
    assert "severity" in names_of(metadata(simulator, sim_http, ws, type_query("work_item")))
    assert "severity" not in names_of(metadata(simulator, sim_http, ws, type_query("story")))


def test_simulator_collections_agree_with_models_entity_type() -> None:
    for collection in COLLECTIONS:
        assert Workspace.entity_type(collection) == entity_type(collection)


# -- the response and its query ------------------------------------------------------------------


def test_field_records_look_like_octanes(simulator, sim_http) -> None:
    ws = simulator.workspace_ids[2]  # the workspace whose squad_udf is a reference
    body = metadata(simulator, sim_http, ws, type_query("story")).json()
    assert body["total_count"] == len(body["data"]) > 20
    by_name = {row["name"]: row for row in body["data"]}
    assert all(row["type"] == "field_metadata" for row in body["data"])
    assert all(row["entity_name"] == "story" for row in body["data"])
    assert by_name["creation_time"]["field_type"] == "date_time"
    assert by_name["creation_time"]["is_user_defined"] is False
    assert by_name["squad_udf"]["is_user_defined"] is True
    assert by_name["squad_udf"]["field_type"] == "reference"
    assert by_name["user_tags"]["field_type_data"] == {
        "targets": [{"type": "user_tag"}],
        "multiple": True,
    }
    assert by_name["risk_level_udf"]["label"] == "Risk level"


def test_without_a_query_every_entity_type_is_listed(simulator, sim_http) -> None:
    rows = metadata(simulator, sim_http, simulator.workspace_ids[0]).json()["data"]
    assert {row["entity_name"] for row in rows} >= {
        "work_item",
        "defect",
        "release",
        "workspace_user",
        "run",
    }


def test_and_narrows_the_list(simulator, sim_http) -> None:
    query = "\"entity_name EQ 'defect'; is_user_defined EQ true\""
    listed = names_of(metadata(simulator, sim_http, simulator.workspace_ids[1], query))
    assert listed == UDFS[1]


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("\"entity_name EQ 'defect' || entity_name EQ 'story'\"", id="or"),
        pytest.param("\"(entity_name EQ 'defect' || name EQ 'id'); name EQ 'x'\"", id="nested-or"),
        pytest.param('"entity_name EQ"', id="syntax"),
        pytest.param("entity_name EQ 'defect'", id="unquoted"),
    ],
)
def test_unsupported_queries_answer_400(simulator, sim_http, query: str) -> None:
    response = metadata(simulator, sim_http, simulator.workspace_ids[0], query)
    assert response.status_code == 400
    assert response.json()["error_code"] == "platform.query_syntax_error"


def test_an_unknown_entity_type_lists_nothing(simulator, sim_http) -> None:
    response = metadata(simulator, sim_http, simulator.workspace_ids[0], type_query("defects"))
    assert response.status_code == 200
    assert response.json() == {"total_count": 0, "data": [], "exceeds_total_count": False}


def test_an_unknown_workspace_answers_404(simulator, sim_http) -> None:
    response = metadata(simulator, sim_http, "999999")
    assert response.status_code == 404
    assert response.json()["error_code"] == "platform.entity_not_found"


def test_metadata_needs_a_session(simulator) -> None:
    url = space_url(simulator, simulator.workspace_ids[0], "metadata/fields")
    response = requests.get(url, timeout=10)
    assert response.status_code == 401


# -- fields added at run time --------------------------------------------------------------------


def test_add_udf_on_work_items_reaches_every_work_item_type(simulator, sim_http) -> None:
    ws, other = simulator.workspace_ids[:2]
    simulator.add_udf(ws, "effort_udf", values=[1.5, 2.5])
    for type_name in ("work_item", "epic", "story", "defect"):
        response = metadata(simulator, sim_http, ws, type_query(type_name))
        row = {r["name"]: r for r in response.json()["data"]}["effort_udf"]
        assert row["field_type"] == "float"
        assert row["is_user_defined"] is True
    assert "effort_udf" not in names_of(metadata(simulator, sim_http, other, type_query("story")))
    assert "effort_udf" not in simulator.field_names(other, "work_item")
    assert "effort_udf" in simulator.field_names(ws, "work_item")


def test_add_udf_on_a_view_reaches_that_subtype_and_the_aggregate(simulator, sim_http) -> None:
    ws = simulator.workspace_ids[0]
    simulator.add_udf(
        ws, "root_cause_udf", value_fn=lambda entity: entity["id"] == "0", collection="defects"
    )
    assert "root_cause_udf" in simulator.field_names(ws, "defect")
    assert "root_cause_udf" in simulator.field_names(ws, "work_item")
    assert "root_cause_udf" not in simulator.field_names(ws, "story")
    listed = {r["name"]: r for r in metadata(simulator, sim_http, ws).json()["data"]}
    assert listed["root_cause_udf"]["field_type"] == "boolean"


def test_a_field_given_to_create_is_listed(simulator) -> None:
    ws = simulator.workspace_ids[1]
    simulator.create(ws, "runs", fields={"build_udf": 42})
    assert "build_udf" in simulator.field_names(ws, "run")
    assert "build_udf" not in simulator.field_names(ws, "test")


# -- strict fields= ------------------------------------------------------------------------------


@pytest.fixture
def strict(make_simulator) -> OctaneSimulator:
    return make_simulator(workspaces=3, items=50, strict_fields=True)


@pytest.fixture
def strict_http(strict) -> requests.Session:
    with requests.Session() as session:
        sign_in(strict, session)
        yield session


def test_strict_server_refuses_another_workspaces_udf(strict, strict_http) -> None:
    ws = strict.workspace_ids[0]
    url = space_url(strict, ws, "defects")
    response = strict_http.get(url, params={"fields": "name,squad_udf,team_udf"}, timeout=10)
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "platform.unknown_field"
    assert body["properties"]["field_name"] == "squad_udf"
    assert body["properties"]["entity_name"] == "defect"
    assert body["correlation_id"]


def test_strict_server_refuses_an_unknown_field_on_one_entity(strict, strict_http) -> None:
    ws = strict.workspace_ids[0]
    entity_id = strict.entities(ws, "stories")[0]["id"]
    url = space_url(strict, ws, f"stories/{entity_id}")
    response = strict_http.get(url, params={"fields": "name,severity"}, timeout=10)
    assert response.status_code == 400
    assert response.json()["properties"]["field_name"] == "severity"
    ok = strict_http.get(url, params={"fields": "name,owner{full_name}"}, timeout=10)
    assert ok.status_code == 200
    assert ok.json()["id"] == entity_id


def test_strict_server_serves_the_fields_the_workspace_has(strict, strict_http) -> None:
    ws = strict.workspace_ids[2]
    fields = "name,squad_udf,risk_level_udf,last_modified"
    response = strict_http.get(
        space_url(strict, ws, "work_items"), params={"fields": fields, "limit": 5}, timeout=10
    )
    assert response.status_code == 200, response.text
    assert all("squad_udf" in row for row in response.json()["data"])


def test_strict_server_accepts_a_udf_once_added(strict, strict_http) -> None:
    ws = strict.workspace_ids[0]
    url = space_url(strict, ws, "work_items")
    params = {"fields": "name,effort_udf", "limit": 1}
    assert strict_http.get(url, params=params, timeout=10).status_code == 400
    strict.add_udf(ws, "effort_udf", values=[3])
    response = strict_http.get(url, params=params, timeout=10)
    assert response.status_code == 200
    assert response.json()["data"][0]["effort_udf"] == 3


def test_lenient_server_leaves_unknown_fields_out(simulator, sim_http) -> None:
    ws = simulator.workspace_ids[0]
    response = sim_http.get(
        space_url(simulator, ws, "defects"),
        params={"fields": "name,squad_udf", "limit": 3},
        timeout=10,
    )
    assert response.status_code == 200
    rows = response.json()["data"]
    assert rows
    assert all("squad_udf" not in row and "name" in row for row in rows)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("flag", "status"),
    [
        pytest.param(["--strict-fields"], 400, id="strict"),
        pytest.param([], 200, id="default-lenient"),
    ],
)
def test_cli_strict_fields_flag(monkeypatch, flag: list[str], status: int) -> None:
    port = _free_port()
    seen: dict[str, object] = {}

    def instead_of_waiting() -> None:
        base = f"http://127.0.0.1:{port}"
        with requests.Session() as http:
            http.post(
                f"{base}/authentication/sign_in",
                json={"client_id": "sim-client", "client_secret": "sim-secret"},
                timeout=10,
            ).raise_for_status()
            url = f"{base}/api/shared_spaces/1001/workspaces/1002/defects"
            seen["status"] = http.get(url, params={"fields": "nope_udf"}, timeout=10).status_code
            seen["info"] = http.get(f"{base}/__sim__/info", timeout=10).json()["strict_fields"]

    monkeypatch.setattr(simulator_cli, "wait_until_interrupted", instead_of_waiting)
    app = typer.Typer()
    simulator_cli.register(app)
    result = CliRunner().invoke(app, ["--port", str(port), "--items", "20", *flag])
    assert result.exit_code == 0, result.output
    assert seen == {"status": status, "info": bool(flag)}
    assert ("strict" in result.output) is bool(flag)
