"""Transform throughput: rows/s turning 100,000 work items into rows (median of 3 runs).

Measures `transform_page` alone (no HTTP, no database) on work items shaped like the
simulator's catalog, the three workspaces' UDF spellings mixed, in pages of 1,000.

    .venv/bin/python -m bench.transform_throughput [--items 100000] [--page-size 1000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from octane_sync.mapping import resolve_mapping
from octane_sync.transform import transform_page

SUBTYPES = ["epic", "feature", "story", "defect", "quality_story"]
TEAMS = ["Falcons", "Owls", "Ravens", "Herons", "Swifts", "Kites"]
RISKS = [("High", "1-High", "HIGH"), ("Medium", "2-Medium", "MED"), ("Low", "3-Low", "LOW")]


def _ref(kind: str, ref_id: str, name: str) -> dict:
    return {"type": kind, "id": ref_id, "name": name}


def make_work_items(count: int, seed: int = 7) -> list[dict]:
    """Work items as the simulator's catalog describes them, cycling through workspaces 1-3."""
    rng = random.Random(seed)
    items = []
    for n in range(count):
        subtype = SUBTYPES[n % len(SUBTYPES)]
        workspace = n % 3
        team = TEAMS[rng.randrange(len(TEAMS))]
        risk = RISKS[rng.randrange(3)][workspace]
        second = 1714557600 + n // 50  # bulk edits: 50 items share each second
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
        item = {
            "id": str(10_000 + n),
            "type": "work_item",
            "subtype": subtype,
            "name": f"Item {n}: Straße café ✓",
            "creation_time": "2024-04-01T08:00:00Z",
            "last_modified": stamp,
            "version_stamp": rng.randrange(1, 20),
            "description": f"<p>Straße &amp; café — ✓ {n}</p><p>Second<br/>line</p>",
            "phase": _ref("phase", f"phase.{subtype}.new", "New"),
            "owner": None
            if n % 7 == 0
            else _ref("workspace_user", str(1500 + n % 40), f"user{n % 40}@example.com"),
            "author": _ref("workspace_user", str(1500 + n % 13), f"user{n % 13}@example.com"),
            "release": _ref("release", str(1100 + n % 5), f"Release {n % 5}"),
            "sprint": None
            if n % 4 == 0
            else _ref("sprint", str(1200 + n % 20), f"Sprint {n % 20}"),
            "team": _ref("team", str(1300 + n % 6), TEAMS[n % 6]),
            "parent": _ref("work_item", str(9_000 + n % 100), "Parent"),
            "priority": _ref("list_node", "list_node.priority.high", "High"),
            "story_points": rng.choice([None, 1, 2, 3, 5, 8]),
            "estimated_hours": rng.choice([None, 4.0, 12.5]),
            "invested_hours": rng.random() * 10,
            "remaining_hours": rng.random() * 10,
            "blocked": n % 11 == 0,
            "user_tags": {
                "total_count": 2,
                "data": [_ref("user_tag", "1601", "regression"), _ref("user_tag", "1602", "ux")],
            },
            "closed_on": None if n % 3 else "2024-05-02T11:30:00Z",
        }
        if subtype == "defect":
            item["severity"] = _ref("list_node", "list_node.severity.high", "High")
        if workspace == 0:
            item.update(team_udf=team, risk_udf=risk, customer_impact_udf=n % 2 == 0)
        elif workspace == 1:
            item.update(owning_team_udf=team, risk_udf=risk, customer_impact_udf="Yes")
        else:
            item.update(squad_udf=_ref("list_node", f"list_node.squad.{team}", team))
            item["risk_level_udf"] = risk
        items.append(item)
    return items


def run_once(items: list[dict], page_size: int) -> tuple[float, int]:
    mapping = resolve_mapping("work_items")  # fresh mapping: compiling is part of the cost
    started = time.perf_counter()
    rows = rejects = 0
    for start in range(0, len(items), page_size):
        batch = transform_page(items[start : start + page_size], mapping)
        rows += len(batch.rows)
        rejects += len(batch.rejects)
    elapsed = time.perf_counter() - started
    if rejects:
        raise SystemExit(f"{rejects} rejects: the benchmark data does not fit the mapping")
    return elapsed, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    items = make_work_items(args.items)
    timings = []
    for run in range(1, args.runs + 1):
        elapsed, rows = run_once(items, args.page_size)
        timings.append(elapsed)
        print(f"run {run}: {rows} rows in {elapsed:.2f} s = {rows / elapsed:,.0f} rows/s")
    median = statistics.median(timings)
    print(f"median of {args.runs}: {args.items / median:,.0f} rows/s ({median:.2f} s)")


if __name__ == "__main__":
    main()
