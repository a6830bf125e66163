"""Identifier checks, type mapping, URL handling and the PostgreSQL skip/fail rule."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import MetaData
from sqlalchemy.dialects import postgresql, sqlite

from octane_sync.errors import IdentifierError, StoreError
from octane_sync.models import ColumnSpec, ColumnType
from octane_sync.schema import entity_table, entity_table_name, safe_identifier
from octane_sync.store import Store, redact_url, resolve_db_url

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("risk_udf", "risk_udf", id="plain"),
        pytest.param("Team_UDF", "team_udf", id="lower-cased"),
        pytest.param("a" * 30, "a" * 30, id="thirty-chars"),
        pytest.param("end", "end", id="pg-keyword-but-not-oracle"),
    ],
)
def test_safe_identifiers_pass_lower_cased(name, expected):
    assert safe_identifier(name, where="test") == expected


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("a" * 31, id="too-long"),
        pytest.param("1st", id="leading-digit"),
        pytest.param("_x", id="leading-underscore"),
        pytest.param("risk-udf", id="dash"),
        pytest.param("x; DROP TABLE y", id="injection"),
        pytest.param("straße", id="non-ascii"),
        pytest.param("", id="empty"),
        pytest.param("user", id="oracle-reserved-user"),
        pytest.param("level", id="oracle-reserved-level"),
        pytest.param("comment", id="oracle-reserved-comment"),
        pytest.param(None, id="not-a-string"),
    ],
)
def test_unsafe_identifiers_are_refused_naming_the_source(name):
    with pytest.raises(IdentifierError, match=r"mapping file x\.yaml"):
        safe_identifier(name, where="mapping file x.yaml")


def test_entity_names_must_leave_room_for_the_prefix():
    assert entity_table_name("work_items") == "octane_work_items"
    assert entity_table_name("a" * 23) == "octane_" + "a" * 23
    with pytest.raises(IdentifierError):
        entity_table_name("a" * 24)


@pytest.mark.parametrize(
    ("columns", "match"),
    [
        pytest.param([ColumnSpec("id", ColumnType.STRING)], "standard column", id="standard"),
        pytest.param(
            [ColumnSpec("name", ColumnType.STRING), ColumnSpec("Name", ColumnType.TEXT)],
            "twice",
            id="duplicate",
        ),
        pytest.param([ColumnSpec("size", ColumnType.INT)], "reserved", id="reserved"),
    ],
)
def test_bad_mapping_columns_are_refused(columns, match):
    with pytest.raises(IdentifierError, match=match):
        entity_table(MetaData(), "work_items", columns)


@pytest.mark.parametrize(
    ("column_type", "sqlite_ddl", "pg_ddl"),
    [
        pytest.param(ColumnType.STRING, "VARCHAR(255)", "VARCHAR(255)", id="string"),
        pytest.param(ColumnType.TEXT, "TEXT", "TEXT", id="text"),
        pytest.param(ColumnType.INT, "BIGINT", "BIGINT", id="int"),
        pytest.param(ColumnType.FLOAT, "DOUBLE", "DOUBLE PRECISION", id="float"),
        pytest.param(ColumnType.BOOL, "BOOLEAN", "BOOLEAN", id="bool"),
        pytest.param(ColumnType.TIMESTAMP, "DATETIME", "TIMESTAMP WITHOUT TIME ZONE", id="ts"),
    ],
)
def test_column_types_per_dialect(column_type, sqlite_ddl, pg_ddl):
    table = entity_table(MetaData(), "work_items", [ColumnSpec("col", column_type)])
    col_type = table.c.col.type
    assert col_type.compile(dialect=sqlite.dialect()) == sqlite_ddl
    assert col_type.compile(dialect=postgresql.dialect()) == pg_ddl


def test_db_url_comes_from_flag_then_environment(monkeypatch):
    monkeypatch.setenv("OCTANE_SYNC_DB_URL", "sqlite:///env.db")
    assert resolve_db_url("sqlite:///flag.db") == "sqlite:///flag.db"
    assert resolve_db_url(None) == "sqlite:///env.db"
    monkeypatch.delenv("OCTANE_SYNC_DB_URL")
    assert resolve_db_url(None) is None


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("postgresql://u:s3cr3t@h:notaport/db", id="unparsable"),
        pytest.param("mysql://u:s3cr3t@db.example.com/x", id="unsupported"),
        pytest.param("postgresql+nodriver://u:s3cr3t@db.example.com/x", id="no-driver"),
    ],
)
def test_bad_urls_fail_clearly_without_the_password(url):
    with pytest.raises(StoreError) as caught:
        Store.from_url(url)
    assert "s3cr3t" not in str(caught.value)
    assert "db.example.com" in str(caught.value) or "notaport" in str(caught.value)


def test_redact_url_hides_passwords_even_when_unparsable():
    assert "s3cr3t" not in redact_url("postgresql://u:s3cr3t@h/db")
    assert "s3cr3t" not in redact_url("postgresql://u:s3cr3t@h:notaport/db")


def test_unreachable_database_errors_name_it_without_the_password():
    store = Store.from_url("postgresql://u:s3cr3t@127.0.0.1:1/db?connect_timeout=2")
    try:
        with pytest.raises(StoreError) as caught:
            store.init()
    finally:
        store.dispose()
    assert "127.0.0.1:1" in str(caught.value)
    assert "s3cr3t" not in str(caught.value)


def _run_pg_test(require: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(OCTANE_TEST_PG_URL="postgresql+psycopg://postgres@127.0.0.1:1/test")
    env["OCTANE_TEST_REQUIRE_PG"] = require
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/test_store.py::test_init_creates_control_tables_once[postgresql]"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("require", "outcome", "exit_code"),
    [
        pytest.param("", "1 skipped", 0, id="local-skips"),
        pytest.param("1", "1 error", 1, id="ci-fails"),
    ],
)
def test_unreachable_postgres_skips_locally_and_fails_in_ci(require, outcome, exit_code):
    result = _run_pg_test(require)
    assert outcome in result.stdout, result.stdout[-2000:]
    assert result.returncode == exit_code
