"""Benchmark: pages/s and entities/s OctaneClient.iter_changes reads from the simulator.

Reads one workspace's work items from the start at page size 1000, with and without
read-ahead, with the consumer doing no work and then some per-page work (a stand-in for
transform + load). Prints the median of `--repeat` runs of each.

    .venv/bin/python -m bench.client_fetch --items 50000 --repeat 3 --work-ms 20
"""

from __future__ import annotations

import argparse
import statistics
import time

from octane_sync.client import OctaneClient
from octane_sync.simulator import OctaneSimulator

# What a default work-item mapping asks for (the client adds id, last_modified, version_stamp).
WORK_ITEM_FIELDS = (
    "name,subtype,description,phase,owner,author,release,sprint,team,parent,severity,"
    "priority,story_points,estimated_hours,invested_hours,remaining_hours,blocked,user_tags,"
    "closed_on,creation_time"
)


def fetch_once(
    base_url: str,
    simulator: OctaneSimulator,
    workspace_id: str,
    *,
    page_size: int,
    read_ahead: bool,
    work_seconds: float,
    fields: list[str],
) -> tuple[float, int, int, int]:
    """One full read; returns (seconds, pages, entities, requests)."""
    with OctaneClient(
        base_url,
        simulator.shared_space_id,
        simulator.client_id,
        simulator.client_secret,
        page_size=page_size,
    ) as client:
        client.sign_in()
        before = client.request_count
        pages = entities = 0
        started = time.perf_counter()
        for page in client.iter_changes(
            workspace_id, "work_items", fields=fields, read_ahead=read_ahead
        ):
            pages += 1
            entities += len(page)
            if work_seconds:
                time.sleep(work_seconds)
        elapsed = time.perf_counter() - started
        return elapsed, pages, entities, client.request_count - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50_000, help="work items in the workspace")
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--work-ms", type=float, default=20.0, help="consumer work per page in the second run"
    )
    parser.add_argument(
        "--fields",
        default=WORK_ITEM_FIELDS,
        help="comma-separated fields to ask for ('' = only id, last_modified, version_stamp)",
    )
    args = parser.parse_args()
    fields = [name for name in args.fields.split(",") if name]

    simulator = OctaneSimulator(workspaces=1, items=args.items, max_page_size=args.page_size)
    base_url = simulator.start()
    try:
        workspace_id = simulator.workspace_ids[0]
        print(
            f"simulator: 1 workspace x {args.items} work items, page size {args.page_size}, "
            f"{len(fields) + 3} fields, median of {args.repeat}"
        )
        print(
            f"{'consumer work':>14} {'read-ahead':>10} {'pages/s':>9} {'entities/s':>11} "
            f"{'seconds':>8} {'pages':>6} {'requests':>8}"
        )
        for work_ms in (0.0, args.work_ms):
            for read_ahead in (False, True):
                runs = [
                    fetch_once(
                        base_url,
                        simulator,
                        workspace_id,
                        page_size=args.page_size,
                        read_ahead=read_ahead,
                        work_seconds=work_ms / 1000,
                        fields=fields,
                    )
                    for _ in range(args.repeat)
                ]
                seconds = statistics.median(run[0] for run in runs)
                _, pages, entities, requests = runs[0]
                print(
                    f"{f'{work_ms:g} ms/page':>14} {'on' if read_ahead else 'off':>10} "
                    f"{pages / seconds:>9.1f} {entities / seconds:>11.0f} {seconds:>8.2f} "
                    f"{pages:>6} {requests:>8}"
                )
    finally:
        simulator.stop()


if __name__ == "__main__":
    main()
