"""The OCTANE_CONNECTIONS table: add, list, enable/disable and remove stored API connections."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection as DbConnection
from sqlalchemy import Table, delete, func, insert, select, true, update

from octane_sync.errors import StoreError
from octane_sync.models import Connection


class ConnectionRegistry:
    """Connection records in the target database.

    The secret is stored and returned as the Fernet token it arrives as; only
    `secrets.py` decrypts it. Workspaces and entities are comma-separated text (`*` = all).
    """

    def __init__(
        self, table: Table, transaction: Callable[[], AbstractContextManager[DbConnection]]
    ) -> None:
        self.table = table
        self._transaction = transaction

    def add(self, record: Connection) -> None:
        """Store a new connection.

        Raises:
            StoreError: a connection with that name exists already, or a list item has a comma.
        """
        now = datetime.now(UTC)
        values = _values_of(record)
        values.update(created_at=now, updated_at=now)
        with self._transaction() as conn:
            if conn.scalar(select(func.count()).where(self.table.c.name == record.name)):
                raise StoreError(f"connection {record.name!r} exists already")
            conn.execute(insert(self.table).values(**values))

    def list(self, enabled_only: bool = False) -> list[Connection]:
        """All connections ordered by name (secrets stay encrypted)."""
        stmt = select(self.table).order_by(self.table.c.name)
        if enabled_only:
            stmt = stmt.where(self.table.c.enabled == true())  # `IS 1` is not Oracle SQL
        with self._transaction() as conn:
            return [_record_of(row) for row in conn.execute(stmt).mappings()]

    def get(self, name: str) -> Connection | None:
        """One connection by name, or None."""
        stmt = select(self.table).where(self.table.c.name == name)
        with self._transaction() as conn:
            row = conn.execute(stmt).mappings().first()
        return None if row is None else _record_of(row)

    def update(self, name: str, **values: Any) -> None:
        """Change columns of one connection (e.g. enabled, client_secret_enc).

        Raises:
            StoreError: no connection has that name.
        """
        stmt = (
            update(self.table)
            .where(self.table.c.name == name)
            .values(updated_at=datetime.now(UTC), **values)
        )
        with self._transaction() as conn:
            if conn.execute(stmt).rowcount != 1:
                raise StoreError(f"no connection named {name!r}")

    def rotate_secrets(self, reencrypt: Callable[[str, str], str]) -> int:
        """Replace every client_secret_enc by `reencrypt(name, token)`, all or nothing.

        One transaction, so a key that fails half-way leaves every secret as it was.
        """
        table = self.table
        stmt = select(table.c.name, table.c.client_secret_enc).order_by(table.c.name)
        changed = 0
        now = datetime.now(UTC)
        with self._transaction() as conn:
            for name, token in conn.execute(stmt).all():
                new_token = reencrypt(name, token)
                if new_token != token:
                    conn.execute(
                        update(table)
                        .where(table.c.name == name)
                        .values(client_secret_enc=new_token, updated_at=now)
                    )
                    changed += 1
        return changed

    def remove(self, name: str) -> None:
        """Delete one connection; its watermarks, rows and run log stay.

        Raises:
            StoreError: no connection has that name.
        """
        with self._transaction() as conn:
            if conn.execute(delete(self.table).where(self.table.c.name == name)).rowcount != 1:
                raise StoreError(f"no connection named {name!r}")


def _values_of(c: Connection) -> dict:
    for part in (*c.workspaces, *c.entities):
        if "," in part:
            raise StoreError(f"connection {c.name!r}: {part!r} may not contain a comma")
    return {
        "name": c.name,
        "base_url": c.base_url,
        "shared_space_id": str(c.shared_space_id),
        "client_id": c.client_id,
        "client_secret_enc": c.client_secret_enc,
        "workspaces": ",".join(c.workspaces),
        "entities": ",".join(c.entities),
        "enabled": c.enabled,
        "options": json.dumps(c.options, sort_keys=True),
    }


def _record_of(row: Any) -> Connection:
    return Connection(
        name=row["name"],
        base_url=row["base_url"],
        shared_space_id=row["shared_space_id"],
        client_id=row["client_id"],
        client_secret_enc=row["client_secret_enc"],
        workspaces=[p for p in row["workspaces"].split(",") if p],
        entities=[p for p in row["entities"].split(",") if p],
        enabled=bool(row["enabled"]),
        options=json.loads(row["options"]) if row["options"] else {},
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
