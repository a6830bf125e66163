"""Workspace collections over real HTTP: fields, every query operator, ordering, paging, errors."""

from __future__ import annotations

import operator
import random
from email.utils import parsedate_to_datetime

import pytest

from octane_sync.models import id_sort_key, parse_octane_time
from tests.plugins.simulator import COLLECTIONS


@pytest.fixture
def get(simulator, sim_http):
    """GET a collection of the first workspace; returns the response."""

    def fetch(collection: str = "work_items", workspace: str | None = None, **params):
        workspace = workspace or simulator.workspace_ids[0]
        url = (
            f"{simulator.base_url}/api/shared_spaces/{simulator.shared_space_id}"
            f"/workspaces/{workspace}/{collection}"
        )
        return sim_http.get(url, params=params, timeout=10)

    return fetch


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [row["id"] for row in response.json()["data"]]


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_every_collection_answers_a_page(get, simulator, collection) -> None:
    response = get(collection, limit=5, order_by="id")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    stored = simulator.entities(simulator.workspace_ids[0], collection)
    assert body["total_count"] == len(stored) > 0
    assert body["exceeds_total_count"] is False
    assert len(body["data"]) == min(5, len(stored))
    for row in body["data"]:
        assert {"id", "type", "name", "last_modified", "version_stamp"} <= set(row)


def test_views_serve_the_same_entities_with_the_subtype_as_type(get, simulator) -> None:
    ws = simulator.workspace_ids[0]
    all_items = {e["id"]: e for e in simulator.entities(ws, "work_items")}
    defects = get("defects", limit=1000).json()["data"]
    assert defects
    assert len(defects) == sum(1 for e in all_items.values() if e["subtype"] == "defect")
    for row in defects:
        assert row["type"] == "defect"
        assert all_items[row["id"]]["type"] == "work_item"
        assert row["last_modified"] == all_items[row["id"]]["last_modified"]


def test_fields_limit_the_row_and_udfs_come_only_when_asked(get, simulator) -> None:
    plain = get(limit=3).json()["data"]
    assert all(not any(k.endswith("_udf") for k in row) for row in plain)
    asked = get(limit=3, fields="name,risk_udf,team_udf").json()["data"]
    assert all(set(row) == {"id", "type", "name", "risk_udf", "team_udf"} for row in asked)
    third = get("work_items", simulator.workspace_ids[2], limit=50, fields="squad_udf,team_udf")
    rows = third.json()["data"]
    assert all("team_udf" not in row for row in rows)
    assert any((row.get("squad_udf") or {}).get("type") == "list_node" for row in rows)


def test_reference_sub_fields_are_resolved(get) -> None:
    rows = get(limit=50, fields="owner{full_name},phase").json()["data"]
    owners = [row["owner"] for row in rows if row["owner"]]
    assert owners
    assert all(set(owner) == {"type", "id", "name", "full_name"} for owner in owners)
    assert all(owner["full_name"] for owner in owners)


def test_workspaces_fill_their_udfs_differently(simulator) -> None:
    first, second, third = (simulator.entities(ws, "work_items") for ws in simulator.workspace_ids)
    assert {e["risk_udf"] for e in first} - {None} <= {"High", "Medium", "Low"}
    assert {e["risk_udf"] for e in second} - {None} <= {"1-High", "2-Medium", "3-Low"}
    assert {e["customer_impact_udf"] for e in second} - {None} <= {"Yes", "No"}
    assert "owning_team_udf" in second[0]
    assert "risk_level_udf" in third[0]
    assert "customer_impact_udf" not in third[0]


def _points(op: str, n: int):
    compare = {"==": operator.eq, "<": operator.lt, ">": operator.gt}
    compare |= {"<=": operator.le, ">=": operator.ge}
    return lambda r: r["story_points"] is not None and compare[op](r["story_points"], n)


def _matches(simulator, check) -> list[str]:
    rows = simulator.entities(simulator.workspace_ids[0], "work_items")
    return sorted((r["id"] for r in rows if check(r)), key=id_sort_key)


