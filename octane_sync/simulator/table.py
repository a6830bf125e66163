"""One collection's entities kept sorted by (last_modified, id) and by id, queried by bisect.

A page query costs the size of its key-range slice, not of the collection, so keyset
paging over 50,000 entities stays as fast on the last page as on the first.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from octane_sync.models import id_sort_key
from octane_sync.simulator.predicate import (
    KeyRange,
    compile_predicate,
    key_range,
    to_epoch,
)
from octane_sync.simulator.query_parser import Node

# Above this many changed rows one sort is cheaper than one list insert per row.
_REBUILD_AT = 32


class Record:
    """One stored entity: its public JSON (`core`), its user-defined fields and index key.

    Never mutated once stored: an edit stores a new Record, so a page being serialised
    outside the lock never sees a half-made change.
    """

    __slots__ = ("core", "id", "id_key", "lm", "udfs")

    def __init__(self, core: dict, udfs: dict | None = None, lm: int | None = None) -> None:
        self.core = core
        self.udfs = udfs or {}
        self.id: str = core["id"]
        self.id_key: tuple = id_sort_key(self.id)
        self.lm: int = int(to_epoch(core["last_modified"])) if lm is None else lm

    def get(self, name: str, default: Any = None, /) -> Any:
        core = self.core
        if name in core:
            return core[name]
        return self.udfs.get(name, default)

    def has(self, name: str) -> bool:
        return name in self.core or name in self.udfs

    @property
    def lm_key(self) -> tuple:
        """The (last_modified, id) index key: epoch seconds, then the id's sort key."""
        return (self.lm, *self.id_key)

    def full(self) -> dict:
        """The entity with every field, user-defined ones included."""
        return {**self.core, **self.udfs}


@dataclass(frozen=True)
class OrderField:
    name: str
    descending: bool = False


class Table:
    """The entities of one collection of one workspace (or one subtype view of it)."""

    def __init__(self, records: Iterable[Record] = ()) -> None:
        self.records: dict[str, Record] = {}
        self._lm_keys: list[tuple] = []
        self._lm_ids: list[str] = []
        self._id_keys: list[tuple] = []
        self._id_ids: list[str] = []
        self.put_many(list(records))

    def __len__(self) -> int:
        return len(self.records)

    def __contains__(self, entity_id: str) -> bool:
        return entity_id in self.records

    def get(self, entity_id: str) -> Record | None:
        return self.records.get(entity_id)

    def subset(self, keep: Callable[[Record], bool]) -> Table:
        """A table of the records `keep` accepts, sharing them (a subtype view); no re-sort."""
        view = Table()
        records = self.records
        view.records = {i: r for i, r in records.items() if keep(r)}
        for keys, ids, view_keys, view_ids in (
            (self._lm_keys, self._lm_ids, view._lm_keys, view._lm_ids),
            (self._id_keys, self._id_ids, view._id_keys, view._id_ids),
        ):
            for key, entity_id in zip(keys, ids, strict=True):
                if entity_id in view.records:
                    view_keys.append(key)
                    view_ids.append(entity_id)
        return view

    def ordered(self) -> list[Record]:
        """Every record in (last_modified, id) order."""
        return [self.records[i] for i in self._lm_ids]

    # ------------------------------------------------------------ changes

    def put_many(self, records: list[Record]) -> None:
        """Insert new records and replace stored ones (same id), keeping both indexes sorted."""
        if len(records) > _REBUILD_AT:
            for record in records:
                self.records[record.id] = record
            self._rebuild()
            return
        for record in records:
            old = self.records.get(record.id)
            self.records[record.id] = record
            if old is not None:
                if old.lm == record.lm:
                    continue
                self._remove_lm(old)
            else:
                key = record.id_key
                at = bisect_left(self._id_keys, key)
                self._id_keys.insert(at, key)
                self._id_ids.insert(at, record.id)
            key = record.lm_key
            at = bisect_left(self._lm_keys, key)
            self._lm_keys.insert(at, key)
            self._lm_ids.insert(at, record.id)

    def remove_many(self, entity_ids: Iterable[str]) -> int:
        """Hard-delete; returns how many of `entity_ids` were here."""
        removed = [self.records.pop(i) for i in entity_ids if i in self.records]
        if len(removed) > _REBUILD_AT:
            self._rebuild()
            return len(removed)
        for record in removed:
            self._remove_lm(record)
            at = bisect_left(self._id_keys, record.id_key)
            del self._id_keys[at]
            del self._id_ids[at]
        return len(removed)

    def _remove_lm(self, record: Record) -> None:
        at = bisect_left(self._lm_keys, record.lm_key)
        del self._lm_keys[at]
        del self._lm_ids[at]

    def _rebuild(self) -> None:
        by_lm = sorted((r.lm_key, r.id) for r in self.records.values())
        self._lm_keys = [key for key, _ in by_lm]
        self._lm_ids = [i for _, i in by_lm]
        by_id = sorted((r.id_key, r.id) for r in self.records.values())
        self._id_keys = [key for key, _ in by_id]
        self._id_ids = [i for _, i in by_id]

    # ------------------------------------------------------------ queries

    def select(
        self, node: Node | None, order: list[OrderField], offset: int, limit: int
    ) -> tuple[int, list[Record]]:
        """The matching records' count and the page `offset..offset+limit` in `order`.

        Bisects whichever index (last_modified+id, or id) gives the smaller slice for the
        query's range conditions; evaluates the rest of the query only on that slice,
        and not at all when the range is exact.

        Raises:
            QuerySyntaxError: a condition that cannot be evaluated (e.g. a date that is not one).
        """
        predicate = compile_predicate(node) if node is not None else None
        best: tuple | None = None
        for name, keys, ids in (
            ("lm", self._lm_keys, self._lm_ids),
            ("id", self._id_keys, self._id_ids),
        ):
            found = key_range(node, name)
            start, stop = _bounds(keys, found)
            direction = _index_direction(name, order)
            rank = (not found.exact, stop - start, direction is None)
            if best is None or rank < best[0]:
                best = (rank, found.exact, start, stop, ids, direction)
        assert best is not None
        _, exact, start, stop, ids, direction = best
        if exact:
            predicate = None
        records = self.records
        if direction is not None:
            return _page_in_index_order(
                records, ids, start, stop, predicate, offset, limit, descending=direction
            )
        matches = [records[i] for i in ids[start:stop]]
        if predicate is not None:
            matches = [r for r in matches if predicate(r)]
        _sort(matches, order)
        return len(matches), matches[offset : offset + limit]


