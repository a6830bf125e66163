"""OctaneClient against the simulator over real HTTP: paging, edits, sessions, faults."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from octane_sync.client import ALWAYS_FIELDS, OctaneClient
from octane_sync.errors import AuthenticationError, OctaneRequestError, TransientError
from octane_sync.models import Watermark, entity_type, parse_octane_time
from octane_sync.query import field
from octane_sync.retry import RetryPolicy
from octane_sync.simulator import OctaneSimulator

FAST = RetryPolicy(max_attempts=5, backoff=0.01, max_backoff=0.05, max_total=10.0)


def new_client(sim: OctaneSimulator, **kwargs: object) -> OctaneClient:
    kwargs.setdefault("retry", FAST)
    return OctaneClient(
        sim.base_url,
        sim.shared_space_id,
        sim.client_id,
        sim.client_secret,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def client(simulator: OctaneSimulator) -> Iterator[OctaneClient]:
    with new_client(simulator) as octane:
        yield octane


def flatten(pages: Iterator[list[dict]]) -> list[dict]:
    return [row for page in pages for row in page]


def sign_ins(sim: OctaneSimulator) -> int:
    return sum(1 for entry in sim.request_log if entry.path.endswith("/authentication/sign_in"))


def collection_requests(sim: OctaneSimulator, collection: str) -> int:
    return sum(1 for entry in sim.request_log if entry.path.endswith(f"/{collection}"))


def key(row: dict) -> tuple:
    return Watermark.of(row).key


# -- reading ----------------------------------------------------------------------------------


def test_nothing_is_sent_before_the_first_call(simulator: OctaneSimulator) -> None:
    octane = new_client(simulator)
    assert simulator.request_log == []
    assert octane.request_count == 0


def test_list_workspaces_reads_every_page(make_simulator) -> None:
    sim = make_simulator(workspaces=5, items=5)
    with new_client(sim, page_size=2) as octane:
        workspaces = octane.list_workspaces()
    assert [ws["id"] for ws in workspaces] == sim.workspace_ids
    assert all(ws["name"] for ws in workspaces)
    assert collection_requests(sim, "workspaces") == 3


def test_full_read_returns_every_entity_once_in_keyset_order(
    simulator: OctaneSimulator, client: OctaneClient
) -> None:
    ws = simulator.workspace_ids[0]
    rows = flatten(client.iter_changes(ws, "work_items", page_size=37))
    expected = simulator.entities(ws, "work_items")
    assert [row["id"] for row in rows] == [entity["id"] for entity in expected]
    assert [key(row) for row in rows] == sorted(key(row) for row in rows)
    assert {"id", "last_modified", "version_stamp"} <= set(rows[0])


def test_bodies_are_decoded_as_utf8(simulator: OctaneSimulator, client: OctaneClient) -> None:
    ws = simulator.workspace_ids[0]
    rows = flatten(client.iter_changes(ws, "work_items", fields=["name", "description"]))
    expected = {
        entity["id"]: entity["description"] for entity in simulator.entities(ws, "work_items")
    }
    assert {row["id"]: row["description"] for row in rows} == expected
    assert any(not text.isascii() for text in expected.values())


def test_udfs_come_back_when_asked(simulator: OctaneSimulator, client: OctaneClient) -> None:
    ws = simulator.workspace_ids[0]
    rows = flatten(client.iter_changes(ws, "work_items", fields=["team_udf"]))
    assert all("team_udf" in row for row in rows)


def test_bulk_edit_of_2500_in_one_second_is_read_exactly_once(make_simulator) -> None:
    sim = make_simulator(workspaces=1, items=3000)
    ws = sim.workspace_ids[0]
    with new_client(sim, page_size=1000) as octane:
        before = flatten(octane.iter_changes(ws, "work_items"))
        watermark = Watermark.of(before[-1])
        edited = sim.bulk_edit(ws, "work_items", 2500)
        sim.reset_request_log()
        pages = list(octane.iter_changes(ws, "work_items", since=watermark))
    rows = flatten(iter(pages))
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids)) == 2500
    assert set(ids) == set(edited)
    assert len({row["last_modified"] for row in rows}) == 1
    assert [len(page) for page in pages] == [1000, 1000, 500]
    assert collection_requests(sim, "work_items") == 3
    # From scratch too: every entity exactly once, however many share a second.
    with new_client(sim, page_size=1000) as octane:
        everything = [row["id"] for row in flatten(octane.iter_changes(ws, "work_items"))]
    assert sorted(everything) == sorted(entity["id"] for entity in sim.entities(ws, "work_items"))
    assert len(everything) == len(set(everything))


def test_edits_between_pages_are_caught_by_the_next_run(make_simulator) -> None:
    sim = make_simulator(workspaces=1, items=1000)
    ws = sim.workspace_ids[0]
    latest: dict[str, int] = {}

    def run(octane: OctaneClient, since: Watermark | None, edit: bool) -> Watermark | None:
        until = octane.server_time() - timedelta(seconds=2)
        last = since
        for number, page in enumerate(
            octane.iter_changes(ws, "work_items", since=since, until=until, page_size=100)
        ):
            for row in page:
                assert parse_octane_time(row["last_modified"]) <= until
                latest[row["id"]] = max(latest.get(row["id"], 0), row["version_stamp"])
            last = Watermark.of(page[-1])
            if edit and number in (1, 4, 7):
                sim.update(ws, "work_items", 40)
                sim.bulk_edit(ws, "work_items", 150)
        return last

    with new_client(sim) as octane:
        watermark = run(octane, None, edit=True)
        missed = {
            e["id"]
            for e in sim.entities(ws, "work_items")
            if e["version_stamp"] != latest.get(e["id"])
        }
        assert missed  # the edits made during the first run are left for the next one
        sim.advance_clock(10)
        octane.count(ws, "work_items")  # a response whose Date header shows the jump
        run(octane, watermark, edit=False)
    expected = {entity["id"]: entity["version_stamp"] for entity in sim.entities(ws, "work_items")}
    assert latest == expected
    assert any(version > 1 for version in expected.values())


def test_overlap_rereads_the_window(simulator: OctaneSimulator, client: OctaneClient) -> None:
    ws = simulator.workspace_ids[0]
    rows = flatten(client.iter_changes(ws, "work_items"))
    middle = rows[len(rows) // 2]
    since = Watermark.of(middle)
    strict = flatten(client.iter_changes(ws, "work_items", since=since))
    wide = flatten(client.iter_changes(ws, "work_items", since=since, overlap=timedelta(days=3)))
    assert strict == rows[len(rows) // 2 + 1 :]
    assert wide[-len(strict) :] == strict
    assert len(wide) > len(strict)
    window_start = since.last_modified - timedelta(days=3)
    assert all(parse_octane_time(row["last_modified"]) >= window_start for row in wide)


def test_a_run_without_changes_costs_one_request(
    simulator: OctaneSimulator, client: OctaneClient
) -> None:
    ws = simulator.workspace_ids[0]
    rows = flatten(client.iter_changes(ws, "work_items"))
    before = client.request_count
    until = client.server_time()
    assert (
        flatten(client.iter_changes(ws, "work_items", since=Watermark.of(rows[-1]), until=until))
        == []
    )
    assert client.request_count == before + 1


def test_lag_bound_comes_from_the_first_response_without_an_extra_request(
    simulator: OctaneSimulator,
) -> None:
    ws = simulator.workspace_ids[0]
    with new_client(simulator) as octane:
        rows = flatten(octane.iter_changes(ws, "work_items"))
        # A session restored from an old export has a stale clock: the bound must not use it.
        state = octane.export_session()
    edited = set(simulator.update(ws, "work_items", 4))
    since = Watermark.of(rows[-1])
    with new_client(simulator) as octane:
        octane.restore_session(state)
        lag = timedelta(seconds=60)
        assert flatten(octane.iter_changes(ws, "work_items", since=since, lag=lag)) == []
        assert octane.request_count == 1
        simulator.advance_clock(120)
        late = flatten(octane.iter_changes(ws, "work_items", since=since, lag=lag))
        assert {row["id"] for row in late} == edited
        assert octane.request_count == 2


def test_server_time_follows_the_date_header(
    simulator: OctaneSimulator, client: OctaneClient
) -> None:
    first = client.server_time()  # the sign-in's Date header
    assert client.request_count == 1
    assert abs((first - simulator.now()).total_seconds()) < 2
    simulator.advance_clock(3600)
    client.count(simulator.workspace_ids[0], "defects")
    moved = client.server_time()
    assert client.request_count == 2
    assert abs((moved - simulator.now()).total_seconds()) < 2
    assert moved.utcoffset() == timedelta(0)


def test_count_iter_ids_and_deletes(simulator: OctaneSimulator) -> None:
    ws = simulator.workspace_ids[1]
    defects = simulator.entities(ws, "defects")
    with new_client(simulator, page_size=25) as octane:
        assert octane.count(ws, "defects") == len(defects)
        ids = list(octane.iter_ids(ws, "defects"))
        assert ids == sorted((entity["id"] for entity in defects), key=int)
        simulator.delete(ws, "defects", ids[:3])
        assert list(octane.iter_ids(ws, "defects")) == ids[3:]
        assert octane.count(ws, "defects") == len(defects) - 3


def test_iter_ids_of_logical_ids(simulator: OctaneSimulator, client: OctaneClient) -> None:
    ws = simulator.workspace_ids[0]
    phases = {entity["id"] for entity in simulator.entities(ws, "phases")}
    with new_client(simulator, page_size=3) as octane:
        assert set(octane.iter_ids(ws, "phases")) == phases


@pytest.mark.parametrize(
    "hostile",
    [
        pytest.param("x' || id GT '0", id="quote-or"),
        pytest.param("x) || (id GT 0", id="parenthesis-or"),
        pytest.param('x" ; id GT 0 ; name EQ "y', id="double-quote"),
        pytest.param("^2024^ || id GT 0", id="caret"),
        pytest.param("x\\", id="trailing-backslash"),
    ],
)
def test_hostile_values_cannot_change_the_query(
    simulator: OctaneSimulator, client: OctaneClient, hostile: str
) -> None:
    ws = simulator.workspace_ids[0]
    assert client.count(ws, "work_items", field("name").eq(hostile)) == 0
    name = simulator.entities(ws, "work_items")[0]["name"]
    assert client.count(ws, "work_items", field("name").eq(name)) >= 1


def test_read_ahead_reads_the_same_pages(simulator: OctaneSimulator) -> None:
    ws = simulator.workspace_ids[0]
    with new_client(simulator) as plain, new_client(simulator, read_ahead=True) as ahead:
        expected = list(plain.iter_changes(ws, "work_items", page_size=30))
        got = list(ahead.iter_changes(ws, "work_items", page_size=30))
    assert got == expected
    assert len(got) > 3


def test_read_ahead_stream_closed_early_stops_cleanly(simulator: OctaneSimulator) -> None:
    ws = simulator.workspace_ids[0]
    with new_client(simulator, read_ahead=True) as octane:
        pages = octane.iter_changes(ws, "work_items", page_size=10)
        first = next(pages)
        pages.close()
        sent = octane.request_count
        assert len(first) == 10
        assert sent <= 3  # sign-in, this page, at most the one read ahead
    assert not [t for t in threading.enumerate() if t.name.startswith("octane-read-ahead")]


def test_rejected_page_size_adapts(simulator: OctaneSimulator, caplog) -> None:
    ws = simulator.workspace_ids[0]
    with (
        new_client(simulator, page_size=1500) as octane,
        caplog.at_level(logging.WARNING, logger="octane_sync.client"),
    ):
        rows = flatten(octane.iter_changes(ws, "work_items"))
    assert len(rows) == len(simulator.entities(ws, "work_items"))
    assert "rejected page size 1500" in caplog.text
    limits = [entry.query.get("limit") for entry in simulator.request_log]
    assert limits[-1] == "1000"


def test_concurrent_workspaces_share_one_client(make_simulator) -> None:
    sim = make_simulator(workspaces=4, items=300, idle_timeout=60)
    with new_client(sim, page_size=50) as octane:
        octane.sign_in()
        sim.advance_clock(120)  # the session is idle-expired for every thread at once
        results: dict[str, list[str]] = {}

        def read(ws: str) -> None:
            results[ws] = [row["id"] for row in flatten(octane.iter_changes(ws, "work_items"))]

        threads = [threading.Thread(target=read, args=(ws,)) for ws in sim.workspace_ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    for ws in sim.workspace_ids:
        assert results[ws] == [entity["id"] for entity in sim.entities(ws, "work_items")]
    assert sign_ins(sim) == 2


# -- sessions ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expiry",
    [
        pytest.param({"idle_timeout": 30}, id="idle"),
        pytest.param({"global_timeout": 30}, id="global"),
    ],
)
def test_session_expiry_mid_stream_signs_in_again(make_simulator, expiry: dict) -> None:
    sim = make_simulator(workspaces=1, items=400, **expiry)
    ws = sim.workspace_ids[0]
    rows: list[dict] = []
    with new_client(sim) as octane:
        for number, page in enumerate(octane.iter_changes(ws, "work_items", page_size=50)):
            rows.extend(page)
            if number == 2:
                sim.advance_clock(60)
    assert [row["id"] for row in rows] == [e["id"] for e in sim.entities(ws, "work_items")]
    assert sign_ins(sim) == 2
    expired = [entry for entry in sim.request_log if entry.status == 401]
    assert len(expired) == 1


def test_rotated_cookie_is_taken_from_any_response(make_simulator) -> None:
    sim = make_simulator(workspaces=1, items=400, rotate_every=2, rotation_grace=0)
    ws = sim.workspace_ids[0]
    with new_client(sim) as octane:
        rows = flatten(octane.iter_changes(ws, "work_items", page_size=40))
        sim.advance_clock(1)  # a retired cookie is now refused
        assert octane.count(ws, "work_items") == len(rows)
    assert len(rows) == len(sim.entities(ws, "work_items"))
    assert sign_ins(sim) == 1
    assert not [entry for entry in sim.request_log if entry.status == 401]
    assert len(sim.issued_session_tokens()) > 5


def test_exported_session_is_reused_without_signing_in(simulator: OctaneSimulator) -> None:
    ws = simulator.workspace_ids[0]
    with new_client(simulator) as first:
        first.sign_in()
        state = first.export_session()
    assert set(state) == {"cookies", "clock_offset"}
    assert "LWSSO_COOKIE_KEY" in state["cookies"]
    with new_client(simulator) as second:
        second.restore_session(state)
        assert second.count(ws, "defects") == len(simulator.entities(ws, "defects"))
    assert sign_ins(simulator) == 1


def test_sign_out_ends_the_session(simulator: OctaneSimulator, client: OctaneClient) -> None:
    ws = simulator.workspace_ids[0]
    client.sign_in()
    state = client.export_session()
    client.sign_out()
    assert client.export_session()["cookies"] == {}
    with new_client(simulator) as other:
        other.restore_session(state)
        other.count(ws, "defects")  # the old cookie is refused, so it signs in again
    assert sign_ins(simulator) == 2


def test_wrong_secret_fails_fast_and_never_shows_the_secret(
    simulator: OctaneSimulator, caplog
) -> None:
    secret = "wrong-secret-value-123"
    octane = OctaneClient(
        simulator.base_url, simulator.shared_space_id, simulator.client_id, secret, retry=FAST
    )
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthenticationError) as caught:
        octane.list_workspaces()
    message = str(caught.value)
    assert simulator.base_url in message
    assert simulator.client_id in message
    assert caught.value.status == 401
    assert secret not in message
    assert secret not in caplog.text
    assert len(simulator.request_log) == 1


# -- faults --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "opts"),
    [
        pytest.param("rate_limit", {"retry_after": 0}, id="429"),
        pytest.param("unavailable", {}, id="503-html"),
        pytest.param("server_error", {}, id="500"),
        pytest.param("drop", {}, id="drop"),
        pytest.param("slow", {"delay": 0.5}, id="slow"),
        pytest.param("truncate", {}, id="truncate"),
        pytest.param("truncate", {"keep_length": True}, id="truncate-short-body"),
    ],
)
def test_fault_bursts_mid_stream_are_survived(
    simulator: OctaneSimulator, kind: str, opts: dict, caplog
) -> None:
    ws = simulator.workspace_ids[0]
    with new_client(simulator, timeout=0.25) as octane:
        expected = flatten(octane.iter_changes(ws, "work_items", page_size=40))
        rows: list[dict] = []
        with caplog.at_level(logging.WARNING, logger="octane_sync.client"):
            for number, page in enumerate(octane.iter_changes(ws, "work_items", page_size=40)):
                rows.extend(page)
                if number == 1:
                    simulator.inject_fault(kind, count=3, path_contains="work_items", **opts)
    assert rows == expected
    assert caplog.text.count("retry ") == 3
    assert not simulator.faults.pending()


def test_a_fault_during_sign_in_is_retried(simulator: OctaneSimulator) -> None:
    simulator.inject_fault("unavailable", count=2, path_contains="sign_in")
    with new_client(simulator) as octane:
        assert octane.list_workspaces()
    assert sign_ins(simulator) == 3


def test_a_fault_that_outlasts_the_policy_raises_transient_error(
    simulator: OctaneSimulator,
) -> None:
    ws = simulator.workspace_ids[0]
    simulator.inject_fault("unavailable", count=50, path_contains="defects")
    policy = RetryPolicy(max_attempts=3, backoff=0.01, max_backoff=0.02)
    with new_client(simulator, retry=policy) as octane, pytest.raises(TransientError) as caught:
        list(octane.iter_changes(ws, "defects"))
    assert caught.value.status == 503
    assert "after 3 attempt" in str(caught.value)
    assert collection_requests(simulator, "defects") == 3


# -- field metadata ------------------------------------------------------------------------------

# The UDFs each workspace position seeds (simulator data.udf_values), cycling every 3.
SEEDED_UDFS = [
    {"team_udf", "risk_udf", "customer_impact_udf"},
    {"owning_team_udf", "risk_udf", "customer_impact_udf"},
    {"squad_udf", "risk_level_udf"},
]
EVERY_UDF = set().union(*SEEDED_UDFS)


@pytest.mark.parametrize("position", [0, 1, 2])
@pytest.mark.parametrize("collection", ["work_items", "defects", "stories"])
def test_field_names_lists_the_workspaces_own_udfs_and_no_others(
    simulator: OctaneSimulator, client: OctaneClient, position: int, collection: str
) -> None:
    ws = simulator.workspace_ids[position]
    names = client.field_names(ws, entity_type(collection))
    assert names & EVERY_UDF == SEEDED_UDFS[position]
    assert {"id", "name", "last_modified", "version_stamp", "phase", "owner"} <= names
    assert names == simulator.field_names(ws, entity_type(collection))
    metadata_requests = [e for e in simulator.request_log if e.path.endswith("/metadata/fields")]
    assert len(metadata_requests) == 1
    assert metadata_requests[0].query["query"] == f"\"entity_name EQ '{entity_type(collection)}'\""


def test_field_names_sees_a_udf_added_later(
    simulator: OctaneSimulator, client: OctaneClient
) -> None:
    ws = simulator.workspace_ids[1]
    assert "effort_udf" not in client.field_names(ws, "work_item")
    simulator.add_udf(ws, "effort_udf", values=[1.0])
    assert "effort_udf" in client.field_names(ws, "work_item")


@pytest.mark.parametrize(
    ("name", "error"),
    [
        pytest.param("defects", OctaneRequestError, id="collection-not-type"),
        pytest.param("no_such_type", OctaneRequestError, id="unknown-type"),
        pytest.param("defect'; x", ValueError, id="not-a-name"),
    ],
)
def test_field_names_refuses_what_is_not_an_entity_type(
    simulator: OctaneSimulator, client: OctaneClient, name: str, error: type[Exception]
) -> None:
    with pytest.raises(error, match="entity type"):
        client.field_names(simulator.workspace_ids[0], name)


def test_field_names_of_an_unknown_workspace_is_a_request_error(
    simulator: OctaneSimulator, client: OctaneClient
) -> None:
    with pytest.raises(OctaneRequestError) as caught:
        client.field_names("999999", "defect")
    assert caught.value.status == 404
    assert caught.value.error_code == "platform.entity_not_found"


def test_strict_server_answers_an_unknown_field_with_a_request_error(make_simulator) -> None:
    sim = make_simulator(workspaces=3, items=50, strict_fields=True)
    ws = sim.workspace_ids[0]  # has team_udf, not squad_udf
    with new_client(sim) as octane, pytest.raises(OctaneRequestError) as caught:
        list(octane.iter_changes(ws, "defects", fields=["name", "team_udf", "squad_udf"]))
    assert caught.value.status == 400
    assert caught.value.error_code == "platform.unknown_field"
    assert "squad_udf" in str(caught.value)
    assert collection_requests(sim, "defects") == 1, "a 400 is not retried"


def test_asking_only_for_listed_fields_reads_every_workspace_of_a_strict_server(
    make_simulator,
) -> None:
    sim = make_simulator(workspaces=3, items=50, strict_fields=True)
    candidates = ["name", "phase", "severity", "team_udf", "owning_team_udf", "squad_udf"]
    with new_client(sim) as octane:
        for ws in sim.workspace_ids:
            wanted = [f for f in candidates if f in octane.field_names(ws, "work_item")]
            rows = flatten(octane.iter_changes(ws, "work_items", fields=wanted))
            assert len(rows) == len(sim.entities(ws, "work_items"))
            assert all(set(row) <= {"id", "type", *ALWAYS_FIELDS, *wanted} for row in rows)


@pytest.mark.parametrize(
    ("collection", "expected"),
    [
        pytest.param("work_items", "work_item", id="aggregate"),
        pytest.param("stories", "story", id="irregular-plural"),
        pytest.param("quality_stories", "quality_story", id="two-words"),
        pytest.param("workspace_users", "workspace_user", id="users"),
        pytest.param("defects", "defect", id="view"),
    ],
)
def test_entity_type_of_a_collection(collection: str, expected: str) -> None:
    assert entity_type(collection) == expected


def test_entity_type_refuses_an_unknown_collection() -> None:
    with pytest.raises(ValueError, match="manual_testz"):
        entity_type("manual_testz")
