"""Entity JSON -> rows: every field kind, per-workspace UDFs, value maps, rejects, watermark."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from octane_sync.html_text import html_to_text
from octane_sync.mapping import resolve_mapping
from octane_sync.models import ColumnType, Watermark
from octane_sync.transform import transform_page

FIXTURES = Path(__file__).parent / "fixtures" / "octane_entities.json"
ROW_EXTRAS = ["id", "last_modified", "version_stamp", "entity_json"]


@pytest.fixture(scope="module")
def samples() -> dict:
    return json.loads(FIXTURES.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def work_items(samples: dict) -> dict[str, dict]:
    return samples["work_items"]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def teams_with(columns: dict):
    """The teams mapping plus extra columns: a small mapping to try one rule at a time."""
    return resolve_mapping("teams", options={"mapping": {"teams": {"columns": columns}}})


def team(**fields: object) -> dict:
    return {"id": "1301", "last_modified": "2024-05-01T10:00:00Z", "name": "A", **fields}


def one_row(columns: dict, **fields: object) -> dict:
    batch = transform_page([team(**fields)], teams_with(columns))
    assert batch.rejects == []
    return batch.rows[0]


def test_every_work_item_field_kind(work_items: dict) -> None:
    batch = transform_page([work_items["ws1"]], resolve_mapping("work_items"))
    assert batch.rejects == []
    row = batch.rows[0]
    assert row["id"] == "2001"
    assert row["last_modified"] == at("2024-05-01T10:00:00")
    assert row["last_modified"].tzinfo is UTC
    assert row["version_stamp"] == 3
    assert row["name"] == "Login fails for Jürgen"
    assert row["subtype"] == "defect"
    assert (row["phase_id"], row["phase_name"]) == ("phase.defect.new", "New")
    assert (row["owner_id"], row["owner_name"]) == ("1501", "anna@example.com")
    assert (row["author_id"], row["release_id"], row["sprint_id"]) == ("1502", "1101", "1201")
    assert (row["parent_id"], row["parent_name"]) == ("1999", "Sign-in epic")
    assert (row["severity_id"], row["severity_name"]) == ("list_node.severity.high", "High")
    assert row["priority_name"] == "Urgent"
    assert row["story_points"] == 5 and isinstance(row["story_points"], int)
    assert row["estimated_hours"] == 12.5
    assert row["invested_hours"] == 3.0 and isinstance(row["invested_hours"], float)
    assert row["remaining_hours"] == 9.5
    assert row["blocked"] is False
    assert (row["user_tags_names"], row["user_tags_count"]) == ("regression; ux", 2)
    assert row["description"] == work_items["ws1"]["description"]
    assert row["description_text"] == "Straße & café — ✓\nSecond line\nthird"
    assert row["creation_time"] == at("2024-04-30T08:00:00")
    assert row["closed_on"] is None
    assert (row["team"], row["risk"], row["customer_impact"]) == ("Falcons", "HIGH", True)


def test_row_keys_are_the_mapped_columns_plus_the_stream_fields(work_items: dict) -> None:
    mapping = resolve_mapping("work_items")
    batch = transform_page(list(work_items.values()), mapping)
    expected = sorted([spec.name for spec in mapping.columns()] + ROW_EXTRAS)
    assert all(sorted(row) == expected for row in batch.rows)
    assert len(batch.rows) == 3


def test_three_workspaces_land_in_the_same_canonical_columns(work_items: dict) -> None:
    batch = transform_page(list(work_items.values()), resolve_mapping("work_items"))
    by_id = {row["id"]: row for row in batch.rows}
    ws1, ws2, ws3 = by_id["2001"], by_id["2002"], by_id["2003"]
    # team_udf (string), owning_team_udf (string), squad_udf (list_node reference)
    assert ws1["team"] == ws2["team"] == ws3["team"] == "Falcons"
    # "High", "1-High", "HIGH" from risk_udf / risk_level_udf
    assert ws1["risk"] == ws2["risk"] == ws3["risk"] == "HIGH"
    # true (bool), "Yes" (string), and no field at all
    assert (ws1["customer_impact"], ws2["customer_impact"], ws3["customer_impact"]) == (
        True,
        True,
        None,
    )


def test_nulls_and_empty_lists(work_items: dict) -> None:
    row = transform_page([work_items["ws2"]], resolve_mapping("work_items")).rows[0]
    assert (row["owner_id"], row["owner_name"]) == (None, None)
    assert (row["release_id"], row["sprint_name"], row["severity_id"]) == (None, None, None)
    assert row["story_points"] is None and row["estimated_hours"] is None
    assert (row["user_tags_names"], row["user_tags_count"]) == (None, 0)
    assert row["closed_on"] == at("2024-05-02T11:30:00")
    assert row["blocked"] is True


@pytest.mark.parametrize(
    ("entity", "expected"),
    [
        pytest.param(
            "releases",
            {
                "description_text": "Spring <release>",
                "start_date": at("2024-03-01T00:00:00"),
                "end_date": at("2024-05-31T00:00:00"),
            },
            id="releases",
        ),
        pytest.param(
            "sprints",
            {"release_id": "1101", "release_name": "Release 24.2", "name": "Sprint 7"},
            id="sprints",
        ),
        pytest.param("phases", {"id": "phase.story.new", "entity": "story"}, id="phases"),
        pytest.param("teams", {"name": "Octane Team A"}, id="teams"),
        pytest.param(
            "workspace_users",
            {"full_name": "Anna Åberg", "email": "anna@example.com", "activity_level": 0},
            id="workspace_users",
        ),
        pytest.param(
            "tests",
            {"subtype": "gherkin_test", "owner_id": "1501", "automation_status": "Automated"},
            id="tests",
        ),
        pytest.param(
            "runs",
            {
                "test_id": "3001",
                "status_id": "list_node.run_native_status.passed",
                "status_name": "Passed",
                "started": at("2024-05-01T09:59:00"),
                "duration": 4200,
            },
            id="runs",
        ),
    ],
)
def test_other_entities(samples: dict, entity: str, expected: dict) -> None:
    batch = transform_page([samples[entity]], resolve_mapping(entity))
    assert batch.rejects == []
    row = batch.rows[0]
    assert {key: row[key] for key in expected} == expected
    assert row["creation_time"].tzinfo is UTC


@pytest.mark.parametrize("view", ["defects", "stories", "features", "epics"])
def test_work_item_views_use_the_same_columns(work_items: dict, view: str) -> None:
    batch = transform_page(list(work_items.values()), resolve_mapping(view))
    assert batch.rejects == []
    assert [row["team"] for row in batch.rows] == ["Falcons"] * 3


def test_entity_json_is_lossless_compact_and_keeps_non_ascii(work_items: dict) -> None:
    entity = work_items["ws1"]
    row = transform_page([entity], resolve_mapping("work_items")).rows[0]
    assert orjson.loads(row["entity_json"]) == entity
    assert row["entity_json"] == json.dumps(entity, ensure_ascii=False, separators=(",", ":"))
    assert "Jürgen" in row["entity_json"] and "\\u" not in row["entity_json"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("1-High", "HIGH", id="workspace-2-spelling"),
        pytest.param("  high ", "HIGH", id="stripped-and-case-insensitive"),
        pytest.param("MED", "MEDIUM", id="workspace-3-spelling"),
        pytest.param("Critical", "Critical", id="unmapped-passes-through"),
        pytest.param(None, "UNKNOWN", id="null-takes-default"),
    ],
)
def test_value_map(value: object, expected: str) -> None:
    mapping = resolve_mapping(
        "work_items",
        options={"mapping": {"work_items": {"columns": {"risk": {"default": "UNKNOWN"}}}}},
    )
    entity = {"id": "1", "last_modified": "2024-05-01T10:00:00Z", "risk_udf": value}
    assert transform_page([entity], mapping).rows[0]["risk"] == expected


def test_absent_field_takes_default_and_first_non_null_candidate_wins() -> None:
    columns = {"squad": {"type": "string", "fields": ["a_udf", "b_udf"], "default": "none"}}
    assert one_row(columns)["squad"] == "none"
    assert one_row(columns, a_udf=None, b_udf="B")["squad"] == "B"
    assert one_row(columns, a_udf="A", b_udf="B")["squad"] == "A"


def test_value_maps_on_reference_names_and_multi_reference_names() -> None:
    columns = {
        "lead": {"type": "reference", "values": {"ANNA": "Anna Å."}},
        "tags": {"type": "multi_reference", "values": {"ux": "UX"}, "separator": ","},
    }
    row = one_row(
        columns,
        lead={"type": "workspace_user", "id": "7", "name": "anna"},
        tags={"total_count": 3, "data": [{"id": "1", "name": "ux"}, {"id": "2", "name": "db"}]},
    )
    assert (row["lead_id"], row["lead_name"]) == ("7", "Anna Å.")
    assert (row["tags_names"], row["tags_count"]) == ("UX,db", 3)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(True, True, id="true"),
        pytest.param(False, False, id="false"),
        pytest.param("Yes", True, id="Yes"),
        pytest.param("no", False, id="no"),
        pytest.param("TRUE", True, id="TRUE-text"),
        pytest.param("false", False, id="false-text"),
        pytest.param(1, True, id="one"),
        pytest.param(0, False, id="zero"),
        pytest.param("0", False, id="zero-text"),
    ],
)
def test_bool_accepts_octane_spellings(value: object, expected: bool) -> None:
    assert one_row({"flag_udf": {"type": "bool"}}, flag_udf=value)["flag_udf"] is expected


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        pytest.param("int", "42", 42, id="int-from-text"),
        pytest.param("int", 3.0, 3, id="int-from-whole-float"),
        pytest.param("float", "2.5", 2.5, id="float-from-text"),
        pytest.param("float", 7, 7.0, id="float-from-int"),
        pytest.param("string", 12, "12", id="string-from-int"),
        pytest.param("string", {"type": "list_node", "id": "x", "name": "Q"}, "Q", id="ref-name"),
        pytest.param("text", ["a", "b"], "a; b", id="text-from-list"),
        pytest.param(
            "timestamp", "2024-05-01T12:00:00+02:00", at("2024-05-01T10:00:00"), id="ts-offset"
        ),
        pytest.param("timestamp", "2024-05-01T10:00:00", at("2024-05-01T10:00:00"), id="naive"),
    ],
)
def test_conversions(kind: str, value: object, expected: object) -> None:
    row = one_row({"v_udf": {"type": kind}}, v_udf=value)
    assert row["v_udf"] == expected
    assert type(row["v_udf"]) is type(expected)


def test_long_strings_are_cut_to_the_column_length() -> None:
    row = one_row({"code_udf": {"type": "string", "length": 5}}, code_udf="abcdefgh")
    assert row["code_udf"] == "abcde"
    spec = next(s for s in teams_with({"code_udf": {"type": "string", "length": 5}}).columns())
    assert spec.type is ColumnType.STRING


def test_reference_column_fed_by_plain_text_keeps_the_text_as_name() -> None:
    row = one_row({"squad_udf": {"type": "reference"}}, squad_udf="Falcons")
    assert (row["squad_udf_id"], row["squad_udf_name"]) == (None, "Falcons")


@pytest.mark.parametrize(
    ("columns", "fields", "reason"),
    [
        pytest.param(
            {"points": {"type": "int", "fields": ["points_udf"]}},
            {"points_udf": "lots"},
            "column 'points': field 'points_udf' value 'lots' is not a valid int",
            id="int",
        ),
        pytest.param(
            {"hours": {"type": "float", "fields": ["a_udf", "b_udf"]}},
            {"b_udf": "1,5"},
            "column 'hours': field 'b_udf' value '1,5' is not a valid float",
            id="float-second-candidate",
        ),
        pytest.param(
            {"flag": {"type": "bool"}},
            {"flag": "maybe"},
            "column 'flag': field 'flag' value 'maybe' is not a valid bool",
            id="bool",
        ),
        pytest.param(
            {"due": {"type": "timestamp"}},
            {"due": "next week"},
            "column 'due': field 'due' value 'next week' is not a valid timestamp",
            id="timestamp",
        ),
        pytest.param(
            {"points": {"type": "int"}},
            {"points": 2**70},
            "is not a valid int",
            id="int-beyond-64-bits",
        ),
        pytest.param(
            {"lead": {"type": "reference"}},
            {"lead": {"total_count": 1, "data": []}},
            "column 'lead': field 'lead'",
            id="multi-reference-in-reference-column",
        ),
        pytest.param({}, {"version_stamp": "v2"}, "version_stamp 'v2'", id="version-stamp"),
        pytest.param({}, {"last_modified": "yesterday"}, "last_modified 'yesterday'", id="lm"),
        pytest.param({}, {"last_modified": None}, "last_modified None", id="no-last-modified"),
        pytest.param({}, {"id": None}, "no usable id", id="no-id"),
    ],
)
def test_bad_record_is_rejected_and_the_page_goes_on(
    columns: dict, fields: dict, reason: str
) -> None:
    good_before, good_after = team(id="1"), team(id="3")
    bad = team(**{"id": "2", **fields})
    batch = transform_page([good_before, bad, good_after], teams_with(columns))
    assert [row["id"] for row in batch.rows] == ["1", "3"]
    assert len(batch.rejects) == 1
    reject = batch.rejects[0]
    assert reason in reject.reason
    assert json.loads(reject.raw_json) == json.loads(json.dumps(bad))
    assert reject.entity_id == (None if fields.get("id", "x") is None else "2")


def test_non_object_record_is_rejected() -> None:
    batch = transform_page(["oops", team()], teams_with({}))
    assert [r.reason for r in batch.rejects] == ["not a JSON object but str"]
    assert batch.rejects[0].raw_json == '"oops"'
    assert len(batch.rows) == 1


def test_watermark_is_the_last_entity_even_when_rejected() -> None:
    page = [
        team(id="10", last_modified="2024-05-01T10:00:00Z"),
        team(id="11", last_modified="2024-05-01T10:00:05Z", points="x"),
    ]
    batch = transform_page(page, teams_with({"points": {"type": "int"}}))
    assert len(batch.rejects) == 1
    assert batch.watermark == Watermark(at("2024-05-01T10:00:05"), "11")


def test_watermark_skips_a_last_record_without_usable_position() -> None:
    page = [team(id="10"), {"id": "11", "last_modified": "garbage"}]
    batch = transform_page(page, teams_with({}))
    assert batch.watermark == Watermark(at("2024-05-01T10:00:00"), "10")
    assert transform_page([], teams_with({})).watermark is None


def test_compile_happens_once_per_mapping() -> None:
    mapping = resolve_mapping("work_items")
    assert mapping.compile() is mapping.compile()


@pytest.mark.parametrize(
    ("html", "text"),
    [
        pytest.param("plain  text\n", "plain text", id="no-markup"),
        pytest.param("<p>a</p><p>b</p>", "a\nb", id="paragraphs"),
        pytest.param("<b>bold</b> and <i>it</i>", "bold and it", id="inline"),
        pytest.param("one<br>two<br/>three", "one\ntwo\nthree", id="breaks"),
        pytest.param("<p>x &lt;y&gt; &amp; &#8364;&nbsp;5</p>", "x <y> & € 5", id="entities"),
        pytest.param("<ul><li>a</li><li>b</li></ul>", "a\nb", id="list"),
        pytest.param("<style>p{}</style><p>kept</p><!-- gone -->", "kept", id="invisible"),
        pytest.param("<p>\n  wrapped\n  source  </p>", "wrapped source", id="source-newlines"),
        pytest.param("<p></p>", "", id="empty"),
        pytest.param("<P>a</P> \n <DIV>b</DIV>", "a\nb", id="upper-case-and-gaps"),
        pytest.param("a<table><tr><td>1</td><td>2</td></tr></table>", "a\n12", id="table"),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_empty_html_gives_no_text_column_value() -> None:
    row = one_row({"notes": {"type": "html"}}, notes="<p></p>")
    assert (row["notes"], row["notes_text"]) == ("<p></p>", None)