def _bounds(keys: list[tuple], found: KeyRange) -> tuple[int, int]:
    (lo, exclusive), (hi, inclusive) = found.lo, found.hi
    start = bisect_right(keys, lo) if exclusive else bisect_left(keys, lo)
    stop = bisect_right(keys, hi) if inclusive else bisect_left(keys, hi)
    return start, max(start, stop)


def _index_direction(index: str, order: list[OrderField]) -> bool | None:
    """Whether `order` is the index's own order: False ascending, True descending, None no."""
    names = [o.name for o in order]
    wanted = (["last_modified", "id"], ["last_modified"]) if index == "lm" else (["id"],)
    if names not in wanted:
        return None
    directions = {o.descending for o in order}
    return directions.pop() if len(directions) == 1 else None


def _page_in_index_order(
    records: dict[str, Record],
    ids: list[str],
    start: int,
    stop: int,
    predicate: Callable[[Record], bool] | None,
    offset: int,
    limit: int,
    *,
    descending: bool,
) -> tuple[int, list[Record]]:
    if predicate is None:
        if descending:
            first = max(start, stop - offset - limit)
            page = [records[i] for i in reversed(ids[first : max(start, stop - offset)])]
        else:
            page = [records[i] for i in ids[start + offset : min(stop, start + offset + limit)]]
        return stop - start, page
    span = ids[start:stop]
    if descending:
        span.reverse()
    total = 0
    page: list[Record] = []
    for entity_id in span:
        record = records[entity_id]
        if predicate(record):
            if offset <= total < offset + limit:
                page.append(record)
            total += 1
    return total, page


def _sort(records: list[Record], order: list[OrderField]) -> None:
    """Sort by `order`, ids (as numbers) breaking ties, as Octane's ordering does."""
    records.sort(key=lambda r: id_sort_key(r.id))
    for item in reversed(order):
        if item.name == "id":
            records.sort(key=lambda r: id_sort_key(r.id), reverse=item.descending)
            continue
        name = item.name
        records.sort(key=lambda r: _sort_value(r.get(name)), reverse=item.descending)


def _sort_value(value: Any) -> tuple:
    if value is None:
        return (0,)
    if isinstance(value, bool | int | float):
        return (1, value)
    if isinstance(value, dict):
        if "data" in value:
            return (3, len(value["data"]))
        return (2, str(value.get("name") or ""), id_sort_key(str(value.get("id"))))
    return (4, str(value))