@pytest.mark.parametrize(
    ("query", "check"),
    [
        pytest.param("story_points EQ 5", _points("==", 5), id="EQ"),
        pytest.param("story_points = 5", _points("==", 5), id="="),
        pytest.param("story_points LT 3", _points("<", 3), id="LT"),
        pytest.param("story_points < 3", _points("<", 3), id="<"),
        pytest.param("story_points GT 9", _points(">", 9), id="GT"),
        pytest.param("story_points > 9", _points(">", 9), id=">"),
        pytest.param("story_points LE 2", _points("<=", 2), id="LE"),
        pytest.param("story_points <= 2", _points("<=", 2), id="<="),
        pytest.param("story_points GE 11", _points(">=", 11), id="GE"),
        pytest.param("story_points >= 11", _points(">=", 11), id=">="),
        pytest.param(
            "subtype IN 'epic','feature'", lambda r: r["subtype"] in ("epic", "feature"), id="IN"
        ),
        pytest.param(
            "story_points BTW 2...4",
            lambda r: r["story_points"] is not None and 2 <= r["story_points"] <= 4,
            id="BTW",
        ),
        pytest.param("owner EQ null", lambda r: r["owner"] is None, id="null"),
        pytest.param(
            "subtype EQ 'defect' ; blocked EQ true",
            lambda r: r["subtype"] == "defect" and r["blocked"],
            id="AND",
        ),
        pytest.param(
            "subtype EQ 'epic' || subtype EQ 'feature'",
            lambda r: r["subtype"] in ("epic", "feature"),
            id="OR",
        ),
        pytest.param("!subtype EQ 'story'", lambda r: r["subtype"] != "story", id="NOT"),
        pytest.param(
            "!(subtype EQ 'story' || subtype EQ 'defect') ; story_points GT 0",
            lambda r: r["subtype"] not in ("story", "defect") and _points(">", 0)(r),
            id="parentheses",
        ),
        pytest.param(
            "release EQ {id EQ 1003}",
            lambda r: (r["release"] or {}).get("id") == "1003",
            id="reference",
        ),
        pytest.param(
            "phase EQ {id EQ ^phase.defect.new^}",
            lambda r: r["phase"]["id"] == "phase.defect.new",
            id="reference-logical-id",
        ),
        pytest.param(
            "user_tags EQ {id EQ 9001}",
            lambda r: any(t["id"] == "9001" for t in r["user_tags"]["data"]),
            id="multi-reference",
        ),
        pytest.param(
            "last_modified GE ^2024-07-01T00:00:00Z^",
            lambda r: r["last_modified"] >= "2024-07-01T00:00:00Z",
            id="date",
        ),
        pytest.param("risk_udf EQ 'High'", lambda r: r["risk_udf"] == "High", id="udf"),
    ],
)
def test_each_query_operator(get, simulator, query, check) -> None:
    expected = _matches(simulator, check)
    assert expected, "the seed should give this query some matches"
    response = get(query=f'"{query}"', order_by="id", limit=1000, fields="id")
    assert _ids(response) == expected
    assert response.json()["total_count"] == len(expected)


def test_string_literals_with_escapes_match_exactly(get, simulator) -> None:
    ws = simulator.workspace_ids[0]
    target = simulator.entities(ws, "work_items")[0]["id"]
    hostile = 'it\'s (really) "odd" \\ ; || ^x^'
    simulator.create(ws, "work_items", fields={"name": hostile})
    escaped = hostile.replace("\\", "\\\\").replace("'", "\\'").replace('"', '\\"')
    escaped = escaped.replace("(", "\\(").replace(")", "\\)")
    rows = get(query=f"\"name EQ '{escaped}'\"", fields="name").json()["data"]
    assert [row["name"] for row in rows] == [hostile]
    assert target not in [row["id"] for row in rows]


