"""One simulated workspace: its collections, subtype views, and the edits tests make to them."""

from __future__ import annotations

import gc
import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from octane_sync.simulator.data import VIEWS, IdAllocator, Seeder, octane_time
from octane_sync.simulator.metadata import WORK_ITEM_TYPES, FieldCatalog
from octane_sync.simulator.table import Record, Table

# The collection holding each entity type (views aside).
COLLECTION_OF_TYPE = {
    "work_item": "work_items",
    "release": "releases",
    "sprint": "sprints",
    "phase": "phases",
    "team": "teams",
    "workspace_user": "workspace_users",
    "test": "tests",
    "run": "runs",
    "list_node": "list_nodes",
}
TYPE_OF_COLLECTION = {collection: t for t, collection in COLLECTION_OF_TYPE.items()}
# References name the concrete type; a work item subtype lives in `work_items`.
_REF_COLLECTION = {**COLLECTION_OF_TYPE, **dict.fromkeys(VIEWS.values(), "work_items")}


class UnknownCollection(KeyError):
    """The workspace has no collection of that name."""


class Workspace:
    """The seeded collections of one workspace, with the subtype views over `work_items`.

    Args:
        workspace_id: e.g. "1002".
        position: 0 for the shared space's first workspace; picks how UDFs are named.
        items: work items to seed.
        ids: the shared space's id allocator (ids are unique across workspaces).
        rng: this workspace's random source (seeded: same seed, same data).
    """

    def __init__(
        self, workspace_id: str, position: int, items: int, ids: IdAllocator, rng: random.Random
    ) -> None:
        self.id = workspace_id
        self.position = position
        self.name = f"Workspace {position + 1}"
        self.rng = rng
        self.seeder = Seeder(position, ids, rng)
        self.fields = FieldCatalog(position)
        was_enabled = gc.isenabled()
        gc.disable()  # seeding allocates ~1M small objects that are never garbage
        try:
            seeded = {**self.seeder.seed_reference_data(), **self.seeder.seed_items(items)}
        finally:
            if was_enabled:
                gc.enable()
        self.tables: dict[str, Table] = {name: Table(rows) for name, rows in seeded.items()}
        work_items = self.tables["work_items"]
        for view, subtype in VIEWS.items():
            self.tables[view] = work_items.subset(lambda r, s=subtype: r.core["subtype"] == s)

    def as_json(self) -> dict:
        return {"type": "workspace", "id": self.id, "name": self.name, "activity_level": 0}

    # ------------------------------------------------------------ reading

    def table(self, collection: str) -> Table:
        """Raises UnknownCollection."""
        try:
            return self.tables[collection]
        except KeyError:
            raise UnknownCollection(collection) from None

    @staticmethod
    def view_type(collection: str) -> str | None:
        """The `type` a subtype view shows instead of `work_item` (None for other collections)."""
        return VIEWS.get(collection)

    @staticmethod
    def entity_type(collection: str) -> str:
        """The entity type whose field metadata describes `collection`'s entities."""
        return VIEWS.get(collection) or TYPE_OF_COLLECTION[collection]

    @staticmethod
    def field_owners(collection: str) -> tuple[str, ...]:
        """The entity types that gain a field given to `collection`'s entities: a work item
        field shows in the aggregate `work_item` and in the subtypes that have it."""
        if collection == "work_items":
            return WORK_ITEM_TYPES
        subtype = VIEWS.get(collection)
        return ("work_item", subtype) if subtype else (TYPE_OF_COLLECTION[collection],)

    def resolve(self, reference: dict) -> Record | None:
        """The entity a reference points at, for sub-field requests like `owner{full_name}`."""
        collection = _REF_COLLECTION.get(reference.get("type", ""))
        table = self.tables.get(collection or "")
        return table.get(str(reference.get("id"))) if table is not None else None

    # ------------------------------------------------------------ changing

    def _tables_of(self, record: Record) -> list[Table]:
        if record.core["type"] == "work_item":
            subtype = record.core["subtype"]
            view = next(v for v, s in VIEWS.items() if s == subtype)
            return [self.tables["work_items"], self.tables[view]]
        return [self.tables[COLLECTION_OF_TYPE[record.core["type"]]]]

    def _store(self, records: list[Record]) -> None:
        by_table: dict[int, tuple[Table, list[Record]]] = {}
        for record in records:
            for table in self._tables_of(record):
                by_table.setdefault(id(table), (table, []))[1].append(record)
        for table, rows in by_table.values():
            table.put_many(rows)

    def _sample(self, collection: str, count: int) -> list[Record]:
        records = self.table(collection).ordered()
        return self.rng.sample(records, min(count, len(records)))

    def update(self, collection: str, count: int, now: int) -> list[str]:
        """Edit `count` random entities at `now`: each gets its own new value."""
        edited = []
        for record in self._sample(collection, count):
            core = dict(record.core)
            if "remaining_hours" in core:
                core["remaining_hours"] = round(self.rng.random() * 20, 1)
            else:
                core["name"] = f"{core['name'].split(' · ')[0]} · v{core['version_stamp'] + 1}"
            edited.append(_touched(core, record.udfs, now))
        self._store(edited)
        return [r.id for r in edited]

    def bulk_edit(self, collection: str, count: int, now: int) -> list[str]:
        """One bulk edit: `count` entities get the same new value and the same second."""
        priority = self.rng.choice(self.seeder.list_nodes["priority"])
        edited = []
        for record in self._sample(collection, count):
            core = dict(record.core)
            if core["type"] == "work_item":
                core["priority"] = priority
            else:
                core["name"] = f"{core['name'].split(' · ')[0]} · bulk"
            edited.append(_touched(core, record.udfs, now))
        self._store(edited)
        return [r.id for r in edited]

    def create(
        self, collection: str, count: int, now: int, fields: dict[str, Any] | None = None
    ) -> list[str]:
        """New entities created at `now`; `fields` overrides generated values (UDFs too)."""
        self.table(collection)
        subtype = VIEWS.get(collection)
        entity_type = "work_item" if subtype else TYPE_OF_COLLECTION[collection]
        created = []
        for _ in range(count):
            record = self.seeder.make(entity_type, now, subtype or (fields or {}).get("subtype"))
            core, udfs = dict(record.core), dict(record.udfs)
            for name, value in (fields or {}).items():
                if name in ("id", "type", "last_modified"):
                    continue
                (udfs if name.endswith("_udf") else core)[name] = value
            created.append(Record(core, udfs, now))
        self._store(created)
        for name, value in (fields or {}).items():
            self.fields.add(self.field_owners(collection), name, value)
        return [r.id for r in created]

    def delete(self, collection: str, entity_ids: Iterable[str]) -> int:
        """Hard-delete; returns how many existed in `collection`."""
        wanted = [str(i) for i in entity_ids]
        present = [r for i in wanted if (r := self.table(collection).get(i)) is not None]
        tables: dict[int, Table] = {}
        for record in present:
            for table in self._tables_of(record):
                tables[id(table)] = table
        for table in tables.values():
            table.remove_many(r.id for r in present)
        return len(present)

    def add_udf(
        self,
        name: str,
        values: Sequence[Any] | None = None,
        value_fn: Callable[[dict], Any] | None = None,
        collection: str = "work_items",
    ) -> None:
        """Give every entity of `collection` a new user-defined field, without touching
        `last_modified` (adding a field in Octane's admin does not edit the entities)."""
        if not name.endswith("_udf"):
            raise ValueError(f"user-defined field names end in _udf: {name!r}")
        records = self.table(collection).ordered()
        changed, sample = [], None
        for n, record in enumerate(records):
            if value_fn is not None:
                value = value_fn(record.full())
            elif values:
                value = values[n % len(values)]
            else:
                value = None
            if sample is None:
                sample = value
            changed.append(Record(record.core, {**record.udfs, name: value}, record.lm))
        self._store(changed)
        if sample is None and values:
            sample = next((v for v in values if v is not None), None)
        self.fields.add(self.field_owners(collection), name, sample)


def _touched(core: dict, udfs: dict, now: int) -> Record:
    core["version_stamp"] = core["version_stamp"] + 1
    core["last_modified"] = octane_time(now)
    return Record(core, udfs, now)
