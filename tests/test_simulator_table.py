"""The sorted collection: bisected pages equal brute-force filtering and sorting."""

from __future__ import annotations

import functools
import random

import pytest

from octane_sync.models import id_sort_key
from octane_sync.simulator import table as table_module
from octane_sync.simulator.data import IdAllocator
from octane_sync.simulator.predicate import compile_predicate, key_range
from octane_sync.simulator.query_parser import parse
from octane_sync.simulator.table import OrderField, Table
from octane_sync.simulator.workspace import Workspace


@pytest.fixture(scope="module")
def workspace() -> Workspace:
    return Workspace("1002", 0, 400, IdAllocator(), random.Random(3))


def _middle(workspace: Workspace) -> tuple[str, str]:
    """A (last_modified, id) inside the busiest second, so ties are exercised."""
    rows = workspace.table("work_items").ordered()
    seconds: dict[str, list] = {}
    for r in rows:
        seconds.setdefault(r.core["last_modified"], []).append(r)
    busiest = max(seconds.values(), key=len)
    assert len(busiest) >= 5, "the seed should make a bulk-edit cluster"
    pivot = busiest[len(busiest) // 2]
    return pivot.core["last_modified"], pivot.id


def _reference_sort(records: list, order: list[OrderField]) -> list:
    def value(record, name):
        if name == "id":
            return (1, id_sort_key(record.id))
        v = record.get(name)
        if v is None:
            return (0,)
        if isinstance(v, dict):
            return (1, (v.get("name") or "", id_sort_key(str(v.get("id")))))
        return (1, v)

    def compare(a, b) -> int:
        for item in [*order, OrderField("id")]:
            va, vb = value(a, item.name), value(b, item.name)
            if va != vb:
                result = -1 if va < vb else 1
                return -result if item.descending else result
        return 0

    return sorted(records, key=functools.cmp_to_key(compare))


QUERIES = [
    None,
    "last_modified GT ^{t}^",
    "last_modified GE ^{t}^ ; last_modified LE ^2024-12-01T00:00:00Z^",
    "last_modified EQ ^{t}^",
    "(last_modified GT ^{t}^ || (last_modified EQ ^{t}^ ; id GT {i}))"
    " ; last_modified LE ^2024-11-01T00:00:00Z^",
    "last_modified GE ^{t}^ || last_modified LT ^{t}^",
    "(last_modified GT ^{t}^ || (last_modified EQ ^{t}^ ; id GE {i}))",
    "last_modified EQ ^{t}^ ; id LT {i}",
    "last_modified LT ^{t}^ || last_modified GT ^2024-10-01T00:00:00Z^",
    "last_modified BTW ^2024-03-01T00:00:00Z^...^{t}^",
    "last_modified GT ^{t}^ ; subtype EQ 'defect'",
    "!(last_modified GT ^{t}^)",
    "id GT {i}",
    "id GE {i} ; id LE 1300",
    "id IN {i}, 1010, 1020",
    "subtype EQ 'story' || subtype EQ 'epic'",
    "release EQ {{id EQ 1002}}",
    "owner EQ null",
    "story_points GE 5 ; blocked EQ false",
    "last_modified GT ^2024-05-01T10:00:00.500Z^",
]
ORDERS = [
    [OrderField("last_modified"), OrderField("id")],
    [OrderField("last_modified", True), OrderField("id", True)],
    [OrderField("id")],
    [OrderField("id", True)],
    [OrderField("story_points", True), OrderField("last_modified")],
    [OrderField("owner")],
]


@pytest.mark.parametrize(
    "order", ORDERS, ids=lambda o: ",".join(("-" if f.descending else "") + f.name for f in o)
)
@pytest.mark.parametrize("template", QUERIES, ids=lambda q: q or "no-query")
def test_select_equals_brute_force(workspace, template, order) -> None:
    t, i = _middle(workspace)
    node = parse(template.format(t=t, i=i)) if template else None
    table = workspace.table("work_items")
    everything = table.ordered()
    matching = [r for r in everything if node is None or compile_predicate(node)(r)]
    expected = _reference_sort(matching, order)
    total, page = table.select(node, order, 0, len(everything) + 1)
    assert total == len(expected)
    assert [r.id for r in page] == [r.id for r in expected]
    total, page = table.select(node, order, 3, 7)
    assert total == len(expected)
    assert [r.id for r in page] == [r.id for r in expected[3:10]]


def test_keyset_query_is_an_exact_range_and_evaluates_no_row(workspace, monkeypatch) -> None:
    t, i = _middle(workspace)
    node = parse(
        f"(last_modified GT ^{t}^ || (last_modified EQ ^{t}^ ; id GT {i}))"
        " ; last_modified LE ^2024-12-31T00:00:00Z^"
    )
    assert key_range(node, "lm").exact
    calls = []

    def counting(query):
        predicate = compile_predicate(query)
        return lambda row: calls.append(row) or predicate(row)

    monkeypatch.setattr(table_module, "compile_predicate", counting)
    _total, page = workspace.table("work_items").select(
        node, [OrderField("last_modified"), OrderField("id")], 0, 10
    )
    assert calls == []
    assert len(page) == 10
    assert (page[0].core["last_modified"], id_sort_key(page[0].id)) > (t, id_sort_key(i))


def test_residual_conditions_are_evaluated_only_on_the_slice(workspace, monkeypatch) -> None:
    rows = workspace.table("work_items").ordered()
    t = rows[-20].core["last_modified"]
    calls = []

    def counting(query):
        predicate = compile_predicate(query)
        return lambda row: calls.append(row) or predicate(row)

    monkeypatch.setattr(table_module, "compile_predicate", counting)
    node = parse(f"last_modified GE ^{t}^ ; subtype EQ 'defect'")
    workspace.table("work_items").select(node, [OrderField("last_modified")], 0, 5)
    assert 0 < len(calls) <= 25


def test_edits_keep_both_indexes_sorted() -> None:
    table = Table()
    workspace = Workspace("1002", 0, 60, IdAllocator(), random.Random(1))
    records = workspace.table("work_items").ordered()
    table.put_many(records[:10])
    table.put_many(records[10:])  # the bulk path (> 32 at once)
    now = 1_800_000_000
    workspace.update("work_items", 5, now)
    moved = workspace.table("work_items").ordered()
    assert [r.core["last_modified"] for r in moved[-5:]] == ["2027-01-15T08:00:00Z"] * 5
    assert len(table) == 60
    table.remove_many([records[0].id, "no-such-id"])
    total, page = table.select(None, [OrderField("id")], 0, 100)
    assert total == 59
    assert [r.id for r in page] == sorted((r.id for r in records[1:]), key=id_sort_key)