def test_ordering_by_several_fields_with_ties_and_numeric_ids(get, simulator) -> None:
    rows = get(
        limit=1000, order_by="-story_points,last_modified,id", fields="story_points,last_modified"
    ).json()["data"]
    keys = [
        (
            -(r["story_points"] if r["story_points"] is not None else -1),
            r["last_modified"],
            id_sort_key(r["id"]),
        )
        for r in rows
    ]
    assert keys == sorted(keys)
    by_id = _ids(get(limit=1000, order_by="id", fields="id"))
    assert by_id == sorted(by_id, key=int)
    assert _ids(get(limit=1000, order_by="-id", fields="id")) == by_id[::-1]


def test_keyset_paging_walks_through_a_bulk_edit_bigger_than_a_page(get, simulator) -> None:
    ws = simulator.workspace_ids[0]
    bulk = set(simulator.bulk_edit(ws, "work_items", 25))
    expected = [(e["last_modified"], e["id"]) for e in simulator.entities(ws, "work_items")]
    until = simulator.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    seen: list[tuple[str, str]] = []
    query = f"last_modified LE ^{until}^"
    while True:
        page = get(query=f'"{query}"', order_by="last_modified,id", limit=7, fields="last_modified")
        rows = page.json()["data"]
        seen += [(r["last_modified"], r["id"]) for r in rows]
        if len(rows) < 7:
            break
        t, i = seen[-1]
        after = f"(last_modified GT ^{t}^ || (last_modified EQ ^{t}^ ; id GT {i}))"
        query = f"{after} ; last_modified LE ^{until}^"
    assert seen == expected
    assert bulk <= {i for _, i in seen}


def test_offset_paging_and_total_count(get) -> None:
    full = _ids(get(limit=1000, order_by="id", fields="id"))
    pages = [
        _ids(get(limit=30, offset=offset, order_by="id", fields="id"))
        for offset in range(0, 210, 30)
    ]
    assert [i for page in pages for i in page] == full
    assert get(limit=1, offset=10_000, order_by="id").json() == {
        "total_count": len(full),
        "data": [],
        "exceeds_total_count": False,
    }


def test_default_page_size_and_cap_on_total_count(make_simulator, sim_http) -> None:
    sim = make_simulator(workspaces=1, items=300, total_count_cap=100, default_page_size=40)
    from tests.plugins.simulator import sign_in

    sign_in(sim, sim_http)
    url = f"{sim.base_url}/api/shared_spaces/1001/workspaces/{sim.workspace_ids[0]}/work_items"
    body = sim_http.get(url, timeout=10).json()
    assert len(body["data"]) == 40
    assert body["total_count"] == 100
    assert body["exceeds_total_count"] is True


@pytest.mark.parametrize(
    ("params", "code"),
    [
        pytest.param({"limit": 0}, "platform.limit_out_of_range", id="limit-0"),
        pytest.param({"limit": 1001}, "platform.limit_out_of_range", id="limit-above-max"),
        pytest.param({"limit": "ten"}, "platform.invalid_limit", id="limit-not-a-number"),
        pytest.param({"offset": -1}, "platform.invalid_offset", id="negative-offset"),
        pytest.param({"query": "id EQ 1"}, "platform.query_syntax_error", id="query-unquoted"),
        pytest.param({"query": '"id EQ"'}, "platform.query_syntax_error", id="query-no-value"),
        pytest.param({"query": '"name EQ \'x"'}, "platform.query_syntax_error", id="unterminated"),
        pytest.param({"query": '"(id EQ 1"'}, "platform.query_syntax_error", id="unbalanced"),
        pytest.param({"query": '"id ~ 1"'}, "platform.query_syntax_error", id="bad-character"),
        pytest.param(
            {"query": "\"last_modified GT 'soon'\""},
            "platform.query_syntax_error",
            id="not-a-date",
        ),
        pytest.param({"order_by": "name;drop"}, "platform.invalid_order_by", id="bad-order"),
        pytest.param({"fields": "name,{x}"}, "platform.invalid_fields", id="bad-fields"),
    ],
)
def test_bad_parameters_get_400_with_an_octane_body(get, params, code) -> None:
    response = get(**params)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["error_code"] == code
    assert {"correlation_id", "description", "description_translated", "properties"} <= set(body)


