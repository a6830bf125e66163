"""Target-database tables, dialect-safe column types and identifier checks (SQLAlchemy Core)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Double,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects import oracle
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateColumn
from sqlalchemy.types import TypeDecorator, TypeEngine

from octane_sync.errors import IdentifierError
from octane_sync.models import STANDARD_COLUMNS, ColumnSpec, ColumnType, utc

ENTITY_TABLE_PREFIX = "octane_"
CONNECTIONS = "octane_connections"
WATERMARKS = "octane_watermarks"
SYNC_RUNS = "octane_sync_runs"
REJECTS = "octane_rejects"
CONTROL_TABLES: tuple[str, ...] = (CONNECTIONS, WATERMARKS, SYNC_RUNS, REJECTS)
DEFAULT_STRING_LENGTH = 255
PRIMARY_KEY: tuple[str, ...] = ("source", "workspace_id", "id")

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,29}$")

# Oracle's reserved words (V$RESERVED_WORDS with RESERVED='Y'): an unquoted column with one of
# these names is a syntax error, and a quoted lower-case one becomes case-sensitive for ever.
_ORACLE_RESERVED_TEXT = """
    ACCESS ADD ALL ALTER AND ANY AS ASC AUDIT BETWEEN BY CHAR CHECK CLUSTER COLUMN COLUMN_VALUE
    COMMENT COMPRESS CONNECT CREATE CURRENT DATE DECIMAL DEFAULT DELETE DESC DISTINCT DROP ELSE
    EXCLUSIVE EXISTS FILE FLOAT FOR FROM GRANT GROUP HAVING IDENTIFIED IMMEDIATE IN INCREMENT
    INDEX INITIAL INSERT INTEGER INTERSECT INTO IS LEVEL LIKE LOCK LONG MAXEXTENTS MINUS MLSLABEL
    MODE MODIFY NESTED_TABLE_ID NOAUDIT NOCOMPRESS NOT NOWAIT NULL NUMBER OF OFFLINE ON ONLINE
    OPTION OR ORDER PCTFREE PRIOR PUBLIC RAW RENAME RESOURCE REVOKE ROW ROWID ROWNUM ROWS SELECT
    SESSION SET SHARE SIZE SMALLINT START SUCCESSFUL SYNONYM SYSDATE TABLE THEN TO TRIGGER UID
    UNION UNIQUE UPDATE USER VALIDATE VALUES VARCHAR VARCHAR2 VIEW WHENEVER WHERE WITH
"""
ORACLE_RESERVED_WORDS: frozenset[str] = frozenset(_ORACLE_RESERVED_TEXT.lower().split())
_ORACLE_PREPARER = oracle.dialect().identifier_preparer


def safe_identifier(name: object, *, where: str) -> str:
    """Return `name` lower-cased when it is safe as an unquoted table/column name everywhere.

    Names come from Octane and from mapping files, so they are checked before any DDL or
    DML mentions them: `^[a-z][a-z0-9_]{0,29}$` (Oracle 12.1 allows 30 characters), not a
    reserved word, and nothing Oracle would have to quote (which would make it case-sensitive).

    Args:
        name: the candidate identifier.
        where: where the name came from, for the error message (e.g. "mapping work_items").

    Raises:
        IdentifierError: naming the bad name (shortened) and where it came from.
    """
    shown = repr(name)[:60]
    if not isinstance(name, str):
        raise IdentifierError(f"identifier {shown} from {where} is not a string")
    lowered = name.lower()
    if not _IDENTIFIER.match(lowered):
        raise IdentifierError(
            f"identifier {shown} from {where} must be a letter then letters, digits or "
            "underscores, at most 30 characters"
        )
    if lowered in ORACLE_RESERVED_WORDS or _ORACLE_PREPARER._requires_quotes(lowered):
        raise IdentifierError(f"identifier {shown} from {where} is an Oracle reserved word")
    return lowered


def entity_table_name(entity: str) -> str:
    """`work_items` -> `octane_work_items`, checked (so an entity name is at most 23 chars)."""
    entity = safe_identifier(entity, where="entity name")
    return safe_identifier(ENTITY_TABLE_PREFIX + entity, where=f"table name for entity {entity}")


class UtcDateTime(TypeDecorator):
    """A UTC instant stored as a naive TIMESTAMP (never Oracle DATE, which drops fractions).

    Binds aware or naive-UTC datetimes as naive UTC so no session time zone can shift them;
    reads back aware UTC.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine:
        if dialect.name == "oracle":
            return dialect.type_descriptor(oracle.TIMESTAMP())
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return utc(value).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def float64_type() -> TypeEngine:
    """An 8-byte float: BINARY_DOUBLE on Oracle (its FLOAT is decimal), DOUBLE elsewhere."""
    return Double().with_variant(oracle.BINARY_DOUBLE(), "oracle")


def identity_key_type() -> TypeEngine:
    """BIGINT identity; SQLite only auto-numbers a column declared exactly INTEGER."""
    return BigInteger().with_variant(Integer(), "sqlite")


def column_type(spec: ColumnSpec) -> TypeEngine:
    """The SQLAlchemy type for one mapped column (VARCHAR2(n CHAR), CLOB, TIMESTAMP on Oracle)."""
    match spec.type:
        case ColumnType.STRING:
            return String(spec.length or DEFAULT_STRING_LENGTH)
        case ColumnType.TEXT:
            return Text()
        case ColumnType.TIMESTAMP:
            return UtcDateTime()
        case ColumnType.INT:
            return BigInteger()
        case ColumnType.FLOAT:
            return float64_type()
        case ColumnType.BOOL:
            return Boolean()
    raise IdentifierError(f"column {spec.name!r} has unknown type {spec.type!r}")


