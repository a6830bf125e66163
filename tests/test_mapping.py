"""The mapping model: defaults, overrides, validation errors, `find_unmapped`, the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from octane_sync.errors import MappingError, RejectThresholdExceeded
from octane_sync.mapping import (
    ColumnKind,
    check_reject_share,
    find_unmapped,
    known_entities,
    mapping_to_yaml,
    resolve_mapping,
    validate_options,
)
from octane_sync.models import STANDARD_COLUMNS, ColumnSpec, ColumnType

FIXTURES = Path(__file__).parent / "fixtures" / "octane_entities.json"
ENTITIES = [
    "defects",
    "epics",
    "features",
    "phases",
    "releases",
    "runs",
    "sprints",
    "stories",
    "teams",
    "tests",
    "work_items",
    "workspace_users",
]


@pytest.fixture(scope="module")
def samples() -> dict:
    return json.loads(FIXTURES.read_text(encoding="utf-8"))


def columns_override(entity: str, columns: dict) -> dict:
    return {"mapping": {entity: {"columns": columns}}}


def test_known_entities_are_the_shipped_yaml_files() -> None:
    assert known_entities() == ENTITIES


@pytest.mark.parametrize("entity", ENTITIES)
def test_default_mapping_is_valid_for_every_entity(entity: str) -> None:
    mapping = resolve_mapping(entity)
    names = [spec.name for spec in mapping.columns()]
    assert names, "a default mapping maps at least one column"
    assert len(names) == len(set(names))
    assert not set(names) & set(STANDARD_COLUMNS)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]{0,29}", name) for name in names)
    assert mapping.source_fields()[:3] == ["id", "last_modified", "version_stamp"]
    assert mapping.origin == (f"default mapping {entity}.yaml",)


def test_work_items_columns_expand_references_lists_and_html() -> None:
    specs = {spec.name: spec for spec in resolve_mapping("work_items").columns()}
    assert specs["owner_id"] == ColumnSpec("owner_id", ColumnType.STRING, 255)
    assert specs["owner_name"] == ColumnSpec("owner_name", ColumnType.STRING, 255)
    assert specs["user_tags_names"].type is ColumnType.TEXT
    assert specs["user_tags_count"].type is ColumnType.INT
    assert specs["description"].type is ColumnType.TEXT
    assert specs["description_text"].type is ColumnType.TEXT
    assert specs["team"] == ColumnSpec("team", ColumnType.STRING, 100)
    assert specs["name"].length == 255
    assert specs["closed_on"].type is ColumnType.TIMESTAMP
    assert specs["blocked"].type is ColumnType.BOOL
    assert specs["story_points"].type is ColumnType.INT
    assert specs["estimated_hours"].type is ColumnType.FLOAT
    assert "owner" not in specs and "user_tags" not in specs


def test_source_fields_list_every_udf_of_every_workspace() -> None:
    fields = resolve_mapping("work_items").source_fields()
    for udf in ("team_udf", "owning_team_udf", "squad_udf", "risk_udf", "risk_level_udf"):
        assert udf in fields
    assert len(fields) == len(set(fields))


def test_workspace_beats_connection_beats_file_beats_defaults(tmp_path: Path) -> None:
    file = tmp_path / "map.yaml"
    file.write_text(
        "work_items:\n  columns:\n    team: {fields: [file_team_udf], length: 50}\n",
        encoding="utf-8",
    )
    options = {
        **columns_override("work_items", {"team": {"fields": ["conn_team_udf"], "length": 60}}),
        "workspaces": {
            "1003": columns_override("work_items", {"team": {"fields": "ws_team_udf"}}),
        },
    }
    mapping = resolve_mapping(
        "work_items", options=options, workspace_id="1003", mapping_file=file, connection="prod"
    )
    team = mapping.mapped["team"]
    assert team.fields[:3] == ["ws_team_udf", "conn_team_udf", "file_team_udf"]
    assert team.fields[3:] == ["team_udf", "owning_team_udf", "squad_udf", "team"]
    assert team.length == 60
    assert mapping.origin == (
        "default mapping work_items.yaml",
        f"mapping file {file}",
        "connection options of prod",
        "options of workspace 1003 of prod",
    )
    other = resolve_mapping("work_items", options=options, workspace_id="1004")
    assert other.mapped["team"].fields[0] == "conn_team_udf"


def test_override_merges_value_maps_and_defaults_and_adds_columns() -> None:
    options = columns_override(
        "work_items",
        {
            "risk": {"values": {"Showstopper": "HIGH", " HIGH ": "SEVERE"}, "default": "UNKNOWN"},
            "effort_udf": {"type": "float"},
        },
    )
    mapping = resolve_mapping("work_items", options=options)
    risk = mapping.mapped["risk"]
    assert risk.values["showstopper"] == "HIGH"
    assert risk.values["high"] == "SEVERE", "an override replaces a default entry"
    assert risk.values["1-high"] == "HIGH", "the other default entries stay"
    assert risk.default == "UNKNOWN"
    assert risk.type is ColumnKind.STRING
    assert mapping.mapped["effort_udf"].fields == ["effort_udf"]
    assert ColumnSpec("effort_udf", ColumnType.FLOAT) in mapping.columns()
    assert list(mapping.mapped)[:2] == ["name", "subtype"], "defaults keep their place"


def test_overrides_for_other_entities_do_not_leak() -> None:
    options = columns_override("defects", {"extra": {"type": "string"}})
    assert "extra" not in resolve_mapping("work_items", options=options).mapped
    assert "extra" in resolve_mapping("defects", options=options).mapped


def test_show_output_is_a_valid_override_file(tmp_path: Path) -> None:
    original = resolve_mapping(
        "work_items", options=columns_override("work_items", {"x_udf": {"type": "bool"}})
    )
    file = tmp_path / "shown.yaml"
    file.write_text(mapping_to_yaml([original]), encoding="utf-8")
    again = resolve_mapping("work_items", mapping_file=file)
    assert again.mapped == original.mapped
    assert "x_udf" in yaml.safe_load(file.read_text(encoding="utf-8"))["work_items"]["columns"]


def test_validate_options_checks_every_workspace() -> None:
    good = {"workspaces": {"1002": columns_override("teams", {"lead": {"type": "reference"}})}}
    validate_options(good, connection="prod")
    bad = {"workspaces": {"1002": columns_override("teams", {"lead": {"type": "person"}})}}
    with pytest.raises(MappingError, match=r"options of workspace 1002 of prod.*'teams'.*lead"):
        validate_options(bad, connection="prod")


BAD_OVERRIDES = [
    pytest.param(
        {"mapping": {"wrok_items": {}}},
        "work_items",
        ["connection options of prod", "'wrok_items'", "unknown entity"],
        id="unknown-entity",
    ),
    pytest.param(
        columns_override("work_items", {"Bad-Name": {"type": "string"}}),
        "work_items",
        ["connection options of prod", "'work_items'", "'columns.Bad-Name'", "lower-case"],
        id="invalid-column-name",
    ),
    pytest.param(
        columns_override("work_items", {"risk_score": {"type": "integer"}}),
        "work_items",
        ["'columns.risk_score.type'", "'int'"],
        id="bad-type",
    ),
    pytest.param(
        columns_override("work_items", {"a_very_long_reference_name": {"type": "reference"}}),
        "work_items",
        ["'columns.a_very_long_reference_name'", "'a_very_long_reference_name_name'", "30"],
        id="name-too-long-with-suffix",
    ),
    pytest.param(
        columns_override("work_items", {"loaded_at": {"type": "timestamp"}}),
        "work_items",
        ["'columns.loaded_at'", "standard column"],
        id="standard-column",
    ),
    pytest.param(
        columns_override("work_items", {"level": {"type": "int"}}),
        "work_items",
        ["'columns.level'", "reserved word"],
        id="oracle-reserved-word",
    ),
    pytest.param(
        columns_override("work_items", {"owner_id": {"type": "string"}}),
        "work_items",
        ["'columns.owner_id'", "also made by columns.owner"],
        id="duplicate-physical-column",
    ),
    pytest.param(
        columns_override("work_items", {"new_col": {"fields": ["x_udf"]}}),
        "work_items",
        ["'columns.new_col.type'", "needs a type"],
        id="new-column-without-type",
    ),
    pytest.param(
        columns_override("work_items", {"risk": {"type": "int"}}),
        "work_items",
        ["'columns.risk.type'", "cannot change the type"],
        id="type-change",
    ),
    pytest.param(
        columns_override("work_items", {"story_points": {"default": "lots"}}),
        "work_items",
        ["'columns.story_points.default'", "'lots' is not a valid int"],
        id="default-of-wrong-type",
    ),
    pytest.param(
        columns_override("work_items", {"risk": {"values": {"high": "HIGH", "HIGH": "LOW"}}}),
        "work_items",
        ["'columns.risk.values'", "map to both"],
        id="conflicting-value-map-keys",
    ),
    pytest.param(
        columns_override("work_items", {"customer_impact": {"values": {True: "Y"}}}),
        "work_items",
        ["'columns.customer_impact.values'", "quote it"],
        id="yaml-boolean-key",
    ),
    pytest.param(
        columns_override("work_items", {"blocked": {"values": {"Maybe": "perhaps"}}}),
        "work_items",
        ["'columns.blocked.values'", "entry 'maybe': 'perhaps' is not a valid bool"],
        id="value-map-output-of-wrong-type",
    ),
    pytest.param(
        columns_override("work_items", {"story_points": {"length": 10}}),
        "work_items",
        ["'columns.story_points'", "length applies to string"],
        id="length-on-int",
    ),
    pytest.param(
        columns_override("work_items", {"team": {"feilds": ["x_udf"]}}),
        "work_items",
        ["'columns.team.feilds'", "Extra inputs"],
        id="unknown-column-key",
    ),
    pytest.param(
        columns_override("work_items", {"team": {"fields": ["Team UDF"]}}),
        "work_items",
        ["'columns.team.fields'", "not an Octane field name"],
        id="bad-field-name",
    ),
    pytest.param(
        {"mapping": {"work_items": {"colums": {}}}},
        "work_items",
        ["'colums'", "unknown key"],
        id="misspelt-columns",
    ),
    pytest.param(
        {"workspaces": {"1002": columns_override("work_items", {"x": {"type": "blob"}})}},
        "work_items",
        ["options of workspace 1002 of prod", "'columns.x.type'"],
        id="workspace-override",
    ),
]


@pytest.mark.parametrize(("options", "entity", "expected"), BAD_OVERRIDES)
def test_bad_override_names_mapping_entity_and_key(
    options: dict, entity: str, expected: list[str]
) -> None:
    with pytest.raises(MappingError) as caught:
        resolve_mapping(entity, options=options, workspace_id="1002", connection="prod")
    for part in expected:
        assert part in str(caught.value)


def test_yaml_yes_key_in_a_file_says_to_quote_it(tmp_path: Path) -> None:
    file = tmp_path / "m.yaml"
    file.write_text(
        "work_items:\n  columns:\n    customer_impact: {values: {Yes: true}}\n", encoding="utf-8"
    )
    with pytest.raises(MappingError, match=rf"mapping file {re.escape(str(file))}.*quote it"):
        resolve_mapping("work_items", mapping_file=file)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param("teams: [1, 2", "not valid YAML", id="broken-yaml"),
        pytest.param("bugs: {}\n", "'bugs': unknown entity", id="unknown-entity"),
        pytest.param("- teams\n", "must map entity names", id="not-a-mapping"),
    ],
)
def test_bad_mapping_file_names_the_file(tmp_path: Path, content: str, expected: str) -> None:
    file = tmp_path / "m.yaml"
    file.write_text(content, encoding="utf-8")
    with pytest.raises(MappingError) as caught:
        resolve_mapping("teams", mapping_file=file)
    assert f"mapping file {file}" in str(caught.value)
    assert expected in str(caught.value)


def test_missing_mapping_file_and_unknown_entity() -> None:
    with pytest.raises(MappingError, match="cannot read it"):
        resolve_mapping("teams", mapping_file=Path("/nonexistent/mapping.yaml"))
    with pytest.raises(MappingError, match="'bugs': no default mapping"):
        resolve_mapping("bugs")


def test_find_unmapped_reports_udfs_values_and_empty_columns(samples: dict) -> None:
    ws1 = dict(samples["work_items"]["ws1"], priority_udf="P1", risk_udf="Critical")
    ws3 = dict(samples["work_items"]["ws3"], risk_level_udf=" crit ")
    report = find_unmapped([ws1, ws3, samples["work_items"]["ws2"]], resolve_mapping("work_items"))
    assert report.records == 3
    assert dict(report.unmapped_udfs) == {"priority_udf": 1}
    assert dict(report.unmapped_values) == {"risk": {"Critical": 1, "crit": 1}}
    assert "closed_on" not in report.empty_columns
    assert not report.clean


def test_find_unmapped_is_clean_for_the_catalog_workspaces(samples: dict) -> None:
    report = find_unmapped(list(samples["work_items"].values()), resolve_mapping("work_items"))
    assert report.clean
    assert report.records == 3
    assert report.empty_columns == []


def test_find_unmapped_checks_multi_reference_names_against_value_maps(samples: dict) -> None:
    mapping = resolve_mapping(
        "work_items",
        options=columns_override("work_items", {"user_tags": {"values": {"ux": "UX"}}}),
    )
    report = find_unmapped([samples["work_items"]["ws1"]], mapping)
    assert dict(report.unmapped_values) == {"user_tags": {"regression": 1}}


@pytest.mark.parametrize(
    ("rejected", "total", "threshold"),
    [
        pytest.param(0, 0, 0.05, id="empty"),
        pytest.param(5, 100, 0.05, id="at-threshold"),
        pytest.param(0, 1000, 0.0, id="zero-threshold-no-rejects"),
        pytest.param(100, 100, 1.0, id="threshold-one"),
    ],
)
def test_reject_share_within_threshold_passes(rejected: int, total: int, threshold: float) -> None:
    assert check_reject_share(rejected, total, threshold, where="prod workspace 1002") is None


def test_reject_share_above_threshold_fails_clearly() -> None:
    with pytest.raises(RejectThresholdExceeded) as caught:
        check_reject_share(6, 100, 0.05, where="prod workspace 1002 work_items")
    message = str(caught.value)
    assert "prod workspace 1002 work_items" in message
    assert "6 of 100" in message and "6.0%" in message and "5.0%" in message
    assert "reject_threshold" in message
    with pytest.raises(ValueError, match="between 0 and 1"):
        check_reject_share(1, 10, 5, where="x")


# --- CLI -------------------------------------------------------------------------------------

runner = CliRunner()


def cli(*args: str):
    from octane_sync.cli import app

    return runner.invoke(app, ["mapping", *args])


def test_cli_show_prints_the_default_mapping_as_yaml() -> None:
    result = cli("show", "--entity", "work_items", "--entity", "teams")
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.output)
    assert list(shown) == ["work_items", "teams"]
    assert shown["work_items"]["columns"]["team"]["fields"][0] == "team_udf"
    assert "# work_items: default mapping work_items.yaml" in result.output


def test_cli_show_applies_a_file_and_reports_errors(tmp_path: Path) -> None:
    file = tmp_path / "m.yaml"
    file.write_text("teams:\n  columns:\n    lead: {type: reference}\n", encoding="utf-8")
    result = cli("show", "-e", "teams", "--file", str(file))
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.output)["teams"]["columns"]["lead"] == {
        "type": "reference",
        "fields": ["lead"],
    }
    file.write_text("teams:\n  columns:\n    lead: {type: person}\n", encoding="utf-8")
    result = cli("show", "-e", "teams", "--file", str(file))
    assert result.exit_code == 1
    assert "columns.lead.type" in result.output


def test_cli_show_workspace_needs_connection() -> None:
    result = cli("show", "--workspace", "1002")
    assert result.exit_code == 1
    assert "--workspace needs --connection" in result.output


def _store_with_connection(db_url: str, options: dict, token: str):
    from octane_sync.models import Connection
    from octane_sync.store import Store

    store = Store.from_url(db_url)
    store.init()
    store.add_connection(
        Connection(
            name="prod",
            base_url="http://octane.test",
            shared_space_id="1001",
            client_id="sim-client",
            client_secret_enc=token,
            workspaces=["1002"],
            entities=["work_items", "teams"],
            options=options,
        )
    )
    return store


def test_cli_show_applies_connection_and_workspace_overrides(sqlite_url: str) -> None:
    options = {
        "workspaces": {"1002": columns_override("work_items", {"team": {"fields": ["crew_udf"]}})}
    }
    _store_with_connection(sqlite_url, options, "not-a-token")
    args = ("show", "-e", "work_items", "-c", "prod", "--db", sqlite_url)
    result = cli(*args, "-w", "1002")
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.output)["work_items"]["columns"]["team"]["fields"][0] == "crew_udf"
    assert "options of workspace 1002 of prod" in result.output
    result = cli(*args)
    assert yaml.safe_load(result.output)["work_items"]["columns"]["team"]["fields"][0] == "team_udf"
    assert cli("show", "-c", "nobody", "--db", sqlite_url).exit_code == 1


class FakeClient:
    """Stands in for OctaneClient: one page per collection, and records what was asked."""

    pages: dict[str, list[dict]] = {}
    calls: list[tuple] = []

    def __init__(self, base_url, shared_space_id, client_id, client_secret, **_: object) -> None:
        FakeClient.calls.append(("init", base_url, client_id, client_secret))

    def __enter__(self) -> FakeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        FakeClient.calls.append(("close",))

    def iter_changes(self, workspace_id, collection, *, fields, page_size, read_ahead):
        FakeClient.calls.append(("iter", workspace_id, collection, tuple(fields), page_size))
        yield self.pages.get(collection, [])


def test_cli_check_reports_what_the_mapping_misses(
    sqlite_url: str, samples: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from octane_sync import client
    from octane_sync.secrets import SecretBox, generate_key

    key = generate_key()
    monkeypatch.setenv("OCTANE_SYNC_KEY", key)
    _store_with_connection(sqlite_url, {}, SecretBox([key]).encrypt("sim-secret"))
    ws1 = dict(samples["work_items"]["ws1"], extra_udf="x", risk_udf="Critical")
    FakeClient.pages = {"work_items": [ws1], "teams": [samples["teams"]]}
    FakeClient.calls = []
    monkeypatch.setattr(client, "OctaneClient", FakeClient)

    result = cli(
        "check", "-c", "prod", "-w", "1002", "--field", "extra_udf", "--page-size", "10",
        "--db", sqlite_url,
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "unmapped field extra_udf (1 records)" in result.output
    assert "column risk: values no value map covers: 'Critical' x1" in result.output
    assert "teams: 1 records: every _udf field and listed value is mapped" in result.output
    assert FakeClient.calls[0] == ("init", "http://octane.test", "sim-client", "sim-secret")
    iter_calls = [call for call in FakeClient.calls if call[0] == "iter"]
    assert [call[2] for call in iter_calls] == ["work_items", "teams"]
    assert "extra_udf" in iter_calls[0][3] and "team_udf" in iter_calls[0][3]
    assert iter_calls[0][4] == 10
    assert "sim-secret" not in result.output

    FakeClient.pages = {"work_items": [samples["work_items"]["ws2"]]}
    result = cli("check", "-c", "prod", "-w", "1002", "-e", "work_items", "--db", sqlite_url)
    assert result.exit_code == 0, result.output


def test_source_fields_leave_out_what_the_workspace_lacks() -> None:
    mapping = resolve_mapping("work_items")
    everything = mapping.source_fields()
    assert {"team_udf", "owning_team_udf", "squad_udf"} <= set(everything)
    only_first = mapping.source_fields(available={"name", "team_udf", "risk_udf"})
    assert {"team_udf", "risk_udf", "name"} <= set(only_first)
    assert not {"owning_team_udf", "squad_udf", "risk_level_udf"} & set(only_first)
    # The stream's own fields are always asked for, metadata or not.
    assert {"id", "last_modified", "version_stamp"} <= set(only_first)
