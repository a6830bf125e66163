"""`octane-sync init`: creates the control tables once, fails clearly on a bad URL."""

from __future__ import annotations

import pytest
import typer
from sqlalchemy import create_engine, inspect
from typer.testing import CliRunner

from octane_sync.cli import database


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    database.register(app)

    @app.callback()
    def _root() -> None:
        """Keep `init` a subcommand, as in the real app."""

    return app


def test_init_creates_the_tables_then_reports_nothing_to_do(app, db_url):
    runner = CliRunner()
    first = runner.invoke(app, ["init", "--db", db_url])
    second = runner.invoke(app, ["init", "--db", db_url])
    assert first.exit_code == 0, first.output
    assert "created OCTANE_WATERMARKS" in first.output
    assert "4 table(s) created" in first.output
    assert second.exit_code == 0, second.output
    assert "nothing to create" in second.output
    engine = create_engine(db_url)
    try:
        assert {"octane_connections", "octane_sync_runs"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_init_reads_the_url_from_the_environment(app, sqlite_url, monkeypatch):
    monkeypatch.setenv("OCTANE_SYNC_DB_URL", sqlite_url)
    result = CliRunner().invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    assert sqlite_url.split("///")[1] in result.output


def test_init_names_a_bad_url_without_its_password(app):
    result = CliRunner().invoke(app, ["init", "--db", "mysql://admin:s3cr3t@db.example.com/x"])
    assert result.exit_code == 1
    assert "db.example.com" in result.output
    assert "s3cr3t" not in result.output