def standard_columns() -> list[Column]:
    """Fresh Column objects for `models.STANDARD_COLUMNS` (a Column belongs to one Table)."""
    cols = [
        Column("source", String(200), nullable=False),
        Column("workspace_id", String(40), nullable=False),
        Column("id", String(40), nullable=False),
        Column("last_modified", UtcDateTime(), nullable=False),
        Column("version_stamp", BigInteger()),
        Column("entity_json", Text()),
        Column("deleted_at", UtcDateTime()),
        Column("loaded_at", UtcDateTime(), nullable=False),
        Column("flow_run_id", String(64)),
    ]
    assert tuple(c.name for c in cols) == STANDARD_COLUMNS
    return cols


def mapped_column(spec: ColumnSpec, *, where: str) -> Column:
    """A checked Column for one mapped column; standard column names are the store's own."""
    name = safe_identifier(spec.name, where=where)
    if name in STANDARD_COLUMNS:
        raise IdentifierError(f"column {name!r} from {where} is a standard column of the store")
    return Column(name, column_type(spec))


def entity_table(metadata: MetaData, entity: str, columns: Sequence[ColumnSpec]) -> Table:
    """The table of one entity: standard columns, then the mapped ones, keyed by source+ws+id.

    Raises:
        IdentifierError: an unsafe entity or column name, a duplicate, or a standard name.
    """
    name = entity_table_name(entity)
    where = f"mapping of {entity}"
    mapped = [mapped_column(spec, where=where) for spec in columns]
    seen: set[str] = set()
    for col in mapped:
        if col.name in seen:
            raise IdentifierError(f"column {col.name!r} from {where} is declared twice")
        seen.add(col.name)
    return Table(
        name,
        metadata,
        *standard_columns(),
        *mapped,
        PrimaryKeyConstraint(*PRIMARY_KEY),
        extend_existing=True,
    )


def control_tables(metadata: MetaData) -> dict[str, Table]:
    """Define the four control tables in `metadata` and return them by name."""
    connections = Table(
        CONNECTIONS,
        metadata,
        Column("name", String(100), primary_key=True),
        Column("base_url", String(500), nullable=False),
        Column("shared_space_id", String(40), nullable=False),
        Column("client_id", String(200), nullable=False),
        Column("client_secret_enc", String(2000), nullable=False),
        Column("workspaces", String(2000), nullable=False),
        Column("entities", String(2000), nullable=False),
        Column("enabled", Boolean(), nullable=False),
        Column("options", Text()),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("updated_at", UtcDateTime(), nullable=False),
    )
    watermarks = Table(
        WATERMARKS,
        metadata,
        Column("connection", String(100), nullable=False),
        Column("workspace_id", String(40), nullable=False),
        Column("entity", String(30), nullable=False),
        Column("last_modified", UtcDateTime(), nullable=False),
        Column("last_id", String(40), nullable=False),
        Column("updated_at", UtcDateTime(), nullable=False),
        Column("flow_run_id", String(64)),
        PrimaryKeyConstraint("connection", "workspace_id", "entity"),
    )
    runs = Table(
        SYNC_RUNS,
        metadata,
        Column("run_id", identity_key_type(), Identity(), primary_key=True),
        Column("flow_run_id", String(64)),
        Column("connection", String(100), nullable=False),
        Column("workspace_id", String(40), nullable=False),
        Column("entity", String(30), nullable=False),
        Column("status", String(16), nullable=False),
        Column("started_at", UtcDateTime(), nullable=False),
        Column("ended_at", UtcDateTime()),
        Column("rows_fetched", BigInteger()),
        Column("rows_written", BigInteger()),
        Column("rows_rejected", BigInteger()),
        Column("watermark_before", String(100)),
        Column("watermark_after", String(100)),
        Column("error", Text()),
        Index("ix_octane_sync_runs_pair", "connection", "workspace_id", "started_at"),
    )
    rejects = Table(
        REJECTS,
        metadata,
        Column("id", identity_key_type(), Identity(), primary_key=True),
        Column("connection", String(100), nullable=False),
        Column("workspace_id", String(40), nullable=False),
        Column("entity", String(30), nullable=False),
        Column("entity_id", String(40)),
        Column("reason", Text(), nullable=False),
        Column("raw_json", Text()),
        Column("flow_run_id", String(64)),
        Column("created_at", UtcDateTime(), nullable=False),
        Index("ix_octane_rejects_stream", "connection", "workspace_id", "entity"),
    )
    return {t.name: t for t in (connections, watermarks, runs, rejects)}


def add_column_ddl(table: Table, column_name: str, dialect: Any) -> str:
    """`ALTER TABLE t ADD c TYPE` for one column, names quoted by the dialect's preparer.

    `ADD` without `COLUMN` is the spelling Oracle, PostgreSQL and SQLite all accept.
    """
    column = table.c[column_name]
    prep = dialect.identifier_preparer
    spec = CreateColumn(column).compile(dialect=dialect)
    return f"ALTER TABLE {prep.format_table(table)} ADD {spec}"


def _is_datetime(col_type: Any) -> bool:
    try:
        return col_type.python_type is datetime
    except NotImplementedError:
        return False


def reflected_entity_table(reflected: Table, entity: str) -> Table:
    """The store's view of an existing entity table: our types for the standard columns and
    for timestamps (naive UTC binds), the reflected types for the rest, names checked."""
    standard = {c.name: c for c in standard_columns()}
    columns = []
    for col in reflected.columns:
        name = col.name.lower()
        if name in standard:
            columns.append(standard[name])
            continue
        col_type = UtcDateTime() if _is_datetime(col.type) else col.type
        columns.append(Column(safe_identifier(name, where=f"table {reflected.name}"), col_type))
    return Table(entity_table_name(entity), MetaData(), *columns)
