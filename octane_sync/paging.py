"""Keyset pagers: where the next page starts, and proof that each page moved forward.

A fresh pager per stream (STYLE #2). Keyset paging never skips or repeats a row when data
changes between pages, unlike offset paging, and costs the server the same at any depth.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from octane_sync.errors import OctaneError
from octane_sync.models import Watermark, id_sort_key
from octane_sync.query import Query, and_, field, keyset_after


def is_last_page(rows: list[dict], limit: int, total_count: object, offset: int = 0) -> bool:
    """True when no page follows `rows` (read at `offset` when offset paging).

    A short page ends the stream, unless the server says more rows match than it sent:
    a server that silently caps the page size must not end a stream early. With keyset
    paging `total_count` counts what is left; with offset paging, the whole list.
    """
    if not rows:
        return True
    if len(rows) >= limit:
        return False
    return not (isinstance(total_count, int) and total_count > offset + len(rows))


class ChangesPager:
    """Position of one `iter_changes` stream in `(last_modified, id)` order.

    Args:
        since: the watermark to continue after, or None for everything.
        until: no row modified after this is read (None: no upper bound).
        overlap: with a `since`, start this much earlier and re-read those rows.
    """

    order_by = "last_modified,id"

    def __init__(
        self,
        since: Watermark | None = None,
        until: datetime | None = None,
        overlap: timedelta = timedelta(0),
    ) -> None:
        if overlap < timedelta(0):
            raise ValueError("overlap must not be negative")
        self.since = since
        self.until = until
        self.overlap = overlap
        self.position: Watermark | None = None
        # The first page with no overlap must end after `since`; with an overlap it may not.
        self._floor = since if overlap == timedelta(0) else None

    def query(self) -> Query | None:
        """The filter of the next page."""
        last_modified = field("last_modified")
        conditions: list[Query] = []
        if self.until is not None:
            conditions.append(last_modified.le(self.until))
        if self.position is not None:
            conditions.append(keyset_after(self.position))
        elif self.since is not None:
            if self.overlap > timedelta(0):
                conditions.append(last_modified.ge(self.since.last_modified - self.overlap))
            else:
                conditions.append(keyset_after(self.since))
        return and_(*conditions) if conditions else None

    def advance(self, rows: list[dict]) -> None:
        """Move past `rows` (a non-empty page).

        Raises:
            OctaneError: the page did not end after the previous position (the server
                ignored the filter or the order), which would otherwise loop forever.
        """
        new = Watermark.of(rows[-1])
        previous = self.position or self._floor
        if previous is not None and new.key <= previous.key:
            raise OctaneError(
                "Keyset paging did not move forward: page ended at "
                f"({new.last_modified:%Y-%m-%dT%H:%M:%SZ}, {new.id}) after "
                f"({previous.last_modified:%Y-%m-%dT%H:%M:%SZ}, {previous.id}); "
                "the server ignored the query or order_by"
            )
        self.position = new


class IdPager:
    """Position of one id listing (`id GT x`, ordered by id) for delete detection."""

    order_by = "id"

    def __init__(self) -> None:
        self.position: str | None = None

    def query(self) -> Query | None:
        """The filter of the next page."""
        return None if self.position is None else field("id").id_gt(self.position)

    def advance(self, rows: list[dict]) -> None:
        """Move past `rows` (a non-empty page).

        Raises:
            OctaneError: the page did not end after the previous id.
        """
        new = str(rows[-1]["id"])
        if self.position is not None and id_sort_key(new) <= id_sort_key(self.position):
            raise OctaneError(
                f"Id paging did not move forward: page ended at {new} after {self.position}; "
                "the server ignored the query or order_by"
            )
        self.position = new
