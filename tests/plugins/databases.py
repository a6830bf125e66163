"""Fixtures for the target databases: SQLite files and the PostgreSQL server (store work).

`db_url` runs a test on SQLite, on PostgreSQL (a fresh schema per test, dropped after) and
on Oracle when `OCTANE_TEST_ORACLE_URL` is set. PostgreSQL skips with a reason when no
server answers, unless `OCTANE_TEST_REQUIRE_PG=1` (CI), where that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import cache

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, make_url

PG_URL_ENV = "OCTANE_TEST_PG_URL"
REQUIRE_PG_ENV = "OCTANE_TEST_REQUIRE_PG"
ORACLE_URL_ENV = "OCTANE_TEST_ORACLE_URL"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@cache
def _pg_unreachable(url: str) -> str | None:
    """Why the PostgreSQL server cannot be used, or None when it answers."""
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return f"no PostgreSQL at {make_url(url).render_as_string()}: {type(exc).__name__}"
    finally:
        engine.dispose()
    return None


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A SQLite database file of its own for each test."""
    return f"sqlite+pysqlite:///{tmp_path / 'octane-sync.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL on the PostgreSQL server whose search_path is a fresh schema, dropped afterwards."""
    base = os.environ.get(PG_URL_ENV, DEFAULT_PG_URL)
    reason = _pg_unreachable(base)
    if reason is not None:
        if os.environ.get(REQUIRE_PG_ENV) == "1":
            pytest.fail(f"{reason} ({REQUIRE_PG_ENV}=1)")
        pytest.skip(reason)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url: URL = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def oracle_url() -> Iterator[str]:
    """The live Oracle database of `OCTANE_TEST_ORACLE_URL`, emptied of octane_ tables."""
    url = os.environ.get(ORACLE_URL_ENV)
    if not url:
        pytest.skip(f"{ORACLE_URL_ENV} is not set: no live Oracle tests")
    _drop_octane_tables(url)
    yield url
    _drop_octane_tables(url)


def _drop_octane_tables(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for name in inspect(conn).get_table_names():
                if name.lower().startswith("octane_"):
                    conn.execute(text(f"DROP TABLE {name} PURGE"))
    finally:
        engine.dispose()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
        pytest.param("oracle", id="oracle", marks=pytest.mark.oracle),
    ]
)
def db_url(request) -> str:
    """The same test on every target database available here."""
    fixture = {"sqlite": "sqlite_url", "postgresql": "pg_url", "oracle": "oracle_url"}
    return request.getfixturevalue(fixture[request.param])
