"""The small value types the library's modules hand to each other (client, transform, store)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit


def utc(value: datetime) -> datetime:
    """Return `value` as an aware UTC datetime (naive values are taken to be UTC already)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@dataclass(frozen=True)
class Watermark:
    """Position of the last committed row of one (connection, workspace, entity) stream.

    Octane's `last_modified` has one-second resolution and bulk edits give thousands of
    rows the same second, so the entity id breaks ties. Ids are numeric strings and
    compare as numbers.
    """

    last_modified: datetime
    id: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "last_modified", utc(self.last_modified))

    @property
    def key(self) -> tuple[datetime, tuple[int, int, str]]:
        return (self.last_modified, id_sort_key(self.id))

    @classmethod
    def of(cls, entity: dict) -> Watermark:
        """The watermark just after `entity` (an Octane entity JSON object)."""
        return cls(parse_octane_time(entity["last_modified"]), str(entity["id"]))


def id_sort_key(entity_id: str) -> tuple[int, int, str]:
    """Order ids as Octane does: numeric ids as numbers, logical ids (`phase.defect.new`) after."""
    return (0, int(entity_id), "") if entity_id.isdigit() else (1, 0, entity_id)


_ENTITY_TYPES: dict[str, str] = {
    "work_items": "work_item",
    "epics": "epic",
    "features": "feature",
    "stories": "story",
    "defects": "defect",
    "quality_stories": "quality_story",
    "tasks": "task",
    "releases": "release",
    "sprints": "sprint",
    "milestones": "milestone",
    "phases": "phase",
    "teams": "team",
    "workspace_users": "workspace_user",
    "tests": "test",
    "runs": "run",
    "requirements": "requirement",
    "comments": "comment",
    "list_nodes": "list_node",
}


def entity_type(collection: str) -> str:
    """The entity type Octane's metadata API files a collection's fields under.

    Collections are plural and irregular (`stories` -> `story`), so the names are listed,
    not derived: a wrong guess would ask the metadata API about a type that has no fields.

    Args:
        collection: a collection name as in the URL, e.g. `defects`.

    Returns:
        The entity type, e.g. `defect`.

    Raises:
        ValueError: `collection` is not a known Octane collection.
    """
    try:
        return _ENTITY_TYPES[collection]
    except KeyError:
        known = ", ".join(sorted(_ENTITY_TYPES))
        raise ValueError(f"unknown Octane collection {collection!r} (known: {known})") from None


def parse_octane_time(text: str) -> datetime:
    """Parse Octane's `2024-05-01T10:00:00Z` (UTC, whole seconds) into an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def format_octane_time(value: datetime) -> str:
    """Format a datetime the way Octane writes it: UTC, whole seconds, trailing Z."""
    return utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def source_key(base_url: str, shared_space_id: str | int) -> str:
    """Identify one shared space on one server, e.g. `octane.example.com:443/1001`.

    Part of every entity table's primary key, so rows from two servers or two shared
    spaces never collide even when their numeric ids do.
    """
    parts = urlsplit(base_url.rstrip("/"))
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = parts.path.rstrip("/")
    return f"{(parts.hostname or '').lower()}:{port}{path}/{shared_space_id}"


class ColumnType(enum.StrEnum):
    """Logical column types of the mapping; the store turns each into a dialect type."""

    STRING = "string"  # VARCHAR2(n CHAR) / VARCHAR(n); length from ColumnSpec.length
    INT = "int"  # NUMBER(19) / BIGINT
    FLOAT = "float"  # BINARY_DOUBLE / DOUBLE PRECISION
    BOOL = "bool"  # NUMBER(1) / BOOLEAN
    TIMESTAMP = "timestamp"  # TIMESTAMP, UTC, never DATE
    TEXT = "text"  # CLOB / TEXT (JSON, HTML, long lists)


@dataclass(frozen=True)
class ColumnSpec:
    """One physical column of an entity table, as the mapping declares it."""

    name: str
    type: ColumnType
    length: int | None = None  # only for STRING; the store picks a default when None


# Columns every entity table has; the store owns them and a mapping may not declare them.
STANDARD_COLUMNS: tuple[str, ...] = (
    "source",
    "workspace_id",
    "id",
    "last_modified",
    "version_stamp",
    "entity_json",
    "deleted_at",
    "loaded_at",
    "flow_run_id",
)


@dataclass(frozen=True)
class Reject:
    """A record that could not be transformed or loaded, kept with its raw JSON and why."""

    entity_id: str | None
    reason: str
    raw_json: str


@dataclass
class TransformedBatch:
    """What `transform` makes of one page of entities, ready for `store.load_batch`.

    Each row holds the mapped columns plus `id`, `last_modified` (aware UTC),
    `version_stamp` and `entity_json`; the store adds source, workspace, load time and
    flow run id. `watermark` is the position after the page's last entity, rejected or not.
    """

    rows: list[dict]
    rejects: list[Reject] = field(default_factory=list)
    watermark: Watermark | None = None


@dataclass
class Connection:
    """One row of OCTANE_CONNECTIONS: an API key on one shared space.

    `client_secret_enc` is a Fernet token; only `secrets.py` turns it back into text.
    `workspaces` is a list of workspace ids, or `["*"]` for every workspace the key sees.
    `options` holds page_size, overlap_seconds, lag_seconds, mapping overrides, ...
    """

    name: str
    base_url: str
    shared_space_id: str
    client_id: str
    client_secret_enc: str = field(repr=False)
    workspaces: list[str] = field(default_factory=lambda: ["*"])
    entities: list[str] = field(default_factory=lambda: ["work_items"])
    enabled: bool = True
    options: dict = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def source(self) -> str:
        return source_key(self.base_url, self.shared_space_id)
