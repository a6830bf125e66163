"""Per-dialect bulk upsert statements with the "an older version never wins" guard."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, and_, bindparam, func, literal_column, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement

from octane_sync.errors import StoreError
from octane_sync.models import STANDARD_COLUMNS, utc
from octane_sync.schema import PRIMARY_KEY

# Rendered as a constant, not a bind: a row without version_stamp ranks below any version.
_NO_VERSION = literal_column("-1")


def newer_guard(new: Any, old: Any, *, refresh: bool = False) -> ColumnElement[bool]:
    """True when the incoming row may replace the stored one.

    `new`/`old` expose `last_modified`, `version_stamp` and (old only) `deleted_at` as column
    expressions. Newer means a later `last_modified`, or the same second with a higher
    `version_stamp` (Octane's timestamps have one-second resolution). A row marked deleted
    is revived by the same or a newer version, because seeing it again proves it exists.
    With `refresh` (a full refresh) the same version is written again too, so columns the
    mapping gained since the row was stored get filled; an older version still never wins.
    """
    new_vs = func.coalesce(new.version_stamp, _NO_VERSION)
    old_vs = func.coalesce(old.version_stamp, _NO_VERSION)
    same_second = new.last_modified == old.last_modified
    strictly_newer = or_(new.last_modified > old.last_modified, and_(same_second, new_vs > old_vs))
    same_or_newer = or_(new.last_modified > old.last_modified, and_(same_second, new_vs >= old_vs))
    if refresh:
        return same_or_newer
    return or_(strictly_newer, and_(old.deleted_at.is_not(None), same_or_newer))


class OracleMerge(Executable, ClauseElement):
    """`MERGE INTO table USING dual ...` for one row of named binds, run with array binds.

    Binding values straight into UPDATE SET / INSERT VALUES (rather than a `SELECT :x FROM
    dual` source) lets CLOB columns take strings longer than 4,000 bytes.
    """

    inherit_cache = False

    def __init__(self, table: Table, columns: Sequence[str], *, refresh: bool = False) -> None:
        self.table = table
        self.columns = list(columns)
        self.refresh = refresh


class _Binds:
    """The row's named binds, one BindParameter per column so a name can appear twice."""

    def __init__(self, table: Table) -> None:
        self._binds = {c.name: bindparam(c.name, type_=c.type) for c in table.columns}

    def __getattr__(self, name: str) -> Any:
        try:
            return self._binds[name]
        except KeyError:
            raise AttributeError(name) from None


@compiles(OracleMerge, "oracle")
def _compile_oracle_merge(element: OracleMerge, compiler: Any, **kw: Any) -> str:
    table = element.table
    target = table.alias("tgt")
    new = _Binds(table)
    prep = compiler.preparer

    def qualified(name: str) -> str:
        return compiler.process(target.c[name], **kw)

    def value(name: str) -> str:
        return compiler.process(getattr(new, name), **kw)

    on = " AND ".join(f"{qualified(k)} = {value(k)}" for k in PRIMARY_KEY)
    names = element.columns
    updatable = [n for n in names if n not in PRIMARY_KEY]
    sets = ", ".join(f"{qualified(n)} = {value(n)}" for n in updatable)
    guard = compiler.process(newer_guard(new, target.c, refresh=element.refresh), **kw)
    insert_cols = ", ".join(prep.quote(n) for n in names)
    insert_vals = ", ".join(value(n) for n in names)
    # Every name was checked by schema.safe_identifier and is quoted by the dialect's preparer;
    # values are binds. SQLAlchemy has no MERGE construct to build this from.
    into = f"{prep.format_table(table)} {prep.quote(target.name)}"
    return (
        f"MERGE INTO {into} USING dual "  # noqa: S608
        f"ON ({on}) "
        f"WHEN MATCHED THEN UPDATE SET {sets} WHERE {guard} "
        f"WHEN NOT MATCHED THEN INSERT ({insert_cols}) VALUES ({insert_vals})"
    )


@compiles(OracleMerge)
def _compile_merge_elsewhere(element: OracleMerge, compiler: Any, **kw: Any) -> str:
    raise StoreError(f"MERGE is only built for Oracle, not {compiler.dialect.name}")


def upsert_statement(
    table: Table,
    dialect_name: str,
    columns: Sequence[str] | None = None,
    *,
    refresh: bool = False,
) -> Executable:
    """The bulk upsert of `columns` (default: all) of `table`, run with a list of row dicts.

    Only the given columns are written, so a column the mapping no longer lists keeps
    its values instead of being overwritten with NULL.

    Oracle gets MERGE (array binds through executemany); PostgreSQL and SQLite get
    `INSERT ... ON CONFLICT (pk) DO UPDATE ... WHERE guard`. Rows the guard refuses are
    not counted in the statement's rowcount on any of the three.

    Raises:
        StoreError: for a dialect octane-sync does not support.
    """
    names = [c.name for c in table.columns] if columns is None else list(columns)
    if dialect_name == "oracle":
        return OracleMerge(table, names, refresh=refresh)
    if dialect_name == "postgresql":
        insert = postgresql.insert
    elif dialect_name == "sqlite":
        insert = sqlite.insert
    else:
        raise StoreError(f"unsupported database dialect {dialect_name!r}")
    stmt = insert(table)
    excluded = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=[table.c[k] for k in PRIMARY_KEY],
        set_={n: excluded[n] for n in names if n not in PRIMARY_KEY},
        where=newer_guard(excluded, table.c, refresh=refresh),
    )


