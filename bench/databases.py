"""The benchmark's target databases: a temp SQLite file, a throw-away PostgreSQL schema."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


class BenchDatabase:
    """One target database that `reset` empties completely (tables, watermarks, run log)."""

    def __init__(self, name: str, pg_url: str = DEFAULT_PG) -> None:
        if name not in ("sqlite", "postgresql"):
            raise ValueError(f"unknown database {name!r} (sqlite, postgresql)")
        self.name = name
        self._tmp: tempfile.TemporaryDirectory | None = None
        if name == "sqlite":
            self._tmp = tempfile.TemporaryDirectory(prefix="octane-bench-")
            self._file = Path(self._tmp.name) / "bench.sqlite"
            self.url = f"sqlite+pysqlite:///{self._file}"
        else:
            self._admin_url = pg_url
            self._schema = f"octane_bench_{uuid.uuid4().hex[:8]}"
            self.url = f"{pg_url}?options=-csearch_path%3D{self._schema}"

    def reset(self) -> None:
        if self.name == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self._file}{suffix}").unlink(missing_ok=True)
            return
        engine = create_engine(self._admin_url)
        try:
            with engine.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {self._schema} CASCADE"))
                conn.execute(text(f"CREATE SCHEMA {self._schema}"))
        finally:
            engine.dispose()

    def drop(self) -> None:
        if self.name == "sqlite":
            if self._tmp is not None:
                self._tmp.cleanup()
            return
        engine = create_engine(self._admin_url)
        try:
            with engine.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {self._schema} CASCADE"))
        finally:
            engine.dispose()
