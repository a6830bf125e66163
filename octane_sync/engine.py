"""Database URLs and engines: which URL to use, driver defaults, SQLite tuning, redaction."""

from __future__ import annotations

import os
import re
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from octane_sync.errors import StoreError

DB_URL_ENV = "OCTANE_SYNC_DB_URL"
DEFAULT_DB_URL = "sqlite+pysqlite:///octane-sync.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000
SUPPORTED_DIALECTS = ("sqlite", "postgresql", "oracle")
# Drivers octane-sync is tested with, used when a URL names only the database.
_DEFAULT_DRIVERS = {"oracle": "oracle+oracledb", "postgresql": "postgresql+psycopg"}


def resolve_db_url(cli_value: str | None) -> str | None:
    """The database URL from `--db`, else `OCTANE_SYNC_DB_URL`, else None (caller decides)."""
    if cli_value:
        return cli_value
    return os.environ.get(DB_URL_ENV) or None


def redact_url(url: str | URL) -> str:
    """`url` with any password replaced, also when the URL does not parse."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", str(url))


def create_store_engine(url: str | URL, **engine_kwargs: Any) -> Engine:
    """An Engine for the store's database.

    Oracle uses python-oracledb in thin mode (no client libraries; `oracle://` means
    that); `postgresql://` means psycopg 3. SQLite gets WAL, a busy timeout and `BEGIN
    IMMEDIATE`, so concurrent workspace threads queue instead of failing with "database
    is locked". Bind values are kept out of error messages (they hold entity data).

    Raises:
        StoreError: the URL does not parse, names an unavailable driver or an unsupported
            database; the message shows the URL without its password.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise StoreError(f"not a database URL: {redact_url(url)}") from None
    if parsed.drivername in _DEFAULT_DRIVERS:
        parsed = parsed.set(drivername=_DEFAULT_DRIVERS[parsed.drivername])
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() not in SUPPORTED_DIALECTS:
        raise StoreError(f"unsupported database in URL {shown} (use sqlite, postgresql, oracle)")
    engine_kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        engine_kwargs.setdefault("connect_args", {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    try:
        engine = create_engine(parsed, **engine_kwargs)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise StoreError(f"cannot use database URL {shown}: {type(exc).__name__}") from None
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine)
    return engine


def _tune_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout and BEGIN IMMEDIATE on every SQLite connection.

    With pysqlite's deferred BEGIN, two threads that read and then write can deadlock and
    one gets "database is locked" at once; taking the write lock at BEGIN makes them queue
    on the busy timeout instead. synchronous=NORMAL is safe with WAL: a crash may lose the
    last commits, never consistency, and a batch and its watermark commit together.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # the "begin" listener below issues BEGIN itself
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS:d}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