def upsert_params(
    table: Table,
    rows: list[dict],
    source: str,
    workspace_id: str,
    loaded_at: datetime,
    flow_run_id: str | None,
) -> list[dict]:
    """Parameter dicts with the same keys (standard columns plus those the rows carry),
    duplicate ids folded to the newest version.

    Raises:
        StoreError: a row carries a column the table lacks.
    """
    carried = set().union(*(row.keys() for row in rows)) if rows else set()
    unknown = carried - set(table.c.keys())
    if unknown:
        raise StoreError(
            f"{table.name} has no column(s) {sorted(unknown)}: run ensure_entity_table "
            "with the current mapping"
        )
    names = [c.name for c in table.columns if c.name in carried or c.name in STANDARD_COLUMNS]
    newest: dict[str, dict] = {}
    for row in rows:
        entity_id = str(row["id"])
        params = dict.fromkeys(names)
        params.update(row)
        params.update(
            id=entity_id,
            source=source,
            workspace_id=workspace_id,
            loaded_at=loaded_at,
            flow_run_id=flow_run_id,
            deleted_at=None,
        )
        previous = newest.get(entity_id)
        if previous is None or _version_of(params) >= _version_of(previous):
            newest[entity_id] = params
    return list(newest.values())


def _version_of(params: dict) -> tuple:
    vs = params.get("version_stamp")
    return (utc(params["last_modified"]), -1 if vs is None else vs)


def execute_upsert(
    conn: Connection, table: Table, params: list[dict], *, refresh: bool = False
) -> int:
    """Run the dialect's upsert for all rows in one executemany; returns rows written.

    Every supported driver sums executemany rowcounts (sqlite3, psycopg 3, python-oracledb
    array DML), and rows the guard refuses count 0, so the sum is the rows really written.
    """
    if not params:
        return 0
    # preserve_rowcount: SQLAlchemy otherwise closes an INSERT's cursor before reading it.
    result = conn.execute(
        upsert_statement(table, conn.dialect.name, list(params[0]), refresh=refresh),
        params,
        execution_options={"preserve_rowcount": True},
    )
    count = result.rowcount
    if count is None or count < 0:
        raise StoreError(f"the driver did not report how many of {len(params)} rows were written")
    return count