def test_limit_error_names_the_maximum(get) -> None:
    properties = get(limit=5000).json()["properties"]
    assert properties == {"limit": 5000, "max_page_size": 1000}


def test_one_entity_by_id_and_404s(simulator, sim_http) -> None:
    ws = simulator.workspace_ids[0]
    entity = simulator.entities(ws, "defects")[0]
    base = f"{simulator.base_url}/api/shared_spaces/1001/workspaces/{ws}"
    one = sim_http.get(f"{base}/defects/{entity['id']}", timeout=10)
    assert one.status_code == 200
    assert one.json()["name"] == entity["name"]
    assert one.json()["type"] == "defect"
    missing = sim_http.get(f"{base}/defects/999999", timeout=10)
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "platform.entity_not_found"
    story = simulator.entities(ws, "stories")[0]["id"]
    assert sim_http.get(f"{base}/defects/{story}", timeout=10).status_code == 404
    assert sim_http.get(f"{base}/no_such_things", timeout=10).status_code == 404
    other_space = f"{simulator.base_url}/api/shared_spaces/9/workspaces/{ws}/defects"
    assert sim_http.get(other_space, timeout=10).status_code == 404
    assert sim_http.get(f"{base.rsplit('/', 1)[0]}/77/defects", timeout=10).status_code == 404
    assert sim_http.post(f"{base}/defects", json={}, timeout=10).status_code == 405


def test_date_header_follows_the_simulated_clock(simulator, get) -> None:
    before = parsedate_to_datetime(get(limit=1).headers["Date"])
    simulator.advance_clock(3600)
    after = parsedate_to_datetime(get(limit=1).headers["Date"])
    assert 3590 <= (after - before).total_seconds() <= 3700


def test_seeded_data_looks_like_octane(simulator) -> None:
    items = simulator.entities(simulator.workspace_ids[0], "work_items")
    seconds: dict[str, int] = {}
    for item in items:
        assert item["id"].isdigit()
        assert parse_octane_time(item["last_modified"]).year == 2024
        assert item["creation_time"] <= item["last_modified"]
        seconds[item["last_modified"]] = seconds.get(item["last_modified"], 0) + 1
    assert max(seconds.values()) >= 5, "a bulk edit shares one second"
    assert {i["subtype"] for i in items} == {"epic", "feature", "story", "defect", "quality_story"}
    assert any(i["owner"] is None for i in items)
    assert any(not i["description"].isascii() for i in items)
    assert all(isinstance(i["version_stamp"], int) for i in items)
    assert all(set(i["user_tags"]) == {"total_count", "data"} for i in items)
    defects = [i for i in items if i["subtype"] == "defect"]
    assert all(d["severity"]["id"].startswith("list_node.severity.") for d in defects)


def test_mutated_queries_get_400_or_200_never_500(get) -> None:
    rng = random.Random(11)
    valid = (
        "(last_modified GT ^2024-05-01T00:00:00Z^ || (last_modified EQ ^2024-05-01T00:00:00Z^"
        " ; id GT 1005)) ; name EQ 'a\\'b' ; release EQ {id IN 1,2} ; !story_points BTW 1...3"
    )
    alphabet = "()[]{};|!^'\\\",.= <>EQGTINnull0123456789abc"
    statuses = set()
    for _ in range(150):
        chars = list(valid)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(chars))
            if rng.random() < 0.5:
                del chars[at]
            else:
                chars.insert(at, rng.choice(alphabet))
        text = "".join(chars)
        response = get(query=f'"{text}"', limit=1, fields="id")
        assert response.status_code in (200, 400), (text, response.text)
        statuses.add(response.status_code)
    assert statuses == {200, 400}
